"""The benchmark package's measuring instruments still import and parse their arguments (they
are run by hand, under callgrind or for CPU per thread, so ``tests.bench --smoke`` skips them)."""

from __future__ import annotations

import importlib

import pytest

from tests.bench.__main__ import BENCHMARKS, INSTRUMENTS


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_an_instrument_imports_and_answers_help(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    module = importlib.import_module(f"tests.bench.{name}")
    with pytest.raises(SystemExit) as ended:
        module.main(["--help"])
    assert ended.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_instruments_are_not_run_as_benchmarks() -> None:
    assert not INSTRUMENTS & set(BENCHMARKS)

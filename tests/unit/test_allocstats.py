"""The opt-in allocator figures (deploy/allocstats.py) and their report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from deploy.allocstats import sample, start_if_asked
from tests.load.allocstats_report import load, slopes


def test_without_the_variable_nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUSTER_ALLOCSTATS", raising=False)
    assert start_if_asked("api") is False


def test_a_sample_sees_small_objects_in_pymalloc_and_a_large_block_in_malloc() -> None:
    before = sample()
    # 16-byte objects (pymalloc): 3 MiB more than all the free space its arenas hold now (what
    # earlier tests freed), so that new arenas must be taken whatever ran before
    room = before["py_free_blocks_mib"] + before["py_free_pools_mib"]
    count = int((room + 3) * 2**20 / 16)
    small = [object() for _ in range(count)]
    large = bytearray(64 * 2**20)  # far above glibc's mmap threshold: a mapping of its own
    after = sample()
    assert after["py_used_mib"] - before["py_used_mib"] > 2.5
    assert after["py_arenas"] > before["py_arenas"]
    assert after["malloc_mmap_mib"] - before["malloc_mmap_mib"] >= 64
    assert after["rss_mib"] > 0
    assert after["anon_mib"] > 0
    assert len(small) == count
    assert len(large) == 64 * 2**20


def test_sampling_gives_the_standard_error_back(capfd: pytest.CaptureFixture[str]) -> None:
    sample()
    os.write(2, b"still here\n")
    err = capfd.readouterr().err
    assert "still here" in err
    assert "arenas allocated" not in err  # pymalloc's summary went to the sample, not stderr


def test_the_report_gives_each_figure_its_slope(tmp_path: Path) -> None:
    lines = [
        {"t": 1000.0 + 60 * m, "rss_mib": 100 + m / 30, "py_used_mib": 20.0} for m in range(61)
    ]
    (tmp_path / "api-7.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    rows = load(tmp_path)["api-7"]
    found = slopes(rows, 20, 60)
    assert found["rss_mib"]["per_h"] == pytest.approx(2.0)
    assert found["rss_mib"]["first"] == pytest.approx(100 + 20 / 30)
    assert found["py_used_mib"]["per_h"] == pytest.approx(0.0)
    assert "malloc_free_mib" not in found
    assert "held_mib" not in found  # no allocator figures, nothing derived


def test_the_report_sets_what_the_allocators_hold_against_the_anonymous_rss(
    tmp_path: Path,
) -> None:
    row = {"t": 0.0, "anon_mib": 60.0, "py_arenas": 30.0, "malloc_sbrk_mib": 20.0,
           "malloc_mmap_mib": 2.0}  # fmt: skip
    (tmp_path / "bot-1.jsonl").write_text("".join(
        json.dumps({**row, "t": 60.0 * m, "anon_mib": 60.0 + m / 60}) + "\n" for m in range(61)
    ))  # fmt: skip
    found = slopes(load(tmp_path)["bot-1"], 0, 60)
    assert found["held_mib"]["last"] == pytest.approx(52.0)
    assert found["held_mib"]["per_h"] == pytest.approx(0.0)
    assert found["other_anon_mib"]["first"] == pytest.approx(8.0)
    assert found["other_anon_mib"]["per_h"] == pytest.approx(1.0)

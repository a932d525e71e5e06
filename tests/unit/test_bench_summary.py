"""The line every benchmark prints for ``python -m tests.bench`` and the table built from it."""

from __future__ import annotations

import pytest

from tests.bench.__main__ import Run, summary_table
from tests.bench.common import parse_summary, summary


def test_a_printed_summary_reads_back_and_lands_in_the_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printed = [("GET /ping (baseline)", "50/s", "1.0 ms", "3.0 ms", "1.00x"),
               ("GET /games/{id}", "50/s", "2.5 ms", "9.0 ms", "2.50x")]  # fmt: skip
    summary("api", printed, ((0, 1), (2, 3), 4))
    [line] = capsys.readouterr().out.splitlines()
    found = parse_summary(line)
    assert found is not None
    assert found["bench"] == "api"
    assert found["rows"] == [["GET /ping (baseline) 50/s", "1.0 ms / 3.0 ms", "1.00x"],
                             ["GET /games/{id} 50/s", "2.5 ms / 9.0 ms", "2.50x"]]  # fmt: skip
    table = summary_table([Run("api", summaries=[found]), Run("bot", status="FAILED (exit 1)")])
    lines = table.splitlines()
    assert lines[0] == "| benchmark | measure | figure | ratio to baseline | peak RSS |"
    assert lines[2].startswith("| api | GET /ping (baseline) 50/s | 1.0 ms / 3.0 ms | 1.00x |")
    assert lines[-1] == "| bot | FAILED (exit 1) |  |  |  |"


@pytest.mark.parametrize(
    "line", ["", "bench-summary: {not json", 'bench-summary: {"bench": "x"}', "  (a) 1,000/s"]
)
def test_other_lines_are_not_summaries(line: str) -> None:
    assert parse_summary(line) is None

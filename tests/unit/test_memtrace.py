"""The opt-in tracemalloc snapshots (deploy/memtrace.py) and their report."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from deploy.memtrace import start_if_asked, write_snapshot
from tests.load.memtrace_report import grown, processes


def test_without_the_variable_nothing_is_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUSTER_TRACEMALLOC", raising=False)
    assert start_if_asked("api") is False
    assert not tracemalloc.is_tracing()


def test_snapshots_show_what_grew_between_them(tmp_path: Path) -> None:
    tracemalloc.start(8)
    try:
        write_snapshot(tmp_path, "api-1", 0)
        kept = [bytearray(1000) for _ in range(200)]  # about 200 KB that stay
        write_snapshot(tmp_path, "api-1", 60)
    finally:
        tracemalloc.stop()
    assert list(processes(tmp_path)) == ["api-1"]
    old, new = processes(tmp_path)["api-1"]
    top = grown(old, new, "traceback", 1)[0]
    assert "test_memtrace.py" in top
    assert float(top.split()[0]) >= 190  # KiB
    lines = [json.loads(x) for x in (tmp_path / "api-1.jsonl").read_text().splitlines()]
    assert [x["seconds"] for x in lines] == [0, 60]
    assert lines[1]["traced_mib"] > lines[0]["traced_mib"]
    assert len(kept) == 200

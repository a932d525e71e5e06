"""The fault run's memory sampler sees a server's child processes (PostgreSQL's backends)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load.servers_memory import memstats, shared_and_private, stream_state
from tests.load.system import descendants, pss_mib, rss_mib, tree_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_a_tree_counts_its_children_and_names_the_largest() -> None:
    # a child in a session of its own, as every PostgreSQL backend is
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        assert child.pid in descendants(os.getpid())
        own_pss, child_pss = pss_mib(os.getpid()), pss_mib(child.pid)
        assert own_pss is not None
        assert child_pss is not None
        tree = tree_memory(os.getpid())
        assert tree["children"] >= 1
        assert tree["rss"] == pytest.approx(rss_mib(os.getpid()), rel=0.2)
        assert tree["tree_pss"] >= own_pss + child_pss * 0.5  # the child is in the sum
        assert tree["max_child_rss"] >= (rss_mib(child.pid) or 0) * 0.5
    finally:
        child.communicate(b"")


def test_private_and_shared_memory_are_summed_over_the_processes() -> None:
    one = shared_and_private([os.getpid()])
    assert one["uss"] > 1  # MiB: this interpreter's own pages
    two = shared_and_private([os.getpid(), os.getpid()])
    assert two["uss"] == pytest.approx(2 * one["uss"], rel=0.2)
    assert one["pss_anon"] > 1  # its heap
    assert shared_and_private([2**22 + 7]) == dict.fromkeys(
        ("uss", "pss_anon", "pss_shmem", "pss_file"), 0.0
    )  # gone: nothing


def test_go_memstats_and_the_log_stream_are_read_from_nats_monitoring() -> None:
    heap = (
        "heap profile: 1: 2 [3: 4] @ heap/1048576\n# runtime.MemStats\n# Alloc = 5\n"
        "# HeapAlloc = 4194304\n# HeapInuse = 6291456\n# Sys = 13631488\n# NumGC = 7\n"
    )
    assert memstats(heap) == {"HeapAlloc": 4194304, "HeapInuse": 6291456, "Sys": 13631488,
                              "NumGC": 7}  # fmt: skip
    jsz = {"account_details": [{"stream_detail": [
        {"name": "DISCORD_OPS", "state": {"messages": 1}},
        {"name": "EVENTS", "state": {"messages": 27, "bytes": 17450, "num_subjects": 9}},
    ]}]}  # fmt: skip
    assert stream_state(jsz, "EVENTS") == {"messages": 27, "bytes": 17450, "num_subjects": 9}
    assert stream_state({}, "EVENTS") == {}


def test_the_summary_has_slopes_of_the_memory_columns_and_the_logs_growth(tmp_path: Path) -> None:
    from tests.load.sampler import Sampler

    sampler = Sampler(None, None, tmp_path / "rss.jsonl")  # type: ignore[arg-type]
    for minute in range(10):
        sampler.rows.append({
            "t": 60.0 * minute, "rss": {"nats": 30.0},
            "mem": {"nats HeapInuse": 10 + minute / 60, "postgres+children Pss_Shmem": 40.0},
            "nats": {"log_messages": 100 * minute, "log_bytes": 6e4 * minute, "HeapSys": 18.0},
        })  # fmt: skip
    summary = sampler.summary(since=0)
    assert summary["mem"]["nats HeapInuse"]["slope_mib_per_h"] == 1.0
    assert summary["mem"]["postgres+children Pss_Shmem"]["slope_mib_per_h"] == 0.0
    assert summary["log"]["last"] == {"log_messages": 900, "log_bytes": 5.4e5}

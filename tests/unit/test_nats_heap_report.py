"""The NATS heap report scales sampled records back and groups them by nats-server site."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.load.nats_heap_report import load, parse_heap, report, site_of

PROFILE = """heap profile: 3: 9437184 [5: 9500000] @ heap/131072
1: 8388608 [1: 8388608] @ 0x1 0x2 0x3
#	0x1	runtime.mallocgc+0x10		runtime/malloc.go:1
#	0x2	github.com/nats-io/nats-server/v2/server.(*msgBlock).loadMsgs+0x2b	server/filestore.go:1
#	0x3	github.com/nats-io/nats-server/v2/server.(*fileStore).StoreMsg+0x9	server/filestore.go:2

2: 1024 [4: 2048] @ 0x4
#	0x4	github.com/nats-io/nats-server/v2/server.(*stree).insert+0x1	server/stree.go:1

# runtime.MemStats
# HeapAlloc = 10485760
# HeapInuse = 12582912
"""


def test_sites_are_the_innermost_nats_frames() -> None:
    frames = ["runtime.mallocgc+0x10", "github.com/nats-io/nats-server/v2/server.a+0x1",
              "github.com/nats-io/nats-server/v2/server.b+0x2"]  # fmt: skip
    assert site_of(frames, 1) == "server.a"
    assert site_of(frames, 2) == "server.a < server.b"
    assert site_of(["os.ReadFile+0x1"], 1) == "os.ReadFile"


def test_records_are_scaled_back_for_sampling() -> None:
    sites, memstats = parse_heap(PROFILE, 1)
    rate = 65536
    # an 8 MiB block is sampled for certain: it counts as itself
    assert sites["server.(*msgBlock).loadMsgs"] == pytest.approx(8388608, rel=1e-6)
    # two 512-byte objects stand for many more: 1024 / (1 - exp(-512 / rate))
    small = 1024 / (1 - math.exp(-512 / rate))
    assert sites["server.(*stree).insert"] == pytest.approx(small)
    assert small > 100 * 1024
    assert memstats == {"HeapAlloc": 10485760, "HeapInuse": 12582912}


def test_the_report_orders_sites_by_growth(tmp_path: Path) -> None:
    for seconds, blocks in (("0000000", 1), ("0000300", 1), ("0000600", 3)):
        folder = tmp_path / seconds
        folder.mkdir()
        grown = PROFILE.replace("1: 8388608 [1:", f"{blocks}: {blocks * 8388608} [{blocks}:")
        (folder / "heap.txt").write_text(grown)
        state = {"messages": blocks * 10, "bytes": 100, "num_subjects": 2, "num_deleted": 0}
        stream = {"name": "EVENTS", "state": state, "consumer_detail": [{}, {}]}
        jsz = {"account_details": [{"stream_detail": [stream]}]}
        (folder / "jsz.json").write_text(json.dumps(jsz))
    snapshots = load(tmp_path, 1)
    assert [s.seconds for s in snapshots] == [0, 300, 600]
    assert snapshots[-1].consumers == 2
    text = report(snapshots, top=5)
    first_site = next(line for line in text.splitlines() if line.startswith("| `"))
    assert "loadMsgs" in first_site
    assert "+16.00" in first_site
    assert "| EVENTS | 0 → 0 | 10 → 30 |" in text

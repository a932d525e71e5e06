"""What the soak records of NATS's and PostgreSQL's memory beside their RSS.

* NATS runs with its monitoring port (``-m``: ``/varz`` has ``mem``, its RSS as it sees it) and
  its profiling port (``--profile``: ``/debug/pprof/heap?debug=1`` ends with Go's
  ``runtime.MemStats``: ``HeapAlloc`` is live objects, ``HeapInuse`` the spans holding them,
  ``HeapSys``/``Sys`` what the runtime took from the OS). With the log stream's bytes, messages
  and subjects beside them, growth can be related to data.
* PostgreSQL's processes share memory (shared buffers): summed over the postmaster and every
  child, ``Pss_Anon`` is their own heaps (the backends' caches and work memory), ``Pss_Shmem``
  the shared memory they have touched, counted once (bounded by ``shared_buffers`` and the
  other shared segments), and ``Private_Clean + Private_Dirty`` (USS) the pages only one
  process maps.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from deploy.processes import ServerProcess, free_port

MEMSTATS = ("HeapAlloc", "HeapInuse", "HeapIdle", "HeapReleased", "HeapSys", "Sys", "NumGC")
_MEMSTAT_LINE = re.compile(r"^# (\w+) = (\d+)$", re.MULTILINE)


def monitored(process: ServerProcess) -> ServerProcess:
    """NATS ``process`` with its monitoring and profiling ports on (127.0.0.1, free ports),
    kept on it as ``monitor_port`` and ``profile_port``."""
    monitor, profile = free_port(), free_port()
    process.argv = [*process.argv, "-m", str(monitor), "--profile", str(profile)]
    process.monitor_port, process.profile_port = monitor, profile  # type: ignore[attr-defined]
    return process


def memstats(text: str) -> dict[str, int]:
    """The ``runtime.MemStats`` lines (``# HeapAlloc = 123``) of a Go heap profile's text."""
    found = {name: int(value) for name, value in _MEMSTAT_LINE.findall(text)}
    return {name: found[name] for name in MEMSTATS if name in found}


def get(port: int, path: str, timeout: float) -> bytes:
    """The body of ``http://127.0.0.1:<port><path>``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
        return bytes(answer.read())


def stream_state(jsz: dict[str, Any], name: str) -> dict[str, int]:
    """A stream's ``messages``, ``bytes`` and ``num_subjects`` from ``/jsz?streams=true``."""
    for account in jsz.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if stream.get("name") == name:
                state = stream.get("state") or {}
                return {key: int(state.get(key) or 0)
                        for key in ("messages", "bytes", "num_subjects")}  # fmt: skip
    return {}


def nats_memory(process: ServerProcess, timeout: float = 2.0) -> dict[str, float]:
    """NATS as it sees itself: ``varz_mem`` (its RSS), Go's MemStats and JetStream's file store
    use (MiB); ``NumGC``, ``subscriptions`` and the log stream's ``log_messages``,
    ``log_bytes`` and ``log_subjects`` (one subject per aggregate) as counts."""
    mib = 2**20
    monitor = process.monitor_port  # type: ignore[attr-defined]
    varz: dict[str, Any] = json.loads(get(monitor, "/varz", timeout))
    jsz = json.loads(get(monitor, "/jsz?accounts=true&streams=true", timeout))
    heap = get(process.profile_port, "/debug/pprof/heap?debug=1", timeout)  # type: ignore[attr-defined]
    js = (varz.get("jetstream") or {}).get("stats") or {}
    out: dict[str, float] = {
        "varz_mem": varz.get("mem", 0) / mib,
        "js_storage": js.get("storage", 0) / mib,
        "subscriptions": float(varz.get("subscriptions", 0)),
    }
    for name, value in memstats(heap.decode(errors="replace")).items():
        out[name] = float(value) if name == "NumGC" else value / mib
    for key, value in stream_state(jsz, "EVENTS").items():
        out[f"log_{key.removeprefix('num_')}"] = float(value)
    return out


def smaps_rollup(pid: int) -> dict[str, int]:
    """``/proc/PID/smaps_rollup`` in kB (empty if the process is gone)."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    found[key] = int(parts[0])
    except (OSError, ValueError):
        return {}
    return found


def shared_and_private(pids: list[int]) -> dict[str, float]:
    """Summed over ``pids``, MiB: ``uss`` (Private_Clean + Private_Dirty: pages mapped by one
    process only, which includes shared-memory pages only one of them has touched), and the
    three parts of the PSS: ``pss_anon`` (the processes' own heaps and stacks), ``pss_shmem``
    (shared memory: shared buffers) and ``pss_file`` (binaries and libraries), each page
    counted once over the processes mapping it."""
    parts = {"pss_anon": "Pss_Anon", "pss_shmem": "Pss_Shmem", "pss_file": "Pss_File"}
    sums = dict.fromkeys(("uss", *parts), 0)
    for pid in pids:
        rollup = smaps_rollup(pid)
        sums["uss"] += rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
        for key, field in parts.items():
            sums[key] += rollup.get(field, 0)
    return {key: value / 1024 for key, value in sums.items()}


def nats_snapshot(process: ServerProcess, timeout: float = 10.0) -> dict[str, bytes]:
    """NATS's heap profile as text (``heap.txt``: every allocation site still in use at the
    last collection, sampled) and its JetStream state with every stream and consumer
    (``jsz.json``), for ``tests.load.nats_heap_report``."""
    monitor = process.monitor_port  # type: ignore[attr-defined]
    return {
        "heap.txt": get(process.profile_port, "/debug/pprof/heap?debug=1", timeout),  # type: ignore[attr-defined]
        "jsz.json": get(monitor, "/jsz?accounts=true&streams=true&consumers=true", timeout),
    }

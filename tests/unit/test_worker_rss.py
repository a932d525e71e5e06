"""A rebuild worker reports its own peak memory, not its parent's (spawned workers)."""

from __future__ import annotations

import multiprocessing
import resource

from projections.rebuild_workers import peak_rss_mib


def test_a_spawned_worker_does_not_report_its_parent_s_memory() -> None:
    ballast = bytearray(256 * 1024 * 1024)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # resident
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 > 256
    assert peak_rss_mib() > 256  # this process's own peak
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        worker_peak = pool.apply(peak_rss_mib)
    assert worker_peak < 200, worker_peak
    del ballast

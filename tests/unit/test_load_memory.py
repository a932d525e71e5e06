"""The fault run's memory sampler sees a server's child processes (PostgreSQL's backends)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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

"""`muster up`: starts the three embedded servers, keeps data across restarts, leaves no orphans."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from deploy.embedded_postgres import os_user, placed_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EMBEDDED = re.compile(r"^\s+(NATS JetStream|PostgreSQL|Redis)\s+(\S+)\s+embedded, pid (\d+)", re.M)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is not running.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


def start_up(data_dir: Path) -> tuple[subprocess.Popen[str], dict[str, tuple[str, int]]]:
    """Run `muster up` in its own process; return it and {server: (url, pid)} once it is up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")}
    env["MUSTER_SANDBOX_PORT"] = "0"  # the default port may be another stack's on this machine
    env["MUSTER_WEB_PORT"] = "0"  # likewise the web's
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "up", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    output = ""
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while "Press Ctrl-C to stop." not in output:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            pytest.fail(f"muster up exited early:\n{output}")
        output += line
        assert time.monotonic() < deadline, output
    servers = {m[1]: (m[2], int(m[3])) for m in EMBEDDED.finditer(output)}
    assert set(servers) == {"NATS JetStream", "PostgreSQL", "Redis"}, output
    assert ":***@" in servers["PostgreSQL"][0], "the printed URL must not show the password"
    # Tools find the full URLs (with the generated password) in the endpoints file.
    urls = json.loads((data_dir / "endpoints.json").read_text())
    assert (data_dir / "endpoints.json").stat().st_mode & 0o077 == 0
    servers["PostgreSQL"] = (urls["postgres"], servers["PostgreSQL"][1])
    return proc, servers


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "muster-data"
    yield path
    cluster = placed_cluster(path, os_user())  # outside the data dir when run as root
    if not cluster.is_relative_to(path):
        shutil.rmtree(cluster, ignore_errors=True)


def test_sigkill_of_muster_leaves_no_server_running(data_dir: Path) -> None:
    proc, servers = start_up(data_dir)
    pids = [pid for _, pid in servers.values()]
    assert all(alive(pid) for pid in pids)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if alive(pid)] == []


def test_sigterm_stops_cleanly_and_data_survives_a_restart(data_dir: Path) -> None:
    proc, servers = start_up(data_dir)
    try:
        with psycopg.connect(servers["PostgreSQL"][0], autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "Stopped." in output
    assert not any(alive(pid) for _, pid in servers.values())

    proc, servers = start_up(data_dir)
    try:
        with psycopg.connect(servers["PostgreSQL"][0]) as conn:
            assert conn.execute("SELECT note FROM kept").fetchall() == [("still here",)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)

"""Secrets never reach the terminal, and embedded servers refuse clients without them.

One real `muster up` (a child process, its own data directory), then every command and failure
path against it and after it; the combined output must hold none of the generated passwords and
not the bot token. On the way: a second projector says that it waits, and `retry-parked` refuses.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import nats
import pytest
import redis

from deploy.embedded_postgres import PASSWORD_FILE, os_user, placed_cluster

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOKEN = "fake-bot-token.MTIzNDU2Nzg5.secret-part"
GAME = "8f1c2a44-1111-4222-8333-444455556666"


def muster_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")}
    env.update(
        MUSTER_DATA_DIR=str(data_dir),
        MUSTER_SANDBOX_PORT="0",
        MUSTER_WEB_PORT="0",
        MUSTER_NATS_TIMEOUT="2",
    )
    env.update(extra)
    return env


class Transcript:
    """Every command run, with its output, for the final grep."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.text = ""

    def run(self, *argv: str, token: bool = True, **env: str) -> tuple[int, str]:
        if token:
            env.setdefault("MUSTER_DISCORD_TOKEN", TOKEN)
        result = subprocess.run(
            [sys.executable, "-m", "deploy.cli", *argv],
            capture_output=True, text=True, timeout=60, env=muster_env(self.data_dir, **env),
            check=False,
        )  # fmt: skip
        output = result.stdout + result.stderr
        self.text += f"\n$ muster {' '.join(argv)}\n{output}"
        if "--debug" not in argv:
            assert "Traceback" not in output, output
        return result.returncode, output

    def start(
        self, *argv: str, until: str, token: bool = True, **env: str
    ) -> subprocess.Popen[str]:
        if token:
            env.setdefault("MUSTER_DISCORD_TOKEN", TOKEN)
        proc = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", *argv],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=muster_env(self.data_dir, **env),
        )  # fmt: skip
        assert proc.stdout is not None
        output = ""
        deadline = time.monotonic() + 60
        while until not in output:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                pytest.fail(f"muster {' '.join(argv)} exited early:\n{output}")
            output += line
            assert time.monotonic() < deadline, output
        self.text += f"\n$ muster {' '.join(argv)} (running)\n{output}"
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> int:
        proc.send_signal(signal.SIGTERM)
        self.text += proc.communicate(timeout=30)[0]
        return proc.returncode


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "muster-data"
    yield path
    cluster = placed_cluster(path, os_user())  # outside the data dir when run as root
    if not cluster.is_relative_to(path):
        shutil.rmtree(cluster, ignore_errors=True)


async def refused_without_credentials(nats_url: str, redis_url: str) -> None:
    port = urlsplit(nats_url).port
    for url in (f"nats://127.0.0.1:{port}", f"nats://muster:wrong@127.0.0.1:{port}"):
        with pytest.raises((nats.errors.Error, OSError, TimeoutError)):
            await connect_and_close(url)
    port = urlsplit(redis_url).port
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, socket_timeout=3).set("forged", "1")
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, password="wrong", socket_timeout=3).ping()
    nc = await nats.connect(nats_url)  # with them: accepted
    await nc.close()
    assert redis.Redis.from_url(redis_url).ping()


async def _quiet(error: Exception) -> None:
    pass


async def connect_and_close(url: str) -> None:
    from deploy.bootstrap import discard

    nc = nats.NATS()
    try:
        await asyncio.wait_for(
            nc.connect(url, allow_reconnect=False, max_reconnect_attempts=1, error_cb=_quiet), 5
        )
    finally:
        await discard(nc)


def test_no_command_prints_a_secret_and_servers_want_their_passwords(data_dir: Path) -> None:
    t = Transcript(data_dir)
    up = t.start("up", until="Press Ctrl-C to stop.", token=False)
    try:
        urls = json.loads((data_dir / "endpoints.json").read_text())
        secrets = [
            (data_dir / "nats.password").read_text().strip(),
            (data_dir / "redis.password").read_text().strip(),
            (placed_cluster(data_dir, os_user()) / PASSWORD_FILE).read_text().strip(),
        ]
        for name in ("nats.password", "redis.password", "nats.conf", "redis.conf"):
            assert (data_dir / name).stat().st_mode & 0o077 == 0, name
        assert all(len(s) >= 20 for s in secrets)
        asyncio.run(refused_without_credentials(urls["nats"], urls["redis"]))

        configured = {
            "MUSTER_NATS_URL": urls["nats"],
            "MUSTER_DATABASE_URL": urls["postgres"],
            "MUSTER_REDIS_URL": urls["redis"],
        }
        code, out = t.run("doctor")
        assert code == 0, out
        assert "muster up is running" in out
        assert "nats://muster:***@" in out
        code, out = t.run("doctor", **configured)
        assert code == 0, out
        assert ":***@" in out
        assert t.run("audit", "nonsense")[0] == 1
        code, out = t.run("audit", f"game.{GAME}")
        assert code == 1
        assert f"no game game.{GAME}" in out
        wrong = urls["nats"].replace(secrets[0], "not-the-password")
        code, out = t.run("audit", GAME, MUSTER_NATS_URL=wrong)
        assert code == 1
        assert "cannot reach NATS" in out
        assert "Check the user and password in MUSTER_NATS_URL" in out
        code, out = t.run("replay")
        assert code == 0, out
        code, out = t.run("replay", "--partitions", "2")  # two worker processes
        assert code == 0, out
        assert "no difference with the live schema" in out
        code, out = t.run("projector", "retry-parked")
        assert code == 1
        assert "a projector is running" in out
        second = t.start("projector", until="this one waits", **configured)
        assert t.stop(second) == 0
        worker = t.start(
            "worker", "--durable", "x", until="draining",
            MUSTER_DISCORD_API_BASE="http://127.0.0.1:9/api/v10",
        )  # fmt: skip
        assert t.stop(worker) == 0
        code, out = t.run("--debug", "audit", GAME, MUSTER_NATS_URL=wrong)
        assert "Traceback" in out
    finally:
        assert t.stop(up) == 0, t.text
    code, out = t.run("audit", GAME)
    assert code == 1
    assert "no `muster up` is running" in out
    code, out = t.run("audit", GAME, MUSTER_NATS_URL=urls["nats"])
    assert code == 1
    assert "cannot reach NATS at nats://muster:***@" in out
    code, out = t.run("replay", **configured)
    assert code == 1
    code, out = t.run("doctor", **configured)
    assert code == 1
    assert t.run("up", "--bogus")[0] == 2
    assert "reconnecting" not in t.text  # a clean stop is not a lost connection
    leaked = [s for s in [*secrets, TOKEN, TOKEN.rsplit(".", maxsplit=1)[-1]] if s in t.text]
    assert leaked == [], t.text

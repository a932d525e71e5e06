"""The consumer contract outside Python: the JavaScript example reads what Python reads."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest

from domain.app import MusterApp
from domain.commands import ConfigureChannel, CreateGame, JoinGame, LeaveGame
from projections.event_stream import EventFilter, StreamReader
from tests.integration.conftest import layout_of

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consumer-js"


def node_ready() -> None:
    """Skip (saying why) without node/npm; install the example's packages when missing."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are needed to run examples/consumer-js (not on PATH)")
    if not (EXAMPLE / "node_modules" / "nats").exists():
        done = subprocess.run(
            [str(EXAMPLE / "install.sh")], capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode:
            pytest.skip(f"examples/consumer-js/install.sh failed (no npm registry?): {done.stderr}")


def python_summary(env: dict[str, str], nats_url: str) -> dict[str, object]:
    async def read() -> dict[str, object]:
        nc = await nats.connect(nats_url)
        types: Counter[str] = Counter()
        last = 0
        try:
            async for batch in StreamReader(nc, layout_of(env), EventFilter()).batches():
                types.update(e.type for e in batch)
                last = batch[-1].seq
        finally:
            await nc.close()
        return {"count": sum(types.values()), "last_seq": last, "types": dict(types)}

    return asyncio.run(read())


def test_javascript_consumer_reads_the_same_events_and_counts(
    event_log_env: dict[str, str], nats_url: str
) -> None:
    node_ready()
    app = MusterApp(env=event_log_env)
    soon = datetime.now(UTC) + timedelta(hours=3)
    for n in range(3):
        game = app.handle(CreateGame(
            command_id=f"c{n}", user_id="100", permissions=0x20, guild_id="1",
            channel_id=str(10 + n), title=f"G{n}", scheduled_at=soon, max_players=2,
        )).game_id  # fmt: skip
        assert game
        for user in range(4):
            app.handle(JoinGame(command_id=f"j{n}-{user}", user_id=str(200 + user), game_id=game))
        app.handle(LeaveGame(command_id=f"l{n}", user_id="200", game_id=game))  # + a promotion
    app.handle(ConfigureChannel(command_id="cfg", user_id="100", permissions=0x10, guild_id="1",
                                channel_id="10", max_players=5))  # fmt: skip
    app.close()

    done = subprocess.run(
        ["node", "consumer.mjs"], cwd=EXAMPLE, capture_output=True, text=True, timeout=60,
        check=False, env={
            "PATH": "/usr/bin:/bin:/usr/local/bin", "NATS_URL": nats_url,
            "MUSTER_EVENTS_STREAM": event_log_env["MUSTER_EVENTS_STREAM"],
            "MUSTER_EVENTS_SUBJECT_PREFIX": event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        },
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from_js = json.loads(done.stdout.strip().splitlines()[-1])
    assert from_js.pop("duplicates") == 0
    assert from_js.pop("out_of_order") == 0
    from_python = python_summary(event_log_env, nats_url)
    assert from_js == from_python
    assert from_python["types"]["game.player_promoted"] == 3  # type: ignore[index]

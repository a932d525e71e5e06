"""Kill the Discord projector mid-way (SIGKILL of a real ``muster projector``, or its task
cancelled abruptly) while it posts announcements: after a restart every game has exactly one
announcement, and it is recorded in the log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from tests.integration.discord_projection.discord_world import CREATE_ROUTE, World, world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# More games per channel than its budget (5 posts per 5 s): an early stop is always mid-way.
CHANNELS, GAMES_PER_CHANNEL = 3, 8


async def many_games(w: World) -> dict[str, object]:
    """Games spread over channels (each channel may take 5 posts per 5 s)."""
    games: dict[str, object] = {}
    for c in range(CHANNELS):
        channel = w.games if c == 0 else w.guild.text_channel(f"games-{c}")
        for g in range(GAMES_PER_CHANNEL):
            games[await w.create(f"Game {c}.{g}", channel_id=str(channel.id))] = channel
    return games


def posted(w: World, games: dict[str, object]) -> int:
    return sum(len(w.announcements(game_id, channel)) for game_id, channel in games.items())


async def recorded(w: World, games: dict[str, object]) -> int:
    rows = await w.sql(
        "SELECT count(*) FROM games WHERE game_id = ANY(%s::uuid[]) "
        "AND announcement_message_id IS NOT NULL",
        list(games),
    )
    return int(rows[0][0])


def assert_each_game_announced_once(w: World, games: dict[str, object]) -> None:
    for game_id, channel in games.items():
        assert len(w.announcements(game_id, channel)) == 1, game_id
    everything = [m for c in {id(c): c for c in games.values()}.values()
                  for m in w.emu.channel_messages(c)]  # fmt: skip
    assert len(everything) == len(games)


def start_projector(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``muster projector`` in its own process, its output in ``log`` (a pipe nobody reads
    could fill up and stop it)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", "projector"],
            env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


async def test_sigkill_of_muster_projector_mid_way_posts_no_duplicate(
    nc: NATS, redis: Redis, redis_url: str, event_log_env: dict[str, str], database_url: str,
    read_schema: str, tmp_path: Path,
) -> None:  # fmt: skip
    async with world(nc, redis, event_log_env, database_url, read_schema) as w:
        games = await many_games(w)
        w.emu.faults.latency(0.15, CREATE_ROUTE)  # posting all of them takes a few seconds
        env = {
            **event_log_env, "MUSTER_DATABASE_URL": database_url, "MUSTER_REDIS_URL": redis_url,
            "MUSTER_DATABASE_SCHEMA": read_schema, "MUSTER_DISCORD_TOKEN": w.emu.bot_token,
            "MUSTER_DISCORD_API_BASE": w.emu.api_base,
        }  # fmt: skip
        log = tmp_path / "projector.log"
        projector = start_projector(env, log)
        try:
            await w.emu.until(lambda: posted(w, games) >= 4, within=30)
        finally:
            projector.send_signal(signal.SIGKILL)
            await asyncio.to_thread(projector.wait, 10)
        assert posted(w, games) < len(games), "the kill should land before the last post"
        projector = start_projector(env, log)
        try:
            async with asyncio.timeout(60):
                while await recorded(w, games) < len(games):
                    assert projector.poll() is None, log.read_text()
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(
                f"not all recorded in time; the projector said:\n{log.read_text()}"
            ) from None
        finally:
            projector.send_signal(signal.SIGTERM)
            await asyncio.to_thread(projector.wait, 20)
        assert projector.returncode == 0, log.read_text()
        assert_each_game_announced_once(w, games)


async def test_projector_task_cancelled_abruptly_mid_way_posts_no_duplicate(
    nc: NATS, redis: Redis, event_log_env: dict[str, str], database_url: str, read_schema: str
) -> None:
    async with world(nc, redis, event_log_env, database_url, read_schema) as w:
        games = await many_games(w)
        w.emu.faults.latency(0.1, CREATE_ROUTE)
        w.start_read_models()
        w.start_projector()
        await w.emu.until(lambda: posted(w, games) >= 3, within=30)
        await w.stop(abruptly=True)  # mid-post: the request may or may not have reached Discord
        assert posted(w, games) < len(games)
        w.start_projector()
        await w.settled(within=60)
        assert await recorded(w, games) == len(games)
        assert_each_game_announced_once(w, games)

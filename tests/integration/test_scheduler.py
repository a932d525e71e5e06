"""The scheduler in-process on real servers: JetStream log, PostgreSQL read models, Redis, and
the Discord emulator receiving the DMs. Games are scheduled a few seconds ahead of the real
clock; the tests wait on what the emulator and the log show, never on sleeps."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from deploy.emulator import DiscordEmulator
from domain.app import MusterApp
from domain.commands import SYSTEM_USER_ID, CreateGame, RecordAnnouncement
from domain.events import ReminderRecorded
from gateways.commands import InProcessCommands
from gateways.discord import DiscordConfig, DiscordRest, open_outbound
from gateways.discord.metrics import Metrics
from gateways.health import Health, HealthReporter, read_health
from projections.scheduler import (
    DiscordMailbox,
    Scheduler,
    SchedulerMetrics,
    run_scheduler,
)
from tests.integration.conftest import layout_of, project_until

pytestmark = [pytest.mark.integration]

OFFSET = 1  # minute: a reminder due DUE_IN seconds from now is for a game 60 s later


@dataclass
class Players:
    guild: str
    channel: str
    host: str
    ids: list[str]
    refusing: str


def stage_guild(emu: DiscordEmulator, players: int = 3) -> Players:
    guild = emu.people.guild(f"Scheduler {uuid.uuid4().hex[:6]}")
    channel = guild.text_channel("games")
    host = guild.member("host", permissions=0x20)
    people = [guild.member(f"p{i}") for i in range(players)]
    closed = guild.member("closed", accepts_dms=False)
    return Players(
        str(guild.id), str(channel.id), str(host.id), [str(p.id) for p in people], str(closed.id)
    )


def create_game(stage: Players, due_in: float, players: list[str], title: str) -> CreateGame:
    """A game whose one reminder (OFFSET minutes before) falls ``due_in`` seconds from now."""
    start = datetime.now(UTC) + timedelta(minutes=OFFSET, seconds=due_in)
    return CreateGame(
        command_id=f"create-{uuid.uuid4().hex}", user_id=stage.host, permissions=0x20,
        guild_id=stage.guild, channel_id=stage.channel, title=title,
        scheduled_at=start.replace(microsecond=0), reminder_minutes=(OFFSET,),
        players=tuple(players), rules="Be on time",
    )  # fmt: skip


def reminder_dms(emu: DiscordEmulator) -> Counter[str]:
    """Reminder DMs in the emulator by nonce (one reminder = one nonce)."""
    found: Counter[str] = Counter()
    for messages in emu.inspect.all_dms().values():
        for m in messages:
            footer = (m.get("embeds") or [{}])[0].get("footer", {}).get("text", "")
            if "ref " in footer:
                found[footer.rsplit("ref ", 1)[1]] += 1
    return found


def recorded(app: MusterApp, game_id: str) -> Counter[tuple[int, str]]:
    return Counter(
        (e.offset_minutes, e.user_id)
        for e in app.history(f"game.{game_id}")
        if isinstance(e, ReminderRecorded)
    )


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emulator:
        yield emulator


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    import nats

    client = await nats.connect(nats_url)
    yield client
    await client.close()


async def test_reminders_go_out_on_time_once_from_snapshot_and_log(
    emu: DiscordEmulator,
    event_log_env: dict[str, str],
    read_schema: str,
    database_url: str,
    redis_url: str,
    nc: NATS,
) -> None:
    stage = stage_guild(emu)
    app = MusterApp(env=event_log_env)
    port = InProcessCommands(app)
    redis = Redis.from_url(redis_url)
    config = DiscordConfig(
        token=emu.bot_token, api_base=emu.api_base, key_prefix=f"t{uuid.uuid4().hex[:8]}"
    )
    try:
        # a game the read models already hold (the snapshot), announced
        early = await port.send(create_game(stage, 3, [*stage.ids[:2], stage.refusing], "Early"))
        await port.send(
            RecordAnnouncement(
                command_id="ann",
                user_id=SYSTEM_USER_ID,
                game_id=str(early.game_id),
                channel_id=stage.channel,
                message_id="123456",
            )
        )
        await project_until(
            nc, event_log_env, database_url, read_schema, app.recorder.max_notification_id() or 0
        )
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            outbound = await open_outbound(rest)
            metrics = SchedulerMetrics()
            scheduler = Scheduler(port, DiscordMailbox(rest, outbound), metrics=metrics)
            stop = asyncio.Event()
            health = HealthReporter(nc, f"scheduler-test-{uuid.uuid4().hex[:8]}", interval=0.2)
            task = asyncio.create_task(
                run_scheduler(
                    scheduler,
                    nc=nc,
                    layout=layout_of(event_log_env),
                    database_url=database_url,
                    schema=read_schema,
                    stop=stop,
                    health=health,
                )
            )
            # a game only the log knows (created after start-up)
            late = await port.send(create_game(stage, 4, stage.ids[1:], "Late"))
            try:
                report = await _health(nc, health.process)
                assert report.state == "running"
                assert report.figures["pending"] >= 4  # reminders, starts and ends still ahead
                assert report.figures["next_due"] is not None
                await emu.until(lambda: sum(reminder_dms(emu).values()) >= 4, within=30)
                await _until(lambda: sum(recorded(app, str(late.game_id)).values()) == 2)
                await _until(lambda: sum(recorded(app, str(early.game_id)).values()) == 3)
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)
                await outbound.close()
        assert set(reminder_dms(emu).values()) == {1}
        early_game = app.game(str(early.game_id))
        assert early_game.reminders == {
            (1, stage.ids[0]): "sent", (1, stage.ids[1]): "sent", (1, stage.refusing): "failed",
        }  # fmt: skip
        failed = next(
            e for e in app.history(f"game.{early.game_id}")
            if isinstance(e, ReminderRecorded) and e.status == "failed"
        )  # fmt: skip
        assert failed.detail.startswith("50007")
        dm = emu.inspect.dms(int(stage.ids[0]))[0]
        assert "Early" in dm["content"]
        assert dm["embeds"][0]["url"].endswith(f"/{stage.channel}/123456")
        lag = metrics.value("muster_scheduler_due_lag_seconds_count", kind="remind")
        assert lag == 5
    finally:
        await port.aclose()
        await redis.aclose()
        app.close()


async def _health(nc: NATS, process: str) -> Health:
    """The process's report once it says it is running and has the late game's due times."""
    for _ in range(400):
        report = (await read_health(nc)).get(process)
        if report is not None and report.state == "running" and report.figures["pending"] >= 4:
            return report
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no running health report from {process}")


async def _until(predicate: Any, within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        for _ in range(int(within / 0.05) + 1):
            if predicate():
                return
            await asyncio.sleep(0.05)
    raise TimeoutError

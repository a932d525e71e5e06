"""The reaction to channel and guild cap changes, on real JetStream and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from domain.app import MusterApp
from domain.commands import ConfigureChannel, ConfigureGuild, CreateGame, JoinGame
from domain.outcome import Outcome
from gateways.commands import InProcessCommands
from gateways.postgres import connect
from projections import queries
from projections.reactions import ReactionProgress, SettingsReactions
from projections.runner import stored_position
from tests.integration.conftest import layout_of, project_until

pytestmark = pytest.mark.integration

GUILD, CHANNEL, OTHER_CHANNEL, HOST = "1", "2", "3", "100"
MANAGE_GUILD, MANAGE_CHANNELS = 0x20, 0x10
SOON = datetime.now(UTC) + timedelta(hours=2)


class Log:
    """A JetStream log, a command port on it, and a read-model schema."""

    def __init__(self, env: dict[str, str], nc: NATS, database_url: str, schema: str) -> None:
        self.env, self.nc, self.database_url, self.schema = env, nc, database_url, schema
        self.app = MusterApp(env=env)
        self.port = InProcessCommands(self.app)
        self.count = 0

    async def send(self, command: Any) -> Outcome:
        return await self.port.send(command)

    def cid(self) -> str:
        self.count += 1
        return f"cmd-{self.count}"

    async def create(self, channel: str = CHANNEL, **extra: Any) -> str:
        outcome = await self.send(CreateGame(
            command_id=self.cid(), user_id=HOST, permissions=MANAGE_GUILD, guild_id=GUILD,
            channel_id=channel, title="Catan", scheduled_at=SOON, **extra,
        ))  # fmt: skip
        assert outcome.game_id is not None
        return outcome.game_id

    async def join(self, game: str, *users: str) -> None:
        for user in users:
            await self.send(JoinGame(command_id=self.cid(), user_id=user, game_id=game))

    async def configure(self, level: str, channel: str = CHANNEL, **fields: Any) -> Outcome:
        common = {"command_id": self.cid(), "user_id": HOST, "guild_id": GUILD, **fields}
        if level == "channel":
            command: Any = ConfigureChannel(
                **common, channel_id=channel, permissions=MANAGE_CHANNELS
            )
        else:
            command = ConfigureGuild(**common, permissions=MANAGE_GUILD)
        return await self.send(command)

    def last(self) -> int:
        return int(self.app.recorder.max_notification_id())  # type: ignore[attr-defined]

    def reactions(self, port: Any = None) -> SettingsReactions:
        return SettingsReactions(
            self.nc, layout_of(self.env), self.database_url, self.schema, port or self.port
        )

    async def project_and_react(self) -> ReactionProgress:
        """Read models up to the end of the log, then the reaction up to the same place."""
        last = self.last()
        await project_until(self.nc, self.env, self.database_url, self.schema, last)
        return await asyncio.wait_for(self.reactions().run(asyncio.Event(), until=last), 30)

    async def seats(self, game: str) -> list[tuple[str, str | None]]:
        conn = await connect(self.database_url, self.schema)
        try:
            return [(p.kind, p.user_id) for p in await queries.participants_of(conn, game)]
        finally:
            await conn.close()


@pytest.fixture
async def log(
    event_log_env: dict[str, str], nc: NATS, database_url: str, read_schema: str
) -> AsyncIterator[Log]:
    muster = Log(event_log_env, nc, database_url, read_schema)
    yield muster
    await muster.port.aclose()
    muster.app.close()


async def test_raising_a_channel_cap_promotes_waiting_players(log: Log) -> None:
    """Issue 9's falsifying example, end to end: no own cap → join 101 → channel cap 1 →
    join 102 (waitlisted) → channel cap back to unset → 102 promoted by the reaction."""
    game = await log.create()
    await log.join(game, "101")
    await log.configure("channel", max_players=1)
    await log.project_and_react()
    await log.join(game, "102")
    assert await log.seats(game) == [("joined", "101")]  # read model not there yet
    raised = await log.configure("channel", max_players=None)
    progress = await log.project_and_react()
    assert (progress.settings_events, progress.commands, progress.changed) == (1, 1, 1)
    assert log.app.game(game).joined == ["101", "102"]
    await project_until(log.nc, log.env, log.database_url, log.schema, log.last())
    conn = await connect(log.database_url, log.schema)
    try:
        promoted = (await queries.game_timeline(conn, game))[-1]
    finally:
        await conn.close()
    assert (promoted.type, promoted.actor_id, promoted.command_id) == (
        "game.player_promoted.v1", "0", f"settings:channel.{CHANNEL}:{raised.version}:{game}",
    )  # fmt: skip


async def test_lowering_a_guild_cap_moves_players_in_games_that_inherit_it(log: Log) -> None:
    inherits = await log.create()
    own_cap = await log.create(max_players=3)
    channel_cap = await log.create(channel=OTHER_CHANNEL)
    await log.configure("channel", channel=OTHER_CHANNEL, max_players=3)
    for game in (inherits, own_cap, channel_cap):
        await log.join(game, "101", "102", "103")
    channel_change = await log.project_and_react()
    assert (channel_change.commands, channel_change.changed) == (1, 0)  # nobody over 3
    lowered = await log.configure("guild", max_players=1)
    progress = await log.project_and_react()
    assert (progress.commands, progress.changed) == (1, 1), "only the game that inherits it"
    state = log.app.game(inherits)
    assert (state.joined, state.waitlist) == (["101"], ["102", "103"])
    await project_until(log.nc, log.env, log.database_url, log.schema, log.last())
    assert await log.seats(inherits) == [
        ("joined", "101"), ("waitlisted", "102"), ("waitlisted", "103"),
    ]  # fmt: skip
    for game in (own_cap, channel_cap):
        assert log.app.game(game).joined == ["101", "102", "103"]
    conn = await connect(log.database_url, log.schema)
    try:
        moves = [e for e in await queries.game_timeline(conn, inherits) if "moved" in e.type]
    finally:
        await conn.close()
    assert [(e.body["user_id"], e.body["position"], e.body["reason"]) for e in moves] == [
        ("102", 1, "cap_lowered"), ("103", 2, "cap_lowered"),
    ]  # fmt: skip
    assert {e.command_id for e in moves} == {f"settings:guild.{GUILD}:{lowered.version}:{inherits}"}


async def test_the_reaction_run_twice_or_by_another_process_changes_nothing(log: Log) -> None:
    game = await log.create()
    await log.join(game, "101", "102")
    await log.configure("channel", max_players=1)
    first = await log.project_and_react()
    assert first.changed == 1
    stored, reacted = log.last(), first.position
    conn = await connect(log.database_url, log.schema)
    try:
        assert await stored_position(conn, "settings_reactions") == reacted
        again = await log.reactions().run(asyncio.Event(), until=reacted)
        assert again.commands == 0, "a restart resumes at the stored position"
        await conn.execute("DELETE FROM projector_position WHERE name = 'settings_reactions'")
        await conn.commit()
    finally:
        await conn.close()
    other = MusterApp(env=log.env)  # another process: its own aggregates and settings cache
    port = InProcessCommands(other)
    try:
        rerun = await asyncio.wait_for(log.reactions(port).run(asyncio.Event(), until=stored), 30)
    finally:
        await port.aclose()
        other.close()
    assert (rerun.commands, rerun.changed, rerun.refused) == (1, 0, 0)
    assert log.last() == stored, "no new event in the log"


class Seen(logging.Handler):
    """Sets an asyncio event when a record containing ``text`` is logged."""

    def __init__(self, text: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.text, self.loop, self.event = text, loop, asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.loop.call_soon_threadsafe(self.event.set)


async def test_the_reaction_waits_for_a_read_model_that_is_behind(log: Log) -> None:
    game = await log.create()
    await log.join(game, "101", "102")
    await log.configure("channel", max_players=1)
    last = log.last()
    seen = Seen("wait for the read models", asyncio.get_running_loop())
    logger = logging.getLogger("projections.reactions")
    logger.addHandler(seen)
    reactions = SettingsReactions(
        log.nc, layout_of(log.env), log.database_url, log.schema, log.port, behind_warning=0.05
    )
    try:
        running = asyncio.create_task(reactions.run(asyncio.Event(), until=last))
        await asyncio.wait_for(seen.event.wait(), 30)
        assert reactions.progress.commands == 0, "no game is chosen from an older read model"
        await project_until(log.nc, log.env, log.database_url, log.schema, last)
        progress = await asyncio.wait_for(running, 30)
    finally:
        logger.removeHandler(seen)
    assert (progress.commands, progress.changed, progress.position) == (1, 1, last)
    assert log.app.game(game).waitlist == ["102"]


async def test_muster_projector_runs_the_reaction(
    event_log_env: dict[str, str], database_url: str, redis_url: str, read_schema: str
) -> None:
    """`muster projector` (and `muster up`) supervise the reaction beside the read models."""
    from deploy.bootstrap import Container
    from deploy.projector_cmd import projector_services
    from deploy.settings import Settings
    from deploy.supervise import supervise
    from projections.freshness import wait_for_position

    settings = Settings(
        events_stream=event_log_env["MUSTER_EVENTS_STREAM"],
        events_subject_prefix=event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        database_schema=read_schema,
    )
    urls = {"nats": event_log_env["MUSTER_NATS_URL"], "postgres": database_url, "redis": redis_url}
    stop = asyncio.Event()
    async with Container.open(settings, urls) as container:
        services = projector_services(container)
        assert "settings reactions" in [s.name for s in services]
        running = asyncio.create_task(supervise(services, stop))
        try:
            send = container.commands.send
            created = await send(CreateGame(
                command_id="c", user_id=HOST, permissions=MANAGE_GUILD, guild_id=GUILD,
                channel_id=CHANNEL, title="Catan", scheduled_at=SOON,
            ))  # fmt: skip
            game = created.game_id
            assert game is not None
            for user in ("101", "102"):
                await send(JoinGame(command_id=f"j{user}", user_id=user, game_id=game))
            lowered = await send(ConfigureChannel(
                command_id="cfg", user_id=HOST, permissions=MANAGE_CHANNELS, guild_id=GUILD,
                channel_id=CHANNEL, max_players=1,
            ))  # fmt: skip
            conn = await connect(database_url, read_schema)
            try:
                await wait_for_position(
                    conn, lowered.notification_ids[-1], 30, projector="settings_reactions"
                )
            finally:
                await conn.close()
            state = container.app.game(game)
            assert (state.joined, state.waitlist) == (["101"], ["102"])
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)

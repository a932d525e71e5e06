"""The contract of :class:`domain.ports.CommandPort`, run against every implementation."""

from __future__ import annotations

import asyncio

import pytest

from domain.commands import CreateGame, JoinGame
from domain.errors import AlreadyJoined
from domain.ports import CommandPort
from tests.unit.domain.scenario import CHANNEL, GAME, GUILD, HOST, LATER, MANAGE_GUILD


def create(max_players: int = 3) -> CreateGame:
    return CreateGame(
        command_id="create",
        user_id=HOST,
        permissions=MANAGE_GUILD,
        guild_id=GUILD,
        channel_id=CHANNEL,
        title="Game night",
        scheduled_at=LATER,
        max_players=max_players,
        game_id=GAME,
    )


def join(user: str) -> JoinGame:
    return JoinGame(command_id=f"join-{user}", user_id=user, game_id=GAME)


class CommandPortContract:
    """Subclass with a ``port`` fixture yielding a fresh implementation on an empty log."""

    @pytest.fixture
    def port(self) -> CommandPort:  # pragma: no cover - overridden by each implementation
        raise NotImplementedError

    async def test_send_returns_the_outcome(self, port: CommandPort) -> None:
        created = await port.send(create())
        assert created.result == "game_created"
        joined = await port.send(join("101"))
        assert (joined.result, joined.joined_count, joined.max_players) == ("joined", 1, 3)

    async def test_domain_errors_are_raised(self, port: CommandPort) -> None:
        await port.send(create())
        await port.send(join("101"))
        with pytest.raises(AlreadyJoined):
            await port.send(JoinGame(command_id="again", user_id="101", game_id=GAME))

    async def test_a_repeated_command_id_is_replayed(self, port: CommandPort) -> None:
        await port.send(create())
        first = await port.send(join("101"))
        again = await port.send(join("101"))
        assert again.replayed
        assert not first.replayed
        assert (again.result, again.notification_ids) == (first.result, ())

    async def test_concurrent_joins_never_overbook(self, port: CommandPort) -> None:
        await port.send(create(max_players=3))
        outcomes = await asyncio.gather(*(port.send(join(str(200 + i))) for i in range(20)))
        results = [o.result for o in outcomes]
        assert results.count("joined") == 3
        assert results.count("waitlisted") == 17
        positions = sorted(o.waitlist_position or 0 for o in outcomes if o.result == "waitlisted")
        assert positions == list(range(1, 18))

    async def test_closed_port_refuses(self, port: CommandPort) -> None:
        await port.aclose()
        with pytest.raises(RuntimeError):
            await port.send(create())

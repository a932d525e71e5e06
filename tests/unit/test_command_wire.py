"""What crosses NATS between entry points and command workers: commands, outcomes, domain
errors (rebuilt as the same types), worker failures, and the partition of each game."""

from __future__ import annotations

import inspect
import types
import typing
import uuid
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import pytest

from domain.commands import ConfigureGuild, CreateGame, JoinGame, RecordReminder
from domain.decisions import GAME_ID_NAMESPACE
from domain.errors import DomainError, InvalidCommand
from domain.outcome import Outcome
from gateways.command_service import CommandFailed, partition_of
from gateways.command_service.wire import (
    COMMAND_TYPES,
    BadRequest,
    Refused,
    _domain_errors,
    decode_reply,
    decode_request,
    encode_error,
    encode_outcome,
    encode_request,
    rebuild,
    route,
)
from tests.unit.domain.scenario import CHANNEL, GAME, GUILD, HOST, LATER, MANAGE_GUILD, NOW

COMMANDS = [
    CreateGame(
        command_id="c1", user_id=HOST, permissions=MANAGE_GUILD, guild_id=GUILD,
        channel_id=CHANNEL, title="Night", scheduled_at=LATER, players=("7", "8"),
        reminder_minutes=(60, 15),
    ),
    JoinGame(command_id="j1", user_id="7", game_id=GAME),
    ConfigureGuild(command_id="g1", user_id=HOST, guild_id=GUILD, max_players=None, rules="kind"),
    RecordReminder(
        command_id="r1", user_id="0", game_id=GAME, offset_minutes=15, recipient_id="7",
        scheduled_at=LATER, status="sent",
    ),
]  # fmt: skip


def test_every_command_type_is_known() -> None:
    assert {type(c).__name__ for c in COMMANDS} <= COMMAND_TYPES.keys()
    assert len(COMMAND_TYPES) >= 20


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: type(c).__name__)
def test_a_command_crosses_unchanged(command: Any) -> None:
    again = decode_request(encode_request(command))
    assert type(again) is type(command)
    assert again == command


def test_an_unreadable_request_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="unknown command type 'DropTables'"):
        decode_request(b'{"type": "DropTables", "command": {}}')
    with pytest.raises(BadRequest, match="not a command"):
        decode_request(b'{"type": "JoinGame", "command": {"game_id": 3}}')


def test_an_outcome_crosses_unchanged() -> None:
    outcome = Outcome(
        result="joined", message="You joined the game (1/3).", aggregate_id=f"game.{GAME}",
        command_id="j1", version=2, game_id=GAME, user_id="7", joined_count=1, max_players=3,
        promoted=("9",), event_types=("game.player_joined.v1",), notification_ids=(41, 42),
    )  # fmt: skip
    assert decode_reply(encode_outcome(outcome)) == outcome


def sample(hint: Any, n: int) -> Any:
    """A value of type ``hint`` (the n-th parameter: values differ between parameters)."""
    origin = typing.get_origin(hint)
    if hint is str:
        return f"v{n}"
    if hint is int:
        return 10 + n
    if hint is datetime:
        return NOW
    if origin in (typing.Union, types.UnionType):
        return sample(typing.get_args(hint)[0], n)
    if origin in (Sequence, tuple, list) or (origin and issubclass(origin, Sequence)):
        return (("field2", "reason2"),) if hint == Sequence[tuple[str, str]] else ()
    raise AssertionError(f"no sample for {hint}")


@pytest.mark.parametrize("cls", list(_domain_errors().values()), ids=lambda c: c.__name__)
def test_every_domain_error_is_raised_again_as_itself(cls: type[DomainError]) -> None:
    hints = typing.get_type_hints(cls.__init__)
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    error = cls(**{name: sample(hints[name], i) for i, name in enumerate(names)})
    with pytest.raises(cls) as raised:
        decode_reply(encode_error(error))
    again = raised.value
    assert type(again) is cls
    assert (again.code, again.message, str(again)) == (error.code, error.message, str(error))
    assert vars(again) == vars(error)


def test_invalid_command_keeps_every_problem() -> None:
    error = InvalidCommand("max_players", "too many", more=[("rules", "too long")])
    with pytest.raises(InvalidCommand) as raised:
        decode_reply(encode_error(error))
    assert raised.value.problems == (("max_players", "too many"), ("rules", "too long"))


def test_an_unknown_domain_error_keeps_its_code_and_message() -> None:
    error = rebuild(Refused("NewerRule", "newer_rule", "Not like that.", {"x": 1}))
    assert type(error) is DomainError
    assert (error.code, error.message) == ("newer_rule", "Not like that.")


def test_a_worker_failure_is_a_command_failed_naming_it() -> None:
    with pytest.raises(CommandFailed, match="ValueError: clock is naive"):
        decode_reply(encode_error(ValueError("clock is naive")))
    with pytest.raises(CommandFailed, match="unreadable reply"):
        decode_reply(b"<html>")


def test_partitions_are_stable_and_cover_every_worker() -> None:
    ids = [f"game.{uuid.UUID(int=i)}" for i in range(400)]
    for workers in (1, 2, 3, 8):
        seen = {partition_of(a, workers) for a in ids}
        assert seen == set(range(workers))
    # CRC-32 of the aggregate id (not hash(), which differs per process): the same everywhere
    aggregate = f"game.{GAME}"
    assert partition_of(aggregate, 1_000_003) == zlib.crc32(aggregate.encode()) % 1_000_003


def test_a_creation_without_game_id_goes_where_its_game_will_live() -> None:
    create = msgspec.structs.replace(COMMANDS[0], game_id=None)
    game = uuid.uuid5(GAME_ID_NAMESPACE, create.command_id)
    join = JoinGame(command_id="j", user_id="7", game_id=str(game))
    assert route(create, "p", 7) == route(join, "p", 7)


def test_an_unaddressable_command_is_refused_before_sending() -> None:
    with pytest.raises(InvalidCommand):
        route(JoinGame(command_id="j", user_id="7", game_id="not-a-uuid"), "p", 2)


def test_command_subjects_may_not_overlap_the_log() -> None:
    from pydantic import ValidationError

    from deploy.settings import Settings

    with pytest.raises(ValidationError, match="the stream would capture commands"):
        Settings(events_subject_prefix="events", command_subject="events.commands")
    assert Settings(events_subject_prefix="events").command_subject == "muster.commands"

"""The shard plan: ``MUSTER_BOT_SHARDS`` / ``MUSTER_BOT_SHARD_IDS`` parsed and checked, and the
client each plan gives."""

from __future__ import annotations

import warnings

import pytest
from pydantic import ValidationError

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

from bot.client import BotParts, MusterBot, ShardedMusterBot, make_bot
from deploy.bot_cmd import health_name
from deploy.settings import Settings
from tests.unit.api.fakes import FakeCommands


@pytest.mark.parametrize(
    ("text", "ids"),
    [("0,2", [0, 2]), ("[1, 3]", [1, 3]), ("3", [3]), (" 2 ", [2]), ("", None)],
)
def test_shard_ids_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, ids: list[int] | None
) -> None:
    monkeypatch.setenv("MUSTER_BOT_SHARDS", "4")
    monkeypatch.setenv("MUSTER_BOT_SHARD_IDS", text)
    assert Settings().bot_shard_ids == ids


@pytest.mark.parametrize(
    ("shards", "ids", "says"),
    [
        (4, "4", "from 0 to 3"),
        (2, "0,0", "distinct"),
        (0, "0", "needs MUSTER_BOT_SHARDS"),
        (2, "x", "valid integer"),
    ],
)
def test_shard_ids_that_cannot_work_are_refused(
    monkeypatch: pytest.MonkeyPatch, shards: int, ids: str, says: str
) -> None:
    monkeypatch.setenv("MUSTER_BOT_SHARDS", str(shards))
    monkeypatch.setenv("MUSTER_BOT_SHARD_IDS", ids)
    with pytest.raises(ValidationError, match=says):
        Settings()


def test_negative_shard_count_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(bot_shards=-1)


def test_each_plan_gives_its_client() -> None:
    parts = BotParts(commands=FakeCommands())
    single = make_bot(parts)
    assert type(single) is MusterBot
    assert not isinstance(single, discord.AutoShardedClient)
    both = make_bot(parts, shards=2)
    assert isinstance(both, ShardedMusterBot)
    assert isinstance(both, discord.AutoShardedClient)
    assert (both.shard_count, both.shard_ids) == (2, None)
    one = make_bot(parts, shards=4, shard_ids=[3])
    assert (one.shard_count, one.shard_ids) == (4, [3])
    recommended = make_bot(parts, shards=0)
    assert recommended.shard_count is None  # asks GET /gateway/bot


def test_health_key_per_process() -> None:
    assert health_name(Settings()) == "bot"
    assert health_name(Settings(bot_shards=4, bot_shard_ids=[2, 0])) == "bot.shards-0-2"

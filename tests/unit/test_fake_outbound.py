"""The in-memory fake of the outbound port passes the same contract cases as the real modes
(``tests/integration/discord_rest/test_outbound.py``), observed through a stand-in of the
emulator's inspection API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateways.discord import Body, OutboundError
from tests.fakes.outbound import FakeOutbound
from tests.integration.discord_rest.test_outbound import (
    test_a_burst_of_edits_coalesces,
    test_a_retried_send_posts_once,
    test_delete_is_idempotent,
    test_discord_refusing_raises_outbound_error,
    test_dm_and_history,
    test_edits_set_only_the_fields_they_name,
    test_send_returns_the_message_and_posts_it,
    test_update_several_messages,
)

__all__ = [
    "test_a_burst_of_edits_coalesces",
    "test_a_retried_send_posts_once",
    "test_delete_is_idempotent",
    "test_discord_refusing_raises_outbound_error",
    "test_dm_and_history",
    "test_edits_set_only_the_fields_they_name",
    "test_send_returns_the_message_and_posts_it",
    "test_update_several_messages",
]


@dataclass
class _Channel:
    id: str
    name: str


@dataclass
class _Person:
    id: str
    fake: FakeOutbound

    def dms(self) -> list[dict[str, Any]]:
        return self.fake.dms(self.id)


@dataclass
class _Requests:
    fake: FakeOutbound
    total_429: int = 0

    def count(self, route: str) -> int:
        return self.fake.requests[route]


@dataclass
class _Emulator:
    """The part of the emulator's inspection API the contract cases use."""

    fake: FakeOutbound
    requests: _Requests = field(init=False)

    def __post_init__(self) -> None:
        self.requests = _Requests(self.fake)

    def channel_messages(self, channel: _Channel) -> list[dict[str, Any]]:
        return [dict(m) for m in self.fake.messages.get(channel.id, [])]

    async def until(self, predicate: Callable[[], bool], within: float = 5) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            assert time.monotonic() < deadline, "condition not met in time"
            await asyncio.sleep(0.01)


@dataclass
class _Guild:
    channels: list[_Channel] = field(default_factory=list)

    def text_channel(self, name: str) -> _Channel:
        channel = _Channel(str(5000 + len(self.channels)), name)
        self.channels.append(channel)
        return channel


@dataclass
class FakeStage:
    emu: _Emulator
    guild: _Guild
    games: _Channel
    members: list[_Person]


@pytest.fixture
async def outbound() -> AsyncIterator[FakeOutbound]:
    fake = FakeOutbound()
    yield fake
    await fake.close()


@pytest.fixture
def stage(outbound: FakeOutbound) -> FakeStage:
    guild = _Guild()
    games = guild.text_channel("games")
    members = [_Person(str(100 + i), outbound) for i in range(3)]
    return FakeStage(_Emulator(outbound), guild, games, members)


async def test_an_older_edit_never_overwrites_a_newer_one(outbound: FakeOutbound) -> None:
    sent = await outbound.send_message("1", Body(content="v0"))
    assert sent is not None
    await outbound.edit_message("1", sent["id"], Body(content="v20"), version=20, wait=True)
    await outbound.edit_message("1", sent["id"], Body(content="v10"), version=10, wait=True)
    assert outbound.messages["1"][0]["content"] == "v20"


async def test_a_blocked_dm_is_refused_with_50007(outbound: FakeOutbound) -> None:
    outbound.blocked.add("7")
    with pytest.raises(OutboundError) as caught:
        await outbound.send_dm("7", Body(content="hi"))
    assert caught.value.code == 50007

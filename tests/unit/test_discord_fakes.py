"""The in-memory fakes pass the same contract cases as the real Discord adapters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateways.discord import CachePort, DiscordConfig, OutboundPort
from gateways.discord.ops import Json
from tests.contracts.discord_cache import CacheContract, MakeCache
from tests.contracts.discord_outbound import DiscordView, OutboundContract
from tests.unit.discord_fakes import FakeCache, FakeClock, FakeDiscord, FakeOutbound


class TestFakeCache(CacheContract):
    @pytest.fixture
    def make_cache(self) -> MakeCache:
        def make(config: DiscordConfig, clock: FakeClock) -> CachePort:
            return FakeCache(config, clock)

        return make


class FakeView:
    """The ``DiscordView`` of a :class:`FakeDiscord`."""

    def __init__(self, discord: FakeDiscord) -> None:
        self.discord = discord
        self.games = discord.new_channel()
        self.user = "4242"

    def new_channel(self) -> str:
        return self.discord.new_channel()

    def messages(self, channel_id: str) -> list[Json]:
        return self.discord.messages(channel_id)

    def dms(self, user_id: str) -> list[Json]:
        return self.discord.dms(user_id)

    def calls(self, what: str) -> int:
        return self.discord.calls[what]


class OnFakeDiscord(OutboundContract):
    """The outbound contract run on a :class:`FakeDiscord` by ``make(fake)`` outbounds."""

    make: Callable[[FakeDiscord], OutboundPort]

    @pytest.fixture
    def fake(self) -> FakeDiscord:
        return FakeDiscord()

    @pytest.fixture
    def discord(self, fake: FakeDiscord) -> DiscordView:
        return FakeView(fake)

    @pytest.fixture
    def outbound(self, fake: FakeDiscord) -> OutboundPort:
        return type(self).make(fake)

    @pytest.fixture
    def second_outbound(self, fake: FakeDiscord) -> OutboundPort:
        return type(self).make(fake)


class TestFakeOutbound(OnFakeDiscord):
    make = FakeOutbound

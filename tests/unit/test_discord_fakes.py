"""The in-memory fakes pass the same contract cases as the real Discord adapters."""

from __future__ import annotations

import pytest

from gateways.discord import CachePort, DiscordConfig
from tests.contracts.discord_cache import CacheContract, MakeCache
from tests.unit.discord_fakes import FakeCache, FakeClock


class TestFakeCache(CacheContract):
    @pytest.fixture
    def make_cache(self) -> MakeCache:
        def make(config: DiscordConfig, clock: FakeClock) -> CachePort:
            return FakeCache(config, clock)

        return make

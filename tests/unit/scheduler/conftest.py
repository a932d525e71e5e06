from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.scheduler.harness import Harness


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    yield h
    await h.close()

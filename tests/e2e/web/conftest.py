"""The web stack with the bot for browser tests: a member can click Join in the emulated
Discord."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api.conftest import _close_clients, fresh_web_stack
from tests.integration.api.harness import WebStack

__all__ = ["_close_clients"]


@pytest.fixture(scope="module")
def web_stack(
    nats_url: str, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebStack]:
    urls = {"nats": nats_url, "postgres": database_url, "redis": redis_url}
    with fresh_web_stack(urls, Path(tmp_path_factory.mktemp("web")), bot=True) as stack:
        yield stack

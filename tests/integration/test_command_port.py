"""The in-process command port on a real JetStream log, through the composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deploy.bootstrap import Container
from deploy.settings import Settings
from domain.ports import CommandPort
from tests.contracts.command_port import CommandPortContract

pytestmark = pytest.mark.integration


class TestInProcessOnJetStream(CommandPortContract):
    @pytest.fixture
    async def port(
        self, event_log_env: dict[str, str], database_url: str, redis_url: str
    ) -> AsyncIterator[CommandPort]:
        settings = Settings(
            events_stream=event_log_env["MUSTER_EVENTS_STREAM"],
            events_subject_prefix=event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        )
        urls = {
            "nats": event_log_env["MUSTER_NATS_URL"],
            "postgres": database_url,
            "redis": redis_url,
        }
        async with Container.open(settings, urls) as container:
            yield container.commands

"""Hostile input against the running system. Fixtures come from the suites that build the
same stacks: the web stack of the API tests (emulator, command port on a fresh log, projectors,
web; one per module) and the bot harness of the end-to-end bot tests (emulator, real discord.py
client, domain, read models; one per test)."""

from tests.e2e.bot.conftest import muster
from tests.integration.api.conftest import _close_clients, web_stack
from tests.integration.conftest import read_schema

__all__ = ["_close_clients", "muster", "read_schema", "web_stack"]

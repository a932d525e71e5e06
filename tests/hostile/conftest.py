"""Hostile input against the running system: the web stack of the API tests (emulator, command
port on a fresh log, projectors, web) is shared per module."""

from tests.integration.api.conftest import _close_clients, web_stack

__all__ = ["_close_clients", "web_stack"]

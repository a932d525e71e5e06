"""The web stack for browser tests (same as the API integration tests)."""

from tests.integration.api.conftest import _close_clients, web_stack

__all__ = ["_close_clients", "web_stack"]

"""The in-memory outbound fake (``tests/unit/discord_fakes.py``) with the refusals a Discord
projection must survive: ``fail_next(op, error)`` makes the next ``send``, ``dm`` or ``edit``
raise ``error`` (a 503, a timeout, a 403…), and a DM to a member in ``blocked`` is refused as
Discord refuses it (403, code 50007). Otherwise it is the shared fake, and it passes the same
outbound contract (``tests/unit/test_fake_outbound.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

from gateways.discord import Body, OutboundError
from gateways.discord.ops import Json
from tests.unit.discord_fakes import FakeDiscord, FakeOutbound

BLOCKED_DMS = 50007


class RefusingOutbound(FakeOutbound):
    """A :class:`FakeOutbound` that can be told to fail (see the module docstring)."""

    def __init__(self, discord: FakeDiscord | None = None, *, blocked: Iterable[str] = ()):
        super().__init__(discord or FakeDiscord())
        self.blocked = set(blocked)
        self._failures: dict[str, list[Exception]] = {}

    def fail_next(self, op: str, error: Exception) -> None:
        """The next ``op`` (``send``, ``dm`` or ``edit``) raises ``error``."""
        self._failures.setdefault(op, []).append(error)

    def _maybe_fail(self, op: str) -> None:
        if self._failures.get(op):
            raise self._failures[op].pop(0)

    async def send_message(
        self, channel_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        self._maybe_fail("send")
        return await super().send_message(channel_id, body, op_id=op_id, wait=wait)

    async def send_dm(
        self, user_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None:
        self._maybe_fail("dm")
        if str(user_id) in self.blocked:
            self.discord.open_dm(str(user_id))
            self.discord.calls["create"] += 1
            reason = "Discord returned 403: Cannot send messages to this user"
            raise OutboundError("dm", reason, 403, BLOCKED_DMS)
        return await super().send_dm(user_id, body, op_id=op_id, wait=wait)

    async def edit_message(
        self, channel_id: str | int, message_id: str | int, body: Body, *,
        version: int | None = None, wait: bool = False,
    ) -> None:  # fmt: skip
        self._maybe_fail("edit")
        await super().edit_message(channel_id, message_id, body, version=version, wait=wait)

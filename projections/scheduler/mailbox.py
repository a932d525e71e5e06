"""Where reminder DMs go: the :class:`Mailbox` port, its Discord adapter and a stand-in.

Contract of a mailbox (the fake in the unit tests and :class:`DiscordMailbox` alike):

* ``send(user_id, body, nonce)`` delivers at most one message per nonce, however often it is
  called, and says what became of it: ``sent`` (with the message id), ``failed`` (Discord
  refused for good, e.g. 50007 "cannot send messages to this user"; not worth retrying) or
  ``retry`` (Discord did not answer; the same call may succeed later).
* ``find(user_id, nonce)`` returns the id of a message carrying the nonce among the user's
  recent DMs, or None; it raises :class:`MailboxUnavailable` when it cannot tell.
* ``prepare(user_id)`` makes a later ``send`` to the user cheaper (opens the DM channel ahead:
  Discord allows about one new DM channel per second); it never raises.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Protocol

import msgspec

from gateways.discord import Body, DiscordRest, Outbound
from gateways.discord.dm_search import DmSearch, DmSearchUnavailable
from gateways.discord.errors import DiscordUnavailable, OutboundError, OutboundTimeout

log = logging.getLogger(__name__)


class Delivery(msgspec.Struct, frozen=True):
    status: Literal["sent", "failed", "retry", "skipped"]
    detail: str = ""


MailboxUnavailable = DmSearchUnavailable  # the mailbox cannot tell whether a message went out


class Mailbox(Protocol):
    async def send(self, user_id: str, body: dict[str, Any], nonce: str) -> Delivery: ...

    async def find(self, user_id: str, nonce: str) -> str | None: ...

    async def prepare(self, user_id: str) -> None: ...


class DiscordMailbox:
    """DMs through Muster's Discord REST client (``Outbound.send_dm``, nonce-enforced)."""

    def __init__(self, rest: DiscordRest, outbound: Outbound) -> None:
        self.rest, self.outbound = rest, outbound
        self.search = DmSearch(rest, outbound)  # shared with the Discord projection's DMs

    async def send(self, user_id: str, body: dict[str, Any], nonce: str) -> Delivery:
        try:
            message = await self.outbound.send_dm(user_id, msgspec.convert(body, Body), op_id=nonce)
        except OutboundError as error:
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                code = f"{error.code}: " if error.code else ""
                return Delivery("failed", f"{code}{error.reason}"[:500])
            return Delivery("retry", str(error))
        except (OutboundTimeout, DiscordUnavailable, OSError, TimeoutError) as error:
            return Delivery("retry", str(error))
        return Delivery("sent", f"message {(message or {}).get('id', '?')}")

    async def prepare(self, user_id: str) -> None:
        try:
            await self.search.channel(user_id)
        except Exception as error:  # noqa: BLE001 - an optimisation; the send will say what fails
            log.info("could not open the DM channel of %s ahead: %s", user_id, error)

    async def find(self, user_id: str, nonce: str) -> str | None:
        return await self.search.find(user_id, nonce)


class NoDiscord:
    """Stand-in when no Discord is configured: every reminder is skipped, said once in the log."""

    REASON = "no Discord connection is configured (MUSTER_DISCORD_TOKEN is unset)"

    def __init__(self) -> None:
        self._told = False

    async def send(self, user_id: str, body: dict[str, Any], nonce: str) -> Delivery:
        if not self._told:
            log.warning("reminder DMs are skipped: %s", self.REASON)
            self._told = True
        return Delivery("skipped", self.REASON)

    async def find(self, user_id: str, nonce: str) -> str | None:
        return None

    async def prepare(self, user_id: str) -> None:
        return None

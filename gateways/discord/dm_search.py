"""Did a DM with this nonce already go out? A look through the DM channel's recent messages.

Discord honours a message's ``nonce`` (with ``enforce_nonce``) only for a few minutes, so a
DM sent again after a longer outage or queue would be delivered twice. Every sender of DMs
that may repeat a send later than that (the scheduler's reminders, the Discord projection's
DMs) first asks :meth:`DmSearch.find`. A DM is recognised by its ``nonce`` (when Discord's
history carries it) or by a visible ``ref <nonce>`` at the end of its embed's footer or of
its text (:func:`ref_line`), which Discord's history always carries.
"""

from __future__ import annotations

from typing import Any

from gateways.discord.client import DiscordRest
from gateways.discord.errors import DiscordUnavailable, OutboundError, OutboundTimeout
from gateways.discord.keys import Kind
from gateways.discord.ports import OutboundPort

HISTORY = 50  # recent DMs searched


class DmSearchUnavailable(Exception):
    """The search cannot tell whether the DM went out (Discord is not answering)."""


def ref_line(nonce: str) -> str:
    """The small last line of a DM's text that names its nonce (Discord's subtext)."""
    return f"-# ref {nonce}"


def carries_nonce(message: dict[str, Any], nonce: str) -> bool:
    """Is this message the one sent with ``nonce`` (its nonce, or the ``ref`` it shows)?"""
    if str(message.get("nonce") or "") == nonce:
        return True
    if str(message.get("content") or "").rstrip().endswith(f"ref {nonce}"):
        return True
    for embed in message.get("embeds") or ():
        footer = (embed.get("footer") or {}).get("text") or ""
        if footer.endswith(f"ref {nonce}"):
            return True
    return False


class DmSearch:
    """Finds a DM by its nonce in a user's DM channel (through Muster's REST client)."""

    def __init__(self, rest: DiscordRest, outbound: OutboundPort) -> None:
        self.rest, self.outbound = rest, outbound

    async def channel(self, user_id: str) -> Any:
        """The user's DM channel (opened once, cached); None if Discord says there is none."""
        return await self.rest.cache.get(
            Kind.DM_CHANNEL,
            [user_id],
            lambda: self.rest.http.start_private_message(user_id),
            f"DM channel of user {user_id}",
        )

    async def find(self, user_id: str, nonce: str) -> str | None:
        """The id of the user's recent DM carrying ``nonce``, or None; raises
        :class:`DmSearchUnavailable` when Discord does not answer."""
        try:
            channel = await self.channel(user_id)
            if channel is None:
                return None
            history = await self.outbound.fetch_history(str(channel["id"]), HISTORY)
        except OutboundError as error:
            if error.status in (403, 404):
                return None  # no DM channel we may read: nothing was delivered there
            raise DmSearchUnavailable(str(error)) from error
        except (OutboundTimeout, DiscordUnavailable, OSError, TimeoutError) as error:
            raise DmSearchUnavailable(str(error)) from error
        for message in history:
            if carries_nonce(message, nonce):
                return str(message.get("id"))
        return None

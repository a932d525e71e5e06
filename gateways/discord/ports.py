"""The two ports of the Discord REST client that the rest of Muster depends on.

:class:`OutboundPort` changes what Discord shows (its adapters: the ``direct``, ``in_process`` and
``external`` modes of :mod:`gateways.discord.outbound`); :class:`CachePort` answers reads through
a shared cache (its adapter: :class:`gateways.discord.cache.Cache` over Redis). The contracts are
below; ``tests/contracts/`` holds their cases, run against each adapter and the in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from gateways.discord.errors import DiscordUnavailable
from gateways.discord.keys import Kind
from gateways.discord.ops import Body, Json

MessageEdit = (
    tuple[str | int, str | int, Body] | tuple[str | int, str | int, Body, int | None]
)  # fmt: skip
Fetch = Callable[[], Awaitable[Any]]


class OutboundPort(Protocol):
    """Send, edit, delete messages; DMs; history; emojis.

    * ``send_message`` / ``send_dm`` return the created message; the same ``op_id`` posts once.
    * ``edit_message`` shows ``body`` (fields it leaves unset stay); edits of one message
      coalesce; with ``version`` (the log position the body was rendered from) an older render
      never replaces a newer one, in any process; with ``wait``, returns once shown.
    * ``update_messages`` edits several messages, each ``(channel, message, body[, version])``.
    * ``delete_message`` succeeds if the message is already gone.
    * ``fetch_history`` is newest first; ``flush`` waits for every accepted edit.
    * Discord refusing an operation raises ``OutboundError``.
    """

    async def send_message(
        self, channel_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None: ...

    async def send_dm(
        self, user_id: str | int, body: Body, *, op_id: str | None = None, wait: bool = True
    ) -> Json | None: ...

    async def edit_message(
        self,
        channel_id: str | int,
        message_id: str | int,
        body: Body,
        *,
        version: int | None = None,
        wait: bool = False,
    ) -> None: ...

    async def update_messages(
        self, edits: Sequence[MessageEdit], *, wait: bool = False
    ) -> None: ...

    async def delete_message(self, channel_id: str | int, message_id: str | int) -> None: ...

    async def fetch_history(
        self,
        channel_id: str | int,
        limit: int = 50,
        *,
        before: str | int | None = None,
        after: str | int | None = None,
    ) -> list[Json]: ...

    async def fetch_emojis(self, guild_id: str | int) -> list[Json]: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


class CachePort(Protocol):
    """A read-through cache of Discord lookups, on a clock given to it.

    * A miss calls ``fetch`` once however many ask at once; the value is then fresh for its
      kind's fresh age and served without a call.
    * Past the fresh age (within the stale age) the value is served at once and refreshed in
      the background; if that refresh fails, the value keeps being served and the refresh is
      not tried again for ``failure_backoff``.
    * A key hit ``hot_hits`` times is refreshed in the background during the last
      ``refresh_ahead`` share of its fresh age, so it is never served stale.
    * Discord saying "not found" / "forbidden" is ``None``, remembered for ``negative_ttl``.
    * Discord failing with nothing cached raises ``DiscordUnavailable`` naming the lookup.
    * ``drain`` waits for the background refreshes started so far.
    """

    async def get(self, kind: Kind, ids: Sequence[str | int], fetch: Fetch, what: str) -> Any: ...

    async def get_many(
        self,
        kind: Kind,
        idss: Sequence[Sequence[str | int]],
        fetch_for: Callable[[Sequence[str | int]], Fetch],
        what_for: Callable[[Sequence[str | int]], str],
    ) -> list[Any | DiscordUnavailable]: ...

    async def put(self, kind: Kind, ids: Sequence[str | int], value: Any) -> None: ...

    async def invalidate(self, kind: Kind, ids: Sequence[str | int]) -> None: ...

    async def drain(self) -> None: ...

    async def close(self) -> None: ...

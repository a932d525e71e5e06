"""The one Discord REST client: cached reads and outbound operations in three modes.

Modules: ``keys`` (key scheme and TTL table), ``config``, ``errors``, ``metrics``, ``budget``
(rate limits across processes), ``http`` (discord.py's HTTP layer with Muster's retry policy),
``cache`` (single flight, stale-while-revalidate), ``ports`` (the outbound and cache contracts),
``reads``, ``ops`` (operations and how one is carried out), ``coalesce`` (edits to one message),
``outbound`` (the interface, ``direct`` and ``in_process``), ``external`` (the JetStream work
queue and its worker), ``client``.
"""

from nats.aio.client import Client as NATS

from gateways.discord.client import DiscordRest
from gateways.discord.config import DiscordConfig
from gateways.discord.errors import (
    DiscordError,
    DiscordUnavailable,
    OutboundError,
    OutboundTimeout,
)
from gateways.discord.external import ExternalOutbound, Worker
from gateways.discord.keys import Freshness, Kind
from gateways.discord.ops import Body
from gateways.discord.outbound import DirectOutbound, InProcessOutbound, Outbound
from gateways.discord.ports import CachePort, MessageEdit, OutboundPort


async def open_outbound(rest: DiscordRest, nc: NATS | None = None) -> Outbound:
    """The outbound mode ``rest.config.outbound`` names, started (``external`` needs ``nc``)."""
    mode = rest.config.outbound
    if mode == "direct":
        return await DirectOutbound(rest).start()
    if mode == "in_process":
        return await InProcessOutbound(rest).start()
    if nc is None:
        raise ValueError("the external outbound mode needs a NATS connection")
    return await ExternalOutbound(rest, nc).start()


__all__ = [
    "Body",
    "CachePort",
    "DirectOutbound",
    "DiscordConfig",
    "DiscordError",
    "DiscordRest",
    "DiscordUnavailable",
    "ExternalOutbound",
    "Freshness",
    "InProcessOutbound",
    "Kind",
    "MessageEdit",
    "Outbound",
    "OutboundError",
    "OutboundPort",
    "OutboundTimeout",
    "Worker",
    "open_outbound",
]

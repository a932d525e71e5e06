"""The one Discord REST client: cached reads and outbound operations in three modes.

Modules: ``keys`` (key scheme and TTL table), ``config``, ``errors``, ``metrics``, ``budget``
(rate limits across processes), ``http`` (discord.py's HTTP layer with Muster's retry policy),
``cache`` (single flight, stale-while-revalidate), ``reads``, ``ops`` (operations and how one is
carried out), ``coalesce`` (edits to one message), ``outbound`` (the interface, ``direct`` and
``in_process``), ``external`` (the JetStream work queue and its worker), ``client``.
"""

from gateways.discord.client import DiscordRest
from gateways.discord.config import DiscordConfig
from gateways.discord.errors import (
    DiscordError,
    DiscordUnavailable,
    OutboundError,
    OutboundTimeout,
    QueueFull,
)
from gateways.discord.keys import Freshness, Kind

__all__ = [
    "DiscordConfig",
    "DiscordError",
    "DiscordRest",
    "DiscordUnavailable",
    "Freshness",
    "Kind",
    "OutboundError",
    "OutboundTimeout",
    "QueueFull",
]

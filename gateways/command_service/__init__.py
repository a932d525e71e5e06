"""Commands across processes: NATS request-reply to command workers that own the games.

:class:`NatsCommands` is the entry points' :class:`~domain.ports.CommandPort`;
:class:`CommandWorker` answers it (``muster commands``). :mod:`.wire` says what crosses.
"""

from gateways.command_service.client import (
    CommandTimeout,
    CommandUnavailable,
    NatsCommands,
    unserved_partitions,
)
from gateways.command_service.wire import CommandFailed, partition_of
from gateways.command_service.worker import CommandWorker

__all__ = [
    "CommandFailed",
    "CommandTimeout",
    "CommandUnavailable",
    "CommandWorker",
    "NatsCommands",
    "partition_of",
    "unserved_partitions",
]

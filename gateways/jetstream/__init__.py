"""An eventsourcing persistence module that keeps the event log in NATS JetStream.

Select it with ``PERSISTENCE_MODULE=gateways.jetstream`` and ``MUSTER_NATS_URL``; see
:mod:`gateways.jetstream.factory` for settings, :mod:`gateways.jetstream.layout` for the stream
and subject layout, and :mod:`gateways.jetstream.recorder` for the recorders' contract.
"""

from gateways.jetstream.factory import Factory
from gateways.jetstream.layout import IncompatibleStream, Layout
from gateways.jetstream.recorder import JetStreamAggregateRecorder, JetStreamApplicationRecorder
from gateways.jetstream.wire import ConcurrencyConflict, DuplicateCommand

__all__ = [
    "ConcurrencyConflict",
    "DuplicateCommand",
    "Factory",
    "IncompatibleStream",
    "JetStreamAggregateRecorder",
    "JetStreamApplicationRecorder",
    "Layout",
]

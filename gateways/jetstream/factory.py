"""The eventsourcing ``InfrastructureFactory`` for JetStream.

Environment (eventsourcing's ``Environment``, so each key may also be prefixed with the
application's name):

``MUSTER_NATS_URL`` (or ``NATS_URL``)     server URL, default ``nats://127.0.0.1:4222``
``MUSTER_NATS_TIMEOUT``                  seconds before any call fails, default 5
``MUSTER_EVENTS_STREAM``                 stream name, default ``EVENTS``
``MUSTER_EVENTS_SUBJECT_PREFIX``         subject prefix, default ``events``
``MUSTER_EVENTS_REPLICAS``               copies of the stream, default 1 (3 on a NATS cluster)
``MUSTER_NATS_FAILOVER_WAIT``            seconds an append waits for a new stream leader, default 20
``CREATE_TABLE``                         ``n`` to require an existing stream instead of creating
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    ProgrammingError,
    TrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType, strtobool

from gateways.jetstream.bridge import NatsBridge
from gateways.jetstream.layout import Layout
from gateways.jetstream.recorder import JetStreamAggregateRecorder, JetStreamApplicationRecorder

DEFAULT_URL = "nats://127.0.0.1:4222"
NO_TRACKING = (
    "JetStream keeps the event log only: projections keep their position in PostgreSQL, "
    "in the same transaction as their rows"
)


class Factory(InfrastructureFactory[TrackingRecorder]):
    """Builds JetStream recorders sharing one NATS connection per factory."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.url = self._get("MUSTER_NATS_URL") or self._get("NATS_URL") or DEFAULT_URL
        self.timeout = float(self._get("MUSTER_NATS_TIMEOUT") or 5.0)
        self.layout = Layout(
            stream=self._get("MUSTER_EVENTS_STREAM") or "EVENTS",
            prefix=self._get("MUSTER_EVENTS_SUBJECT_PREFIX") or "events",
            replicas=int(self._get("MUSTER_EVENTS_REPLICAS") or 1),
        )
        self.failover_wait = float(self._get("MUSTER_NATS_FAILOVER_WAIT") or 20.0)
        self._bridge: NatsBridge | None = None

    def _get(self, key: str) -> str | None:
        value = self.env.get(key)
        return value or None

    @property
    def bridge(self) -> NatsBridge:
        """The factory's NATS connection, opened on first use."""
        if self._bridge is None:
            self._bridge = NatsBridge(self.url, self.timeout)
        return self._bridge

    def _create(self) -> bool:
        return strtobool(self.env.get("CREATE_TABLE") or "yes")

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        layout = self.layout
        if purpose != "events":  # snapshots: their own stream, never mixed into the log
            layout = Layout(
                stream=f"{layout.stream}_{purpose.upper()}",
                prefix=f"{layout.prefix}_{purpose}",
                replicas=layout.replicas,
            )
        return JetStreamAggregateRecorder(
            self.bridge, layout, create=self._create(), failover_wait=self.failover_wait
        )

    def application_recorder(self) -> ApplicationRecorder:
        return JetStreamApplicationRecorder(
            self.bridge, self.layout, create=self._create(), failover_wait=self.failover_wait
        )

    def tracking_recorder(self, tracking_recorder_class: Any = None) -> TrackingRecorder:
        raise ProgrammingError(NO_TRACKING)

    def process_recorder(self) -> ProcessRecorder:
        raise ProgrammingError(NO_TRACKING)

    def close(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None

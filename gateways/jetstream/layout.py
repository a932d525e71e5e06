"""How Muster's event log is laid out in JetStream: stream config, subjects and headers.

* One stream (default ``EVENTS``) over ``events.>``, file storage, atomic batches allowed,
  message deletion and purge denied, no limits: the log is the source of truth.
* One subject per aggregate. An aggregate id ``"<kind>.<key>"`` (``game.<uuid>``,
  ``guild.<snowflake>``, ``channel.<snowflake>``) is stored on ``events.<kind>.<key>``; a plain
  ``UUID`` id (any other eventsourcing application) on ``events.uuid.<uuid>``.
* Each message's body is the event's serialised state (JSON); its headers carry what a consumer
  needs without decoding the body: the aggregate version, the event topic, and, for versioned
  type names such as ``game.player_joined.v1``, the type name and version apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import OperationalError
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

H_VERSION = "Muster-Originator-Version"
H_TOPIC = "Muster-Topic"
H_EVENT_TYPE = "Muster-Event-Type"
H_EVENT_VERSION = "Muster-Event-Version"
H_MSG_ID = "Nats-Msg-Id"
H_EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
H_BATCH_ID = "Nats-Batch-Id"
H_BATCH_SEQ = "Nats-Batch-Sequence"
H_BATCH_COMMIT = "Nats-Batch-Commit"

MAX_BATCH = 1000  # JetStream's limit of messages in one atomic batch

_KIND_KEY = re.compile(r"^([a-z][a-z0-9_]*)\.([^.*>\s]+)$")
_VERSIONED = re.compile(r"^(.+)\.v(\d+)$")


class IncompatibleStream(OperationalError):
    """An existing stream's configuration cannot hold Muster's log safely."""


@dataclass(frozen=True)
class Layout:
    """Names of the stream and the subject prefix (tests use their own per test)."""

    stream: str = "EVENTS"
    prefix: str = "events"
    replicas: int = 1  # copies JetStream keeps (3 on a 3-node cluster; each append waits for 2)

    @property
    def all_subjects(self) -> str:
        return f"{self.prefix}.>"

    def subject_for(self, originator_id: UUID | str) -> str:
        """The subject that holds one aggregate's events."""
        if isinstance(originator_id, UUID):
            return f"{self.prefix}.uuid.{originator_id}"
        if _KIND_KEY.match(originator_id):
            return f"{self.prefix}.{originator_id}"
        raise ValueError(
            f"aggregate id {originator_id!r} must be a UUID or '<kind>.<key>' "
            "(lowercase kind; key without '.', '*', '>' or spaces)"
        )

    def originator_id_from(self, subject: str) -> UUID | str:
        """The aggregate id whose events a subject holds (inverse of :meth:`subject_for`)."""
        rest = subject[len(self.prefix) + 1 :]
        kind, _, key = rest.partition(".")
        if kind == "uuid":
            return UUID(key)
        return rest

    def stream_config(self) -> StreamConfig:
        """The configuration Muster creates the stream with."""
        return StreamConfig(
            name=self.stream,
            description="Muster event log: one subject per aggregate",
            subjects=[self.all_subjects],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            allow_atomic=True,
            allow_direct=True,
            deny_delete=True,
            deny_purge=True,
            max_msgs=-1,
            max_bytes=-1,
            max_age=0,
            max_msgs_per_subject=-1,
            num_replicas=self.replicas,
        )


def event_headers(topic: str, version: int) -> dict[str, str]:
    """Headers describing one stored event."""
    headers = {H_VERSION: str(version), H_TOPIC: topic}
    versioned = _VERSIONED.match(topic)
    if versioned:
        headers[H_EVENT_TYPE] = versioned.group(1)
        headers[H_EVENT_VERSION] = versioned.group(2)
    return headers


def incompatibilities(layout: Layout, config: Any) -> list[str]:
    """What in an existing stream's config breaks the log's guarantees (empty when fine)."""
    problems = []
    subjects = list(config.subjects or [])
    if subjects != [layout.all_subjects]:
        problems.append(
            f"subjects are {subjects}, expected exactly [{layout.all_subjects!r}] "
            "(sequences must be the log's alone, without gaps)"
        )
    if str(getattr(config.storage, "value", config.storage)) != "file":
        problems.append("storage is not file (events would not survive a restart)")
    if str(getattr(config.retention, "value", config.retention)) != "limits":
        problems.append("retention is not 'limits' (events would be removed once consumed)")
    if not config.allow_atomic:
        problems.append("allow_atomic is off (multi-event appends would not be atomic)")
    if not config.allow_direct:
        problems.append("allow_direct is off (aggregate reads need direct get)")
    if not config.deny_delete:
        problems.append("deny_delete is off (events could be deleted)")
    if not config.deny_purge:
        problems.append("deny_purge is off (the log could be purged)")
    for field in ("max_msgs", "max_bytes", "max_msgs_per_subject"):
        value = getattr(config, field)
        if value not in (None, -1):
            problems.append(f"{field} is {value} (the log must have no limits)")
    if config.max_age not in (None, 0, 0.0):
        problems.append(f"max_age is {config.max_age}s (events would expire)")
    return problems

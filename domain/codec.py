"""How events are stored: the versioned type name as topic, plain JSON as state.

A stored event's ``topic`` is its type name (``game.player_joined.v1``) and its ``state``
is the event as JSON (msgspec): ids and snowflakes as strings, datetimes as ISO 8601 UTC,
no eventsourcing wrappers, so any consumer can read the log. The aggregate id and version
travel beside the body (the subject and headers), not in it.

When an event type changes incompatibly, keep the old tag readable: register an upcaster
from the old name to the next one in :data:`UPCASTERS` (``v1 → v2 → …``); stored events
are upcast as they are read, and new ones are written in the current version only.
"""

from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)

from domain.aggregates import Recorded
from domain.commands import SYSTEM_USER_ID
from domain.events import ALL_EVENTS, Event, type_name

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

EVENT_TYPES: dict[str, type[Event]] = {type_name(t): t for t in ALL_EVENTS}
"""Current event types by stored name."""


def started_v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    """``game.started.v1`` had no ``started_by``: Muster's own start is the schedule's."""
    return {**body, "started_by": "schedule" if body.get("actor_id") == SYSTEM_USER_ID else "host"}


UPCASTERS: dict[str, tuple[str, Upcaster]] = {
    "game.started.v1": ("game.started.v2", started_v1_to_v2),
}
"""Old stored name → (next name, function turning an old body into the next one)."""


class EventMapper(Mapper[str]):
    """eventsourcing Mapper for :class:`~domain.aggregates.Recorded` msgspec events.

    A cipher or compressor configured through eventsourcing's environment still applies
    (then the state is no longer plain JSON, by the operator's choice).
    """

    def __init__(
        self,
        transcoder: Transcoder | None = None,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
        *,
        types: Mapping[str, type[Event]] = EVENT_TYPES,
        upcasters: Mapping[str, tuple[str, Upcaster]] = UPCASTERS,
    ) -> None:
        super().__init__(transcoder or _UnusedTranscoder(), compressor, cipher)
        self.types = types
        self.upcasters = upcasters
        self._encoder = msgspec.json.Encoder()
        self._decoders = {name: msgspec.json.Decoder(t) for name, t in types.items()}

    def to_stored_event(self, domain_event: DomainEventProtocol[str]) -> StoredEvent:
        if not isinstance(domain_event, Recorded):
            raise TypeError(f"EventMapper stores Recorded events, not {type(domain_event)}")
        state = self._encoder.encode(domain_event.event)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=type_name(type(domain_event.event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Recorded:
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            event = self.decode(stored_event.topic, state)
        except (msgspec.DecodeError, KeyError, ValueError, TypeError) as e:
            raise MapperDeserialisationError(
                f"cannot read event {stored_event.topic!r} at version "
                f"{stored_event.originator_version} of {stored_event.originator_id}: {e}"
            ) from e
        return Recorded(str(stored_event.originator_id), stored_event.originator_version, event)

    def decode(self, topic: str, body: bytes) -> Event:
        """An event from its stored name and JSON body, upcast to the current version."""
        decoder = self._decoders.get(topic)
        if decoder is not None:
            return decoder.decode(body)
        if topic not in self.upcasters:
            raise KeyError(f"unknown event type {topic!r} (newer Muster, or a missing upcaster)")
        data: dict[str, Any] = msgspec.json.decode(body)
        while topic in self.upcasters:
            topic, upcast = self.upcasters[topic]
            data = upcast(data)
            data["type"] = topic
        return msgspec.convert(data, self.types[topic])


class _UnusedTranscoder(Transcoder):
    """eventsourcing's Mapper wants a transcoder; msgspec does the encoding here."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError

"""The event catalogue: every event type in the log, and JSON Schemas for each.

``schemas/`` is generated from here (``json_schema()`` for the whole log, one document
per event from ``event_schemas()``), so consumers in any language can read the log.
"""

from typing import Any

import msgspec

from domain.events import ALL_EVENTS, type_name

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class EventInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One event type: its stored name, which aggregate it belongs to, what it means."""

    type: str
    aggregate: str
    version: int
    name: str
    summary: str


def catalogue() -> list[EventInfo]:
    """Every current event type, in the order of :data:`domain.events.ALL_EVENTS`."""
    infos = []
    for event_type in ALL_EVENTS:
        tag = type_name(event_type)
        kind, _, rest = tag.partition(".")
        infos.append(
            EventInfo(
                type=tag,
                aggregate=kind,
                version=int(rest.rsplit(".v", 1)[1]),
                name=event_type.__name__,
                summary=(event_type.__doc__ or "").strip().splitlines()[0],
            )
        )
    return infos


def json_schema() -> dict[str, Any]:
    """One JSON Schema for any event body in the log (a union tagged by ``type``)."""
    refs, components = msgspec.json.schema_components(ALL_EVENTS, ref_template="#/$defs/{name}")
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "Muster event",
        "description": "The JSON body of any event in Muster's log; `type` names the event.",
        "oneOf": list(refs),
        "discriminator": {"propertyName": "type"},
        "$defs": components,
    }


def event_schemas() -> dict[str, dict[str, Any]]:
    """A standalone JSON Schema per event type, keyed by its stored name."""
    schemas = {}
    for event_type in ALL_EVENTS:
        schema = msgspec.json.schema(event_type, ref_template="#/$defs/{name}")
        schemas[type_name(event_type)] = {"$schema": SCHEMA_DIALECT, **schema}
    return schemas

"""docs/events.md lists every event type of the catalogue and every upcaster, and is current."""

from __future__ import annotations

from deploy.events_doc import DOC, generated_section, rendered
from domain.catalogue import catalogue
from domain.codec import UPCASTERS


def test_the_doc_is_current() -> None:
    text = DOC.read_text()
    assert rendered(text) == text, "run `python -m deploy.events_doc` and commit docs/events.md"


def test_every_catalogued_type_and_upcaster_is_in_the_doc() -> None:
    section = generated_section()
    text = DOC.read_text()
    for info in catalogue():
        assert f"| `{info.type.rsplit('.v', 1)[0]}` | {info.version} |" in section
        assert f"schemas/events/{info.type}.schema.json" in text
    for old, (new, _) in UPCASTERS.items():
        assert f"`{old}` → `{new}`" in text

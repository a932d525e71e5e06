"""The generated parts of ``docs/events.md``: the event catalogue and the upcasters.

``python -m deploy.events_doc`` rewrites them between their markers;
``tests/unit/events/test_events_doc.py`` fails when the doc is not current.
"""

from __future__ import annotations

import re
from pathlib import Path

from domain.catalogue import catalogue
from domain.codec import UPCASTERS
from domain.events import ALL_EVENTS

DOC = Path(__file__).resolve().parent.parent / "docs" / "events.md"
START, END = "<!-- generated: catalogue -->", "<!-- end generated -->"


def generated_section() -> str:
    """The catalogue table (every current event type) and the registered upcasters."""
    lines = [
        START,
        "| type | version | aggregate (subject) | meaning | schema |",
        "|---|---|---|---|---|",
    ]
    docs = {t.__name__: (t.__doc__ or "").strip() for t in ALL_EVENTS}
    for info in catalogue():
        base = info.type.rsplit(".v", 1)[0]
        meaning = " ".join(docs.get(info.name, info.summary).split("\n\n")[0].split())
        meaning = meaning.replace("``", "`").replace("|", "\\|")
        lines.append(
            f"| `{base}` | {info.version} | {info.aggregate} (`events.{info.aggregate}.<id>`) | "
            f"{meaning} | [schema](../schemas/events/{info.type}.schema.json) |"
        )
    lines += ["", "Older versions still read (upcast on the way in):", ""]
    if UPCASTERS:
        lines += [f"* `{old}` → `{new}`" for old, (new, _) in sorted(UPCASTERS.items())]
    else:
        lines.append("* none yet")
    lines.append(END)
    return "\n".join(lines)


def rendered(text: str) -> str:
    """``text`` with its generated section brought up to date."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    return pattern.sub(lambda _: generated_section(), text)


if __name__ == "__main__":
    DOC.write_text(rendered(DOC.read_text()))
    print(f"updated {DOC}")

"""Charts as inline SVG, drawn on the server (no chart library, nothing from a CDN).

Each chart scales to its container (``viewBox`` with ``width="100%"``), so it reads on a phone;
every chart has a ``<title>`` and text labels, and the page shows the same figures as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_BAR = "var(--pico-primary, #1095c1)"


def _svg(width: int, height: int, title: str, body: str) -> Markup:
    # every text in ``body`` and ``title`` is escaped here; the rest is numbers
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width: {width * 3 // 2}px" role="img" aria-label="{escape(title)}" '
        f'class="chart"><title>{escape(title)}</title>'
        f"{body}</svg>"
    )


def bars(
    title: str, rows: Sequence[tuple[str, float, str]], *, maximum: float | None = None
) -> Markup:
    """Horizontal bars: ``(label, value, shown value)`` each; ``maximum`` fixes the scale
    (1.0 for rates), else the largest value."""
    top = maximum or max((v for _, v, _ in rows), default=0) or 1
    row_h, label_w, width = 28, 130, 360
    parts = []
    for i, (label, value, shown) in enumerate(rows):
        y = i * row_h
        length = max(0.0, min(1.0, value / top)) * (width - label_w - 60)
        parts.append(
            f'<text x="0" y="{y + 18}" font-size="13" fill="currentColor">'
            f"{escape(label[:18])}</text>"
            f'<rect x="{label_w}" y="{y + 5}" width="{length:.1f}" height="18" rx="3" '
            f'fill="{_BAR}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 18}" font-size="13" '
            f'fill="currentColor">{escape(shown)}</text>'
        )
    if not rows:
        parts.append('<text x="0" y="18" font-size="13" fill="currentColor">No data yet.</text>')
    return _svg(width, max(1, len(rows)) * row_h, title, "".join(parts))


def week_heatmap(title: str, slots: Sequence[tuple[int, int, int]]) -> Markup:
    """Games by weekday (1-7) and hour (0-23): darker cells are busier."""
    counts = {(w, h): n for w, h, n in slots}
    top = max(counts.values(), default=0) or 1
    cell, left, head = 14, 34, 16
    parts = [
        f'<text x="{left + h * cell}" y="11" font-size="9" fill="currentColor">{h}</text>'
        for h in range(0, 24, 3)
    ]
    for w, name in enumerate(WEEKDAYS, 1):
        y = head + (w - 1) * cell
        parts.append(f'<text x="0" y="{y + 11}" font-size="10" fill="currentColor">{name}</text>')
        for h in range(24):
            n = counts.get((w, h), 0)
            shade = 0.08 + 0.92 * n / top if n else 0.04
            parts.append(
                f'<rect x="{left + h * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{_BAR}" fill-opacity="{shade:.2f}"><title>{name} {h:02d}:00 UTC: '
                f"{n} game{'s' if n != 1 else ''}</title></rect>"
            )
    return _svg(left + 24 * cell, head + 7 * cell, title, "".join(parts))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"

"""Times people type, read as UTC instants.

Accepted forms, in this order:

* ISO 8601 with an offset (``2026-03-29T20:00+02:00``, ``…Z``): that instant;
* a Discord timestamp pasted from a message (``<t:1774807200:F>``);
* ISO 8601 without an offset (``2026-03-29 20:00``): a wall-clock time in the given IANA zone;
* durations from now (``in 2h``, ``in 90 minutes``, ``in 1 day``): exact elapsed time, so a
  DST change in between does not move it;
* anything else ``dateparser`` reads (``tomorrow 20:00``, ``friday 8pm``, ``March 3 19:30``) as
  a wall-clock time in the zone, relative to the zone's current date.

Wall-clock times are attached to the zone with :mod:`zoneinfo`, so the UTC offset is the one in
force on *that* date (not today's). A wall-clock time that does not exist (skipped when clocks go
forward) is refused with a clear message; one that happens twice (clocks go back) means the first.
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

_DISCORD_TIMESTAMP = re.compile(r"^<t:(-?\d{1,13})(?::[tTdDfFsSR])?>$")
_DURATION = re.compile(r"^(in\s+.+|.+\s+from\s+now)$", re.IGNORECASE)
_ISO_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")
MAX_LENGTH = 100


class TimeNotUnderstood(ValueError):
    """The text is not a time we can read; the message says what to type instead."""

    def __init__(self, text: str, reason: str) -> None:
        self.text, self.reason = text, reason
        super().__init__(reason)


def parse_when(text: str, zone: str, now: datetime) -> datetime:
    """The UTC instant ``text`` means for someone in ``zone`` at ``now`` (aware, any zone)."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise TimeNotUnderstood(
            text, "Say when, e.g. `tomorrow 20:00`, `in 2h` or `2026-05-01 19:30`."
        )
    if len(cleaned) > MAX_LENGTH:
        raise TimeNotUnderstood(text, f"A time is at most {MAX_LENGTH} characters.")
    tz = ZoneInfo(zone)
    found = _discord_timestamp(cleaned) or _iso(cleaned, tz)
    if found is None:
        found = _natural(cleaned, tz, now)
    return found.astimezone(UTC)


def _discord_timestamp(text: str) -> datetime | None:
    match = _DISCORD_TIMESTAMP.match(text)
    return datetime.fromtimestamp(int(match[1]), UTC) if match else None


def _iso(text: str, tz: ZoneInfo) -> datetime | None:
    if not _ISO_LIKE.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return parsed
    return _on_the_wall(parsed, tz, text)


def _natural(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    duration = bool(_DURATION.match(text))
    if duration:  # elapsed time: count it in UTC, where every hour is an hour
        base = now.astimezone(UTC).replace(tzinfo=None)
    else:  # calendar words ("tomorrow", "friday") mean the zone's own calendar
        base = now.astimezone(tz).replace(tzinfo=None)
    parsed = _dateparser(text, base)
    if parsed is None:
        raise TimeNotUnderstood(
            text,
            f"I could not read {text!r} as a time. Try `tomorrow 20:00`, `friday 8pm`, "
            "`in 2h` or `2026-05-01 19:30` (or ISO 8601 with an offset).",
        )
    if parsed.tzinfo is not None:  # the text named its own zone or offset ("8pm CET")
        return parsed
    if duration:
        return parsed.replace(tzinfo=UTC)
    return _on_the_wall(parsed, tz, text)


def _on_the_wall(local: datetime, tz: ZoneInfo, text: str) -> datetime:
    """``local`` as read on a clock in ``tz``; refuse a time the clocks skipped."""
    aware = local.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != local:
        raise TimeNotUnderstood(
            text,
            f"{local:%Y-%m-%d %H:%M} does not exist in {tz.key}: the clocks skip that hour "
            "(daylight saving time). Pick a time outside it.",
        )
    return aware


_SETTINGS: dict[str, Any] = {
    "PREFER_DATES_FROM": "future",
    "RETURN_AS_TIMEZONE_AWARE": False,
    "PREFER_DAY_OF_MONTH": "first",
    "DATE_ORDER": "YMD",
}


def _dateparser(text: str, base: datetime) -> datetime | None:
    import dateparser

    with warnings.catch_warnings():
        # dateparser calls a deprecated datetime API on some inputs; not our warning to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        found: datetime | None = dateparser.parse(
            text, languages=["en"], settings={**_SETTINGS, "RELATIVE_BASE": base}
        )
    return found


def discord_timestamp(when: datetime, style: str = "F") -> str:
    """``<t:unix:F>``: Discord shows it in each reader's own time zone."""
    return f"<t:{int(when.timestamp())}:{style}>"


def minutes_of(text: str) -> int | None:
    """A duration typed as ``90``, ``90m``, ``1h30``, ``2h`` or ``1:30``, in minutes."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned:
        return None
    # ASCII digits only ("²".isdigit() is true, int("²") fails) and few of them (int() refuses
    # past 4,300 digits, with a message no person should see).
    if cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 9:
        return int(cleaned)
    match = len(cleaned) <= 16 and (
        re.fullmatch(r"(?:(\d+)h)?(?:(\d+)(?:m|min|mins)?)?", cleaned, re.ASCII)
        or re.fullmatch(r"(\d+):(\d{2})", cleaned, re.ASCII)
    )
    if not match or not any(match.groups()):
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise ValueError(f"{shown!r} is not a duration; type minutes (90) or hours (1h30)")
    hours, minutes = (int(g) if g else 0 for g in match.groups())
    return hours * 60 + minutes


__all__ = ["TimeNotUnderstood", "discord_timestamp", "minutes_of", "parse_when"]

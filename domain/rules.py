"""Limits, built-in defaults, settings inheritance and who may do what.

Settings inherit game > channel > guild > built-in default (max players, reminder
offsets, rules, waitlist cap, category, duration); host roles and the time zone inherit
channel > guild (default UTC). The limits
are what a Discord message can show.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from domain.errors import InvalidCommand
from domain.events import GameDetails, Settings, WaitlistCap

# Discord permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 0x8
MANAGE_CHANNELS = 0x10
MANAGE_GUILD = 0x20

MAX_TITLE = 100
MAX_DESCRIPTION = 2000
MAX_RULES = 2000
MAX_CATEGORY = 50
MAX_LABEL = 100
MAX_REASON = 500
MAX_DETAIL = 500
MIN_PLAYERS, MAX_PLAYERS = 1, 100
MAX_WAITLIST_CAP = 1000
MAX_REMINDERS = 5
MIN_REMINDER_MINUTES, MAX_REMINDER_MINUTES = 1, 7 * 24 * 60
MAX_DURATION_MINUTES = 7 * 24 * 60
MAX_HOST_ROLES = 25
MAX_PLACEHOLDERS = 100
MAX_INITIAL_PLAYERS = 200

T = TypeVar("T")

DEFAULT_MAX_PLAYERS = 10
DEFAULT_REMINDER_MINUTES = (60, 15)
DEFAULT_TIME_ZONE = "UTC"
MAX_TIME_ZONE = 64
DEFAULT_DURATION_MINUTES = 120


class Effective(msgspec.Struct, frozen=True, kw_only=True):
    """A game's settings after inheritance. ``waitlist_cap`` None means unlimited."""

    max_players: int
    reminder_minutes: tuple[int, ...]
    rules: str
    waitlist_cap: int | None
    host_role_ids: tuple[str, ...]
    category: str | None
    time_zone: str = DEFAULT_TIME_ZONE
    duration_minutes: int = DEFAULT_DURATION_MINUTES


_NO_SETTINGS = Settings()


def resolve(
    game: GameDetails | None, channel: Settings | None, guild: Settings | None
) -> Effective:
    """Resolve settings: the first level that sets a value wins."""
    c = channel or _NO_SETTINGS
    g = guild or _NO_SETTINGS
    details = game or GameDetails(title="")
    max_players = _first(details.max_players, c.max_players, g.max_players)
    reminders = _first(details.reminder_minutes, c.reminder_minutes, g.reminder_minutes)
    cap: WaitlistCap | None = _first(details.waitlist_cap, c.waitlist_cap, g.waitlist_cap)
    duration = _first(details.duration_minutes, c.duration_minutes, g.duration_minutes)
    return Effective(
        max_players=DEFAULT_MAX_PLAYERS if max_players is None else max_players,
        reminder_minutes=DEFAULT_REMINDER_MINUTES if reminders is None else reminders,
        rules=_first(details.rules, c.rules, g.rules) or "",
        waitlist_cap=None if cap is None or cap == "unlimited" else cap,
        host_role_ids=c.host_role_ids or g.host_role_ids or (),
        category=_first(details.category, c.category, g.category),
        time_zone=c.time_zone or g.time_zone or DEFAULT_TIME_ZONE,
        duration_minutes=DEFAULT_DURATION_MINUTES if duration is None else duration,
    )


def _first(*values: T | None) -> T | None:
    return next((v for v in values if v is not None), None)


def is_guild_manager(permissions: int) -> bool:
    """Manage Server or Administrator."""
    return bool(permissions & (MANAGE_GUILD | ADMINISTRATOR))


def can_manage_channels(permissions: int) -> bool:
    return bool(permissions & (MANAGE_CHANNELS | ADMINISTRATOR))


def may_host(role_ids: Sequence[str], permissions: int, host_role_ids: Sequence[str]) -> bool:
    """Role holders may host where roles are configured; server managers always may."""
    if is_guild_manager(permissions):
        return True
    return bool(set(role_ids) & set(host_role_ids))


class Problems:
    """Collects every invalid field of a command, then raises one InvalidCommand."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def add(self, field: str, reason: str) -> None:
        self.found.append((field, reason))

    def raise_if_any(self) -> None:
        if self.found:
            (field, reason), *more = self.found
            raise InvalidCommand(field, reason, more=more)

    def text(self, field: str, value: str, limit: int, *, required: bool = False) -> None:
        if required and not value.strip():
            self.add(field, "must not be empty")
        if len(value) > limit:
            self.add(field, f"must be at most {limit} characters (got {len(value)})")
        if "\x00" in value:  # no database can store it as text, and no person types it
            self.add(field, "must not contain the NUL character (\\x00)")

    def number(self, field: str, value: int | None, low: int, high: int) -> None:
        if value is not None and not low <= value <= high:
            self.add(field, f"must be between {low} and {high} (got {value})")

    def snowflake(self, field: str, value: str) -> None:
        if not (value.isascii() and value.isdigit() and len(value) <= 20):
            self.add(field, f"must be a Discord id (digits only), got {value!r}")

    def reminders(self, field: str, offsets: Sequence[int] | None) -> None:
        if offsets is None:
            return
        if len(offsets) > MAX_REMINDERS:
            self.add(field, f"at most {MAX_REMINDERS} reminders (got {len(offsets)})")
        if len(set(offsets)) != len(offsets):
            self.add(field, "each reminder offset may appear only once")
        for minutes in offsets:
            if not MIN_REMINDER_MINUTES <= minutes <= MAX_REMINDER_MINUTES:
                self.add(field, f"{minutes} is not between 1 minute and 7 days (10080 minutes)")

    def waitlist_cap(self, field: str, value: WaitlistCap | None) -> None:
        if isinstance(value, int):
            self.number(field, value, 0, MAX_WAITLIST_CAP)
        elif value is not None and value != "unlimited":
            self.add(field, 'must be a number or "unlimited"')

    def time_zone(self, field: str, value: str | None) -> None:
        """An IANA time zone name the standard library knows (``Europe/Berlin``, ``UTC``)."""
        if value is None:
            return
        if len(value) > MAX_TIME_ZONE or not is_time_zone(value):
            self.add(field, f"{value!r} is not an IANA time zone name (e.g. Europe/Berlin)")

    def utc(self, field: str, value: datetime) -> None:
        if value.tzinfo is None or value.utcoffset() is None:
            self.add(field, "must include a time zone (send ISO 8601 in UTC)")

    def future(self, field: str, value: datetime, now: datetime) -> None:
        self.utc(field, value)
        if value.tzinfo is not None and value <= now:
            self.add(field, f"must be in the future (now is {now:%Y-%m-%d %H:%M} UTC)")


def check_settings(problems: Problems, settings: Settings) -> None:
    """Validate guild or channel settings."""
    problems.number("max_players", settings.max_players, MIN_PLAYERS, MAX_PLAYERS)
    problems.reminders("reminder_minutes", settings.reminder_minutes)
    problems.text("rules", settings.rules or "", MAX_RULES)
    problems.waitlist_cap("waitlist_cap", settings.waitlist_cap)
    problems.text("category", settings.category or "", MAX_CATEGORY)
    problems.number("duration_minutes", settings.duration_minutes, 1, MAX_DURATION_MINUTES)
    roles = settings.host_role_ids or ()
    if len(roles) > MAX_HOST_ROLES:
        problems.add("host_role_ids", f"at most {MAX_HOST_ROLES} roles (got {len(roles)})")
    for role in roles:
        problems.snowflake("host_role_ids", role)
    problems.time_zone("time_zone", settings.time_zone)


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone (from the system or the ``tzdata`` package)."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def check_details(problems: Problems, details: GameDetails) -> None:
    """Validate what a host wrote about a game."""
    problems.text("title", details.title, MAX_TITLE, required=True)
    problems.text("description", details.description, MAX_DESCRIPTION)
    problems.text("category", details.category or "", MAX_CATEGORY)
    problems.number("duration_minutes", details.duration_minutes, 1, MAX_DURATION_MINUTES)
    problems.number("max_players", details.max_players, MIN_PLAYERS, MAX_PLAYERS)
    problems.reminders("reminder_minutes", details.reminder_minutes)
    problems.text("rules", details.rules or "", MAX_RULES)
    problems.waitlist_cap("waitlist_cap", details.waitlist_cap)


def normal_offsets(offsets: Sequence[int] | None) -> tuple[int, ...] | None:
    """Reminder offsets as a tuple, latest reminder last (e.g. ``(60, 15)``)."""
    return None if offsets is None else tuple(sorted(offsets, reverse=True))


def blank_to_none(value: str | None) -> str | None:
    """An empty override means "inherit"."""
    return value if value and value.strip() else None

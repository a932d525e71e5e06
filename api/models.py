"""Bodies and answers of the JSON API (pydantic: they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from domain import rules as limits

Status = Literal["scheduled", "in_progress", "completed", "cancelled"]
Source = Literal["game", "channel", "guild", "default"]
WaitlistCap = int | Literal["unlimited"]


class User(BaseModel):
    id: str
    username: str
    display_name: str
    avatar: str | None = None
    csrf_token: str = Field(description="send as X-CSRF-Token on every state-changing request")


class Guild(BaseModel):
    id: str
    name: str
    icon: str | None = None


class Channel(BaseModel):
    id: str
    name: str
    topic: str | None = None


class Setting(BaseModel):
    """A resolved value and the level it came from."""

    value: int | str | list[int] | list[str] | None
    source: Source


class Player(BaseModel):
    user_id: str
    display_name: str
    position: int
    avatar_url: str | None = Field(default=None, description="Discord CDN image, when known")


class Placeholder(BaseModel):
    placeholder_id: int
    label: str
    position: int


class GameSummary(BaseModel):
    game_id: str
    guild_id: str
    channel_id: str
    host_id: str
    title: str
    scheduled_at: datetime
    status: Status
    joined_count: int
    waitlist_count: int
    max_players: int


class GameDetail(GameSummary):
    host_name: str
    description: str
    category: str | None
    duration_minutes: int | None
    players: list[Player]
    waitlist: list[Player]
    placeholders: list[Placeholder]
    settings: dict[str, Setting]
    created_at: datetime
    updated_at: datetime
    version: int
    position: int


class GamePage(BaseModel):
    games: list[GameSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class GameCreate(BaseModel):
    guild_id: str = Field(pattern=r"^\d{1,20}$")
    channel_id: str = Field(pattern=r"^\d{1,20}$")
    title: str = Field(min_length=1, max_length=limits.MAX_TITLE)
    scheduled_at: AwareDatetime
    description: str = Field(default="", max_length=limits.MAX_DESCRIPTION)
    category: str | None = Field(default=None, max_length=limits.MAX_CATEGORY)
    duration_minutes: int | None = Field(default=None, ge=1, le=limits.MAX_DURATION_MINUTES)
    max_players: int | None = Field(default=None, ge=limits.MIN_PLAYERS, le=limits.MAX_PLAYERS)
    reminder_minutes: list[int] | None = Field(default=None, max_length=limits.MAX_REMINDERS)
    rules: str | None = Field(default=None, max_length=limits.MAX_RULES)
    waitlist_cap: WaitlistCap | None = None
    players: list[str] = Field(
        default=[], max_length=limits.MAX_INITIAL_PLAYERS,
        description="@mentions: @username, @nick, <@id> or a user id",
    )  # fmt: skip
    placeholders: list[str] = Field(default=[], max_length=limits.MAX_PLACEHOLDERS)


class GameUpdate(BaseModel):
    """Fields to change; absent fields stay, ``null`` setting fields inherit again."""

    title: str | None = Field(default=None, min_length=1, max_length=limits.MAX_TITLE)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION)
    category: str | None = Field(default=None, max_length=limits.MAX_CATEGORY)
    duration_minutes: int | None = Field(default=None, ge=1, le=limits.MAX_DURATION_MINUTES)
    max_players: int | None = Field(default=None, ge=limits.MIN_PLAYERS, le=limits.MAX_PLAYERS)
    reminder_minutes: list[int] | None = Field(default=None, max_length=limits.MAX_REMINDERS)
    rules: str | None = Field(default=None, max_length=limits.MAX_RULES)
    waitlist_cap: WaitlistCap | None = None


class Reschedule(BaseModel):
    scheduled_at: AwareDatetime


class Cancel(BaseModel):
    reason: str = Field(default="", max_length=limits.MAX_REASON)


class SettingsChange(BaseModel):
    """Guild or channel settings to change; ``null`` clears an override (inherit)."""

    max_players: int | None = Field(default=None, ge=limits.MIN_PLAYERS, le=limits.MAX_PLAYERS)
    reminder_minutes: list[int] | None = Field(default=None, max_length=limits.MAX_REMINDERS)
    rules: str | None = Field(default=None, max_length=limits.MAX_RULES)
    waitlist_cap: WaitlistCap | None = None
    host_role_ids: list[str] | None = Field(default=None, max_length=limits.MAX_HOST_ROLES)
    category: str | None = Field(default=None, max_length=limits.MAX_CATEGORY)


class SettingsView(BaseModel):
    guild_id: str
    channel_id: str | None = None
    own: dict[str, int | str | list[int] | list[str] | None]
    effective: dict[str, Setting]
    can_change: bool


class CommandResult(BaseModel):
    """What a write did (the domain's Outcome)."""

    result: str
    message: str
    game_id: str | None = None
    version: int
    replayed: bool
    position: int | None = Field(description="log position of the write (read-your-writes)")
    joined_count: int | None = None
    max_players: int | None = None
    waitlist_position: int | None = None
    promoted: list[str] = []


class BadMention(BaseModel):
    input: str
    reason: str
    suggestions: list[str]


class FeedUrl(BaseModel):
    url: str


class TimelineEntry(BaseModel):
    position: int
    version: int
    type: str
    occurred_at: datetime
    actor_id: str
    command_id: str
    body: dict[str, object]


class Figures(BaseModel):
    """How the games of a server, channel or host filled (definitions in docs/web.md)."""

    key: str = Field(description="the server, channel or host id")
    games_scheduled: int
    games_filled: int
    fill_rate: float | None
    avg_minutes_to_fill: float | None
    games_cancelled: int
    waitlisted: int
    waitlist_conversions: int
    conversion_rate: float | None
    leaves_before_start: int
    late_leaves: int
    avg_leave_minutes_before_start: float | None
    attendance_recorded: int
    no_shows: int
    no_show_rate: float | None


class TimeSlot(BaseModel):
    weekday: int = Field(description="1 = Monday … 7 = Sunday")
    hour: int = Field(description="hour of the start, UTC")
    games: int


class PlayerNoShows(BaseModel):
    user_id: str
    display_name: str
    games: int = Field(description="games with attendance recorded")
    no_shows: int
    no_show_rate: float


class Analytics(BaseModel):
    guild_id: str
    channel_id: str | None
    host_id: str | None
    position: int = Field(description="the log position the figures include")
    totals: Figures | None = Field(description="all matching games; null when there are none")
    by_channel: list[Figures]
    by_host: list[Figures]
    popular_times: list[TimeSlot]
    no_shows: list[PlayerNoShows] = Field(description="current members, most no-shows first")


class Attendance(BaseModel):
    no_shows: list[Annotated[str, StringConstraints(pattern=r"^\d{1,20}$")]] = Field(
        default=[], max_length=100, description="user ids of seated players who did not come"
    )

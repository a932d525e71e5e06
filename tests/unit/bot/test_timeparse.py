"""Typed times → UTC, in the configured zone, right across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateways.timeparse import TimeNotUnderstood, discord_timestamp, minutes_of, parse_when

BERLIN = "Europe/Berlin"
# Saturday 2026-03-28 12:00 UTC; Berlin moves from +01:00 to +02:00 on Sunday 29 March, 02:00.
BEFORE_SPRING = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


def test_iso_with_offset_is_that_instant() -> None:
    assert parse_when("2026-04-01T20:00+02:00", BERLIN, BEFORE_SPRING) == datetime(
        2026, 4, 1, 18, 0, tzinfo=UTC
    )
    assert parse_when("2026-04-01T20:00Z", "Asia/Tokyo", BEFORE_SPRING) == datetime(
        2026, 4, 1, 20, 0, tzinfo=UTC
    )


def test_wall_clock_uses_the_offset_of_that_date() -> None:
    # Same wall-clock time, either side of the change: one hour apart in UTC offset.
    assert parse_when("2026-03-28 20:00", BERLIN, BEFORE_SPRING) == datetime(
        2026, 3, 28, 19, 0, tzinfo=UTC
    )
    assert parse_when("2026-03-30 20:00", BERLIN, BEFORE_SPRING) == datetime(
        2026, 3, 30, 18, 0, tzinfo=UTC
    )


def test_tomorrow_across_spring_forward() -> None:
    # "tomorrow 20:00" on Saturday is Sunday 20:00 CEST (+02:00) = 18:00 UTC.
    assert parse_when("tomorrow 20:00", BERLIN, BEFORE_SPRING) == datetime(
        2026, 3, 29, 18, 0, tzinfo=UTC
    )


def test_tomorrow_across_fall_back() -> None:
    # New York falls back on Sunday 2026-11-01; Saturday 20:00 UTC is 16:00 EDT.
    now = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
    assert parse_when("tomorrow 19:00", "America/New_York", now) == datetime(
        2026, 11, 2, 0, 0, tzinfo=UTC
    )


def test_durations_count_elapsed_time_across_dst() -> None:
    # 23:30 UTC Saturday = 00:30 Berlin; in 3h crosses the skipped hour: exactly 3 hours.
    now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    assert parse_when("in 3 hours", BERLIN, now) == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)
    assert parse_when("in 2h", "UTC", now) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert parse_when("in 90 minutes", "UTC", now) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_skipped_wall_clock_time_is_refused() -> None:
    with pytest.raises(TimeNotUnderstood, match="does not exist in Europe/Berlin"):
        parse_when("2026-03-29 02:30", BERLIN, BEFORE_SPRING)


def test_repeated_wall_clock_time_means_the_first() -> None:
    now = datetime(2026, 10, 20, tzinfo=UTC)
    # Berlin 2026-10-25 02:30 happens twice; the first is CEST (+02:00).
    assert parse_when("2026-10-25 02:30", BERLIN, now) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_discord_timestamp_is_accepted() -> None:
    when = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)
    assert parse_when(discord_timestamp(when), BERLIN, BEFORE_SPRING) == when
    assert discord_timestamp(when, "R") == f"<t:{int(when.timestamp())}:R>"


@pytest.mark.parametrize("text", ["", "whenever", "x" * 200, "next blue moon please"])
def test_unreadable_times_say_what_to_type(text: str) -> None:
    with pytest.raises(TimeNotUnderstood) as error:
        parse_when(text, BERLIN, BEFORE_SPRING)
    assert error.value.reason


@pytest.mark.parametrize(
    ("text", "minutes"), [("90", 90), ("90m", 90), ("1h30", 90), ("2h", 120), ("1:30", 90)]
)
def test_minutes_of(text: str, minutes: int) -> None:
    assert minutes_of(text) == minutes


def test_minutes_of_refuses_words() -> None:
    assert minutes_of(" ") is None
    with pytest.raises(ValueError, match="not a duration"):
        minutes_of("a while")

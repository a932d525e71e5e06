"""`muster events tail|export`: every option parses and shows in its help; filters are checked."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from deploy import cli
from projections.event_stream import BadFilter, EventFilter, known_types

GAME = "8f1c2a44-1111-4222-8333-444455556666"
FILTERS = ["--type", "game.created", "--game", GAME, "--guild", "1", "--channel", "2",
           "--from", "5"]  # fmt: skip
CASES = {
    "tail": ([*FILTERS, "--limit", "3", "--no-follow"], {"limit": 3, "no_follow": True}),
    "export": (
        [*FILTERS, "-o", "e.parquet", "--format", "parquet", "--quiet"],
        {"format": "parquet", "quiet": True},
    ),
}


def action_parser(name: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    events = commands.choices["events"]
    actions = next(a for a in events._actions if isinstance(a, argparse._SubParsersAction))
    return actions.choices[name]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_option_parses_and_shows_in_help(name: str) -> None:
    argv, expected = CASES[name]
    args = cli.build_parser().parse_args(["events", name, *argv])
    assert (args.types, args.games, args.guilds, args.channels, args.start) == (
        ["game.created"], [GAME], ["1"], ["2"], "5")  # fmt: skip
    for key, value in expected.items():
        assert getattr(args, key) == value
    sub = action_parser(name)
    options = {o for a in sub._actions for o in a.option_strings if o.startswith("--")}
    tried = {a for a in argv if a.startswith("--")} | ({"--output"} if name == "export" else set())
    assert options - {"--help", "--debug"} == tried
    for flag in tried:
        assert flag in sub.format_help()


def test_filters_parse_into_what_the_reader_uses() -> None:
    chosen = EventFilter.parse(
        types=["game.created", "game.player_joined.v1"], games=[f"game.{GAME}"], guilds=["1"],
        channels=["2"], start="2026-11-30T18:00:00",
    )  # fmt: skip
    assert chosen.games == {GAME}
    assert chosen.start_time == datetime(2026, 11, 30, 18, tzinfo=UTC)  # no zone: UTC
    assert chosen.wants_type("game.created", 1)
    assert chosen.wants_type("game.player_joined", 1)
    assert not chosen.wants_type("game.player_left", 1)
    assert EventFilter.parse(start="42").start_seq == 42


@pytest.mark.parametrize(
    ("filters", "says"),
    [
        ({"types": ["game.nothing"]}, "unknown event type"),
        ({"types": ["game.created.v9"]}, "unknown event type"),
        ({"games": ["12"]}, "not a game id"),
        ({"channels": ["#general"]}, "not a Discord id"),
        ({"start": "soon"}, "neither a stream sequence"),
    ],
)
def test_bad_filters_say_what_to_give(filters: dict[str, object], says: str) -> None:
    with pytest.raises(BadFilter, match=says):
        EventFilter.parse(**filters)  # type: ignore[arg-type]


def test_every_catalogued_type_is_a_known_filter() -> None:
    from domain.catalogue import catalogue

    for info in catalogue():
        base = info.type.rsplit(".v", 1)[0]
        assert info.version in known_types()[base]

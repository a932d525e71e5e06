"""Hostile input to the bot, through the emulated Discord and the real discord.py client:
forged button ``custom_id``s, modal fields past Discord's limits, odd slash command options.

Every interaction gets one polite ephemeral answer (never silence, never "Something went
wrong", never a traceback), and input that is refused adds nothing to the log. Hypothesis runs
in a worker thread; each example is played on the test's event loop, where the bot runs.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.client import STALE, UNKNOWN_BUTTON
from bot.replies import SOMETHING_WENT_WRONG
from tests.e2e.bot.conftest import Muster

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

EXAMPLES = 40
NOT_FOUND = re.compile(r"There is no game .*; it may have been mistyped\.", re.S)
NOT_KNOWN_HERE = re.compile(r"I don't know a game .* here\. Start typing its title", re.S)
PREFIXES = ["muster:join:", "muster:leave:", "muster:mute:", "muster:attend:",
            "muster:muteguild:", "muster:", "muster:join", "muster:bogus:"]  # fmt: skip
SNOWFLAKE = re.compile(r"[1-9][0-9]{0,19}")


def run_examples(
    loop: asyncio.AbstractEventLoop, strategy: st.SearchStrategy[Any],
    check: Callable[[Any], Awaitable[None]], examples: int = EXAMPLES,
) -> None:  # fmt: skip
    """Run ``check`` on the loop for each example Hypothesis draws (call from a thread)."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])  # fmt: skip  # a slow stack: no shrinking
    @given(strategy)
    def each(value: Any) -> None:
        asyncio.run_coroutine_threadsafe(check(value), loop).result(90)

    each()


def log_size(muster: Muster) -> int:
    return muster.app.recorder.max_notification_id() or 0


def polite(text: str) -> None:
    """An answer a person can act on: not empty, not an apology for a bug, not a trace."""
    assert text.strip(), "an empty answer"
    assert text != SOMETHING_WENT_WRONG, "an unexpected failure answered the input"
    assert "Traceback" not in text
    assert len(text) <= 2000


def custom_ids(game: str) -> st.SearchStrategy[str]:
    """``custom_id``s a forged or altered message could carry (Discord allows ≤ 100 chars)."""
    suffixes = st.one_of(
        st.uuids().map(str),  # well formed, but no such game
        st.uuids().map(lambda u: str(u).upper()),
        st.just(game.upper()), st.just(game + "0"), st.just(game[:-1]), st.just(f" {game}"),
        st.text(max_size=40), st.from_regex(r"[0-9]{0,25}", fullmatch=True),
        st.text(alphabet="0123456789abcdef-:", max_size=50),
    )  # fmt: skip
    built = st.builds(lambda p, s: (p + s)[:100], st.sampled_from(PREFIXES), suffixes)
    # A mute of a server is personal and allowed for any server id: not invalid input.
    return built.filter(
        lambda c: not (c.startswith("muster:muteguild:") and SNOWFLAKE.fullmatch(c[17:]))
    )


async def click_forged(muster: Muster, custom_id: str, *, kind: int = 2) -> str:
    """A member clicks a component with ``custom_id`` on a message; the answer they saw."""
    muster.clock.now += 11  # past the per-member limit: every example is judged on its own
    component: dict[str, Any] = {"type": kind, "custom_id": custom_id}
    if kind == 2:
        component |= {"style": 1, "label": "Join"}
    else:
        component |= {"options": [{"label": "a", "value": "a"}]}
    bot_id = muster.emu.world.application.bot_user_id
    message = muster.emu.messages.create(
        muster.games,
        bot_id,
        {"content": "x", "components": [{"type": 1, "components": [component]}]},
    )
    it = await muster.members[0].click(message.id, custom_id, values=["a"] if kind == 3 else None)
    return await muster.answered(it, within=10)


@pytest.mark.parametrize(
    "examples", [80, pytest.param(2000, marks=pytest.mark.deep, id="deep")], ids=str
)
async def test_forged_custom_ids_are_answered_and_change_nothing(
    muster: Muster, examples: int
) -> None:
    game = await muster.new_game(max_players=2)
    size = log_size(muster)
    seen: dict[str, int] = {}

    async def check(custom_id: str) -> None:
        text = await click_forged(muster, custom_id)
        polite(text)
        known = (UNKNOWN_BUTTON, "I can't find that game any more.")
        assert text in known or NOT_FOUND.fullmatch(text), (custom_id, text)
        assert log_size(muster) == size, f"{custom_id!r} stored something"
        seen[text[:20]] = seen.get(text[:20], 0) + 1

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(run_examples, loop, custom_ids(game), check, examples)
    assert len(seen) >= 2, seen  # both refusals were reached, not one path only
    assert muster.bot.responder.failed == 0, muster.bot.responder.last_error


@pytest.mark.parametrize("custom_id", ["muster:muteguild:0878377349760", "muster:muteguild:0"])
async def test_a_server_id_with_a_leading_zero_mutes_nothing(
    muster: Muster, custom_id: str
) -> None:
    """Found by the deep run: the template took "0878…" and a server "0878…" (not "878…")
    was muted."""
    size = log_size(muster)
    assert await click_forged(muster, custom_id) == UNKNOWN_BUTTON
    assert log_size(muster) == size


async def test_a_foreign_custom_id_is_told_it_is_stale(muster: Muster) -> None:
    assert await click_forged(muster, "someone-else:join:1") == STALE


# -- the create modal ---------------------------------------------------------------------------
MODAL_FIELDS = st.fixed_dictionaries(
    {
        "title": st.one_of(st.text(min_size=1, max_size=120), st.just("T" * 5000)),
        "when": st.one_of(
            st.sampled_from(
                [
                    "tomorrow 20:00",
                    "in 2h",
                    "yesterday",
                    "2026-02-30 19:00",
                    "never",
                    "<t:99999999999999:F>",
                    "9" * 400,
                    "in -5 minutes",
                ]
            ),
            st.text(min_size=1, max_size=40),
        ),
        "max_players": st.one_of(
            st.sampled_from(["", "0", "-1", "²", "٣", "1e3", "99999", "9" * 5000, " 4 ", "4.5"]),
            st.text(max_size=6),
        ),
        "description": st.one_of(st.text(max_size=100), st.just("d" * 10_000)),
        "players": st.one_of(
            st.sampled_from(
                [
                    "",
                    "<@1>",
                    "@",
                    "@@@@",
                    "<@99999999999999999999999>",
                    "@nobody",
                    ", , ,",
                    "<@&1>",
                    "@" + "x" * 3000,
                ]
            ),
            st.text(max_size=60),
        ),
    }
)


@pytest.mark.parametrize(
    "examples", [EXAMPLES, pytest.param(1000, marks=pytest.mark.deep, id="deep")], ids=str
)
async def test_create_modal_with_hostile_fields_is_answered(muster: Muster, examples: int) -> None:
    host = muster.host
    created: list[str] = []

    async def check(fields: dict[str, str]) -> None:
        muster.clock.now += 11
        opened = await host.run_command("game create", channel=muster.games)
        assert opened.modal is not None, "no modal"
        muster.clock.now += 11
        size = log_size(muster)
        submitted = await host.submit_modal(opened, fields)
        text = await muster.answered(submitted, within=20)
        polite(text)
        if text.startswith("The game was not created"):
            assert log_size(muster) == size, (fields, text)
        else:
            assert "is on for <t:" in text, (fields, text)
            made = [g for g in muster.game_ids() if muster.events(g)[0].command_id
                    == f"discord:{submitted.id}"]  # fmt: skip
            assert len(made) == 1, (fields, text)
            created.append(made[0])

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(run_examples, loop, MODAL_FIELDS, check, examples)
    for game in created:  # what was accepted is within what Discord can show
        details = muster.events(game)[0].details  # type: ignore[attr-defined]
        assert len(details.title) <= 100
        assert len(details.description) <= 2000
    assert muster.bot.responder.failed == 0, muster.bot.responder.last_error


@pytest.mark.parametrize(
    ("max_players", "refusal"),
    [
        ("²", "'²' is not a number"),  # str.isdigit() says yes, int() says no
        ("9" * 5000, "is not a number"),  # past int()'s digit limit
        ("٣", "is not a number"),  # a digit, but not one a person means here
    ],
)
async def test_create_modal_refuses_numbers_python_reads_differently(
    muster: Muster, max_players: str, refusal: str
) -> None:
    opened = await muster.host.run_command("game create", channel=muster.games)
    size = log_size(muster)
    fields = {"title": "Odd", "when": "tomorrow 20:00", "max_players": max_players}
    text = await muster.answered(await muster.host.submit_modal(opened, fields), within=20)
    polite(text)
    assert text.startswith("The game was not created"), text
    assert refusal in text
    assert log_size(muster) == size


@pytest.mark.parametrize("duration", ["²", "9" * 5000, "\u0661h"])  # ARABIC-INDIC ONE
async def test_create_refuses_durations_python_reads_differently(
    muster: Muster, duration: str
) -> None:
    opened = await muster.host.run_command("game create", {"duration": duration},
                                           channel=muster.games)  # fmt: skip
    size = log_size(muster)
    fields = {"title": "Odd", "when": "tomorrow 20:00"}
    text = await muster.answered(await muster.host.submit_modal(opened, fields), within=20)
    polite(text)
    assert "**Duration**:" in text, text
    assert "is not a duration" in text, text  # not Python's own words about int()
    assert log_size(muster) == size


@pytest.mark.parametrize("cap", ["²", "9" * 5000])
async def test_config_refuses_a_waitlist_cap_python_reads_differently(
    muster: Muster, cap: str
) -> None:
    size = log_size(muster)
    it = await muster.host.run_command("config channel", {"waitlist_cap": cap},
                                       channel=muster.games)  # fmt: skip
    text = await muster.answered(it, within=20)
    polite(text)
    assert "**waitlist cap**" in text, text
    assert log_size(muster) == size


# -- slash command options ---------------------------------------------------------------------
OPTION_TEXT = st.one_of(
    st.text(max_size=80), st.just("g" * 6000), st.uuids().map(str),
    st.sampled_from(["", " ", "@everyone", "<@1>", "'; DROP TABLE games; --", "\u202e", "\x00"]),
)  # fmt: skip


async def test_slash_options_with_hostile_values_are_answered(muster: Muster) -> None:
    game = await muster.new_game(max_players=2)
    host = muster.host

    async def check(case: tuple[str, dict[str, Any]]) -> None:
        name, options = case
        muster.clock.now += 11
        size = log_size(muster)
        it = await host.run_command(name, options, channel=muster.games)
        text = await muster.answered(it, within=20)
        polite(text)
        # The host may do these: a time it could read, a setting it accepts (empty = none).
        done = "moved to <t:" in text or "settings updated" in text
        assert log_size(muster) == size + done, (name, options, text)

    cases = st.one_of(
        st.builds(lambda g, w: ("game reschedule", {"game": g, "when": w}), OPTION_TEXT,
                  OPTION_TEXT),
        st.builds(lambda w: ("game reschedule", {"game": game, "when": w}), OPTION_TEXT),
        st.builds(lambda g, r: ("game cancel", {"game": g, "reason": r}), OPTION_TEXT,
                  OPTION_TEXT),
        st.builds(lambda g: ("game edit", {"game": g}), OPTION_TEXT),
        st.builds(lambda g: ("reminders game", {"game": g}), OPTION_TEXT),
        st.builds(lambda v: ("config channel", {"max_players": v}),
                  st.sampled_from([0, -5, 101, 10**12])),
        st.builds(lambda k, v: ("config channel", {k: v}),
                  st.sampled_from(["reminders", "waitlist_cap", "host_roles", "time_zone"]),
                  OPTION_TEXT),
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(run_examples, loop, cases, check)
    size = log_size(muster)
    huge = await host.run_command("game cancel", {"game": game, "reason": "r" * 6000},
                                  channel=muster.games)  # fmt: skip
    text = await muster.answered(huge, within=20)
    polite(text)
    assert "reason" in text, text  # refused: a reason is at most 500 characters
    assert log_size(muster) == size
    assert muster.bot.responder.failed == 0, muster.bot.responder.last_error


async def test_interactions_for_another_servers_game_change_nothing(muster: Muster) -> None:
    """A member of another server names this server's game (its id is public in links)."""
    game = await muster.new_game(max_players=5)
    other = muster.emu.people.guild("Elsewhere")
    channel = other.text_channel("games")
    stranger = other.member("mallory", permissions=0x20 | 0x10)  # Manage Server and Channels
    size = log_size(muster)
    for name, options in (("game cancel", {"game": game}), ("game edit", {"game": game}),
                          ("game reschedule", {"game": game, "when": "in 2h"}),
                          ("reminders game", {"game": game})):  # fmt: skip
        it = await stranger.run_command(name, options, channel=channel)
        text = await muster.answered(it, within=20)
        polite(text)
        assert NOT_KNOWN_HERE.match(text), (name, text)
    assert log_size(muster) == size

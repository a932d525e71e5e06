"""The bot process SIGKILLed mid-burst and started again: every click has exactly one event,
or its member saw a failure; nobody is told "You're in" without an event; the announcement
(posted and edited by the real Discord projection) converges to the read model."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from domain.events import PlayerJoined, PlayerWaitlisted
from tests.e2e.bot.conftest import Muster

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]


async def start_bot(muster: Muster, env: dict[str, str]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.bot.bot_process", muster.emu.api_base,
        muster.emu.bot_token, json.dumps(env), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.strip() == b"READY", line
    return proc


async def test_bot_killed_and_restarted_mid_burst(
    muster: Muster, event_log_env: dict[str, str]
) -> None:
    await muster.bot.close()  # the in-test bot steps aside; the process below answers
    await muster.emu.until(lambda: not any(s.conn for s in muster.emu.gateway.sessions.values()))
    await muster.start_announcements()
    game = await muster.announced_game(max_players=50)
    msg = muster.posted[0]
    people = [muster.guild.member(f"k{n}") for n in range(30)]
    first = await start_bot(muster, event_log_env)
    its = [await p.click(msg, f"muster:join:{game}", wait=False) for p in people[:15]]

    def answered(it: object) -> bool:
        found = muster.emu.world.messages.get(getattr(it, "original_message_id", 0) or 0)
        return found is not None and not found.flags & 128

    await muster.emu.until(lambda: sum(answered(it) for it in its) >= 3, within=20)
    os.kill(first.pid, signal.SIGKILL)
    await first.wait()
    second = await start_bot(muster, event_log_env)
    try:
        later = [await p.click(msg, f"muster:join:{game}", wait=False) for p in people[15:]]
        await muster.emu.until(lambda: all(answered(it) for it in later), within=30)
    finally:
        second.send_signal(signal.SIGTERM)
        await second.wait()
    muster.emu.world.clock.advance(5)  # what the killed bot never acknowledged has now failed

    seated = (PlayerJoined, PlayerWaitlisted)
    events = Counter(e.command_id for e in muster.events(game) if isinstance(e, seated))
    assert set(events.values()) == {1}  # never twice
    failed = {str(i["id"]) for i in muster.emu.inspect.interactions() if i["failed"]}
    for it in its + later:
        has_event = f"discord:{it.id}" in events
        if answered(it):
            assert has_event, muster.reply(it)  # told "You're in" → it is in the log
        else:
            # No answer: it either failed visibly, or was deferred and its "thinking…" never
            # resolved (Discord shows "The application did not respond"); either way visible.
            assert str(it.id) in failed or it.response_type == 5
    assert all(answered(it) for it in later)
    assert sum(f"discord:{it.id}" in events for it in later) == len(later)
    # The announcement converges to the read model: its Players are exactly those seated.
    joined = await muster.converged(game)
    assert len(joined) == len(events)

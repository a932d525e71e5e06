"""Real ``muster scheduler`` processes against real servers and the Discord emulator.

* SIGKILL just before, during and just after due times, round after round, restarting each
  time → exactly one reminder DM per (game, offset, player) in the emulator and exactly one
  ``reminder_recorded`` per key in the log;
* two schedulers at once → still exactly one of each;
* no scheduler across a due time → a late DM if the game has not started, "skipped" if it has.

Games are scheduled a few seconds ahead of the real clock; the tests wait on what the emulator,
the log and the process's own output show, with generous timeouts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from deploy.emulator import DiscordEmulator
from domain.app import MusterApp
from domain.commands import StartGame
from domain.events import ReminderRecorded
from gateways.postgres import migrate
from projections.replay import MIGRATIONS
from tests.integration.test_scheduler import Players, create_game, reminder_dms, stage_guild

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CREATE_DM = "POST /channels/{channel_id}/messages"


@pytest.fixture
def read_schema(database_url: str) -> Iterator[str]:
    """A migrated read-model schema of this test's own (the scheduler's start-up reads it)."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(migrate(database_url, name, MIGRATIONS))
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emulator:
        yield emulator


class Processes:
    """Starts and kills ``muster scheduler`` processes, each with its own log file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        with self.log_of(self.started).open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "deploy.cli", "scheduler"],
                cwd=ROOT, env={**os.environ, **self.env}, stdout=out, stderr=out,
            )  # fmt: skip
        proc.number = self.started  # type: ignore[attr-defined]
        self.running.append(proc)
        return proc

    def log_of(self, number: int) -> Path:
        return self.logs / f"scheduler-{number}.log"

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.running.remove(proc)

    def caught_up(self, proc: subprocess.Popen[bytes]) -> bool:
        """Has this process loaded its state and started handing out due times?"""
        text = self.log_of(proc.number).read_text(errors="replace")  # type: ignore[attr-defined]
        if proc.poll() is not None:
            raise AssertionError(f"scheduler exited with {proc.returncode}: {text[-3000:]}")
        return "scheduler: caught up" in text

    async def stop_all(self) -> None:
        """SIGTERM each (once it runs: a signal during start-up would end it uncleanly)."""
        for proc in self.running:
            await until(lambda p=proc: self.caught_up(p), 60, "the scheduler to be up")
        for proc in self.running:
            proc.terminate()
        for proc in self.running:
            code = proc.wait(20)
            text = self.log_of(proc.number).read_text()  # type: ignore[attr-defined]
            assert code == 0, text[-4000:]
        self.running.clear()


@pytest.fixture
def processes(
    emu: DiscordEmulator,
    event_log_env: dict[str, str],
    read_schema: str,
    nats_url: str,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> Iterator[Processes]:
    env = {
        "MUSTER_NATS_URL": nats_url,
        "MUSTER_DATABASE_URL": database_url,
        "MUSTER_REDIS_URL": redis_url,
        "MUSTER_DATABASE_SCHEMA": read_schema,
        "MUSTER_EVENTS_STREAM": event_log_env["MUSTER_EVENTS_STREAM"],
        "MUSTER_EVENTS_SUBJECT_PREFIX": event_log_env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        "MUSTER_DISCORD_TOKEN": emu.bot_token,
        "MUSTER_DISCORD_API_BASE": emu.api_base,
    }
    procs = Processes(env, tmp_path)
    yield procs
    for proc in procs.running:
        proc.kill()
        proc.wait(10)


_apps: list[MusterApp] = []


def log_app(env: dict[str, str]) -> MusterApp:
    app = MusterApp(env=env)
    _apps.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_apps() -> Iterator[None]:
    yield
    while _apps:
        _apps.pop().close()


async def until(predicate: Callable[[], object], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {within:g} s for {what}")
        await asyncio.sleep(0.02)


def records(app: MusterApp, game_ids: list[str]) -> Counter[tuple[str, int, str]]:
    return Counter(
        (game_id, e.offset_minutes, e.user_id)
        for game_id in game_ids
        for e in app.history(f"game.{game_id}")
        if isinstance(e, ReminderRecorded)
    )


async def new_game(app: MusterApp, stage: Players, due_in: float, title: str) -> str:
    command = create_game(stage, due_in, [*stage.ids, stage.refusing], title)
    outcome = await asyncio.to_thread(app.handle, command)
    return str(outcome.game_id)


async def test_sigkill_before_during_and_after_due_times_sends_and_records_once(
    emu: DiscordEmulator, event_log_env: dict[str, str], processes: Processes
) -> None:
    stage = stage_guild(emu, players=4)
    emu.faults.latency(0.25, CREATE_DM)  # so a kill can land with DMs in flight
    app = log_app(event_log_env)
    games: list[str] = []

    def dms_sent() -> int:
        return sum(reminder_dms(emu).values())

    async def up(proc: subprocess.Popen[bytes]) -> None:
        await until(lambda: processes.caught_up(proc), 60, "the scheduler to catch up")

    async def dms_at_least(count: int, what: str) -> None:
        await until(lambda: dms_sent() >= count, 60, what)

    proc = processes.start()
    for round_ in range(3):
        await up(proc)
        games.append(await new_game(app, stage, 3.0, f"Round {round_}"))
        before = dms_sent()
        # just before: the game is on the agenda, its due time a few seconds away
        processes.kill(proc)
        proc = processes.start()
        await up(proc)
        # during: the first DMs of this round are out, others in flight or waiting
        await dms_at_least(before + 1, "the first DM of the round")
        processes.kill(proc)
        proc = processes.start()
        # just after: every DM of the round is out; the records may not be
        await dms_at_least(before + len(stage.ids), "every DM of the round")
        processes.kill(proc)
        proc = processes.start()
    expected = len(games) * (len(stage.ids) + 1)
    await until(lambda: sum(records(app, games).values()) >= expected, 90, "all records")
    await processes.stop_all()
    dms = reminder_dms(emu)
    assert len(dms) == len(games) * len(stage.ids)
    assert set(dms.values()) == {1}, dms.most_common(3)
    recorded = records(app, games)
    assert len(recorded) == expected
    assert set(recorded.values()) == {1}
    statuses = Counter(
        e.status for g in games for e in app.history(f"game.{g}") if isinstance(e, ReminderRecorded)
    )
    assert statuses == {"sent": len(games) * len(stage.ids), "failed": len(games)}


async def test_two_schedulers_at_once_send_and_record_once(
    emu: DiscordEmulator, event_log_env: dict[str, str], processes: Processes
) -> None:
    stage = stage_guild(emu, players=5)
    app = log_app(event_log_env)
    first, second = processes.start(), processes.start()
    await until(lambda: processes.caught_up(first) and processes.caught_up(second), 60, "both up")
    games = [await new_game(app, stage, 2.0 + i, f"Both {i}") for i in range(3)]
    expected = len(games) * (len(stage.ids) + 1)
    await until(lambda: sum(records(app, games).values()) >= expected, 60, "all records")
    await processes.stop_all()
    dms = reminder_dms(emu)
    assert len(dms) == len(games) * len(stage.ids)
    assert set(dms.values()) == {1}
    assert set(records(app, games).values()) == {1}


async def test_down_across_a_due_time_late_if_not_started_skipped_if_started(
    emu: DiscordEmulator, event_log_env: dict[str, str], processes: Processes
) -> None:
    stage = stage_guild(emu, players=2)
    app = log_app(event_log_env)
    waiting = await new_game(app, stage, 1.0, "Waiting")
    started = await new_game(app, stage, 1.0, "Started")
    await asyncio.to_thread(
        app.handle, StartGame(command_id="host-start", user_id=stage.host, game_id=started)
    )
    due = app.game(waiting).scheduled_at.timestamp() - 60
    await asyncio.sleep(max(0.0, due - time.time()) + 0.5)  # Muster is down at the due time
    assert reminder_dms(emu) == Counter()
    processes.start()
    expected = 2 * (len(stage.ids) + 1)
    await until(lambda: sum(records(app, [waiting, started]).values()) >= expected, 60, "records")
    await processes.stop_all()
    late = app.game(waiting).reminders
    assert sorted(late.values()) == ["failed", "sent", "sent"]
    assert set(app.game(started).reminders.values()) == {"skipped"}
    dms = emu.inspect.all_dms()
    assert sum(len(m) for m in dms.values()) == len(stage.ids)
    assert all("Waiting" in m["content"] for ms in dms.values() for m in ms)

"""The fault schedule: what breaks during the load, and how long the system takes to recover.

Kinds (each injected in turn, several times, one at a time):

* ``kill:<process>``: SIGKILL of ``projector``, ``bot``, ``api``, ``scheduler``, ``worker``,
  ``nats`` or ``postgres`` (PostgreSQL with all its backends), a few seconds down, then started
  again (servers on the same port with the same data);
* ``gateway_drop``: the emulator aborts the bot's gateway connections (the bot resumes);
* ``discord_429``: a storm of 429s on the message routes (announcements, edits, DMs);
* ``discord_5xx``: a burst of 500/502/503 answers on the same routes;
* ``disk_full``: the projector's tables (every table of the ``muster`` schema: read models,
  parked events, the Discord projection's) live in a tablespace on a small tmpfs; the fault
  fills it to the last byte, so PostgreSQL cannot extend them ("No space left on device") for
  a while: the projector's database volume running full (WAL, the catalog and the log are on
  other volumes and unaffected). ``--partial-disk`` puts only the row tables there (not
  ``parked_events``): a failure of some statements but not others, which is how the parking
  finding in docs/fault-run.md was found;
* ``clock_jump``: the scheduler's clock steps 75 s forward, and back on the next jump.

Recovery time: from the injection until the part works again (a new gateway session for the
bot, ``/api/v1/ping`` for the API, "caught up" for the scheduler, the read models at the log's
position of the moment for the projector, servers answering, the Discord work queue drained).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import random
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import nats
import psycopg

from tests.load.history import History
from tests.load.system import System

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

PROCESS_KILLS = ("projector", "bot", "api", "scheduler", "worker")
SERVER_KILLS = ("nats", "postgres")
KINDS = (
    *(f"kill:{name}" for name in (*PROCESS_KILLS, *SERVER_KILLS)),
    "gateway_drop", "discord_429", "discord_5xx", "disk_full", "clock_jump",
)  # fmt: skip
MESSAGE_ROUTES = (
    "POST /channels/{channel_id}/messages",
    "PATCH /channels/{channel_id}/messages/{message_id}",
)
ROW_TABLES = ("games", "participants", "reminders", "timeline", "projector_position")
RECOVERY_TIMEOUT = 180.0


@dataclass
class Faults:
    """Injects faults into a running :class:`System`, recording each in the history."""

    system: System
    history: History
    seed: int = 2
    down: float = 3.0  # seconds a killed part stays down
    counts: dict[str, int] = field(default_factory=dict)
    recoveries: dict[str, list[float]] = field(default_factory=dict)
    windows: list[tuple[str, float, float]] = field(default_factory=list)
    disk: Path | None = None
    disk_tables: tuple[str, ...] = ()
    clock_ahead: bool = False
    probe: NATS | None = field(default=None, repr=False)

    # -- probes ------------------------------------------------------------------------------
    async def nats_state(self) -> tuple[int, int]:
        """(last sequence of the log, messages waiting in the Discord work queue), through one
        kept connection (a new one every 5 s would fill NATS's list of closed connections,
        10,000 kept, and show as its memory growing in a soak), replaced when it fails."""
        if self.probe is None or not self.probe.is_connected:
            await self.close_probe()
            url = self.system.env["MUSTER_NATS_URL"]
            self.probe = await nats.connect(
                url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0
            )
        try:
            js = self.probe.jetstream(timeout=3)
            log = await js.stream_info("EVENTS")
            try:
                ops = (await js.stream_info("DISCORD_OPS")).state.messages
            except nats.js.errors.NotFoundError:
                ops = 0
        except BaseException:
            await self.close_probe()
            raise
        return log.state.last_seq, ops

    async def close_probe(self) -> None:
        """Close the connection :meth:`nats_state` keeps, if any."""
        probe, self.probe = self.probe, None
        if probe is not None:
            with contextlib.suppress(Exception):
                await probe.close()

    async def read_position(self, name: str = "read_models") -> int:
        """Where a projection (``read_models``, ``discord``) stands in the log."""
        async with await psycopg.AsyncConnection.connect(
            self.system.env["MUSTER_DATABASE_URL"], connect_timeout=3, autocommit=True
        ) as conn:
            cur = await conn.execute(
                "SELECT position FROM muster.projector_position WHERE name = %s", (name,)
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0

    async def caught_up(self, target: int) -> bool:
        return await self.read_position() >= target

    async def ops_state(self) -> tuple[int, int]:
        """(last sequence of the Discord work queue, sequence the workers acked through)."""
        nc = await nats.connect(self.system.env["MUSTER_NATS_URL"], connect_timeout=2,
                                allow_reconnect=False, max_reconnect_attempts=0)  # fmt: skip
        try:
            js = nc.jetstream(timeout=3)
            last = (await js.stream_info("DISCORD_OPS")).state.last_seq
            consumers = await js.consumers_info("DISCORD_OPS")
            floor = min((c.ack_floor.stream_seq for c in consumers if c.ack_floor), default=0)
            return last, floor
        finally:
            await nc.close()

    async def ops_done_through(self, target: int) -> bool:
        """Has every Discord operation queued up to ``target`` been carried out?"""
        return (await self.ops_state())[1] >= target

    async def ops_mark(self) -> int:
        try:
            return (await self.ops_state())[0]
        except Exception:
            return 0

    async def queue_drained(self) -> bool:
        return (await self.nats_state())[1] == 0

    def bot_sessions(self) -> set[object]:
        """The live gateway connections (objects: a reconnect is a new one)."""
        return {s.conn for s in self.system.emu.gateway.sessions.values() if s.conn is not None}

    def scheduler_catch_ups(self) -> int:
        text = self.system.children["scheduler"].log.read_text(errors="replace")
        return text.count("scheduler: caught up")

    async def api_up(self) -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{self.system.web_url}/api/v1/ping")).status_code == 200

    async def until(self, probe: Callable[[], Awaitable[bool] | bool]) -> bool:
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                result = probe()
                if not isinstance(result, bool):
                    result = await result
                if result:
                    return True
            await asyncio.sleep(0.25)
        return False

    # -- the full disk -----------------------------------------------------------------------
    async def prepare_disk(self, size_mib: int = 64, tables: tuple[str, ...] = ()) -> None:
        """Move the projector's tables (every table of the read-model schema, or only
        ``tables``) to a tablespace on a tmpfs of ``size_mib``."""
        self.disk = self.system.work / "readmodel-volume"
        self.disk.mkdir(exist_ok=True)
        size = f"size={size_mib}m,mode=0755"
        mount = ["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(self.disk)]
        subprocess.run(mount, check=True)  # noqa: ASYNC221 - once, before the load starts
        space = self.disk / "pg"
        space.mkdir()
        owner = pwd.getpwnam(os.environ.get("MUSTER_POSTGRES_OS_USER", "muster-pg"))
        os.chown(space, owner.pw_uid, owner.pw_gid)
        async with await psycopg.AsyncConnection.connect(
            self.system.env["MUSTER_DATABASE_URL"], autocommit=True
        ) as conn:
            await conn.execute(f"CREATE TABLESPACE readmodels LOCATION '{space}'")
            if not tables:
                cur = await conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'muster'"
                )
                tables = tuple(row[0] for row in await cur.fetchall())
            for table in tables:
                await conn.execute(f'ALTER TABLE muster."{table}" SET TABLESPACE readmodels')
        self.disk_tables = tables

    def release_disk(self) -> None:
        if self.disk is not None:
            subprocess.run(["umount", "-l", str(self.disk)], check=False)

    def _fill(self) -> Path:
        """Write a ballast file until the volume has not one byte left."""
        assert self.disk is not None
        ballast = self.disk / "ballast"
        fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                block = b"\0" * size
                with contextlib.suppress(OSError):
                    while os.write(fd, block) == size:
                        pass
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
        return ballast

    # -- one fault ---------------------------------------------------------------------------
    async def inject(self, kind: str) -> None:
        t0 = time.time()
        recovered: bool
        detail = ""
        emu = self.system.emu
        if kind.startswith("kill:"):
            name = kind.removeprefix("kill:")
            recovered, detail = await self._kill(name)
        elif kind == "gateway_drop":
            before = self.bot_sessions()
            dropped = emu.faults.drop_websocket()
            detail = f"{dropped} connection(s) dropped, {len(before)} live before"
            recovered = await self.until(lambda: bool(self.bot_sessions() - before))
        elif kind in ("discord_429", "discord_5xx"):
            rng = random.Random(t0)
            for route in MESSAGE_ROUTES:
                if kind == "discord_429":
                    emu.faults.rate_limit_storm(route, count=None, seconds=8.0, retry_after=1.5)
                else:
                    emu.faults.server_errors(route, count=12, status=rng.choice((500, 502, 503)))
            detail = "8 s of 429 (retry_after 1.5 s)" if kind == "discord_429" else "12 x 5xx"
            await asyncio.sleep(8.0)
            mark = await self.ops_mark()
            recovered = await self.until(lambda: self.ops_done_through(mark))
        elif kind == "disk_full":
            ballast = await asyncio.to_thread(self._fill)
            detail = f"tablespace of {len(self.disk_tables)} projector tables full for 12 s"
            await asyncio.sleep(12.0)
            ballast.unlink()
            target, _ = await self.nats_state()
            recovered = await self.until(lambda: self.caught_up(target))
        elif kind == "clock_jump":
            self.clock_ahead = not self.clock_ahead
            offset = 75 if self.clock_ahead else 0
            self.system.clock_file.write_text(str(offset))
            detail = f"scheduler clock offset now {offset:+d} s"
            recovered = True
        else:
            raise ValueError(kind)
        t1 = time.time()
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.recoveries.setdefault(kind, []).append(t1 - t0)
        self.windows.append((kind, t0, t1))
        self.history.fault(kind=kind, t0=t0, t1=t1, recovered=recovered, detail=detail)
        print(f"  fault {kind:<16} recovered={recovered} in {t1 - t0:5.1f} s  {detail}", flush=True)

    async def _kill(self, name: str) -> tuple[bool, str]:
        system = self.system
        if name in SERVER_KILLS:
            system.kill_server(name)
            await asyncio.sleep(self.down)
            await system.restart_server(name)
            if name == "nats":
                ok = await self.until(self._nats_answers)
            else:
                ok = await self.until(self._postgres_answers)
            target = (await self.nats_state())[0] if ok else 0
            return ok and await self.until(lambda: self.caught_up(target)), "killed, restarted"
        before = {
            "bot": self.bot_sessions(),
            "scheduler": self.scheduler_catch_ups(),
        }
        target = (await self.nats_state())[0]
        system.kill_process(name)
        await asyncio.sleep(self.down)
        system.start_process(name)
        mark = await self.ops_mark()
        probes: dict[str, Callable[[], Awaitable[bool] | bool]] = {
            "bot": lambda: bool(self.bot_sessions() - before["bot"]),  # type: ignore[operator]
            "api": self.api_up,
            "scheduler": lambda: self.scheduler_catch_ups() > before["scheduler"],  # type: ignore[operator]
            "projector": lambda: self.caught_up(target),
            "worker": lambda: self.ops_done_through(mark),
        }
        return await self.until(probes[name]), f"pid killed, down {self.down:g} s"

    async def _nats_answers(self) -> bool:
        await self.nats_state()
        return True

    async def _postgres_answers(self) -> bool:
        await self.read_position()
        return True

    # -- the schedule ------------------------------------------------------------------------
    async def run(self, seconds: float, rounds: int) -> None:
        """Every kind ``rounds`` times, spread evenly over ``seconds``, in a shuffled order
        (all of them, even when recoveries make the plan last longer than ``seconds``)."""
        rng = random.Random(self.seed)
        plan: list[str] = []
        for _ in range(rounds):
            batch = list(KINDS)
            rng.shuffle(batch)
            plan += batch
        gap = seconds / (len(plan) + 1)
        start = time.monotonic()
        for n, kind in enumerate(plan, 1):
            delay = start + n * gap - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.inject(kind)

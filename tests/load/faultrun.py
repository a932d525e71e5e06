"""The whole-system fault run (and the soak): one command, a verdict at the end.

    python -m tests.load.faultrun --minutes 10            # load + every fault kind twice or more
    python -m tests.load.faultrun --minutes 2 --rounds 1  # the short version CI runs
    python -m tests.load.faultrun --soak --minutes 30     # steady load, no faults: RSS slopes
    python -m tests.load.faultrun --soak --minutes 30 --tracemalloc 120  # + allocation snapshots
    python -m tests.load.faultrun --soak --minutes 60 --allocstats 30    # + allocator figures
    python -m tests.load.faultrun --soak --minutes 60 --malloc-trim 60   # + glibc malloc_trim
    python -m tests.load.faultrun --soak --minutes 90 --nats-heap 10     # + NATS heap profiles

It starts NATS, PostgreSQL and Redis, then ``muster projector``, ``bot``, ``api``, ``worker``
and the scheduler as separate processes, the Discord emulator in this one; drives the load
(``tests/load/loadgen.py``) while the fault schedule (``tests/load/faults.py``) breaks things;
then lets the system settle and runs the checker (``tests/load/checker.py``) over the history,
the exported log, the emulator's DMs and announcements, and ``muster replay``. Exit code 0 only
when every count is 0. Everything it saw is kept in ``--out`` (history.jsonl, events.jsonl,
dms.json, announcements.json, rss.jsonl, logs/, report.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import psycopg

from deploy.emulator import DiscordEmulator, RateLimits
from tests.load.checker import Evidence, check
from tests.load.faults import KINDS, Faults
from tests.load.history import History, read_history
from tests.load.loadgen import Load
from tests.load.sampler import Sampler, percentile
from tests.load.system import ROOT, System, populate


async def until(probe: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = probe()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"waited {within:g} s for {what}")


def muster(system: System, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.cli", *args], cwd=ROOT, env=system.env,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


async def settle(system: System, faults: Faults, wait_due: float) -> list[str]:
    """Every part running, every due time passed, the log fully projected (read models and
    Discord), the work queue empty; what did not happen in time."""
    system.clock_file.write_text("0")
    system.emu.faults.clear()
    for name in ("nats", "postgres"):
        if not system.server_up(name):
            await system.restart_server(name)
    for name, child in system.children.items():
        if child.pid is None:
            system.start_process(name)
    await asyncio.sleep(wait_due)
    problems = []
    last, _ = await faults.nats_state()
    waits = (
        (lambda: faults.caught_up(last), "the read models did not reach the log's end"),
        (lambda: _discord_at(faults, last), "the Discord projection did not reach the log's end"),
        (faults.queue_drained, "the Discord work queue did not drain"),
    )
    for probe, problem in waits:
        try:
            await until(probe, 240, problem)
        except TimeoutError:
            problems.append(problem)
    return problems


async def _discord_at(faults: Faults, last: int) -> bool:
    """The Discord projection has done everything up to ``last`` (its own events after that,
    recorded posts and DMs, need nothing more from it)."""
    return await faults.read_position("discord") >= last


async def final_state(system: System, faults: Faults) -> dict[str, Any]:
    """Positions, the work queue and ``muster doctor``, kept with the evidence."""
    state: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        state["log_last"], state["ops_messages"] = await faults.nats_state()
        state["ops_last"], state["ops_acked_through"] = await faults.ops_state()
        for name in ("read_models", "discord", "analytics"):
            state[f"position_{name}"] = await faults.read_position(name)
    doctor = muster(system, "doctor", timeout=120)
    state["doctor"] = doctor.stdout + doctor.stderr
    return state


async def announcement_evidence(system: System, load: Load) -> list[dict[str, Any]]:
    """Each announced game: what #games shows and the render of the read model, compared
    until they agree (up to 90 s: the projection coalesces and paces its edits)."""
    from projections import queries
    from projections.discord.render import announcement

    deadline = time.monotonic() + 90
    while True:
        shown = load.announcements()
        items = []
        async with await psycopg.AsyncConnection.connect(
            system.env["MUSTER_DATABASE_URL"], autocommit=True,
            options="-c search_path=muster,public",
        ) as conn:  # fmt: skip
            for game_id, message in shown.items():
                detail = await queries.game_detail(conn, game_id)
                body = msgspec.to_builtins(announcement(detail)) if detail else None
                expected = None if body is None else {
                    "content": body.get("content"), "embeds": body.get("embeds"),
                    "components": body.get("components"),
                }  # fmt: skip
                items.append({"game_id": game_id, "expected": expected, "shown": {
                    "content": message.content, "embeds": _embeds(message.embeds),
                    "components": _without_ids(message.components)}})  # fmt: skip
        if all(i["shown"] == i["expected"] for i in items) or time.monotonic() > deadline:
            return items
        await asyncio.sleep(2)


def _without_ids(value: Any) -> Any:
    """Components as sent: Discord (and the emulator) number each component with an ``id``."""
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "id"}
    return value


def _embeds(embeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keep = ("title", "description", "color", "fields", "footer")
    return [{k: e[k] for k in keep if k in e} for e in embeds or []]


def dm_evidence(system: System) -> list[dict[str, Any]]:
    world = system.emu.world
    bot = world.application.bot_user_id
    found = []
    for user_id, channel_id in world.dm_channels.items():
        channel = world.channels.get(channel_id)
        if channel is None:
            continue
        for m in channel.messages.values():
            if m.author_id != bot:
                continue
            footer = ((m.embeds or [{}])[0].get("footer") or {}).get("text", "")
            found.append({"user_id": str(user_id), "nonce": m.nonce, "content": m.content,
                          "footer": footer, "at": m.timestamp})  # fmt: skip
    return found


def exported_events(system: System, out: Path) -> list[dict[str, Any]]:
    path = out / "events.jsonl"
    done = muster(system, "events", "export", "-o", str(path), "--quiet")
    if done.returncode != 0:
        raise RuntimeError(f"muster events export failed: {done.stdout}{done.stderr}")
    events = []
    for line in path.read_text().splitlines():
        envelope = json.loads(line)
        body = envelope["body"]
        subject = envelope["subject"]
        game = subject.rsplit(".", 1)[1] if ".game." in subject else None
        events.append({**body, "pos": envelope["seq"], "game": game})
    return events


async def main_async(args: argparse.Namespace) -> int:
    out = Path(args.out or tempfile.mkdtemp(prefix="muster-faultrun-"))
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    work = Path(tempfile.mkdtemp(prefix="muster-load-"))
    print(f"fault run: {'soak' if args.soak else 'faults'}, {args.minutes:g} min, "
          f"{args.rate:g} actions/s; evidence in {out}", flush=True)  # fmt: skip
    main_task = asyncio.current_task()
    assert main_task is not None  # SIGTERM (a timeout, a kill): stop everything started, below
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    limits = RateLimits(global_per_second=10_000, default=(10_000, 1.0))
    history = History(out / "history.jsonl")
    started = time.time()
    async with DiscordEmulator(rate_limits=limits) as emu:
        system = System(work, emu)
        people = populate(emu, args.members, args.channels)
        faults = Faults(system, history, seed=args.seed)
        background: list[asyncio.Task[Any]] = []
        try:
            if args.nats_heap:  # NATS's heap sampled every 64 KiB allocated (Go's default:
                os.environ["GODEBUG"] = "memprofilerate=65536"  # 512 KiB); Python ignores it
            await system.start_servers()
            if args.tracemalloc:  # deploy/memtrace.py: snapshots of every Muster process
                system.env["MUSTER_TRACEMALLOC"] = str(out / "tracemalloc")
                system.env["MUSTER_TRACEMALLOC_EVERY"] = f"{args.tracemalloc:g}"
            if args.allocstats:  # deploy/allocstats.py: allocator figures of every process
                system.env["MUSTER_ALLOCSTATS"] = str(out / "allocstats")
                system.env["MUSTER_ALLOCSTATS_EVERY"] = f"{args.allocstats:g}"
            if args.malloc_trim:  # deploy/malloc_trim.py: glibc's free pages back to the OS
                system.env["MUSTER_MALLOC_TRIM_EVERY"] = f"{args.malloc_trim:g}"
            for name in ("projector", "worker", "api", "bot", "scheduler"):
                system.start_process(name)
            await until(faults.api_up, 120, "the API")
            await until(lambda: bool(faults.bot_sessions()), 120, "the bot's gateway session")
            commands = emu.world.commands
            await until(lambda: any(c.payload["name"] == "game" for c in commands.values()),
                        60, "the bot's slash commands")  # fmt: skip
            await until(faults._postgres_answers, 60, "the read models")
            if not args.soak:
                from tests.load.faults import ROW_TABLES

                await faults.prepare_disk(tables=ROW_TABLES if args.partial_disk else ())
            load = Load(system, people, history, rate=args.rate, seed=args.seed)
            await load.setup()
            print(f"  up in {time.time() - started:.0f} s; load starts", flush=True)
            stop = asyncio.Event()
            seconds = args.minutes * 60
            sampler = Sampler(system, faults, out / "rss.jsonl", args.nats_heap * 60)
            load_started = time.time()
            tasks = [asyncio.create_task(load.run(stop)), asyncio.create_task(sampler.run(stop))]
            plan = None if args.soak else asyncio.create_task(faults.run(seconds - 20, args.rounds))
            background += [*tasks, *([plan] if plan else [])]
            await asyncio.sleep(seconds)
            if plan is not None:
                await plan  # every planned fault is injected and recovered under load
            stop.set()
            await asyncio.gather(*tasks)
            end = time.time()
            print(f"  load stopped after {end - load_started:.0f} s; settling", flush=True)
            unsettled = await settle(system, faults, wait_due=args.settle)
            state = await final_state(system, faults)
            (out / "final-state.json").write_text(json.dumps(state, indent=2, default=str))
            await load.close()
            replay = muster(system, "replay")
            (out / "replay.txt").write_text(replay.stdout + replay.stderr)
            events = exported_events(system, out)
            dms = dm_evidence(system)
            announcements = await announcement_evidence(system, load)
            (out / "dms.json").write_text(json.dumps(dms, default=str))
            (out / "announcements.json").write_text(json.dumps(announcements, default=str))
            lines = read_history(out / "history.jsonl")
            evidence = Evidence(
                actions=[x for x in lines if x["type"] == "action"],
                faults=[x for x in lines if x["type"] == "fault"],
                events=events, dms=dms, announcements=announcements,
                replay={"exit": replay.returncode, "output": replay.stdout + replay.stderr},
                stream="EVENTS", end=end,
            )  # fmt: skip
            report = check(evidence)
            report.add("did not settle", unsettled)
            figures = summarise(evidence, faults, sampler, load_started, end)
        finally:
            for task in background:  # stopped early (SIGTERM): the load and faults first
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            history.close()
            await faults.close_probe()
            for child in system.children.values():
                child.stop()
            faults.release_disk()
            await system.stop()
            shutil.copytree(work / "logs", out / "logs", dirs_exist_ok=True)
            shutil.rmtree(work, ignore_errors=True)
    (out / "report.json").write_text(json.dumps(
        {"counts": report.counts, "examples": report.examples, "notes": report.notes,
         "end": evidence.end, "unsettled": unsettled,
         "figures": figures}, indent=2, default=str))  # fmt: skip
    print_report(report, figures)
    missing = [k for k in KINDS if not args.soak and faults.counts.get(k, 0) < args.rounds]
    if missing:
        print(f"FAULT KINDS NOT INJECTED {args.rounds}x: {missing}")
    return 0 if report.ok and not missing else 1


def summarise(
    ev: Evidence, faults: Faults, sampler: Sampler, t0: float, t1: float
) -> dict[str, Any]:
    recoveries = {
        kind: {"n": len(v), "p50_s": round(percentile(v, 50), 1),
               "p99_s": round(percentile(v, 99), 1)}
        for kind, v in sorted(faults.recoveries.items())
    }  # fmt: skip
    unrecovered = [f["kind"] for f in ev.faults if not f.get("recovered")]
    return {
        "seconds": round(t1 - t0), "actions": len(ev.actions), "events": len(ev.events),
        "actions_per_s": round(len(ev.actions) / max(1, t1 - t0), 2),
        "faults": dict(sorted(faults.counts.items())), "recoveries": recoveries,
        "not_recovered": unrecovered, "dms": len(ev.dms),
        "samples": sampler.summary(t0 + 60),
    }  # fmt: skip


def print_report(report: Any, figures: dict[str, Any]) -> None:
    print(f"\n{figures['actions']} actions in {figures['seconds']} s "
          f"({figures['actions_per_s']}/s), {figures['events']} events, "
          f"{figures['dms']} DMs")  # fmt: skip
    print(f"answers: {report.notes['answers']}")
    print(f"actions: {report.notes['actions']}")
    if figures["faults"]:
        print("faults (count, recovery p50 / p99):")
        for kind, r in figures["recoveries"].items():
            print(f"  {kind:<18} {r['n']:>3}  {r['p50_s']:6.1f} s  {r['p99_s']:6.1f} s")
        if figures["not_recovered"]:
            print(f"  NOT RECOVERED within the probe's timeout: {figures['not_recovered']}")
    print("RSS (MiB: first → last, max, slope MiB/h; from the first minute on):")
    series = {**figures["samples"]["rss"], **figures["samples"].get("mem", {})}
    for name, r in series.items():
        print(f"  {name:<28} {r['first_mib']:7.1f} → {r['last_mib']:7.1f}  max {r['max_mib']:7.1f}"
              f"  slope {r['slope_mib_per_h']:+7.1f}")  # fmt: skip
    print(f"Discord work queue: {figures['samples']['queue']}; "
          f"read-model lag (events): {figures['samples']['lag']}")  # fmt: skip
    print("checker:")
    print("\n".join(report.lines()))
    print("VERDICT:", "PASS (every count is 0)" if report.ok else "FAIL")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.load.faultrun", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--minutes", type=float, default=10, help="length of the load")
    parser.add_argument("--rounds", type=int, default=2, help="times each fault kind is injected")
    parser.add_argument("--rate", type=float, default=4, help="actions per second")
    parser.add_argument("--members", type=int, default=24, help="members who click")
    parser.add_argument("--channels", type=int, default=4, help="game channels in the guild")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--soak", action="store_true", help="no faults; report RSS slopes")
    parser.add_argument("--partial-disk", action="store_true",
                        help="full disk for the row tables only (not parked_events)")  # fmt: skip
    parser.add_argument("--settle", type=float, default=100,
                        help="seconds to wait after the load for due reminders")  # fmt: skip
    parser.add_argument("--tracemalloc", type=float, default=0, metavar="SECONDS",
                        help="trace the Muster processes' allocations, a snapshot every "
                        "SECONDS into OUT/tracemalloc (slows them: not for slopes)")  # fmt: skip
    parser.add_argument("--allocstats", type=float, default=0, metavar="SECONDS",
                        help="every SECONDS, the Muster processes' pymalloc and glibc malloc "
                        "figures into OUT/allocstats (cheap: slopes stay valid)")  # fmt: skip
    parser.add_argument("--malloc-trim", type=float, default=0, metavar="SECONDS",
                        help="every SECONDS, the Muster processes call glibc's malloc_trim "
                        "(MUSTER_MALLOC_TRIM_EVERY)")  # fmt: skip
    parser.add_argument(
        "--nats-heap",
        type=float,
        default=0,
        metavar="MINUTES",
        help="every MINUTES, NATS's heap profile and JetStream state into "
        "OUT/nats-heap (python -m tests.load.nats_heap_report OUT/nats-heap)",
    )
    parser.add_argument("--out", help="directory for the evidence (default: a new temp dir)")
    args = parser.parse_args(argv)
    if not args.soak and os.geteuid() != 0:
        parser.error("the disk_full fault mounts a small tmpfs: run the fault run as root")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("nats.aio.client").setLevel(
        logging.CRITICAL
    )  # our probes, while NATS is down
    try:
        return asyncio.run(main_async(args))
    except asyncio.CancelledError:
        print("fault run stopped by SIGTERM: every process it started is stopped", flush=True)
        return 143


if __name__ == "__main__":
    raise SystemExit(main())

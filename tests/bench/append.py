"""Append benchmark: the JetStream recorder against raw nats-py and eventsourcing's PostgreSQL.

Run: ``.venv/bin/python -m tests.bench.append [--events N]`` (``--smoke``: tiny sizes, seconds)

All four in one run, on the same embedded servers:
  (a) raw nats-py with the same headers the recorder sends, 200 aggregates, as many publishes
      in flight as (b) has threads (the baseline), and, for context, (a') with all 200 in
      flight at once;
  (b) the recorder, one event per call, 200 aggregates, from concurrent threads;
  (c) the recorder on one hot aggregate (each append waits for the previous one);
  (d) eventsourcing's own PostgreSQL recorder with (b)'s workload on the embedded PostgreSQL.
Both servers acknowledge before fsync here (NATS' default sync_interval, PostgreSQL with
synchronous_commit=off), so neither is favoured by durability settings.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlsplit

import nats
import psycopg
from eventsourcing.persistence import AggregateRecorder, InfrastructureFactory, StoredEvent

from gateways.jetstream import Factory
from gateways.jetstream.layout import H_EXPECTED_LAST_SUBJECT_SEQ, H_MSG_ID, event_headers
from tests.bench.common import Figure, bench_stack, summary, table, timed

AGGREGATES = 200
THREADS = 16
STATE = b'{"user_id":"123456789012345678","command_id":"1234567890"}'
TOPIC = "game.player_joined.v1"


def raw_nats_appends(url: str, prefix: str, total: int, writers: int) -> Figure:
    """Raw nats-py: one request per event with OCC, Msg-Id and the recorder's headers.

    200 aggregates shared out to ``writers`` coroutines, each with one publish in flight: with
    ``writers=THREADS`` the same appends are in flight as in (b).
    """
    stream = f"BENCH_{prefix.upper()}"

    async def run() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{prefix}.>"])
        rounds = total // AGGREGATES

        async def writer(index: int) -> None:
            subjects = [f"{prefix}.game.{uuid.uuid4()}" for _ in range(AGGREGATES // writers)]
            last = dict.fromkeys(subjects, 0)
            for version in range(1, rounds + 1):
                for subject in subjects:
                    headers = event_headers(TOPIC, version)
                    headers[H_EXPECTED_LAST_SUBJECT_SEQ] = str(last[subject])
                    headers[H_MSG_ID] = f"{subject}:{version}"
                    ack = await js.publish(subject, STATE, headers=headers)
                    last[subject] = ack.seq

        await asyncio.gather(*(writer(i) for i in range(writers)))
        await js.delete_stream(stream)
        await nc.close()

    count = (AGGREGATES // writers) * writers * (total // AGGREGATES)
    name = f"raw nats-py, 200 aggregates, {writers} in flight"
    return timed(name, count, lambda: asyncio.run(run()))


def recorder_appends(name: str, recorder: AggregateRecorder, total: int) -> Figure:
    """One event per ``insert_events`` call, 200 aggregates shared out to concurrent threads."""
    per_thread = AGGREGATES // THREADS
    rounds = total // AGGREGATES

    def worker(_: int) -> None:
        ids = [f"game.{uuid.uuid4()}" for _ in range(per_thread)]
        for version in range(1, rounds + 1):
            for aggregate in ids:
                event = StoredEvent(aggregate, version, TOPIC, STATE)
                recorder.insert_events([event], command_id=f"{aggregate}:{version}")

    def run() -> None:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(worker, range(THREADS)))

    return timed(name, per_thread * THREADS * rounds, run)


def hot_aggregate(recorder: AggregateRecorder, total: int) -> Figure:
    """(c) One aggregate, each append after the previous one."""
    aggregate = f"game.{uuid.uuid4()}"

    def run() -> None:
        for version in range(1, total + 1):
            recorder.insert_events([StoredEvent(aggregate, version, TOPIC, STATE)])

    return timed("JetStream recorder, one hot aggregate", total, run)


def postgres_recorder(database_url: str) -> tuple[InfrastructureFactory, AggregateRecorder]:  # type: ignore[type-arg]
    """eventsourcing's PostgreSQL application recorder on the embedded server (its password
    comes from the URL: the embedded server has a generated one)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("SELECT pg_reload_conf()")
    parts = urlsplit(database_url)
    factory = InfrastructureFactory.construct(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port),
            "POSTGRES_USER": parts.username or "postgres",
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_POOL_SIZE": str(THREADS),
            "POSTGRES_MAX_OVERFLOW": "0",
            "ORIGINATOR_ID_TYPE": "text",
        }
    )
    return factory, factory.application_recorder()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=20_000, help="events per run (a, b, d)")
    parser.add_argument("--hot", type=int, default=3_000, help="events on the hot aggregate")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.events, args.hot = 2 * AGGREGATES, 50
    with bench_stack() as stack:
        url = stack.url("nats")
        print(f"append benchmark: {args.events} events, {AGGREGATES} aggregates, {THREADS} threads")
        a = raw_nats_appends(url, "rawsame", args.events, writers=THREADS)
        a_all = raw_nats_appends(url, "rawall", args.events, writers=AGGREGATES)
        factory = Factory({"MUSTER_NATS_URL": url})
        recorder = factory.application_recorder()
        b = recorder_appends(
            f"JetStream recorder, 200 aggregates, {THREADS} threads", recorder, args.events
        )
        c = hot_aggregate(recorder, args.hot)
        factory.close()
        pg_factory, pg_recorder = postgres_recorder(stack.url("postgres"))
        d = recorder_appends("eventsourcing PostgreSQL recorder, as (b)", pg_recorder, args.events)
        pg_factory.close()
    labelled = [("(a)", a), ("(a')", a_all), ("(b)", b), ("(c)", c), ("(d)", d)]
    rows = [
        (f"{label} {f.name}", f"{f.rate:,.0f}", f"{f.seconds:.2f}", f"{f.peak_mib:.0f}")
        for label, f in labelled
    ]
    print()
    print(table(rows, ("append", "events/s", "seconds", "peak RSS MiB")))
    print()
    print(
        f"b/a = {b.rate / a.rate:.2f} (goal >= 0.6)   b/a' = {b.rate / a_all.rate:.2f}   "
        f"b/d = {b.rate / d.rate:.2f} (goal >= 1.0)"
    )
    summary(
        "append",
        [(f"{lb} {f.name}", f"{f.rate:,.0f}/s", f"{f.rate / a.rate:.2f}") for lb, f in labelled],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

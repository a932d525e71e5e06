"""``muster up --projectors N``: read-model workers 2..N as child processes.

Worker 1 (partition 0) runs inside ``muster up`` with the other projectors; each further worker
is a ``muster projector --partitions N --partition K`` process pointed at the same servers, run
as a supervised service: if it dies it is restarted with backoff, and it is stopped (SIGTERM)
with ``muster up``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from deploy.supervise import Service

STOP_GRACE = 15.0  # seconds a worker gets to finish its batch after SIGTERM


class WorkerExited(RuntimeError):
    """A worker process ended by itself (its stderr's last line says why)."""


def worker_env(urls: dict[str, str]) -> dict[str, str]:
    """The environment of a worker: this one, with the servers ``muster up`` uses."""
    return {
        **os.environ,
        "MUSTER_NATS_URL": urls["nats"],
        "MUSTER_DATABASE_URL": urls["postgres"],
        "MUSTER_REDIS_URL": urls["redis"],
    }


def worker_services(urls: dict[str, str], count: int) -> list[Service]:
    """Services running read-model workers ``1 … count-1`` of ``count`` as processes."""

    def service(index: int) -> Service:
        async def run(stop: asyncio.Event) -> None:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "deploy.cli", "projector",
                "--partitions", str(count), "--partition", str(index),
                env=worker_env(urls), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            waiting = asyncio.create_task(process.wait())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([waiting, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                process.terminate()
                try:
                    await asyncio.wait_for(waiting, STOP_GRACE)
                except TimeoutError:
                    process.kill()
                    await waiting
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopping
            if not stop.is_set():
                errors = (await process.stderr.read()).decode() if process.stderr else ""
                last = errors.strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
                raise WorkerExited(f"read-model worker {index + 1} of {count} ended: {last[0]}")

        return Service(f"read models {index + 1} of {count}", run)

    return [service(index) for index in range(1, count)]

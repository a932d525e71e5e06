"""Embedded servers that die are restarted: they are children with their data on disk.

``muster up`` calls :meth:`Watchdog.check` from its main thread (the thread that started the
servers, so the kernel's parent-death signal still applies to a restarted one). A dead server is
restarted on the same port with the same data after a backoff that doubles on each failed try;
every event is one line, never a traceback. Clients (nats-py, psycopg's pool, redis-py) reconnect
by themselves once the server is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deploy.processes import ServerFailed, ServerProcess
from deploy.supervise import backoff


@dataclass
class Watchdog:
    """Restart servers of ``processes`` that are no longer running."""

    processes: Sequence[ServerProcess]
    clock: Callable[[], float] = time.monotonic
    ready_timeout: float = 30.0
    _attempts: dict[str, int] = field(default_factory=dict)
    _next_try: dict[str, float] = field(default_factory=dict)

    def check(self) -> list[str]:
        """Restart what died and is due for a try; one line per event."""
        lines: list[str] = []
        now = self.clock()
        for process in self.processes:
            if process.running:
                continue
            name = process.name
            if name not in self._next_try:
                code = process.proc.returncode if process.proc else None
                lines.append(f"{name} stopped (exit code {code}); restarting it")
                self._next_try[name] = now
            if now < self._next_try[name]:
                continue
            attempt = self._attempts.get(name, 0) + 1
            try:
                process.start(ready_timeout=self.ready_timeout)
            except ServerFailed as error:
                delay = backoff(attempt, first=1.0)
                self._attempts[name] = attempt
                self._next_try[name] = self.clock() + delay
                first = str(error).splitlines()[0]
                lines.append(f"{name} did not restart ({first}); next try in {delay:.0f}s")
                continue
            pid = process.proc.pid if process.proc else "?"
            lines.append(f"{name} restarted (pid {pid}, port {process.port})")
            self._attempts.pop(name, None)
            self._next_try.pop(name, None)
        return lines

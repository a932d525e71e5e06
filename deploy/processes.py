"""Child server processes that never outlive Muster.

Each embedded server is a direct child started with ``PR_SET_PDEATHSIG``: when the process that
started it dies, even by SIGKILL, the kernel sends the child its stop signal, so no server is
left running. The signal is set in ``preexec_fn``, which Python runs after switching to another
user (the kernel clears the setting on a credential change, so the order matters).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1


class ServerFailed(RuntimeError):
    """An embedded server did not start; the message says why and where its log is."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _die_with_parent(sig: int) -> Callable[[], None]:
    def set_pdeathsig() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:  # pragma: no cover
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        os.setpgrp()  # own process group: a Ctrl-C in the terminal is handled by Muster

    return set_pdeathsig


@dataclass
class ServerProcess:
    """One running server: its name, command, address and log file."""

    name: str
    argv: Sequence[str]
    port: int
    log_path: Path
    stop_signal: int = signal.SIGTERM
    user: str | None = None
    cwd: Path | None = None
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, ready_timeout: float = 30.0) -> None:
        """Start the process and wait until its TCP port accepts connections."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self.user,
                cwd=self.cwd,
                env=self.env,
                preexec_fn=_die_with_parent(self.stop_signal),  # noqa: PLW1509
            )
        deadline = time.monotonic() + ready_timeout
        while not port_open("127.0.0.1", self.port):
            if self.proc.poll() is not None:
                raise ServerFailed(
                    f"{self.name} exited with code {self.proc.returncode} while starting; "
                    f"its log is {self.log_path}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerFailed(
                    f"{self.name} did not listen on port {self.port} within {ready_timeout:g}s; "
                    f"its log is {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.01)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop cleanly with the server's stop signal; kill it if it does not exit in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

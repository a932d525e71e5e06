"""The run's history: every action and every fault as one JSON line, written as it happens.

An action line: ``{"type": "action", "id", "kind", "via", "user", "game", "command_id", "t0",
"t1", "answer": {...}}`` where ``answer`` is what the person saw: ``{"type": "reply", "text"}``
(the ephemeral Discord answer), ``{"type": "http", "status", "code", "result"}`` (the API),
or ``{"type": "silence"}`` / ``{"type": "unreachable", "error"}``.
A fault line: ``{"type": "fault", "kind", "t0", "t1", "recovered", "detail"}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class History:
    """Appends lines to ``path`` (flushed per line, so a crashed run keeps what happened)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._next = 0

    def action(self, **fields: Any) -> dict[str, Any]:
        self._next += 1
        line = {"type": "action", "id": self._next, **fields}
        self.write(line)
        return line

    def fault(self, **fields: Any) -> None:
        self.write({"type": "fault", **fields})

    def write(self, line: dict[str, Any]) -> None:
        self._file.write(json.dumps(line, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_history(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def now() -> float:
    return time.time()

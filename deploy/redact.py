"""Secrets kept out of what Muster prints and logs.

Every URL shown to a person goes through :func:`masked`; every message that leaves the CLI (errors,
log lines, ``--debug`` tracebacks) goes through :func:`redacted`, which masks the password of any
URL in the text, ``password=...`` pairs of libpq strings, and the known secrets it is given (the
bot token). Files that must hold secrets (``endpoints.json``, the servers' configuration) are
mode 600 instead.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

MASK = "***"
# scheme://user:password@  (the user may be empty, as in redis://:password@host)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def masked(url: str) -> str:
    """A URL fit to print: any password replaced by ``***``."""
    return _URL_PASSWORD.sub(rf"\g<head>{MASK}@", url)


def redacted(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL passwords, ``password=`` values and each of ``secrets`` masked."""
    text = _KEYWORD_PASSWORD.sub(rf"\g<head>{MASK}", masked(text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """A log formatter whose output (message and traceback) is :func:`redacted`."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        return redacted(super().format(record), self.secrets)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (tests replace it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(level: int, secrets: Iterable[str] = ()) -> None:
    """Log to stderr through a :class:`RedactingFormatter` (replacing an earlier call's)."""
    handler = _StderrHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", secrets)
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old.formatter, RedactingFormatter):  # ours, from an earlier call
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)

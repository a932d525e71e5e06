"""The opt-in malloc_trim thread: off by default, refuses a bad interval, trims when asked."""

from __future__ import annotations

import threading

import pytest

from deploy import malloc_trim


def _trimmers() -> int:
    return sum(thread.name == "malloc-trim" for thread in threading.enumerate())


def test_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUSTER_MALLOC_TRIM_EVERY", raising=False)
    before = _trimmers()
    assert malloc_trim.start_if_asked() is False
    assert _trimmers() == before


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_a_bad_or_empty_interval_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    monkeypatch.setenv("MUSTER_MALLOC_TRIM_EVERY", value)
    before = _trimmers()
    assert malloc_trim.start_if_asked() is False
    assert _trimmers() == before
    assert ("not a number" in caplog.text) == (value == "soon")


def test_glibc_trim_runs_here() -> None:
    trim = malloc_trim.glibc_trim()
    assert trim is not None  # the machine's Python is linked against glibc
    assert trim() in (0, 1)  # 1: memory was released, 0: there was none to release


def test_asked_it_starts_a_daemon_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSTER_MALLOC_TRIM_EVERY", "3600")
    before = _trimmers()
    assert malloc_trim.start_if_asked() is True
    assert _trimmers() == before + 1
    assert all(t.daemon for t in threading.enumerate() if t.name == "malloc-trim")

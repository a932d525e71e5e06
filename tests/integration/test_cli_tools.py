"""`muster audit` against a real NATS: a missing stream is said in words, not as a raw reply."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from deploy import cli

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_audit_says_when_there_is_no_log_yet(
    nats_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = f"NONE_{uuid.uuid4().hex[:8].upper()}"
    monkeypatch.setenv("MUSTER_NATS_URL", nats_url)
    monkeypatch.setenv("MUSTER_EVENTS_STREAM", stream)
    monkeypatch.delenv("MUSTER_DATABASE_URL", raising=False)  # audit does not need it
    code = cli.main(["audit", f"game.{uuid.uuid4()}"])
    out = capsys.readouterr()
    assert code == 1
    assert out.err.strip() == (
        f"muster audit: there is no event log yet: the stream {stream} does not exist on this "
        "NATS server (`muster up` creates it on first start)"
    )

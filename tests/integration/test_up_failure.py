"""`muster up` ends with a non-zero exit naming the service that died, its traceback logged."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest

from deploy import up
from deploy.settings import Settings
from deploy.supervise import Service, supervise

pytestmark = pytest.mark.integration


async def services_with_a_dying_bot(
    settings: Settings, urls: dict[str, str], stop: asyncio.Event, command_workers: int = 0
) -> None:
    async def steady(stop: asyncio.Event) -> None:
        await stop.wait()

    async def bot(stop: asyncio.Event) -> None:
        raise RuntimeError("gateway refused the token")

    await supervise([Service("read models", steady), Service("bot", bot, restart=False)], stop)


def test_a_dead_service_stops_muster_up_with_exit_1_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    nats_url: str,
    database_url: str,
    redis_url: str,
) -> None:
    monkeypatch.setattr(up, "run_services", services_with_a_dying_bot)
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        redis_url=redis_url,
        sandbox_port=0,
        web_port=0,
    )
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with caplog.at_level(logging.ERROR, logger="muster.supervise"):
            code = up.run_up(settings, data_dir=tmp_path)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "muster up: the bot service failed (RuntimeError: gateway refused the token); "
        "stopping everything"
    ) in out
    assert out.rstrip().endswith("Stopped.")
    (failure,) = [r for r in caplog.records if r.getMessage() == "service bot failed"]
    assert failure.exc_info is not None
    assert failure.exc_info[0] is RuntimeError

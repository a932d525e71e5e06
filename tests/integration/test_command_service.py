"""The command service: entry points' CommandPort over NATS request-reply to command workers
that own a partition of the games each (``MUSTER_COMMANDS=nats``), on a real JetStream log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from deploy.bootstrap import Container
from deploy.settings import Settings
from domain.commands import JoinGame
from domain.errors import GameNotFound
from domain.ports import CommandPort
from gateways.command_service import (
    CommandTimeout,
    CommandUnavailable,
    CommandWorker,
    NatsCommands,
    partition_of,
)
from tests.contracts.command_port import CommandPortContract, create, join
from tests.unit.domain.scenario import GAME

pytestmark = pytest.mark.integration


def settings_of(env: dict[str, str], **more: object) -> Settings:
    return Settings(
        events_stream=env["MUSTER_EVENTS_STREAM"],
        events_subject_prefix=env["MUSTER_EVENTS_SUBJECT_PREFIX"],
        command_subject=f"cmd{env['MUSTER_EVENTS_SUBJECT_PREFIX']}",
        **more,  # type: ignore[arg-type]
    )


def urls_of(env: dict[str, str], database_url: str, redis_url: str) -> dict[str, str]:
    return {"nats": env["MUSTER_NATS_URL"], "postgres": database_url, "redis": redis_url}


async def start_worker(
    stack: AsyncExitStack, settings: Settings, urls: dict[str, str], workers: int, k: int
) -> CommandWorker:
    """A worker with its own container (its own app and connections, as a process has)."""
    container = await stack.enter_async_context(Container.open(settings, urls))
    port = await asyncio.to_thread(lambda: container.local_commands)
    worker = CommandWorker(
        await container.nats(), port, prefix=settings.command_subject, workers=workers,
        partitions=[k],
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))

    async def halt() -> None:
        stop.set()
        await task

    stack.push_async_callback(halt)
    await worker.serving.wait()
    return worker


class TestNatsCommandService(CommandPortContract):
    """The same contract as the in-process port: through the composition root, two workers."""

    @pytest.fixture
    async def port(
        self, event_log_env: dict[str, str], database_url: str, redis_url: str
    ) -> AsyncIterator[CommandPort]:
        urls = urls_of(event_log_env, database_url, redis_url)
        async with AsyncExitStack() as stack:
            for k in range(2):
                await start_worker(stack, settings_of(event_log_env), urls, 2, k)
            client = settings_of(event_log_env, commands="nats", command_workers=2)
            container = await stack.enter_async_context(Container.open(client, urls))
            assert isinstance(container.commands, NatsCommands)
            yield container.commands


async def test_a_game_is_written_by_its_partition_only(
    event_log_env: dict[str, str], database_url: str, redis_url: str
) -> None:
    urls = urls_of(event_log_env, database_url, redis_url)
    async with AsyncExitStack() as stack:
        workers = [
            await start_worker(stack, settings_of(event_log_env), urls, 2, k) for k in range(2)
        ]
        client = settings_of(event_log_env, commands="nats", command_workers=2)
        port = (await stack.enter_async_context(Container.open(client, urls))).commands
        await port.send(create(max_players=2))
        outcomes = await asyncio.gather(*(port.send(join(str(300 + i))) for i in range(12)))
        owner = partition_of(f"game.{GAME}", 2)
        assert [o.result for o in outcomes].count("joined") == 2
        assert (workers[owner].handled, workers[1 - owner].handled) == (13, 0)
        with pytest.raises(GameNotFound):  # a refusal crosses as the domain's own type
            await port.send(JoinGame(command_id="x", user_id="1", game_id=GAME[::-1]))


async def test_no_worker_is_a_clear_error_after_the_timeout(
    event_log_env: dict[str, str], database_url: str, redis_url: str
) -> None:
    urls = urls_of(event_log_env, database_url, redis_url)
    async with AsyncExitStack() as stack:
        await start_worker(stack, settings_of(event_log_env), urls, 2, 0)
        await start_worker(stack, settings_of(event_log_env), urls, 2, 1)
        # a caller that thinks there are 3 partitions meets nobody (never a second writer)
        wrong = settings_of(event_log_env, commands="nats", command_workers=3, command_timeout=0.3)
        port = (await stack.enter_async_context(Container.open(wrong, urls))).commands
        with pytest.raises(CommandUnavailable, match="MUSTER_COMMAND_WORKERS") as raised:
            await port.send(create())
        assert "nothing was stored" in str(raised.value)


async def test_a_worker_that_does_not_answer_is_a_timeout_that_says_a_retry_is_safe(
    event_log_env: dict[str, str], database_url: str, redis_url: str
) -> None:
    urls = urls_of(event_log_env, database_url, redis_url)
    settings = settings_of(event_log_env, commands="nats", command_timeout=0.3)
    async with Container.open(settings, urls) as container:
        nc = await container.nats()
        taken: list[bytes] = []

        async def swallow(msg: object) -> None:
            taken.append(msg.data)  # type: ignore[attr-defined]

        await nc.subscribe(f"{settings.command_subject}.1.0", cb=swallow)
        await nc.flush()
        with pytest.raises(CommandTimeout, match="same command_id is safe"):
            await container.commands.send(create())
        assert len(taken) == 1


async def test_doctor_names_the_partitions_no_worker_serves(
    event_log_env: dict[str, str], database_url: str, redis_url: str
) -> None:
    from deploy.doctor import check_commands

    urls = urls_of(event_log_env, database_url, redis_url)
    async with AsyncExitStack() as stack:
        await start_worker(stack, settings_of(event_log_env), urls, 3, 1)
        settings = settings_of(
            event_log_env, commands="nats", command_workers=3, nats_url=urls["nats"]
        )
        check = await asyncio.to_thread(check_commands, settings)
        assert check.problem == "no command worker answers for partition(s) 0, 2"
        assert "muster commands --workers 3 --worker 0" in check.fix
        await start_worker(stack, settings_of(event_log_env), urls, 3, 0)
        await start_worker(stack, settings_of(event_log_env), urls, 3, 2)
        check = await asyncio.to_thread(check_commands, settings)
        assert (check.problem, check.detail.endswith("every partition answers")) == ("", True)
    local = await asyncio.to_thread(check_commands, settings_of(event_log_env))
    assert local.problem == ""

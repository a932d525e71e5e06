"""The external worker bounds deliveries and dead-letters every kind of failure, with the reason."""

from __future__ import annotations

import socket

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateways.discord import Body, DiscordRest, ExternalOutbound, OutboundError
from gateways.discord.external import ensure_streams
from gateways.discord.metrics import Metrics
from tests.integration.discord_rest.conftest import (
    CREATE_ROUTE,
    MakeConfig,
    Stage,
    drop_ops_streams,
    ops_config,
    running_worker,
)
from tests.integration.discord_rest.test_external import dead_letters

pytestmark = pytest.mark.integration


def unreachable_redis() -> Redis:
    """A client for a port nobody listens on: every command fails with a Redis error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return Redis(host="127.0.0.1", port=port, retry=Retry(NoBackoff(), 0))


async def test_a_redis_failure_is_retried_then_dead_lettered(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    config = ops_config(make_config, outbound="external", max_attempts=2, reply_timeout=20.0)
    await ensure_streams(nc, config)
    # A consumer left by an older worker, without a delivery limit: the worker updates it.
    await nc.jetstream().add_consumer(
        config.ops_stream,
        ConsumerConfig(
            durable_name="workers",
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=f"{config.ops_prefix}.>",
        ),
    )
    broken = unreachable_redis()
    try:
        async with (
            running_worker(config, broken, nc) as worker,
            DiscordRest(config, redis, metrics=Metrics()) as rest,
        ):
            out = await ExternalOutbound(rest, nc).start()
            with pytest.raises(OutboundError) as caught:
                await out.send_message(stage.games.id, Body(content="never"))
            await out.close()
            info = await nc.jetstream().consumer_info(config.ops_stream, "workers")
            assert info.config.max_deliver == 2
            assert worker.metrics.value("muster_discord_dead_letters_total", op="send") == 1
        assert "ConnectionError" in caught.value.reason
        assert stage.emu.requests.count(CREATE_ROUTE) == 0
        [headers] = await dead_letters(nc, f"{config.ops_stream}_DEAD", f"{config.dead_prefix}.>")
        assert "ConnectionError" in headers["Muster-Error"]
        assert headers["Muster-Attempts"] == "2"
        stream = await nc.jetstream().stream_info(config.ops_stream)
        assert stream.state.messages == 0  # settled, not waiting for another delivery
    finally:
        await broken.aclose()
        await drop_ops_streams(nc, config)

"""External mode specifics: retries across deliveries, dead letters, replies, queue depth."""

from __future__ import annotations

import asyncio

import pytest
from discord.http import Route
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from gateways.discord import Body, DiscordRest, ExternalOutbound, OutboundError, OutboundTimeout
from gateways.discord.external import ensure_streams
from gateways.discord.metrics import Metrics
from gateways.discord.outbound import patient
from tests.integration.discord_rest.conftest import (
    CREATE_ROUTE,
    MakeConfig,
    Stage,
    drop_ops_streams,
    ops_config,
    running_worker,
)

pytestmark = pytest.mark.integration


async def dead_letters(nc: NATS, stream: str, subject: str) -> list[dict[str, str]]:
    sub = await nc.jetstream().pull_subscribe(subject, stream=stream)
    try:
        msgs = await sub.fetch(10, timeout=2)
    finally:
        await sub.unsubscribe()
    return [dict(m.headers or {}) for m in msgs]


async def test_failures_are_retried_then_dead_lettered(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    # One retry per delivery keeps the creates within the channel's 5 per 5 s.
    config = ops_config(
        make_config, outbound="external", max_attempts=2, max_retries=1, ack_wait=5.0
    )
    stage.emu.faults.server_errors(CREATE_ROUTE, count=100, status=503)
    await ensure_streams(nc, config)
    try:
        async with (
            running_worker(config, redis, nc) as worker,
            DiscordRest(config, redis, metrics=Metrics()) as rest,
        ):
            out = await ExternalOutbound(rest, nc).start()
            with pytest.raises(OutboundError) as caught:
                await out.send_message(stage.games.id, Body(content="never"))
            await out.close()
            assert worker.metrics.value("muster_discord_dead_letters_total", op="send") == 1
            assert (
                worker.metrics.value(
                    "muster_discord_operations_total", mode="external", op="send", outcome="retried"
                )
                == 1
            )
        assert caught.value.reason.startswith("Discord returned 503")
        # Two deliveries, each one try and one retry.
        assert stage.emu.requests.count(CREATE_ROUTE) == 4
        [headers] = await dead_letters(nc, f"{config.ops_stream}_DEAD", f"{config.dead_prefix}.>")
        assert headers["Muster-Error"].startswith("Discord returned 503")
        assert headers["Muster-Attempts"] == "2"
    finally:
        await drop_ops_streams(nc, config)


async def test_a_refused_operation_is_dead_lettered_at_once(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    config = ops_config(make_config, outbound="external")
    await ensure_streams(nc, config)
    try:
        async with (
            running_worker(config, redis, nc),
            DiscordRest(config, redis, metrics=Metrics()) as rest,
        ):
            out = await ExternalOutbound(rest, nc).start()
            with pytest.raises(OutboundError) as caught:
                await out.send_message(stage.games.id, Body(content="x" * 2001))
            await out.close()
        assert caught.value.status == 400
        assert stage.emu.requests.count(CREATE_ROUTE) == 1
        [headers] = await dead_letters(nc, f"{config.ops_stream}_DEAD", f"{config.dead_prefix}.>")
        assert headers["Muster-Attempts"] == "1"
        assert "400" in headers["Muster-Error"]
    finally:
        await drop_ops_streams(nc, config)


async def test_no_worker_means_a_timeout_not_a_hang(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    config = ops_config(make_config, outbound="external", reply_timeout=0.3)
    try:
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            out = await ExternalOutbound(rest, nc).start()
            with pytest.raises(OutboundTimeout):
                await out.send_message(stage.games.id, Body(content="later"))
            await out.close()
        info = await nc.jetstream().stream_info(config.ops_stream)
        assert info.state.messages == 1  # still queued for a worker
    finally:
        await drop_ops_streams(nc, config)


async def test_a_patient_caller_waits_for_a_late_reply_and_nothing_is_queued_twice(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    """Inside ``patient`` a reply past the reply timeout is no failure: the caller keeps
    waiting (counted as late) and gets the worker's result once a worker carries it out."""
    config = ops_config(make_config, outbound="external", reply_timeout=0.05)
    await ensure_streams(nc, config)
    try:
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            out = await ExternalOutbound(rest, nc).start()
            with patient(60):
                sending = asyncio.create_task(
                    out.send_message(stage.games.id, Body(content="late"))
                )
            await out.went_late.wait()  # no worker yet: past the reply timeout, still waiting
            assert not sending.done()
            assert (out.late_replies, out.waiting_late) == (1, 1)
            async with running_worker(config, redis, nc):
                sent = await sending
            await out.close()
        assert sent is not None
        assert [m["id"] for m in stage.emu.channel_messages(stage.games)] == [sent["id"]]
        assert stage.emu.requests.count(CREATE_ROUTE) == 1
        assert out.waiting_late == 0
    finally:
        await drop_ops_streams(nc, config)


async def test_patience_has_an_end(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    config = ops_config(make_config, outbound="external", reply_timeout=0.05)
    try:
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            out = await ExternalOutbound(rest, nc).start()
            with patient(0.1), pytest.raises(OutboundTimeout):
                await out.send_message(stage.games.id, Body(content="never answered"))
            await out.close()
        assert (out.late_replies, out.waiting_late) == (1, 0)
    finally:
        await drop_ops_streams(nc, config)


async def test_queued_edits_hold_no_slot_of_their_channel(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    """Fault-run finding: the publisher took each edit's channel slot before queueing it, and
    the slot counted as in flight until a worker answered. With the queue behind, queued edits
    held the channel's whole budget, so the worker's own requests in that channel (posts,
    retries after a 5xx or a 429) found no turn, timed out and waited a redelivery. The worker
    takes the turn when it runs the edit; queueing takes none."""
    config = ops_config(
        make_config, outbound="external", reply_timeout=0.2, turn_wait=0.2, edit_spacing=0.0
    )
    channel = stage.games.id
    try:
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            out = await ExternalOutbound(rest, nc).start()
            for n in range(6):  # six messages, more than the channel's 5 writes per 5 s
                await out.edit_message(channel, str(1000 + n), Body(content=f"edit {n}"))
            await out.flush()  # every edit queued (no worker: each reply times out)
            await out.close()
            assert await redis.zcard(rest.keys.budget(f"channel:{channel}")) == 0
            turn = await rest.http.admit(Route("POST", "/channels/{channel_id}/messages",
                                               channel_id=channel))  # fmt: skip
            assert turn.waited == 0  # a worker's post goes at once
        info = await nc.jetstream().stream_info(config.ops_stream)
        assert info.state.messages == 6
    finally:
        await drop_ops_streams(nc, config)


async def test_a_late_reply_is_not_waited_for_once_nats_has_reconnected(
    stage: Stage, redis: Redis, nc: NATS, make_config: MakeConfig
) -> None:
    """Fault-run finding: a worker's reply is a plain NATS message, so one sent while the
    caller's connection was away (NATS restarted) is lost, and a patient caller waited the
    whole patience (10 minutes for the projection) for it. Once the connection has reconnected
    since the publish, a late reply is given up for, and the caller redoes the operation."""
    config = ops_config(make_config, outbound="external", reply_timeout=0.05)
    try:
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            out = await ExternalOutbound(rest, nc).start()
            with patient(600):
                sending = asyncio.create_task(out.send_message(stage.games.id, Body(content="x")))
            await out.went_late.wait()  # no worker: late, and still waiting
            nc.stats["reconnects"] += 1  # what a reconnect of the connection counts
            async with asyncio.timeout(10):  # not the patience's 600 s
                with pytest.raises(OutboundTimeout):
                    await sending
            await out.close()
        assert (out.late_replies, out.waiting_late) == (1, 0)
    finally:
        await drop_ops_streams(nc, config)

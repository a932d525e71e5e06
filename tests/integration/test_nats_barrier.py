"""``subscriptions_in_place``: after it, another connection's publishes reach new subscriptions."""

from __future__ import annotations

import asyncio

import nats
import pytest

from gateways.jetstream.barrier import subscriptions_in_place

pytestmark = pytest.mark.integration


async def test_another_connections_messages_reach_a_subscription_once_in_place(
    nats_url: str,
) -> None:
    subscriber = await nats.connect(nats_url)
    publisher = await nats.connect(nats_url)
    try:
        for round_ in range(30):
            got: asyncio.Queue[bytes] = asyncio.Queue()

            async def on_message(msg: nats.aio.msg.Msg, into: asyncio.Queue[bytes] = got) -> None:
                await into.put(msg.data)

            sub = await subscriber.subscribe(f"barrier.{round_}", cb=on_message)
            await subscriptions_in_place(subscriber)
            await publisher.publish(f"barrier.{round_}", b"x")
            await publisher.flush()
            assert await asyncio.wait_for(got.get(), 5) == b"x"
            await sub.unsubscribe()
    finally:
        await publisher.close()
        await subscriber.close()

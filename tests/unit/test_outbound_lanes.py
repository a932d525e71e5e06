"""A lane of the in-process outbound mode keeps working when a caller gives up waiting."""

from __future__ import annotations

import asyncio

from gateways.discord.outbound import Lanes


async def test_a_caller_who_gives_up_does_not_stop_the_lane() -> None:
    lanes = Lanes(capacity=10)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "slow"

    async def fast() -> str:
        return "fast"

    first = await lanes.run("channel:1", slow)
    second = await lanes.run("channel:1", fast)
    await asyncio.sleep(0)  # the lane's worker starts the slow operation
    first.cancel()  # the caller was cancelled while its operation ran
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.wait_for(second, 1) == "fast"
    third = await lanes.run("channel:1", fast)
    assert await asyncio.wait_for(third, 1) == "fast"
    await lanes.close()

"""A command worker's turns: commands on one game in arrival order, other games not held up."""

from __future__ import annotations

import asyncio

from gateways.command_service.worker import Turns


async def test_one_key_in_arrival_order_others_meanwhile_and_nothing_kept() -> None:
    turns = Turns()
    order: list[str] = []
    release = asyncio.Event()

    async def hold(key: str, name: str) -> None:
        async with turns.turn(key):
            order.append(name)
            if name == "a1":
                await release.wait()

    first = asyncio.create_task(hold("a", "a1"))
    await asyncio.sleep(0)  # a1 holds game a
    waiting = [asyncio.create_task(hold("a", f"a{n}")) for n in (2, 3, 4)]
    await hold("b", "b1")  # another game is not held up by a's queue
    assert order == ["a1", "b1"]
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["a1", "b1", "a2", "a3", "a4"]
    assert len(turns) == 0

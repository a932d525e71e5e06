"""The NATS bridge's cross-thread call: the caller is woken once, whatever way the call ends."""

from __future__ import annotations

import asyncio

import pytest

from gateways.jetstream.bridge import _Call


async def _value() -> int:
    await asyncio.sleep(0)
    return 7


async def _fails() -> int:
    await asyncio.sleep(0)
    raise ValueError("no")


async def _forever() -> int:
    await asyncio.Event().wait()
    return 0


def _started(make: object) -> tuple[asyncio.AbstractEventLoop, _Call[int]]:
    loop = asyncio.new_event_loop()
    call: _Call[int] = _Call(make)  # type: ignore[arg-type]
    call.start(loop)
    return loop, call


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    for _ in range(5):
        loop.run_until_complete(asyncio.sleep(0))


def _one_turn(loop: asyncio.AbstractEventLoop) -> None:
    """One iteration of the loop (``stop`` asked before ``run_forever``: it runs once)."""
    loop.call_soon(loop.stop)
    loop.run_forever()


def test_the_caller_is_woken_in_the_turn_the_call_ends() -> None:
    loop, call = _started(_value)
    task = call._task
    assert task is not None
    while not task.done():
        assert call.done.locked()
        _one_turn(loop)
    assert not call.done.locked()  # not a turn later, by a done callback
    assert call.outcome() == 7
    loop.close()


def test_an_error_is_the_callers() -> None:
    loop, call = _started(_fails)
    _settle(loop)
    assert call.done.acquire(timeout=1)
    with pytest.raises(ValueError, match="no"):
        call.outcome()
    loop.close()


@pytest.mark.parametrize("began", [False, True])
def test_a_cancelled_call_wakes_the_caller_once(began: bool) -> None:
    loop, call = _started(_forever)
    if began:
        _settle(loop)  # now waiting inside the call
    call.cancel()
    _settle(loop)
    assert call.done.acquire(timeout=1)
    assert not call.done.acquire(blocking=False)  # released once, not twice
    with pytest.raises(asyncio.CancelledError):
        call.outcome()
    loop.close()

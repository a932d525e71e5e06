"""The appends' answers taken from the frame (``RawAcks``) say what nats-py's ``request`` says:
the body, "no responders", or a timeout; a late answer to a request given up on is dropped."""

from __future__ import annotations

import asyncio
import uuid

import nats
import pytest

from gateways.jetstream.bridge import NatsBridge
from gateways.jetstream.wire import Acks, RawAcks

pytestmark = pytest.mark.integration


@pytest.fixture
def bridge(nats_url: str) -> NatsBridge:
    bridge = NatsBridge(nats_url)
    yield bridge  # type: ignore[misc]
    bridge.close()


def test_the_bridge_takes_answers_raw(bridge: NatsBridge) -> None:
    async def acks() -> Acks:
        from gateways.jetstream.layout import Layout
        from gateways.jetstream.wire import Wire

        return Wire(bridge.nc, Layout(), 1.0)._acks

    assert isinstance(bridge.run(acks), RawAcks)


def test_answers_no_responders_and_timeouts_as_nats_py(bridge: NatsBridge) -> None:
    subject = f"muster.test.acks.{uuid.uuid4().hex[:8]}"

    async def scenario() -> dict[str, object]:
        nc = bridge.nc
        raw, plain = RawAcks(nc), Acks(nc)  # type: ignore[arg-type]
        release = asyncio.get_running_loop().create_future()

        pending: set[asyncio.Task[None]] = set()

        async def respond(msg: nats.aio.msg.Msg) -> None:
            if msg.data == b"slow":
                await release  # answered only after the requester gave up
            await msg.respond(
                b"ack:" + msg.data + b":" + (msg.headers or {})["Muster-Test"].encode()
            )

        async def answer(msg: nats.aio.msg.Msg) -> None:
            task = asyncio.create_task(respond(msg))
            pending.add(task)
            task.add_done_callback(pending.discard)

        sub = await nc.subscribe(f"{subject}.up", cb=answer)
        await nc.flush()
        found: dict[str, object] = {}
        for name, acks in (("raw", raw), ("plain", plain)):
            found[f"{name} body"] = await acks.request(
                f"{subject}.up", b"x", {"Muster-Test": name}, 2.0
            )
            for case, target, data in (("nobody", f"{subject}.down", b"x"),
                                       ("slow", f"{subject}.up", b"slow")):  # fmt: skip
                try:
                    await acks.request(target, data, {"Muster-Test": name}, 0.3)
                except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as error:
                    found[f"{name} {case}"] = type(error).__name__
        release.set_result(None)
        await asyncio.gather(*pending)  # the slow answers arrive now, to requests given up on
        found["raw after"] = await raw.request(f"{subject}.up", b"y", {"Muster-Test": "raw"}, 2.0)
        found["raw waiting"] = len(raw._waiting)
        await sub.unsubscribe()
        return found

    found = bridge.run(scenario, timeout=10)
    assert found == {
        "raw body": b"ack:x:raw",
        "plain body": b"ack:x:plain",
        "raw nobody": "NoRespondersError",
        "plain nobody": "NoRespondersError",
        "raw slow": "TimeoutError",
        "plain slow": "TimeoutError",
        "raw after": b"ack:y:raw",
        "raw waiting": 0,
    }

"""Muster's NATS client hands a raw subscription what nats-py hands an ordinary one (the header
block read with ``parse_headers``)."""

from __future__ import annotations

import asyncio

import nats
import pytest

from gateways.jetstream import headers

pytestmark = pytest.mark.integration


async def test_a_raw_subscription_sees_what_an_ordinary_one_sees(nats_url: str) -> None:
    client = await headers.connect(nats_url)
    publisher = await nats.connect(nats_url)
    raw: list[tuple[bytes, bytes, bytes, bytes | None]] = []
    ordinary: asyncio.Queue[nats.aio.msg.Msg] = asyncio.Queue()
    try:
        sub = await client.subscribe_raw("raw.test", lambda *frame: raw.append(frame))
        await client.subscribe("raw.test", cb=ordinary.put)
        # nats-py's flush() writes its PING ahead of commands still pending (the SUBs), so it is
        # no barrier for another connection's publishes; a message of this connection's own,
        # sent after its SUBs, is: once both subscriptions have it, the server has both.
        await client.publish("raw.test", b"ready")
        await asyncio.wait_for(ordinary.get(), 5)
        await client.flush()
        assert [frame[2] for frame in raw] == [b"ready"]
        raw.clear()
        sent = [
            (b"plain", None),
            (b"", {"Muster-Topic": "game.player_joined.v1", "Nats-Msg-Id": "a:1"}),
            (b"x" * 70_000, {"A": " padded ", "B": "\u00e9"}),
        ]
        for body, extra in sent:
            await publisher.publish("raw.test", body, reply="reply.to", headers=extra)
        await publisher.flush()
        got = [await asyncio.wait_for(ordinary.get(), 5) for _ in sent]
        await client.flush()
        assert [(s.decode(), r.decode(), d, headers.parse_headers(h)) for s, r, d, h in raw] == [
            (m.subject, m.reply, m.data, m.headers or {}) for m in got
        ]
        await sub.unsubscribe()
        await publisher.publish("raw.test", b"after")
        await publisher.flush()
        await asyncio.wait_for(ordinary.get(), 5)
        await client.flush()
        assert len(raw) == len(sent)  # nothing after unsubscribing
        assert not client._raw_handlers
    finally:
        await publisher.close()
        await client.close()

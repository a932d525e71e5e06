"""The feed asks for the next messages before the last pull is used up (no gap while it waits)."""

from __future__ import annotations

import asyncio
from typing import Any

from gateways.jetstream.layout import Layout, event_headers
from projections.feed import PULL, LogFeed


class Publisher:
    """The one thing the pull loop does with its connection: publish pull requests."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    async def publish(self, subject: str, data: bytes, reply: str = "") -> None:
        self.requests.append(data)


def delivery(feed: LogFeed, seq: int) -> tuple[bytes, bytes, bytes, bytes]:
    headers = event_headers("game.player_joined.v1", seq)
    block = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    subject = feed.layout.subject_for("game.00000000-0000-4000-8000-000000000001")
    reply = f"$JS.ACK.S.c.1.{seq}.{seq}.1700000000000000000.0"
    return subject.encode(), reply.encode(), b"{}", block.encode()


async def turns() -> None:
    """Let the pull loop run until it waits again (a few turns of the event loop)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_the_next_pull_goes_out_while_the_last_one_still_delivers() -> None:
    nc: Any = Publisher()
    feed = LogFeed(nc, Layout("S", "events"), after=0)
    feed._consumer = "c"
    puller = asyncio.create_task(feed._pull_forever())
    try:
        await turns()  # the loop's first pull
        assert len(nc.requests) == 1
        half = PULL // 2
        for seq in range(1, half + 1):
            feed._on_raw(*delivery(feed, seq))
        await turns()  # the loop wakes
        assert len(nc.requests) == 2  # while half of the first is still to come
        assert len(await feed.next_batch(timeout=0)) == half
    finally:
        feed._stopped = True
        puller.cancel()


def test_each_delivery_is_read_at_the_sequence_stream_sequence_reads() -> None:
    """The feed remembers the reply subjects' first tokens; a reply of another consumer, of
    the other layout or not a delivery at all is read the long way, as before."""
    feed = LogFeed(Publisher(), Layout("S", "events"), after=0)  # type: ignore[arg-type]
    subject, _, data, block = delivery(feed, 1)
    replies = [
        b"$JS.ACK.S.c.1.1.1.1700000000000000000.0",
        b"$JS.ACK.S.c.1.2.2.1700000000000000000.0",
        b"$JS.ACK.S.other.1.3.3.1700000000000000000.0",  # another consumer: learnt anew
        b"$JS.ACK.S.other.1.x4.4.1700000000000000000.0",  # no number: not a delivery
        b"$JS.ACK.S.other.1.4.4.1700000000000000000",  # 8 tokens: not a delivery
        b"$JS.ACK.S.other.1.4.4.1700000000000000000.0.extra",  # 10 tokens: not one either
        b"$JS.ACK.domain.hash.S.other.1.4.4.1700000000000000000.0.token",  # the 12-token layout
        b"$JS.ACK.S.other.1.5.5.1700000000000000000.0",
        b"_INBOX.S.other.1.6.6.1700000000000000000.0",  # not a delivery
    ]
    for reply in replies:
        feed._on_raw(subject, reply, data, block)
    assert [m.seq for m in feed._ready] == [1, 2, 3, 4, 5]

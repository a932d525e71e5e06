"""The faster header parser returns what nats-py's own returns, for any header block."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from gateways.jetstream import headers as headers_module
from gateways.jetstream.headers import Client, parse_header_lines, parse_headers
from projections.feed import stream_sequence

# names and values from bytes that matter to the parser: separators, every kind of ASCII and
# Unicode whitespace, non-ASCII and invalid UTF-8
pieces = st.sampled_from(
    [b"Muster-Topic", b"Nats-Msg-Id", b":", b": ", b" ", b"\t", b"\x0b", b"\x0c", b"\x1c",
     b"\x1f", b"\x85", b"\xc2\xa0", b"\xe2\x80\x83", b"\xff", b"a", b"Z", b"9", b"-", b"\r",
     b"\n", b"game.player_joined.v1", b"\xc3\xa9"]
)  # fmt: skip
lines = st.lists(pieces, max_size=8).map(b"".join)
blocks = st.lists(lines, max_size=8).map(lambda ls: b"\r\n".join(ls) + b"\r\n\r\n")


@given(block=blocks)
def test_same_headers_as_nats_py_for_any_block(block: bytes) -> None:
    assert parse_header_lines(block) == NatsClient._parse_header_lines(block)


@given(raw=st.binary(max_size=200))
def test_same_headers_as_nats_py_for_any_bytes(raw: bytes) -> None:
    assert parse_header_lines(raw) == NatsClient._parse_header_lines(raw)


def test_every_single_character_name_is_judged_alike() -> None:
    for code in range(0x80):
        block = bytes([code]) + b"x: 1\r\n"
        assert parse_header_lines(block) == NatsClient._parse_header_lines(block), code


def test_the_client_uses_it() -> None:
    assert Client._parse_header_lines is parse_header_lines


def test_the_stream_sequence_is_read_from_both_ack_layouts() -> None:
    v1 = "$JS.ACK.EVENTS.c1.1.4711.12.1700000000000000000.3"
    v2 = "$JS.ACK.hub.ACCHASH.EVENTS.c1.1.4711.12.1700000000000000000.3.rnd"
    assert stream_sequence(v1) == Msg.Metadata._from_reply(v1).sequence.stream == 4711
    assert stream_sequence(v2) == Msg.Metadata._from_reply(v2).sequence.stream == 4711
    for other in ("", "_INBOX.abc", "$JS.ACK.too.short"):
        with pytest.raises(ValueError, match="not a JetStream delivery"):
            stream_sequence(other)


@given(block=blocks)
def test_a_whole_plain_block_reads_as_its_lines(block: bytes) -> None:
    assert parse_headers(b"NATS/1.0\r\n" + block) == NatsClient._parse_header_lines(block)


async def test_inline_statuses_read_as_nats_py_reads_them() -> None:
    client = NatsClient()
    for block in (
        b"NATS/1.0 404 No Messages\r\n\r\n",
        b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1000\r\n\r\n",
        b"NATS/1.0 409 Consumer Deleted\r\n\r\n",
        b"NATS/1.0 503\r\n\r\n",
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 16\r\nNats-Last-Stream: 24\r\n\r\n",
    ):
        assert parse_headers(block) == await client._process_headers(block), block
    assert parse_headers(None) == parse_headers(b"") == {}


def test_remembered_lines_read_as_before_and_stay_few() -> None:
    block = b"Muster-Topic: game.created.v1\r\nNats-Msg-Id: %d\r\n\r\n"
    for n in range(3 * headers_module._LINES_KEPT):
        assert parse_header_lines(block % n) == NatsClient._parse_header_lines(block % n)
        assert len(headers_module._LINES) <= headers_module._LINES_KEPT
    assert block.split(b"\r\n")[0] in headers_module._LINES

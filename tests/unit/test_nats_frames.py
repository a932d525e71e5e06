"""The fast frame parser dispatches what nats-py's parser dispatches, for bytes cut anywhere."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nats.errors import ProtocolError
from nats.protocol.parser import Parser

from gateways.jetstream.frames import FrameParser, read_control_line
from gateways.jetstream.headers import Client

RAW_SID = 7  # a raw subscription's sid; every other sid is an ordinary subscription


class Recorder:
    """The parts of a client a parser calls, recording what it is handed."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self.stats = {"in_msgs": 0, "in_bytes": 0}
        self._raw_handlers = {RAW_SID: lambda *frame: self.seen.append(("msg", RAW_SID, *frame))}

    async def _process_msg(self, sid: int, *frame: Any) -> None:
        if sid == RAW_SID:  # what Muster's client does with a raw subscription's message
            self.stats["in_msgs"] += 1
            self.stats["in_bytes"] += len(frame[2])
        self.seen.append(("msg", sid, *frame))

    async def _process_ping(self) -> None:
        self.seen.append(("ping",))

    async def _process_pong(self) -> None:
        self.seen.append(("pong",))

    async def _process_info(self, info: Any) -> None:
        self.seen.append(("info", info))

    async def _process_err(self, err: str) -> None:
        self.seen.append(("err", err))


tokens = st.sampled_from(["a", "_INBOX.x1", "$JS.ACK.S.c.1.42.42.1700.0", "muster.game.g-1"])
bodies = st.binary(max_size=40)
header_blocks = st.sampled_from(
    [b"NATS/1.0\r\nMuster-Topic: game.created.v1\r\n\r\n", b"NATS/1.0 404 No Messages\r\n\r\n"]
)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["msg", "hmsg", "ping", "pong", "ok", "info"]))
    sid = draw(st.sampled_from([RAW_SID, 3]))
    subject = draw(tokens).encode()
    reply = draw(st.one_of(st.just(b""), tokens.map(str.encode)))
    space = draw(st.sampled_from([b" ", b"  ", b"\t"]))
    body = draw(bodies)
    middle = space.join([subject, str(sid).encode()] + ([reply] if reply else []))
    if kind == "msg":
        return b"MSG " + middle + space + str(len(body)).encode() + b"\r\n" + body + b"\r\n"
    if kind == "hmsg":
        block = draw(header_blocks)
        sizes = f"{len(block)} {len(block) + len(body)}".encode()
        return b"HMSG " + middle + space + sizes + b"\r\n" + block + body + b"\r\n"
    return {"ping": b"PING\r\n", "pong": b"PONG\r\n", "ok": b"+OK\r\n",
            "info": b'INFO {"server_id": "x"}\r\n'}[kind]  # fmt: skip


async def dispatched(parser_type: type[Parser], data: bytes, cuts: list[int]) -> Recorder:
    client = Recorder()
    parser = parser_type(client)
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        await parser.parse(data[start:cut])
        start = max(start, cut)
    return client


@settings(max_examples=300)
@given(
    data=st.lists(frames(), min_size=1, max_size=12).map(b"".join),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
)
async def test_the_same_frames_as_nats_py_however_the_bytes_arrive(
    data: bytes, cuts: list[int]
) -> None:
    ours, theirs = await dispatched(FrameParser, data, cuts), await dispatched(Parser, data, cuts)
    assert ours.seen == theirs.seen
    assert ours.stats == theirs.stats


def test_it_reads_the_lines_nats_py_s_expressions_read() -> None:
    assert read_control_line(b"MSG a 1 2") == (b"a", 1, b"", 0, 2)
    assert read_control_line(b"MSG  a\t1 r  2") == (b"a", 1, b"r", 0, 2)
    assert read_control_line(b"HMSG a 1 r 3 9") == (b"a", 1, b"r", 3, 9)
    assert read_control_line(b"HMSG a 1 3 9") == (b"a", 1, b"", 3, 9)


@pytest.mark.parametrize(
    "line", [b"MSG a 1 x", b"HMSG a 1 2", b"MSG a b 3", b"HMSG a 1 2 x", b"MSG a 1 2 3 4", b"MSG"]
)
def test_other_lines_are_left_to_nats_py(line: bytes) -> None:
    assert read_control_line(line) is None


async def test_a_malformed_frame_raises_nats_py_s_error() -> None:
    for parser_type in (FrameParser, Parser):
        with pytest.raises(ProtocolError):
            await parser_type(Recorder()).parse(b"MSG a b 3\r\nxyz\r\n")


def test_muster_s_client_reads_frames_with_it() -> None:
    assert isinstance(Client()._ps, FrameParser)


async def test_a_reset_while_a_message_is_handled_drops_the_rest_as_nats_py_does() -> None:
    frames = b"MSG a 3 1\r\nx\r\nMSG a 3 1\r\ny\r\n"
    for parser_type in (FrameParser, Parser):
        client = Recorder()
        parser = parser_type(client)
        handled = client._process_msg

        async def reconnecting(*frame: Any, handled: Any = handled, parser: Any = parser) -> None:
            await handled(*frame)
            parser.reset()  # as a reconnect does

        client._process_msg = reconnecting  # type: ignore[method-assign,assignment]
        await parser.parse(frames)
        assert [seen[4] for seen in client.seen] == [b"x"], parser_type

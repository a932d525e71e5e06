"""The feed's reading of deliveries with what repeats remembered gives what reading each whole
header block gives (:func:`projections.feed.stored_message`), for any block."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateways.jetstream.headers import parse_headers
from gateways.jetstream.layout import Layout, event_headers
from projections.feed import StoredMessages, stored_message

LAYOUT = Layout("EVENTS", "events")
GAME = LAYOUT.subject_for("game.00000000-0000-4000-8000-000000000001")
# lines a stored event has, and what could be there instead
header_lines = st.sampled_from(
    [b"Muster-Originator-Version: 3", b"Muster-Originator-Version: x", b"Muster-Topic: game.a.v1",
     b"Muster-Topic:game.b.v1 ", b"Muster-Event-Type: game.a", b"Nats-Msg-Id: c-1:3",
     b"Nats-Msg-Id:c-2:4", b"Nats-Msg-Id : c-3", b" Nats-Msg-Id: c-4", b"Nats-Msg-Id: \xff",
     b"Nats-Msg-Id:", b"Nats-Msg-Id", b"X: Nats-Msg-Id: c-5", b"", b"junk", b"\r"]
)  # fmt: skip
starts = st.sampled_from([b"NATS/1.0\r\n", b"NATS/1.0 404 No Messages\r\n", b"", b"NATS/1.0"])
blocks = st.builds(
    lambda start, lines, end: start + b"\r\n".join(lines) + end,
    starts, st.lists(header_lines, max_size=7), st.sampled_from([b"\r\n\r\n", b"\r\n", b""]),
)  # fmt: skip
subjects = st.sampled_from([GAME, LAYOUT.subject_for("guild.1"), "events.uuid.not-a-uuid", "x"])


def expected(seq: int, subject: str, block: bytes | None) -> object:
    return stored_message(LAYOUT, seq, subject, b"{}", parse_headers(block))


@given(deliveries=st.lists(st.tuples(subjects, st.none() | blocks), max_size=30))
def test_each_delivery_reads_as_its_whole_header_block(
    deliveries: list[tuple[str, bytes | None]],
) -> None:
    stored = StoredMessages(LAYOUT)
    for seq, (subject, block) in enumerate(deliveries, 1):
        got = stored.read(seq, subject.encode(), b"{}", block)
        assert got == expected(seq, subject, block), (subject, block)


def test_a_stored_event_is_read_from_what_is_remembered() -> None:
    stored = StoredMessages(LAYOUT)
    for version in (1, 2, 1):
        headers = {**event_headers("game.player_joined.v1", version), "Nats-Msg-Id": f"c:{version}"}
        block = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        got = stored.read(version, GAME.encode(), b"{}", block.encode())
        assert got == expected(version, GAME, block.encode())
        assert got.msg_id == f"c:{version}"
        assert got.version == version
    assert len(stored._blocks) == 2  # one per version: the message id is not part of the key
    assert stored._aggregates == {GAME.encode(): "game.00000000-0000-4000-8000-000000000001"}


def test_what_is_remembered_stays_bounded() -> None:
    stored = StoredMessages(LAYOUT)
    for n in range(StoredMessages.BLOCKS_KEPT + 10):
        block = b"NATS/1.0\r\nMuster-Originator-Version: %d\r\nMuster-Topic: t\r\n\r\n" % n
        assert stored.read(n + 1, GAME.encode(), b"{}", block).version == n
    assert len(stored._blocks) <= StoredMessages.BLOCKS_KEPT


def test_a_block_with_two_message_ids_reads_as_a_whole() -> None:
    stored = StoredMessages(LAYOUT)
    plain = b"NATS/1.0\r\nMuster-Originator-Version: 1\r\nMuster-Topic: t\r\n\r\n"
    stored.read(1, GAME.encode(), b"{}", plain)  # the subject is remembered
    for n, block in enumerate((
        b"NATS/1.0\r\nNats-Msg-Id: a\r\nMuster-Originator-Version: 1\r\nMuster-Topic: t\r\n"
        b"Nats-Msg-Id: b\r\n\r\n",
        b"NATS/1.0\r\nNats-Msg-Id : a\r\nMuster-Originator-Version: 1\r\nMuster-Topic: t\r\n"
        b"Nats-Msg-Id: b\r\n\r\n",
    ), 2):  # fmt: skip
        assert stored.read(n, GAME.encode(), b"{}", block) == expected(n, GAME, block)

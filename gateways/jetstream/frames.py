"""A faster reader of NATS message frames for Muster's client, with nats-py's result.

nats-py 2.16 reads each ``MSG``/``HMSG`` control line with two regular expressions (the ``MSG``
one fails first on every ``HMSG``) and awaits a coroutine per message; that was about a quarter
of what reading one stored event costs a rebuild (``py-spy``, see the README). :class:`FrameParser`
splits the control line on whitespace instead and calls a raw subscription's handler
(:meth:`gateways.jetstream.headers.Client.subscribe_raw`) directly. Every other operation
(``INFO``, ``PING``, ``+OK``, ``-ERR`` …) and any control line it does not read as nats-py would
is left to nats-py's own parser, which also raises the protocol errors; the unit tests check that
both parsers dispatch the same messages for the same bytes, cut anywhere.
"""

from __future__ import annotations

from typing import Any

from nats.protocol.parser import AWAITING_CONTROL_LINE, AWAITING_MSG_PAYLOAD, Parser

_CRLF = b"\r\n"
_MSG = b"MSG "
_HMSG = b"HMSG "


def read_control_line(line: bytes) -> tuple[bytes, int, bytes, int, int] | None:
    """``(subject, sid, reply, header size, total size)`` of a ``MSG``/``HMSG`` control line
    (without its CRLF), or None when it is not one that nats-py's expressions read alike."""
    parts = line.split()
    try:
        if parts[0] == b"HMSG" and len(parts) in (5, 6):
            header, total = parts[-2], parts[-1]
            if not (header.isdigit() and total.isdigit()):
                return None
            reply = parts[3] if len(parts) == 6 else b""
            return parts[1], int(parts[2]), reply, int(header), int(total)
        if parts[0] == b"MSG" and len(parts) in (4, 5):
            total = parts[-1]
            if not total.isdigit():
                return None
            reply = parts[3] if len(parts) == 5 else b""
            return parts[1], int(parts[2]), reply, 0, int(total)
    except (IndexError, ValueError):
        return None
    return None


class FrameParser(Parser):
    """nats-py's parser with a fast path for message frames."""

    def __init__(self, nc: Any = None) -> None:
        super().__init__(nc)
        # the client's raw subscriptions (sid → handler), read per message
        self.raw: dict[int, Any] = getattr(nc, "_raw_handlers", {})

    async def parse(self, data: bytes = b"") -> None:
        """Dispatch every complete frame in the buffer (as nats-py's ``parse`` does).

        What came is read by offsets in one immutable copy (the data itself when no frame was
        left unfinished before, else that frame's start joined to it: one copy, where adding
        the data to the buffer and copying the buffer took two), each field a single slice of
        it; what is left unread goes back to the buffer at the end."""
        buf = self.buf
        if buf:
            view = bytes(buf) + data
            buf.clear()
        else:
            view = data if type(data) is bytes else bytes(data)
        pos = 0
        try:
            while pos < len(view):
                if self.state == AWAITING_CONTROL_LINE:
                    pos = self._plain_frames(view, pos)
                if self.state == AWAITING_CONTROL_LINE:  # a line it leaves to the general way
                    if pos == len(view):
                        return
                    after = self._control_line(view, pos)
                    if after is None:  # another operation, or a line nats-py must judge
                        buf.extend(view[pos:])
                        pos = len(view)
                        await super().parse()  # (and raises if it is malformed)
                        return
                    if after == pos:
                        return  # the rest of the line is on its way
                    pos = after
                if len(view) - pos < self.needed + 2:
                    return  # the payload is on its way
                pos = await self._dispatch(view, pos)
                if self.buf is not buf:  # reset() ran meanwhile (a reconnect): nothing more
                    return
        finally:
            if pos < len(view) and self.buf is buf:
                buf.extend(view[pos:])

    def _plain_frames(self, view: bytes, pos: int) -> int:
        """Hand every whole ``HMSG`` frame of a raw subscription from ``pos`` on to its handler,
        as long as their control lines have a reply subject (read as
        :func:`read_control_line` reads them); where it stopped. A frame of another
        subscription, or one whose payload is still on its way, is left awaiting its payload
        (its control line read)."""
        raw, size = self.raw, len(view)
        msgs = received = 0
        try:
            while (end := view.find(_CRLF, pos)) >= 0:
                parts = view[pos:end].split()
                if len(parts) != 6 or parts[0] != b"HMSG":
                    break
                _, subject, sid, reply, header, total = parts
                if not (sid.isdigit() and header.isdigit() and total.isdigit()):
                    break
                handler = raw.get(int(sid))
                start, header_size, needed = end + 2, int(header), int(total)
                if handler is None or start + needed + 2 > size:  # read its payload as usual
                    arg = self.msg_arg
                    arg["subject"], arg["sid"], arg["reply"] = subject, int(sid), reply
                    self.header_needed, self.needed = header_size, needed
                    self.state = AWAITING_MSG_PAYLOAD
                    return start
                payload = view[start + header_size : start + needed]
                block = view[start : start + header_size] if header_size else None
                pos = start + needed + 2
                msgs += 1
                received += len(payload)
                handler(subject, reply, payload, block)
        finally:
            if msgs:
                stats = self.nc.stats
                stats["in_msgs"] += msgs
                stats["in_bytes"] += received
        return pos

    def _control_line(self, view: bytes, pos: int) -> int | None:
        """Read the ``MSG``/``HMSG`` control line at ``pos``: where its payload starts, ``pos``
        when the line is not all here, None when it is not one read here."""
        if not view.startswith((_HMSG, _MSG), pos):
            return None
        end = view.find(_CRLF, pos)
        if end < 0:
            return pos
        read = read_control_line(view[pos:end])
        if read is None:
            return None
        arg = self.msg_arg
        arg["subject"], arg["sid"], arg["reply"], self.header_needed, self.needed = read
        self.state = AWAITING_MSG_PAYLOAD
        return end + 2

    async def _dispatch(self, view: bytes, pos: int) -> int:
        """Hand the payload at ``pos`` (all here) to its subscription; where the next frame
        starts."""
        needed, header_size = self.needed, self.header_needed
        block = view[pos : pos + header_size] if header_size > 0 else None
        payload = view[pos + max(header_size, 0) : pos + needed]
        self.header_needed = 0
        self.state = AWAITING_CONTROL_LINE
        arg = self.msg_arg
        handler = self.raw.get(arg["sid"])
        if handler is None:
            await self.nc._process_msg(arg["sid"], arg["subject"], arg["reply"], payload, block)
        else:
            stats = self.nc.stats
            stats["in_msgs"] += 1
            stats["in_bytes"] += len(payload)
            handler(arg["subject"], arg["reply"], payload, block)
        return pos + needed + 2

"""The Gateway: websocket sessions with HELLO, IDENTIFY/READY, RESUME and dispatches."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import WSMsgType, web

from deploy.emulator import payloads
from deploy.emulator.model import INTENT_MESSAGE_CONTENT, PRIVILEGED_INTENTS
from deploy.emulator.world import Event, World

if TYPE_CHECKING:
    from deploy.emulator.faults import Faults

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode
_CLOSE = object()  # writer sentinel


class Connection:
    """One websocket; frames go out through a queue drained by a single writer task."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, compress: bool) -> None:
        self.ws = ws
        self.request = request
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._zlib = zlib.compressobj() if compress else None
        self.close_code: int | None = None
        self.session: Session | None = None

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(_ENCODE(payload))

    def close(self, code: int) -> None:
        self.close_code = code
        self.queue.put_nowait(_CLOSE)

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure)."""
        if self.request.transport is not None:
            self.request.transport.abort()

    async def writer(self, faults: Faults) -> None:
        ws = self.ws
        while True:
            frame = await self.queue.get()
            if frame is _CLOSE:
                await ws.close(code=self.close_code or 1000)
                return
            if faults.gateway_latency:
                await asyncio.sleep(faults.gateway_latency)
            try:
                if self._zlib is not None:
                    data = self._zlib.compress(frame) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await ws.send_bytes(data)
                else:
                    await ws.send_str(frame.decode())
            except (ConnectionError, RuntimeError):
                return


@dataclass(slots=True)
class Session:
    """A gateway session; it outlives its connection so that RESUME can replay what was missed."""

    id: str
    intents: int
    shard: tuple[int, int]
    seq: int = 0
    buffer: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=10_000))
    conn: Connection | None = None

    def accepts(self, event: Event) -> bool:
        if event.intent and not self.intents & event.intent:
            return False
        shard_id, count = self.shard
        if count > 1:
            owner = 0 if event.guild_id is None else (event.guild_id >> 22) % count
            return owner == shard_id
        return True

    def dispatch(self, name: str, data: Any) -> None:
        self.seq += 1
        frame = _ENCODE({"op": DISPATCH, "t": name, "s": self.seq, "d": data})
        self.buffer.append((self.seq, frame))
        if self.conn is not None:
            self.conn.queue.put_nowait(frame)


class Gateway:
    """Accepts websocket connections for the bot and fans world events out to its sessions."""

    def __init__(
        self, world: World, faults: Faults, url: Callable[[], str], heartbeat_ms: int = 41_250
    ) -> None:
        self.world = world
        self.faults = faults
        self.url = url
        self.heartbeat_ms = heartbeat_ms
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identified = asyncio.Event()
        world.listeners.append(self.on_event)

    # -- fan-out --------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        bot_id = self.world.application.bot_user_id
        if event.internal:
            return
        for session in self.sessions.values():
            if not session.accepts(event):
                continue
            data = event.payload(session.intents)
            if (
                event.author_id is not None
                and event.guild_id is not None
                and not session.intents & INTENT_MESSAGE_CONTENT
                and event.author_id != bot_id
                and f"<@{bot_id}>" not in data.get("content", "")
            ):
                data = data | {"content": "", "embeds": [], "components": [], "attachments": []}
            session.dispatch(event.name, data)

    def dispatch_to_all(self, name: str, data: dict[str, Any]) -> None:
        for session in self.sessions.values():
            session.dispatch(name, data)

    # -- faults ---------------------------------------------------------------------------
    def drop_connections(self, *, code: int | None = None) -> int:
        """Close every live websocket (abruptly when ``code`` is None); sessions stay resumable."""
        conns = list(self.connections)
        for conn in conns:
            if code is None:
                conn.abort()
            else:
                conn.close(code)
        return len(conns)

    def send_reconnect(self) -> None:
        for conn in list(self.connections):
            conn.send({"op": RECONNECT, "d": None})

    # -- websocket handler ----------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=4096 * 1024, autoping=True)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        conn = Connection(ws, request, compress)
        self.connections.add(conn)
        writer = asyncio.create_task(conn.writer(self.faults))
        try:
            if request.query.get("v", "10") not in ("9", "10"):
                conn.close(4012)
            elif request.query.get("encoding", "json") != "json":
                conn.close(4002)
            else:
                conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_ms}})
                await self._read(conn)
        finally:
            self.connections.discard(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            if not writer.done():
                conn.queue.put_nowait(_CLOSE)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(writer, 5)
            writer.cancel()
        return ws

    async def _read(self, conn: Connection) -> None:
        async for msg in conn.ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            try:
                frame = _DECODE(msg.data)
                op = frame["op"]
            except (msgspec.DecodeError, KeyError, TypeError):
                conn.close(4002)
                break
            if op == HEARTBEAT:
                conn.send({"op": HEARTBEAT_ACK})
            elif op == IDENTIFY:
                if conn.session is not None:
                    conn.close(4005)
                    break
                self._identify(conn, frame.get("d") or {})
            elif op == RESUME:
                self._resume(conn, frame.get("d") or {})
            elif conn.session is None:
                conn.close(4003)
                break
            elif op == REQUEST_MEMBERS:
                self._request_members(conn.session, frame.get("d") or {})
            elif op not in (3, 4):  # presence and voice state updates are accepted and ignored
                conn.close(4001)
                break
            if conn.close_code is not None:
                break

    def _identify(self, conn: Connection, d: dict[str, Any]) -> None:
        world = self.world
        if d.get("token") != world.bot_token:
            conn.close(4004)
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0:
            conn.close(4013)
            return
        if intents & PRIVILEGED_INTENTS & ~world.application.privileged_intents:
            conn.close(4014)
            return
        shard_id, count = d.get("shard") or (0, 1)
        if not 0 <= shard_id < count:
            conn.close(4010)
            return
        session = Session(secrets.token_hex(16), intents, (shard_id, count))
        self.sessions[session.id] = session
        session.conn, conn.session = conn, session
        guilds = [gid for gid in world.guilds if session.accepts(Event("", {}, gid))]
        bot = world.bot_user
        ready = {
            "v": 10,
            "user": payloads.current_user(bot),
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.url(),
            "shard": [shard_id, count],
            "application": {
                "id": str(world.application.id),
                "flags": payloads.application_flags(world.application),
            },
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["emulator"],
            "user_settings": {},
            "auth": {},
            "_trace": ['["discord-emulator",{"micros":0}]'],
        }
        session.dispatch("READY", ready)
        for gid in guilds:
            session.dispatch(
                "GUILD_CREATE", payloads.guild_create(world, world.guilds[gid], intents)
            )
        self.identified.set()

    def _resume(self, conn: Connection, d: dict[str, Any]) -> None:
        if d.get("token") != self.world.bot_token:
            conn.close(4004)
            return
        session = self.sessions.get(d.get("session_id") or "")
        seq = d.get("seq") or 0
        refused = self.faults.take_refuse_resume()
        oldest = session.buffer[0][0] if session and session.buffer else 1
        if session is None or refused or seq > session.seq or seq < oldest - 1:
            conn.send({"op": INVALID_SESSION, "d": False})
            return
        if session.conn is not None and session.conn is not conn:
            session.conn.close(4000)
        for s, frame in session.buffer:
            if s > seq:
                conn.queue.put_nowait(frame)
        session.conn, conn.session = conn, session
        session.dispatch("RESUMED", {"_trace": ['["discord-emulator",{"micros":0}]']})

    def _request_members(self, session: Session, d: dict[str, Any]) -> None:
        guild = self.world.guilds.get(int(d.get("guild_id") or 0))
        if guild is None:
            return
        query = (d.get("query") or "").lower()
        ids = {int(u) for u in d.get("user_ids") or []}
        limit = d.get("limit") or len(guild.members)
        found = []
        for m in guild.members.values():
            u = self.world.users[m.user_id]
            if (ids and m.user_id in ids) or (
                not ids
                and (
                    u.username.lower().startswith(query) or (m.nick or "").lower().startswith(query)
                )
            ):
                found.append(payloads.member(self.world, m))
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": found[:limit],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

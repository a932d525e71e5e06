"""The JSON control API under ``/_emulator`` for other processes, the sandbox page and tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from deploy.emulator import payloads, sandbox_page
from deploy.emulator.errors import DiscordError
from deploy.emulator.interactions import ScriptError
from deploy.emulator.people import wait_for_answer
from deploy.emulator.world import Event

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

JsonHandler = Callable[[web.Request], Awaitable[Any]]
PREFIX = "/_emulator"
_ENCODE = msgspec.json.Encoder().encode


def _json(fn: JsonHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a handler returning JSON data; errors become ``{"error": ...}`` or Discord's body."""

    async def handler(request: web.Request) -> web.Response:
        try:
            data = await fn(request)
        except ScriptError as exc:
            data, status = {"error": str(exc)}, 400
        except DiscordError as exc:
            data, status = exc.body(), exc.status
        except (KeyError, ValueError, TypeError) as exc:
            data, status = {"error": f"bad request: {exc!r}"}, 400
        else:
            status = 200
        return web.Response(body=_ENCODE(data), status=status, content_type="application/json")

    return handler


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    return msgspec.json.decode(raw) if raw else {}


def _int(value: Any) -> int:
    return int(str(value))


class ControlApi:
    """Builds worlds, acts as people, inspects, injects faults; also streams events (SSE)."""

    def __init__(self, emu: DiscordEmulator) -> None:
        self.emu = emu
        self.streams: set[asyncio.Queue[dict[str, Any] | None]] = set()
        emu.world.listeners.append(self._fan_out)

    def setup(self, app: web.Application) -> None:
        r = app.router
        get, post = r.add_get, r.add_post
        get(PREFIX, _json(self.index))
        get(f"{PREFIX}/state", _json(self.state))
        get(f"{PREFIX}/commands", _json(self.commands))
        post(f"{PREFIX}/users", _json(self.create_user))
        post(f"{PREFIX}/guilds", _json(self.create_guild))
        post(f"{PREFIX}/guilds/{{guild_id}}/channels", _json(self.create_channel))
        post(f"{PREFIX}/guilds/{{guild_id}}/roles", _json(self.create_role))
        post(f"{PREFIX}/guilds/{{guild_id}}/members", _json(self.add_member))
        r.add_patch(f"{PREFIX}/guilds/{{guild_id}}/members/{{user_id}}", _json(self.edit_member))
        r.add_delete(f"{PREFIX}/guilds/{{guild_id}}/members/{{user_id}}", _json(self.leave))
        get(f"{PREFIX}/channels/{{channel_id}}/messages", _json(self.messages))
        post(f"{PREFIX}/channels/{{channel_id}}/messages", _json(self.say))
        get(f"{PREFIX}/users/{{user_id}}/dms", _json(self.dms))
        get(f"{PREFIX}/interactions", _json(self.interactions))
        get(f"{PREFIX}/interactions/{{interaction_id}}", _json(self.interaction))
        post(f"{PREFIX}/interactions/click", _json(self.click))
        post(f"{PREFIX}/interactions/command", _json(self.command))
        post(f"{PREFIX}/interactions/autocomplete", _json(self.autocomplete))
        post(f"{PREFIX}/interactions/{{interaction_id}}/modal", _json(self.submit_modal))
        get(f"{PREFIX}/requests", _json(self.requests))
        get(f"{PREFIX}/faults", _json(self.faults))
        post(f"{PREFIX}/faults", _json(self.add_fault))
        r.add_delete(f"{PREFIX}/faults", _json(self.clear_faults))
        post(f"{PREFIX}/clock/advance", _json(self.advance_clock))
        post(f"{PREFIX}/oauth2/authorize", _json(self.oauth_code))
        get(f"{PREFIX}/events", self.events)
        get("/sandbox", sandbox_page.handler)
        get("/", sandbox_page.redirect)

    # -- world ----------------------------------------------------------------------------
    async def index(self, request: web.Request) -> Any:
        emu = self.emu
        return {
            "api_base": emu.api_base,
            "gateway_url": emu.gateway_url,
            "bot_token": emu.bot_token,
            "application_id": str(emu.application_id),
            "client_secret": emu.world.application.client_secret,
            "sandbox_url": emu.sandbox_url,
            "connected_sessions": sum(1 for s in emu.gateway.sessions.values() if s.conn),
        }

    async def state(self, request: web.Request) -> Any:
        return self.emu.inspect.state()

    async def commands(self, request: web.Request) -> Any:
        return [payloads.command(self.emu.world, c) for c in self.emu.world.commands.values()]

    async def create_user(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.emu.people.user(
            b["username"],
            global_name=b.get("global_name"),
            avatar=b.get("avatar"),
            accepts_dms=b.get("accepts_dms", True),
        )
        return payloads.user(user)

    async def create_guild(self, request: web.Request) -> Any:
        b = await _body(request)
        owner = self.emu.world.user(_int(b["owner_id"])) if b.get("owner_id") else None
        return payloads.guild(self.emu.people.guild(b["name"], owner=owner).model)

    async def create_channel(self, request: web.Request) -> Any:
        b = await _body(request)
        guild = self.emu.people.guild_of(_int(request.match_info["guild_id"]))
        channel = guild.text_channel(b["name"], topic=b.get("topic"))
        return payloads.channel(self.emu.world, channel)

    async def create_role(self, request: web.Request) -> Any:
        b = await _body(request)
        guild = self.emu.people.guild_of(_int(request.match_info["guild_id"]))
        return payloads.role(guild.role(b["name"], permissions=_int(b.get("permissions", 0))))

    async def add_member(self, request: web.Request) -> Any:
        b = await _body(request)
        guild = self.emu.people.guild_of(_int(request.match_info["guild_id"]))
        roles = [_int(r) for r in b.get("roles", [])]
        if b.get("user_id"):
            person = guild.add(
                self.emu.world.user(_int(b["user_id"])), nick=b.get("nick"), roles=roles
            )
        else:
            person = guild.member(
                b["username"],
                global_name=b.get("global_name"),
                nick=b.get("nick"),
                avatar=b.get("avatar"),
                roles=[guild.model.roles[r] for r in roles],
                permissions=_int(b["permissions"]) if "permissions" in b else None,
                accepts_dms=b.get("accepts_dms", True),
            )
        return payloads.member(self.emu.world, person.member)

    async def edit_member(self, request: web.Request) -> Any:
        b = await _body(request)
        gid, uid = _int(request.match_info["guild_id"]), _int(request.match_info["user_id"])
        changes: dict[str, Any] = {}
        if "nick" in b:
            changes["nick"] = b["nick"] or None
        if "roles" in b:
            changes["roles"] = [_int(r) for r in b["roles"]]
        return payloads.member(self.emu.world, self.emu.world.update_member(gid, uid, **changes))

    async def leave(self, request: web.Request) -> Any:
        gid, uid = _int(request.match_info["guild_id"]), _int(request.match_info["user_id"])
        self.emu.world.remove_member(gid, uid)
        return {"left": True}

    # -- acting and inspecting ------------------------------------------------------------
    async def messages(self, request: web.Request) -> Any:
        as_user = request.query.get("as_user")
        cid = _int(request.match_info["channel_id"])
        return self.emu.inspect.messages(cid, as_user=_int(as_user) if as_user else None)

    async def say(self, request: web.Request) -> Any:
        b = await _body(request)
        channel = self.emu.world.channel(_int(request.match_info["channel_id"]))
        msg = self.emu.messages.create(
            channel, _int(b["user_id"]), {"content": b.get("content", "")}
        )
        return payloads.message(self.emu.world, msg)

    async def dms(self, request: web.Request) -> Any:
        return self.emu.inspect.dms(_int(request.match_info["user_id"]))

    async def interactions(self, request: web.Request) -> Any:
        return self.emu.inspect.interactions(int(request.query.get("limit", "100")))

    async def interaction(self, request: web.Request) -> Any:
        it = self.emu.world.interactions[_int(request.match_info["interaction_id"])]
        return self.emu.inspect.interaction(it)

    async def _answer(self, it: Any, body: dict[str, Any]) -> Any:
        if body.get("wait", True):
            await wait_for_answer(it, self.emu.responses.deadline)
        return self.emu.inspect.interaction(it)

    async def click(self, request: web.Request) -> Any:
        b = await _body(request)
        msg = self.emu.world.messages.get(_int(b["message_id"]))
        if msg is None:
            raise ScriptError("unknown message")
        it = self.emu.interactions.click(_int(b["user_id"]), msg, b["custom_id"], b.get("values"))
        return await self._answer(it, b)

    async def command(self, request: web.Request) -> Any:
        b = await _body(request)
        channel = self.emu.world.channel(_int(b["channel_id"]))
        it = self.emu.interactions.command(_int(b["user_id"]), channel, b["name"], b.get("options"))
        return await self._answer(it, b)

    async def autocomplete(self, request: web.Request) -> Any:
        b = await _body(request)
        channel = self.emu.world.channel(_int(b["channel_id"]))
        it = self.emu.interactions.command(
            _int(b["user_id"]), channel, b["name"], b.get("options"), focused=b["focused"]
        )
        return await self._answer(it, b)

    async def submit_modal(self, request: web.Request) -> Any:
        b = await _body(request)
        source = self.emu.world.interactions[_int(request.match_info["interaction_id"])]
        it = self.emu.interactions.submit_modal(_int(b["user_id"]), source, b.get("values", {}))
        return await self._answer(it, b)

    async def requests(self, request: web.Request) -> Any:
        summary = self.emu.requests.summary()
        if request.query.get("entries"):
            route = request.query.get("route")
            summary["entries"] = [r.as_dict() for r in self.emu.requests.entries(route)][-1000:]
        return summary

    # -- faults and time ------------------------------------------------------------------
    async def faults(self, request: web.Request) -> Any:
        f = self.emu.faults
        return {
            "routes": [x.as_dict() for x in f.route_faults],
            "gateway_latency": f.gateway_latency,
            "refuse_resume": f.refuse_resume,
        }

    async def add_fault(self, request: web.Request) -> Any:
        b = await _body(request)
        f, kind, route = self.emu.faults, b["kind"], b.get("route")
        if kind == "storm":
            f.rate_limit_storm(
                route,
                count=b.get("count", 3),
                seconds=b.get("seconds"),
                retry_after=b.get("retry_after", 1.0),
                scope=b.get("scope", "user"),
            )
        elif kind == "error":
            f.server_errors(route, count=b.get("count", 3), status=b.get("status", 500))
        elif kind == "latency":
            f.latency(b["seconds"], route, duration=b.get("duration"))
        elif kind == "slow":
            f.slow_reads(b.get("bytes_per_second", 1024), route)
        elif kind == "gateway_latency":
            f.gateway_latency = float(b["seconds"])
        elif kind == "drop_websocket":
            return {"dropped": f.drop_websocket(code=b.get("code"))}
        elif kind == "refuse_resume":
            f.refuse_next_resume(b.get("times", 1))
        elif kind == "reconnect":
            f.send_reconnect()
        else:
            raise ScriptError(f"unknown fault kind {kind!r}")
        return await self.faults(request)

    async def clear_faults(self, request: web.Request) -> Any:
        self.emu.faults.clear()
        return await self.faults(request)

    async def advance_clock(self, request: web.Request) -> Any:
        b = await _body(request)
        self.emu.world.clock.advance(float(b["seconds"]))
        return {"offset": self.emu.world.clock.offset}

    async def oauth_code(self, request: web.Request) -> Any:
        b = await _body(request)
        code = self.emu.oauth.authorize(
            _int(b["user_id"]), b.get("scope", "identify"), b["redirect_uri"]
        )
        return {"code": code}

    # -- server-sent events ---------------------------------------------------------------
    def _fan_out(self, event: Event) -> None:
        if not self.streams:
            return
        note = {
            "t": event.name,
            "guild_id": str(event.guild_id) if event.guild_id else None,
            "channel_id": str(event.channel_id) if event.channel_id else None,
        }
        for queue in list(self.streams):
            if queue.qsize() < 1000:
                queue.put_nowait(note)

    def close(self) -> None:
        """End every event stream (server shutdown)."""
        for queue in list(self.streams):
            queue.put_nowait(None)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``text/event-stream`` of world changes: ``{"t", "guild_id", "channel_id"}``."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.streams.add(queue)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    note = await asyncio.wait_for(queue.get(), 15.0)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if note is None:
                    break
                await response.write(b"data: " + _ENCODE(note) + b"\n\n")
        except ConnectionResetError:
            pass
        finally:
            self.streams.discard(queue)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response


def setup(app: web.Application, emu: DiscordEmulator) -> ControlApi:
    control = ControlApi(emu)
    control.setup(app)
    return control

"""REST plumbing: route registry, the middleware (faults, auth, rate limits, log) and helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import BodyPartReader, web
from aiohttp.web_urldispatcher import AbstractRoute

from deploy.emulator.errors import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    UNAUTHORIZED,
    DiscordError,
)
from deploy.emulator.ratelimit import retry_after_header, too_many_requests_body
from deploy.emulator.requestlog import RequestRecord

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder().decode
PREFIXES = ("/api/v10", "/api/v9", "/api")
COMMON_HEADERS = {"Via": "1.1 google"}  # discord.py only honours a 429 that carries Via


@dataclass(slots=True, frozen=True)
class Identity:
    """Who is calling: the bot, an OAuth2 user (bearer), or nobody (webhook-token routes)."""

    kind: str
    user_id: int | None = None
    token: str = ""
    scopes: frozenset[str] = field(default_factory=frozenset)


@dataclass(slots=True, frozen=True)
class RouteInfo:
    key: str  # "METHOD /path/{param}" as discord.py's Route.key
    auth: str  # "bot", "bearer", "bot_or_bearer", "none"
    global_limit: bool


def ok(data: Any, status: int = 200) -> web.Response:
    """A JSON response encoded like Discord's."""
    return web.Response(body=_ENCODE(data), status=status, content_type="application/json")


def no_content() -> web.Response:
    return web.Response(status=204)


def error_response(exc: DiscordError) -> web.Response:
    return ok(exc.body(), exc.status)


def snowflake(request: web.Request, name: str) -> int:
    """A snowflake path parameter; Discord answers 50035 NUMBER_TYPE_COERCE otherwise."""
    raw = request.match_info[name]
    if raw.isdigit():
        return int(raw)
    raise DiscordError(
        (400, 50035, "Invalid Form Body"),
        errors={
            name: {
                "_errors": [
                    {"code": "NUMBER_TYPE_COERCE", "message": f'Value "{raw}" is not snowflake.'}
                ]
            }
        },
    )


IDENTITY = web.RequestKey("identity", Identity)


def identity(request: web.Request) -> Identity:
    return request[IDENTITY]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON payload of a request (``payload_json`` plus file metadata for multipart)."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        payload: dict[str, Any] = {}
        files: list[dict[str, Any]] = []
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = _DECODE(await part.read())
            else:
                data = await part.read()
                files.append({"filename": part.filename or "file", "size": len(data)})
        payload["_files"] = files
        return payload
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = _DECODE(raw)
    except msgspec.DecodeError:
        raise DiscordError(BAD_REQUEST) from None
    if not isinstance(data, dict | list):
        raise DiscordError(BAD_REQUEST)
    return data  # type: ignore[return-value]


class Api:
    """Registers Discord routes under /api/v10, /api/v9 and /api, and wraps them."""

    def __init__(self, app: web.Application, emulator: DiscordEmulator) -> None:
        self.app = app
        self.emu = emulator
        self.info: dict[AbstractRoute, RouteInfo] = {}
        app.middlewares.append(self.middleware)

    def route(self, method: str, path: str, handler: Handler, *, auth: str = "bot") -> None:
        exempt = path.startswith(("/interactions/", "/webhooks/", "/oauth2/token", "/gateway"))
        info = RouteInfo(f"{method} {path}", auth, not exempt)
        for prefix in PREFIXES:
            self.info[self.app.router.add_route(method, prefix + path, handler)] = info

    def _authenticate(self, request: web.Request, auth: str) -> Identity:
        header = request.headers.get("Authorization", "")
        if auth == "none":
            return Identity("none", token=request.remote or "")
        if header.startswith("Bot ") and auth in ("bot", "bot_or_bearer"):
            if header[4:] == self.emu.world.bot_token:
                return Identity("bot", self.emu.world.application.bot_user_id, header[4:])
        elif header.startswith("Bearer ") and auth in ("bearer", "bot_or_bearer"):
            grant = self.emu.oauth.grant_for_access_token(header[7:])
            if grant is not None:
                return Identity("bearer", grant.user_id, header[7:], grant.scopes)
        raise DiscordError(UNAUTHORIZED)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        info = self.info.get(request.match_info.route)
        if info is None:
            if request.path.startswith("/api/"):
                spec = (
                    METHOD_NOT_ALLOWED
                    if request.match_info.http_exception
                    and (request.match_info.http_exception.status == 405)
                    else NOT_FOUND
                )
                return error_response(DiscordError(spec))
            return await handler(request)
        started = time.perf_counter()
        arrived = time.monotonic()
        scope: str | None = None
        headers: dict[str, str] = {}
        faults = self.emu.faults
        try:
            delay = faults.take("latency", info.key)
            if delay is not None:
                await asyncio.sleep(delay.seconds)
            burst = faults.take("error", info.key)
            storm = faults.take("storm", info.key)
            if burst is not None:
                reason = {500: "Internal Server Error", 502: "Bad Gateway"}.get(
                    burst.status, "Error"
                )
                response: web.StreamResponse = ok(
                    {"message": f"{burst.status}: {reason}", "code": 0}, burst.status
                )
            elif storm is not None:
                scope = storm.scope
                response = self._too_many(storm.retry_after, scope, {})
            else:
                ident = self._authenticate(request, info.auth)
                request[IDENTITY] = ident
                major = "+".join(v for k, v in request.match_info.items() if k in _MAJOR)
                decision = self.emu.limiter.check(
                    info.key, major, ident.token, global_limit=info.global_limit
                )
                headers = decision.headers
                if decision.limited:
                    scope = decision.scope
                    response = self._too_many(decision.retry_after, scope or "user", headers)
                else:
                    response = await handler(request)
        except DiscordError as exc:
            response = error_response(exc)
        response.headers.update(COMMON_HEADERS)
        response.headers.update(headers)
        slow = faults.take("slow", info.key) if faults.route_faults else None
        if slow is not None and isinstance(response, web.Response):
            response = await _trickle(request, response, slow.bytes_per_second)
        self.emu.requests.add(
            RequestRecord(
                arrived,
                request.method,
                request.path,
                info.key,
                response.status,
                time.perf_counter() - started,
                scope,
            )
        )
        return response

    @staticmethod
    def _too_many(retry_after: float, scope: str, headers: dict[str, str]) -> web.Response:
        is_global = scope == "global"
        response = ok(too_many_requests_body(retry_after, is_global=is_global), 429)
        response.headers.update(headers)
        response.headers["Retry-After"] = retry_after_header(retry_after)
        response.headers["X-RateLimit-Scope"] = scope
        if is_global:
            response.headers["X-RateLimit-Global"] = "true"
        return response


_MAJOR = frozenset({"channel_id", "guild_id", "webhook_id", "webhook_token"})


async def _trickle(request: web.Request, response: web.Response, rate: int) -> web.StreamResponse:
    """Send ``response`` slowly, in chunks of a tenth of ``rate`` every 100 ms."""
    body = bytes(response.body or b"")  # type: ignore[arg-type]
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    step = max(1, rate // 10)
    for i in range(0, len(body), step):
        if i:
            await asyncio.sleep(0.1)
        await stream.write(body[i : i + step])
    await stream.write_eof()
    return stream

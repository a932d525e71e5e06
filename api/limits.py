"""A request body past ``MAX_BODY`` bytes is refused with 413 (code ``body_too_large``, in the
one error shape) as soon as its size is known: from ``Content-Length`` before anything is read,
or while a chunked body is being read. Muster's largest legitimate body (a game with every field
full) is a few tens of KB; without a limit, one request could make the server hold gigabytes."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024


def too_large(limit: int) -> HTTPException:
    """Raised while the body is read; FastAPI passes an ``HTTPException`` through (any other
    error there becomes a 400 "error parsing the body"), and ``api/errors.py`` renders it."""
    return HTTPException(
        413, f"The request body is larger than {limit:,} bytes; no field of Muster's API needs "
        "more than a few thousand characters.",
    )  # fmt: skip


class BodyLimit:
    """ASGI middleware: the body is read through a counter that raises 413 once past
    ``limit`` (or at once when ``Content-Length`` says so)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        over = declared.isdigit() and int(declared) > self.limit
        received = 0

        async def counted() -> Message:
            nonlocal received
            if over:
                raise too_large(self.limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large(self.limit)
            return message

        await self.app(scope, counted, send)

"""Server-side sessions in Redis behind a signed cookie, and CSRF tokens.

The cookie holds only a random session id, signed with itsdangerous (a tampered cookie is
ignored); the session itself (who, Discord tokens, CSRF token) lives in Redis under
``muster:web:session:<id>`` with a TTL renewed on use. Discord tokens never leave the server.
Every state-changing request must carry the session's CSRF token: the ``X-CSRF-Token`` header
(API) or a ``csrf_token`` form field (pages).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from typing import Annotated, Any

import msgspec
from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from api.config import SESSION_COOKIE
from api.errors import ApiError, unauthenticated
from api.services import Web

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Session(msgspec.Struct, kw_only=True):
    """One logged-in browser."""

    session_id: str
    user_id: str
    username: str
    global_name: str | None = None
    avatar: str | None = None
    access_token: str
    refresh_token: str
    token_expires_at: float
    csrf: str
    created_at: float

    @property
    def display_name(self) -> str:
        return self.global_name or self.username


def session_key(session_id: str) -> str:
    return f"muster:web:session:{session_id}"


def the_web(request: Request) -> Web:
    """The app's :class:`Web` (set by ``create_app``)."""
    web: Web = request.app.state.web
    return web


async def web_of(request: Request) -> Web:
    """Dependency form of :func:`the_web` (async: sync dependencies run in a thread pool)."""
    return the_web(request)


WebDep = Annotated[Web, Depends(web_of)]


def signer(web: Web) -> URLSafeSerializer:
    return URLSafeSerializer(web.config.session_secret, salt="muster.session")


@functools.lru_cache(maxsize=10_000)
def _session_id(secret: str, raw: str) -> object:
    """The session id a cookie carries, if its signature is good (``None`` if not).

    A pure function of the secret and the cookie, so it is remembered: checking the signature
    (key derivation and HMAC) was a third of what a logged-in request cost.
    """
    try:
        return URLSafeSerializer(secret, salt="muster.session").loads(raw)
    except BadSignature:
        return None


async def create_session(web: Web, user: dict[str, Any], token: dict[str, Any]) -> Session:
    """Store a new session for a user who just logged in."""
    now = web.clock()
    session = Session(
        session_id=secrets.token_urlsafe(24),
        user_id=str(user["id"]),
        username=str(user.get("username", "")),
        global_name=user.get("global_name"),
        avatar=user.get("avatar"),
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token", ""),
        token_expires_at=now + float(token.get("expires_in", 604800)),
        csrf=secrets.token_urlsafe(24),
        created_at=now,
    )
    await save_session(web, session)
    return session


async def save_session(web: Web, session: Session) -> None:
    await web.redis.set(
        session_key(session.session_id),
        msgspec.json.encode(session),
        ex=web.config.session_seconds,
    )


async def drop_session(web: Web, session_id: str) -> None:
    await web.redis.delete(session_key(session_id))


def set_session_cookie(web: Web, response: Response, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        signer(web).dumps(session.session_id),
        max_age=web.config.session_seconds,
        httponly=True,
        samesite="lax",
        secure=web.config.secure_cookies,
        path="/",
    )


def clear_session_cookie(web: Web, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=web.config.secure_cookies
    )


async def load_session(request: Request) -> Session | None:
    """The request's session, or ``None`` (no cookie, tampered cookie, expired session)."""
    if hasattr(request.state, "session"):
        known: Session | None = request.state.session
        return known
    web = the_web(request)
    session: Session | None = None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        session_id = _session_id(web.config.session_secret, raw)
        if isinstance(session_id, str):
            stored = await web.redis.getex(session_key(session_id), ex=web.config.session_seconds)
            if stored is not None:
                session = msgspec.json.decode(stored, type=Session)
    request.state.session = session
    return session


async def optional_session(request: Request) -> Session | None:
    return await load_session(request)


async def require_session(request: Request) -> Session:
    """The logged-in user's session, or 401; on unsafe methods the CSRF token is checked."""
    session = await load_session(request)
    if session is None:
        raise unauthenticated()
    if request.method not in SAFE_METHODS:
        await check_csrf(request, session)
    return session


async def check_csrf(request: Request, session: Session) -> None:
    """The CSRF token from the header or the form must equal the session's."""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise ApiError(
            403, "csrf_failed", "This request lacks a valid CSRF token, so it was refused.",
            field="csrf_token",
            fix="Reload the page and try again (API clients: send X-CSRF-Token from /auth/me).",
        )  # fmt: skip


SessionDep = Annotated[Session, Depends(require_session)]
MaybeSession = Annotated[Session | None, Depends(optional_session)]

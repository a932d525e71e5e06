"""``/auth``: log in with Discord (OAuth2 code + ``state``), refresh, log out, who am I."""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer

from api import models
from api.access import access_token
from api.config import LOGIN_COOKIE
from api.errors import ApiError
from api.routers import ERRORS
from api.services import Web
from api.sessions import (
    SessionDep,
    WebDep,
    clear_session_cookie,
    create_session,
    drop_session,
    load_session,
    save_session,
    set_session_cookie,
)

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERRORS)
STATE_SECONDS = 600


def _state_key(state: str) -> str:
    return f"muster:web:oauth_state:{state}"


def _login_signer(web: Web) -> URLSafeSerializer:
    return URLSafeSerializer(web.config.session_secret, salt="muster.login")


def safe_next(value: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


def me_of(session: Any) -> models.User:
    return models.User(id=session.user_id, username=session.username,
                       display_name=session.display_name, avatar=session.avatar,
                       csrf_token=session.csrf)  # fmt: skip


@router.get("/login", status_code=307, summary="Log in with Discord",
            response_class=RedirectResponse)  # fmt: skip
async def login(web: WebDep, next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    """Redirect to Discord's consent page; ``state`` binds the answer to this browser."""
    if not web.config.client_id or not web.config.client_secret:
        raise ApiError(
            503, "login_not_configured", "Logging in with Discord is not set up on this server.",
            fix="Set MUSTER_DISCORD_CLIENT_ID and MUSTER_DISCORD_CLIENT_SECRET (docs/web.md).",
        )  # fmt: skip
    state = secrets.token_urlsafe(24)
    await web.redis.set(_state_key(state), msgspec.json.encode({"next": safe_next(next)}),
                        ex=STATE_SECONDS)  # fmt: skip
    response = RedirectResponse(web.oauth.authorize_url(state), status_code=307)
    response.set_cookie(
        LOGIN_COOKIE, _login_signer(web).dumps(state), max_age=STATE_SECONDS, httponly=True,
        samesite="lax", secure=web.config.secure_cookies, path="/auth",
    )  # fmt: skip
    return response


def _refused(message: str) -> ApiError:
    return ApiError(400, "login_refused", message, field="state",
                    fix="Start again from /auth/login in the same browser.")  # fmt: skip


@router.get("/callback", status_code=303, summary="Discord redirects here",
            response_class=RedirectResponse)  # fmt: skip
async def callback(
    request: Request, web: WebDep,
    code: Annotated[str | None, Query(max_length=500)] = None,
    state: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:  # fmt: skip
    """Check ``state``, exchange the code, start a session; the tokens stay on the server."""
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    try:
        bound = _login_signer(web).loads(cookie) if cookie else None
    except BadSignature:
        bound = None
    if not state or bound != state:
        raise _refused("This login answer does not belong to this browser (bad state).")
    stored = await web.redis.getdel(_state_key(state))
    if stored is None:
        raise _refused("This login link has expired or was already used.")
    if error or not code:
        raise ApiError(400, "login_cancelled", "The login was cancelled at Discord.",
                       fix="Log in again and choose Authorize.")  # fmt: skip
    token = await web.oauth.exchange(code)
    user = await web.oauth.me(token["access_token"])
    session = await create_session(web, user, token)
    response = RedirectResponse(msgspec.json.decode(stored)["next"], status_code=303)
    set_session_cookie(web, response, session)
    response.delete_cookie(LOGIN_COOKIE, path="/auth")
    return response


@router.get("/me", response_model=models.User, summary="Who is logged in")
async def me(session: SessionDep) -> Any:
    """The logged-in user and the CSRF token to send on writes."""
    return me_of(session)


@router.post("/refresh", response_model=models.User, summary="Refresh the session")
async def refresh(web: WebDep, session: SessionDep) -> Any:
    """Refresh the Discord token now and extend the session."""
    session.token_expires_at = 0
    await access_token(web, session)
    await save_session(web, session)
    return me_of(session)


@router.post("/logout", status_code=204, summary="Log out", response_class=Response)
async def logout(request: Request, web: WebDep) -> Response:
    """End the session and revoke the Discord token (needs the CSRF token when logged in)."""
    session = await load_session(request)
    response = Response(status_code=204)
    if session is not None:
        from api.sessions import check_csrf

        await check_csrf(request, session)
        await drop_session(web, session.session_id)
        await web.oauth.revoke(session.access_token)
    clear_session_cookie(web, response)
    return response

"""One JSON shape for every 4xx: ``{"error": {"code", "message", "field", "fix"}}``.

Domain errors (``domain/errors.py``) carry the wording; this module only maps them to a status.
A database that does not answer (a PostgreSQL restart) is 503 with ``Retry-After``, like Discord
down or a command not confirmed in time. Anything unexpected is logged with its traceback and
answered with a plain 500 body: a client never sees a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors as domain
from gateways.discord.errors import DiscordUnavailable

log = logging.getLogger("muster.api")


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    fix: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """Every 4xx (and the rare 5xx) answer."""

    error: ErrorBody


class ApiError(Exception):
    """An answer other than 2xx that a person can act on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        fix: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.fix, self.details, self.headers = field, fix, details, headers

    def body(self) -> dict[str, Any]:
        error = ErrorBody(
            code=self.code, message=self.message, field=self.field, fix=self.fix,
            details=self.details,
        )  # fmt: skip
        return {"error": error.model_dump(exclude_none=True)}


def not_found(what: str = "game") -> ApiError:
    """The one answer for something missing *or* in a guild the user is not in."""
    return ApiError(
        404, f"{what}_not_found", f"There is no such {what}, or you are not in its server.",
        fix="Check the link, and that you are logged in as a member of the server.",
    )  # fmt: skip


def unauthenticated() -> ApiError:
    return ApiError(
        401, "not_logged_in", "You are not logged in, or your session has expired.",
        fix="Log in with Discord at /auth/login.",
    )  # fmt: skip


_STATUS: dict[type[domain.DomainError], int] = {
    domain.InvalidCommand: 422,
    domain.GameNotFound: 404,
    domain.PlaceholderNotFound: 404,
    domain.NotHost: 403,
    domain.NotAllowed: 403,
    domain.GameAlreadyExists: 409,
    domain.GameFull: 409,
    domain.AlreadyJoined: 409,
    domain.NotJoined: 409,
    domain.GameNotOpen: 409,
    domain.InvalidStatusChange: 409,
    domain.ReminderAlreadyRecorded: 409,
    domain.ConcurrencyConflict: 409,
}
_FIX: dict[type[domain.DomainError], str] = {
    domain.GameFull: "Try again when someone leaves.",
    domain.ConcurrencyConflict: "Send the request again.",
    domain.NotHost: "Ask the host or a server manager.",
}


def from_domain(error: domain.DomainError) -> ApiError:
    """The HTTP answer for a rule the domain enforced."""
    status = next((s for cls, s in _STATUS.items() if isinstance(error, cls)), 400)
    if isinstance(error, domain.InvalidCommand):
        details = [{"field": f, "reason": r} for f, r in error.problems]
        return ApiError(
            422, error.code, error.message, field=error.field, fix=error.reason, details=details
        )
    if isinstance(error, domain.GameNotFound):
        return not_found()
    fix = next((f for cls, f in _FIX.items() if isinstance(error, cls)), None)
    return ApiError(status, error.code, error.message, fix=fix)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _answer(request: Request, error: ApiError) -> Response:
    if _wants_html(request):
        from api.render import error_page

        return error_page(request, error)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to the one shape (HTML pages get an error page)."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        return _answer(request, error)

    @app.exception_handler(domain.DomainError)
    async def domain_error(request: Request, error: domain.DomainError) -> Response:
        return _answer(request, from_domain(error))

    @app.exception_handler(DiscordUnavailable)
    async def discord_down(request: Request, error: DiscordUnavailable) -> Response:
        retry = str(max(1, round(error.retry_after or 1)))
        problem = ApiError(
            503, "discord_unavailable", error.user_message, fix="Try again shortly.",
            headers={"Retry-After": retry},
        )  # fmt: skip
        return _answer(request, problem)

    @app.exception_handler(TimeoutError)
    async def busy(request: Request, error: TimeoutError) -> Response:
        log.warning("%s %s not confirmed in time: %s", request.method, request.url.path, error)
        problem = ApiError(
            503, "busy", "Muster could not confirm this in time.",
            fix="Try again shortly with the same Idempotency-Key; nothing is done twice.",
            headers={"Retry-After": "1"},
        )  # fmt: skip
        return _answer(request, problem)

    @app.exception_handler(psycopg.OperationalError)  # PoolTimeout too: it is one
    async def database_down(request: Request, error: psycopg.OperationalError) -> Response:
        log.warning("%s %s: the database did not answer: %s", request.method, request.url.path,
                    error)  # fmt: skip
        problem = ApiError(
            503, "unavailable", "Muster's database is not answering right now.",
            fix="Try again in a few seconds.", headers={"Retry-After": "5"},
        )  # fmt: skip
        return _answer(request, problem)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        details = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")),
                "reason": e["msg"],
            }
            for e in error.errors()
        ]
        first = details[0] if details else {"field": None, "reason": "invalid request"}
        problem = ApiError(
            422, "invalid_request", "; ".join(f"{d['field']}: {d['reason']}" for d in details),
            field=first["field"] or None, fix=first["reason"], details=details,
        )  # fmt: skip
        return _answer(request, problem)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 404:
            return _answer(request, not_found("page"))
        codes = {405: "method_not_allowed", 413: "body_too_large"}
        code = codes.get(error.status_code, "http_error")
        problem = ApiError(
            error.status_code, code, str(error.detail), headers=dict(error.headers or {})
        )
        return _answer(request, problem)

    @app.exception_handler(Exception)
    async def fault(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        body = {"error": {"code": "server_error", "message": "Something went wrong on our side."}}
        if _wants_html(request):
            return HTMLResponse("<h1>Something went wrong on our side.</h1>", status_code=500)
        return JSONResponse(body, status_code=500)

"""JSON API routers, one per resource, under ``/api/v1``."""

from typing import Any

from api.errors import ErrorResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": why}
    for status, why in (
        (400, "bad request"),
        (401, "not logged in"),
        (403, "not allowed (or CSRF token missing)"),
        (404, "no such thing, or not in your servers"),
        (409, "conflicts with the current state"),
        (422, "invalid input"),
        (503, "Discord is not answering"),
    )
}

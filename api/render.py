"""Jinja2 templates (with block rendering for HTMX fragments) and the HTML error page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2_fragments.fastapi import Jinja2Blocks

from api.errors import ApiError

TEMPLATES = Jinja2Blocks(directory=str(Path(__file__).parent / "templates"))


def _iso(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value else ""


TEMPLATES.env.filters["iso"] = _iso
TEMPLATES.env.globals["status_label"] = lambda s: str(s).replace("_", " ")


def page(
    request: Request, name: str, status_code: int = 200, block: str | None = None, **context: Any
) -> HTMLResponse:
    """Render a page (or one block of it, for an HTMX swap)."""
    context.setdefault("session", getattr(request.state, "session", None))
    response = TEMPLATES.TemplateResponse(
        request, name, context, status_code=status_code, block_name=block
    )
    assert isinstance(response, HTMLResponse)
    return response


def fragment(name: str, block: str, **context: Any) -> str:
    """One block of a template as a string (live updates)."""
    template = TEMPLATES.env.get_template(name)
    return "".join(template.blocks[block](template.new_context(context)))


def error_page(request: Request, error: ApiError) -> HTMLResponse:
    response = page(request, "error.html", status_code=error.status, error=error)
    for key, value in (error.headers or {}).items():
        response.headers[key] = value
    return response

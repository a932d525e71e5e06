"""Muster's web: JSON API under ``/api/v1``, Discord login, server-rendered pages, live updates.

``create_app(web)`` builds the FastAPI application from a :class:`~api.services.Web` (its
ports); ``deploy/api_cmd.py`` builds that from the composition root's ``Container``.
"""

from api.app import create_app
from api.services import Web

__all__ = ["Web", "create_app"]

"""OAuth2: an authorize page where the tester picks the user, the token endpoint, bearer grants."""

from __future__ import annotations

import base64
import html
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from deploy.emulator.api import ok

if TYPE_CHECKING:
    from deploy.emulator.api import Api
    from deploy.emulator.world import World

ACCESS_LIFETIME = 604_800  # seconds, as Discord
CODE_LIFETIME = 600.0


@dataclass(slots=True)
class Grant:
    user_id: int
    scopes: frozenset[str]
    access_token: str
    refresh_token: str
    expires_at: float


@dataclass(slots=True)
class _Code:
    user_id: int
    scopes: frozenset[str]
    redirect_uri: str
    expires_at: float


class OAuth2:
    """Authorization codes and bearer grants for emulated users."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}

    def authorize(self, user_id: int, scopes: str | list[str], redirect_uri: str) -> str:
        """Issue an authorization code as if ``user_id`` clicked Authorize."""
        self.world.user(user_id)
        wanted = frozenset(scopes.split() if isinstance(scopes, str) else scopes)
        code = secrets.token_urlsafe(22)
        self._codes[code] = _Code(
            user_id, wanted, redirect_uri, self.world.clock.time() + CODE_LIFETIME
        )
        return code

    def grant_for_access_token(self, token: str) -> Grant | None:
        grant = self._access.get(token)
        if grant is None or grant.expires_at < self.world.clock.time():
            return None
        return grant

    def _issue(self, user_id: int, scopes: frozenset[str]) -> Grant:
        grant = Grant(
            user_id,
            scopes,
            secrets.token_urlsafe(22),
            secrets.token_urlsafe(22),
            self.world.clock.time() + ACCESS_LIFETIME,
        )
        self._access[grant.access_token] = grant
        self._refresh[grant.refresh_token] = grant
        return grant

    def _revoke(self, grant: Grant) -> None:
        self._access.pop(grant.access_token, None)
        self._refresh.pop(grant.refresh_token, None)

    # -- HTTP -----------------------------------------------------------------------------
    def setup(self, api: Api) -> None:
        for path in ("/oauth2/authorize", "/api/oauth2/authorize", "/api/v10/oauth2/authorize"):
            api.app.router.add_get(path, self.authorize_page)
            api.app.router.add_post(path, self.authorize_submit)
        api.route("POST", "/oauth2/token", self.token, auth="none")
        api.route("POST", "/oauth2/token/revoke", self.revoke, auth="none")

    async def authorize_page(self, request: web.Request) -> web.Response:
        q = request.query
        problem = self._check_request(
            q.get("client_id"), q.get("response_type"), q.get("redirect_uri")
        )
        if problem:
            return web.Response(text=problem, status=400)
        owner = self.world.application.owner_id  # the app's own account: listed last
        people = sorted(
            (u for u in self.world.users.values() if not u.bot), key=lambda u: u.id == owner
        )
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(q.get(k, ""))}">'
            for k in ("client_id", "redirect_uri", "scope", "state", "response_type")
        )
        rows = "".join(
            _ROW.format(
                id=u.id,
                checked=" checked" if i == 0 else "",
                name=html.escape(u.global_name or u.username),
                username=html.escape(u.username),
            )
            for i, u in enumerate(people)
        )
        page = _AUTHORIZE_PAGE.format(
            app=html.escape(self.world.application.name),
            scopes=html.escape(q.get("scope", "")),
            rows=rows or "<p>No emulated users yet.</p>",
            hidden=hidden,
        )
        return web.Response(text=page, content_type="text/html")

    async def authorize_submit(self, request: web.Request) -> web.Response:
        form = await request.post()
        redirect_uri = str(form.get("redirect_uri", ""))
        problem = self._check_request(
            str(form.get("client_id", "")), str(form.get("response_type", "")), redirect_uri
        )
        if problem:
            return web.Response(text=problem, status=400)
        state = form.get("state")
        params: dict[str, str] = {}
        if form.get("decision") == "cancel":
            params = {
                "error": "access_denied",
                "error_description": "The resource owner denied the request",
            }
        else:
            user_id = int(str(form.get("user_id", "0")) or 0)
            if user_id not in self.world.users:
                return web.Response(text="Pick a user.", status=400)
            params = {"code": self.authorize(user_id, str(form.get("scope", "")), redirect_uri)}
        if state:
            params["state"] = str(state)
        sep = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(f"{redirect_uri}{sep}{urlencode(params)}")

    def _check_request(
        self, client_id: str | None, response_type: str | None, redirect: str | None
    ) -> str:
        app = self.world.application
        if client_id != str(app.id):
            return "Unknown application (client_id)."
        if response_type not in (None, "", "code"):
            return "Only response_type=code is supported."
        if not redirect:
            return "redirect_uri is required."
        if app.redirect_uris and redirect not in app.redirect_uris:
            return "Invalid OAuth2 redirect_uri."
        return ""

    def _client_ok(self, request: web.Request, form: dict[str, str]) -> bool:
        app = self.world.application
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode(errors="replace")
            client_id, _, secret = decoded.partition(":")
        return client_id == str(app.id) and secret == app.client_secret

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not self._client_ok(request, form):
            return ok({"error": "invalid_client"}, 401)
        grant_type = form.get("grant_type")
        now = self.world.clock.time()
        if grant_type == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)
            if code is None or code.expires_at < now:
                return ok(
                    {"error": "invalid_grant", "error_description": 'Invalid "code" in request.'},
                    400,
                )
            if code.redirect_uri != form.get("redirect_uri"):
                return ok(
                    {
                        "error": "invalid_grant",
                        "error_description": 'Invalid "redirect_uri" in request.',
                    },
                    400,
                )
            grant = self._issue(code.user_id, code.scopes)
        elif grant_type == "refresh_token":
            old = self._refresh.get(form.get("refresh_token", ""))
            if old is None:
                return ok({"error": "invalid_grant"}, 400)
            self._revoke(old)
            grant = self._issue(old.user_id, old.scopes)
        elif grant_type == "client_credentials":
            scopes = frozenset(form.get("scope", "identify").split())
            grant = self._issue(self.world.application.owner_id, scopes)
        else:
            return ok({"error": "unsupported_grant_type"}, 400)
        return ok(
            {
                "access_token": grant.access_token,
                "token_type": "Bearer",
                "expires_in": ACCESS_LIFETIME,
                "refresh_token": grant.refresh_token,
                "scope": " ".join(sorted(grant.scopes)),
            }
        )

    async def revoke(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not self._client_ok(request, form):
            return ok({"error": "invalid_client"}, 401)
        token = form.get("token", "")
        grant = self._access.get(token) or self._refresh.get(token)
        if grant is not None:
            self._revoke(grant)
        return ok({})


_ROW = (
    '<label class="who"><input type="radio" name="user_id" value="{id}"{checked}>'
    "<b>{name}</b> <small>@{username}</small></label>"
)
_AUTHORIZE_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Authorize {app} (Discord emulator)</title>
<style>body{{font-family:sans-serif;background:#313338;color:#dbdee1;
display:flex;justify-content:center}}
main{{background:#2b2d31;padding:24px;margin-top:40px;border-radius:8px;min-width:360px}}
.who{{display:block;padding:8px;margin:4px 0;background:#1e1f22;border-radius:4px;cursor:pointer}}
small{{color:#949ba4}}
button{{padding:8px 16px;border:0;border-radius:4px;margin-right:8px;cursor:pointer}}
.go{{background:#5865f2;color:white}}</style></head><body><main>
<h2>{app} wants to access your account</h2><p>Scopes: <code>{scopes}</code></p>
<p>Emulated Discord: choose who logs in.</p>
<form method="post">{hidden}{rows}
<p><button class="go" name="decision" value="authorize">Authorize</button>
<button name="decision" value="cancel">Cancel</button></p></form></main></body></html>"""

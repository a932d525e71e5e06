"""Discord OAuth2 (authorization code grant) for web login; the tokens stay on the server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from api.config import SCOPES, WebConfig
from api.errors import ApiError


class DiscordOAuth:
    """Code exchange, refresh, revoke and ``users/@me`` against Discord or the emulator."""

    def __init__(self, config: WebConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.http = client or httpx.AsyncClient(timeout=10)

    async def aclose(self) -> None:
        await self.http.aclose()

    def authorize_url(self, state: str) -> str:
        query = {
            "client_id": self.config.client_id,
            "response_type": "code",
            "redirect_uri": self.config.redirect_uri,
            "scope": SCOPES,
            "state": state,
            "prompt": "none",
        }
        return f"{self.config.authorize_url}?{urlencode(query)}"

    async def _token(self, form: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self.http.post(
                self.config.token_url,
                data=form,
                auth=(self.config.client_id, self.config.client_secret),
            )
        except httpx.HTTPError as error:
            raise ApiError(
                503, "discord_unavailable", f"Discord's login did not answer ({error}).",
                fix="Try logging in again in a moment.",
            ) from error  # fmt: skip
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code >= 500:
            raise ApiError(503, "discord_unavailable", "Discord's login is not answering.")
        if response.status_code != 200 or "access_token" not in body:
            raise ApiError(
                400, "login_refused",
                f"Discord refused the login ({body.get('error', response.status_code)}).",
                fix="Start again from /auth/login; check MUSTER_DISCORD_CLIENT_ID/SECRET.",
            )  # fmt: skip
        return body

    async def exchange(self, code: str) -> dict[str, Any]:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_uri,
            }
        )

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, token: str) -> None:
        try:
            await self.http.post(
                f"{self.config.token_url}/revoke",
                data={"token": token},
                auth=(self.config.client_id, self.config.client_secret),
            )
        except httpx.HTTPError:
            return  # the session is gone either way; the token expires on its own

    async def me(self, access_token: str) -> dict[str, Any]:
        response = await self.http.get(
            f"{self.config.discord_api_base}/users/@me",
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if response.status_code != 200:
            raise ApiError(400, "login_refused", "Discord did not tell us who you are.")
        body: dict[str, Any] = response.json()
        return body

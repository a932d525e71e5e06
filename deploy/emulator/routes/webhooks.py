"""Interaction callbacks and the interaction webhook (follow-ups, @original)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, json_body, no_content, ok, snowflake
from deploy.emulator.model import Interaction

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

_TRUE = ("1", "true", "True")
HOOK = "/webhooks/{webhook_id}/{webhook_token}"


class WebhookRoutes:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.world = emu.world
        self.responses = emu.responses

    def register(self, api: Api) -> None:
        api.route(
            "POST",
            "/interactions/{webhook_id}/{webhook_token}/callback",
            self.callback,
            auth="none",
        )
        api.route("GET", HOOK, self.get_webhook, auth="none")
        api.route("POST", HOOK, self.execute, auth="none")
        # "@original" first, so that discord.py's route key is logged as it names it.
        for path in (f"{HOOK}/messages/@original", f"{HOOK}/messages/{{message_id}}"):
            api.route("GET", path, self.get_message, auth="none")
            api.route("PATCH", path, self.edit_message, auth="none")
            api.route("DELETE", path, self.delete_message, auth="none")

    def _interaction(self, request: web.Request) -> Interaction:
        token = request.match_info["webhook_token"]
        return self.responses.webhook(snowflake(request, "webhook_id"), token)

    @staticmethod
    def _ref(request: web.Request) -> str:
        return request.match_info.get("message_id", "@original")

    async def callback(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        token = request.match_info["webhook_token"]
        result = self.responses.callback(snowflake(request, "webhook_id"), token, body)
        if request.query.get("with_response") in _TRUE:
            return ok(result)
        return no_content()

    async def get_message(self, request: web.Request) -> web.Response:
        msg = self.responses.message_of(self._interaction(request), self._ref(request))
        return ok(payloads.message(self.world, msg))

    async def edit_message(self, request: web.Request) -> web.Response:
        it = self._interaction(request)
        body = await json_body(request)
        return ok(payloads.message(self.world, self.responses.edit(it, self._ref(request), body)))

    async def delete_message(self, request: web.Request) -> web.Response:
        msg = self.responses.message_of(self._interaction(request), self._ref(request))
        self.world.delete_message(msg)
        return no_content()

    async def execute(self, request: web.Request) -> web.Response:
        it = self._interaction(request)
        msg = self.responses.followup(it, await json_body(request))
        if request.query.get("wait") in _TRUE:
            return ok(payloads.message(self.world, msg))
        return no_content()

    async def get_webhook(self, request: web.Request) -> web.Response:
        self._interaction(request)
        app = self.world.application
        return ok(
            {
                "id": str(app.id),
                "type": 3,
                "name": app.name,
                "avatar": None,
                "application_id": str(app.id),
            }
        )


def setup(api: Api, emu: DiscordEmulator) -> None:
    WebhookRoutes(emu).register(api)

"""Interaction callbacks and the interaction webhook (follow-ups, @original)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, json_body, no_content, ok, snowflake

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

_TRUE = ("1", "true", "True")


def setup(api: Api, emu: DiscordEmulator) -> None:
    world = emu.world
    responses = emu.responses

    async def callback(request: web.Request) -> web.Response:
        body = await json_body(request)
        token = request.match_info["webhook_token"]
        result = responses.callback(snowflake(request, "webhook_id"), token, body)
        if request.query.get("with_response") in _TRUE:
            return ok(result)
        return no_content()

    def interaction(request: web.Request):
        return responses.webhook(
            snowflake(request, "webhook_id"), request.match_info["webhook_token"]
        )

    def ref(request: web.Request) -> str:
        return request.match_info.get("message_id", "@original")

    async def get_message(request: web.Request) -> web.Response:
        return ok(payloads.message(world, responses.message_of(interaction(request), ref(request))))

    async def edit_message(request: web.Request) -> web.Response:
        it = interaction(request)
        body = await json_body(request)
        return ok(payloads.message(world, responses.edit(it, ref(request), body)))

    async def delete_message(request: web.Request) -> web.Response:
        msg = responses.message_of(interaction(request), ref(request))
        world.delete_message(msg)
        return no_content()

    async def execute(request: web.Request) -> web.Response:
        it = interaction(request)
        body = await json_body(request)
        msg = responses.followup(it, body)
        if request.query.get("wait") in _TRUE:
            return ok(payloads.message(world, msg))
        return no_content()

    async def get_webhook(request: web.Request) -> web.Response:
        interaction(request)
        app = world.application
        return ok(
            {
                "id": str(app.id),
                "type": 3,
                "name": app.name,
                "avatar": None,
                "application_id": str(app.id),
            }
        )

    hook = "/webhooks/{webhook_id}/{webhook_token}"
    api.route("POST", "/interactions/{webhook_id}/{webhook_token}/callback", callback, auth="none")
    api.route("GET", hook, get_webhook, auth="none")
    api.route("POST", hook, execute, auth="none")
    for path in (f"{hook}/messages/@original", f"{hook}/messages/{{message_id}}"):
        api.route("GET", path, get_message, auth="none")
        api.route("PATCH", path, edit_message, auth="none")
        api.route("DELETE", path, delete_message, auth="none")

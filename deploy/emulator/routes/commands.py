"""Application commands, global and per guild: list, get, create, edit, delete, bulk overwrite."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from deploy.emulator import payloads
from deploy.emulator.api import Api, json_body, no_content, ok, snowflake
from deploy.emulator.errors import MISSING_ACCESS, UNKNOWN_COMMAND, DiscordError, FormErrors
from deploy.emulator.model import Command

if TYPE_CHECKING:
    from deploy.emulator.server import DiscordEmulator

_NAME = re.compile(r"^[-_'\w]{1,32}$")


def validate_commands(commands: list[dict[str, Any]], *, bulk: bool) -> None:
    """Discord's checks on command names, descriptions and options (50035)."""
    errors = FormErrors()
    if bulk and len(commands) > 100:
        errors.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    seen: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        path: tuple[str | int, ...] = (i,) if bulk else ()
        name = cmd.get("name") or ""
        kind = cmd.get("type", 1)
        if not _NAME.match(name) or (kind == 1 and name != name.lower()):
            errors.add(
                (*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        if (kind, name) in seen:
            errors.add(
                (*path, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add((kind, name))
        if kind == 1:
            errors.bad_length((*path, "description"), len(cmd.get("description") or ""), 1, 100)
        _options(errors, (*path, "options"), cmd.get("options") or [])
    errors.raise_if_any()


def _options(
    errors: FormErrors, path: tuple[str | int, ...], options: list[dict[str, Any]]
) -> None:
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for j, opt in enumerate(options):
        name = opt.get("name") or ""
        if not _NAME.match(name) or name != name.lower():
            errors.add(
                (*path, j, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        errors.bad_length((*path, j, "description"), len(opt.get("description") or ""), 1, 100)
        if len(opt.get("choices") or []) > 25:
            errors.add(
                (*path, j, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        _options(errors, (*path, j, "options"), opt.get("options") or [])


class CommandRoutes:
    def __init__(self, emu: DiscordEmulator) -> None:
        self.world = emu.world

    def register(self, api: Api) -> None:
        for base in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            api.route("GET", f"{base}/commands", self.list_commands)
            api.route("PUT", f"{base}/commands", self.overwrite)
            api.route("POST", f"{base}/commands", self.create)
            api.route("GET", f"{base}/commands/{{command_id}}", self.get)
            api.route("PATCH", f"{base}/commands/{{command_id}}", self.edit)
            api.route("DELETE", f"{base}/commands/{{command_id}}", self.delete)

    def _scope(self, request: web.Request) -> int | None:
        """The guild of a guild-command route, None for global commands."""
        if snowflake(request, "application_id") != self.world.application.id:
            raise DiscordError(MISSING_ACCESS)
        if "guild_id" in request.match_info:
            return self.world.guild(snowflake(request, "guild_id")).id
        return None

    def _in_scope(self, guild_id: int | None) -> list[Command]:
        return [c for c in self.world.commands.values() if c.guild_id == guild_id]

    def _find(self, request: web.Request, guild_id: int | None) -> Command:
        cmd = self.world.commands.get(snowflake(request, "command_id"))
        if cmd is None or cmd.guild_id != guild_id:
            raise DiscordError(UNKNOWN_COMMAND)
        return cmd

    def _upsert(self, guild_id: int | None, body: dict[str, Any]) -> Command:
        """Same name and type keep their id; a changed payload gets a new version."""
        world = self.world
        key = (body.get("type", 1), body["name"])
        for cmd in self._in_scope(guild_id):
            if (cmd.payload.get("type", 1), cmd.payload["name"]) == key:
                if cmd.payload != body:
                    cmd.payload, cmd.version = body, world.ids.next()
                return cmd
        cmd = Command(world.ids.next(), body["name"], body, world.ids.next(), guild_id)
        world.commands[cmd.id] = cmd
        return cmd

    async def list_commands(self, request: web.Request) -> web.Response:
        return ok([payloads.command(self.world, c) for c in self._in_scope(self._scope(request))])

    async def overwrite(self, request: web.Request) -> web.Response:
        guild_id = self._scope(request)
        body = await json_body(request)
        if not isinstance(body, list):
            raise DiscordError((400, 50035, "Invalid Form Body"))
        validate_commands(body, bulk=True)
        kept = [self._upsert(guild_id, c).id for c in body]
        for cmd in self._in_scope(guild_id):
            if cmd.id not in kept:
                del self.world.commands[cmd.id]
        return ok([payloads.command(self.world, self.world.commands[i]) for i in kept])

    async def create(self, request: web.Request) -> web.Response:
        guild_id = self._scope(request)
        body = await json_body(request)
        validate_commands([body], bulk=False)
        existed = any(c.payload["name"] == body["name"] for c in self._in_scope(guild_id))
        cmd = self._upsert(guild_id, body)
        return ok(payloads.command(self.world, cmd), 200 if existed else 201)

    async def get(self, request: web.Request) -> web.Response:
        return ok(payloads.command(self.world, self._find(request, self._scope(request))))

    async def edit(self, request: web.Request) -> web.Response:
        cmd = self._find(request, self._scope(request))
        merged = cmd.payload | await json_body(request)
        validate_commands([merged], bulk=False)
        cmd.payload, cmd.name, cmd.version = merged, merged["name"], self.world.ids.next()
        return ok(payloads.command(self.world, cmd))

    async def delete(self, request: web.Request) -> web.Response:
        cmd = self._find(request, self._scope(request))
        del self.world.commands[cmd.id]
        return no_content()


def setup(api: Api, emu: DiscordEmulator) -> None:
    CommandRoutes(emu).register(api)

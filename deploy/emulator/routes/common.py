"""Helpers shared by the route modules."""

from __future__ import annotations

from aiohttp import web

from deploy.emulator.api import identity, snowflake
from deploy.emulator.errors import MISSING_ACCESS, MISSING_PERMISSIONS, DiscordError, FormErrors
from deploy.emulator.model import Guild
from deploy.emulator.permissions import base_permissions
from deploy.emulator.world import World


def guild_for(world: World, request: web.Request, needs: int = 0) -> Guild:
    """The guild in the path; the caller must be in it and hold ``needs`` permissions."""
    guild = world.guild(snowflake(request, "guild_id"))
    caller = identity(request).user_id or 0
    if caller not in guild.members:
        raise DiscordError(MISSING_ACCESS)
    if needs and not base_permissions(guild, caller) & needs:
        raise DiscordError(MISSING_PERMISSIONS)
    return guild


def limit_of(request: web.Request, default: int, high: int) -> int:
    """The ``limit`` query parameter, checked like Discord (50035 when out of range)."""
    raw = request.query.get("limit", str(default))
    value = int(raw) if raw.isdigit() else -1
    if not 1 <= value <= high:
        errors = FormErrors()
        errors.add(("limit",), "NUMBER_TYPE_MAX", f"int value should be between 1 and {high}.")
        errors.raise_if_any()
    return value

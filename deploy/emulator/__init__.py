"""A Discord emulator (REST v10, Gateway, OAuth2) for tests, benchmarks and the sandbox."""

from deploy.emulator.discordpy import point_discord_py_at
from deploy.emulator.interactions import ScriptError
from deploy.emulator.ratelimit import RateLimits
from deploy.emulator.server import DiscordEmulator

__all__ = ["DiscordEmulator", "RateLimits", "ScriptError", "point_discord_py_at"]

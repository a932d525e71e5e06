"""In-memory fakes of the web's ports, for router tests without servers."""

from __future__ import annotations

import time
from typing import Any

from api.config import WebConfig
from api.services import Web
from domain.commands import AnyCommand
from domain.outcome import Outcome
from gateways.jetstream.layout import Layout


class FakeRedis:
    """The few Redis calls the web makes (sessions, login state, feeds)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def getex(self, key: str, ex: int | None = None) -> bytes | None:
        return self.data.get(key)

    async def getdel(self, key: str) -> bytes | None:
        return self.data.pop(key, None)

    async def set(self, key: str, value: bytes | str, ex: int | None = None) -> None:
        self.data[key] = value.encode() if isinstance(value, str) else value

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self.data.pop(key, None)

    async def mget(self, keys: list[str]) -> list[bytes | None]:
        return [self.data.get(k) for k in keys]


class FakeCommands:
    """Records every command and answers with a plain Outcome (or, while ``busy``, the port's
    "no answer in time")."""

    def __init__(self) -> None:
        self.sent: list[AnyCommand] = []
        self.busy = False

    async def send(self, command: AnyCommand) -> Outcome:
        self.sent.append(command)
        if self.busy:
            raise TimeoutError("no command worker answered in time")
        return Outcome(result="unchanged", message="ok", aggregate_id="guild.1",
                       command_id=command.command_id, version=1)  # fmt: skip

    async def aclose(self) -> None:
        return None


GUILD, CHANNEL, OWNER, HOSTS = "100", "200", "1", "300"


class FakeDiscord:
    """A guild with an owner, a host role, and members alice, alicia and bob."""

    members = {
        "1": {"user": {"id": "1", "username": "hana"}, "roles": []},
        "2": {"user": {"id": "2", "username": "alice", "global_name": "Alice"}, "roles": [HOSTS]},
        "3": {"user": {"id": "3", "username": "alicia"}, "roles": []},
        "4": {"user": {"id": "4", "username": "bob"}, "roles": []},
    }

    async def guild(self, guild_id: str | int) -> dict[str, Any] | None:
        return {"id": GUILD, "name": "Test", "owner_id": OWNER} if str(guild_id) == GUILD else None

    async def guild_channels(self, guild_id: str | int) -> list[dict[str, Any]]:
        return [{"id": CHANNEL, "name": "games", "type": 0, "guild_id": GUILD}]

    async def channel(self, channel_id: str | int) -> dict[str, Any] | None:
        found = str(channel_id) == CHANNEL
        return {"id": CHANNEL, "name": "games", "type": 0, "guild_id": GUILD} if found else None

    async def roles(self, guild_id: str | int) -> list[dict[str, Any]]:
        return [{"id": GUILD, "permissions": "0"}, {"id": HOSTS, "permissions": str(0x20)}]

    async def member(self, guild_id: str | int, user_id: str | int) -> dict[str, Any] | None:
        return self.members.get(str(user_id)) if str(guild_id) == GUILD else None

    async def search_members(
        self, guild_id: str | int, query: str, limit: int = 10
    ) -> list[dict[str, Any]]:
        q = query.lower()
        return [
            m
            for m in self.members.values()
            if any(str(n).lower().startswith(q) for n in m["user"].values())
        ][:limit]

    async def user_guilds(self, user_id: str | int, access_token: str) -> list[dict[str, Any]]:
        return [{"id": GUILD, "name": "Test"}]


def fake_web() -> tuple[Web, FakeCommands, FakeRedis]:
    config = WebConfig(public_url="http://testserver", discord_api_base="http://discord/api/v10",
                       client_id="9", client_secret="s", session_secret="k" * 32)  # fmt: skip
    commands, redis = FakeCommands(), FakeRedis()
    web = Web(
        config=config, commands=commands, pool=None, redis=redis, nc=None,  # type: ignore[arg-type]
        discord=FakeDiscord(), oauth=None, layout=Layout(), names=None,  # type: ignore[arg-type]
        clock=time.time,
    )  # fmt: skip
    return web, commands, redis

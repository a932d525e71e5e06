"""Read-only views of the emulator for tests, benchmarks, the control API and the sandbox."""

from __future__ import annotations

from typing import Any

from deploy.emulator import payloads
from deploy.emulator.model import Interaction, Message
from deploy.emulator.world import World


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button and select of a message payload, flattened, in display order."""
    found: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("type") in (2, 3, 5, 6, 7, 8):
                found.append(item)
            walk(item.get("components") or [])
            if isinstance(item.get("accessory"), dict):
                walk([item["accessory"]])

    walk(message.get("components") or [])
    return found


class Inspector:
    """What the emulated Discord currently shows, and what happened to each interaction."""

    def __init__(self, world: World, deadline: float = 3.0) -> None:
        self.world = world
        self.deadline = deadline

    def messages(self, channel_id: int, *, as_user: int | None = None) -> list[dict[str, Any]]:
        """Current messages of a channel, oldest first; ephemeral ones only for ``as_user``."""
        channel = self.world.channel(channel_id)
        return [
            self._message(m)
            for m in channel.messages.values()
            if m.visible_to is None or m.visible_to == as_user
        ]

    def message(self, message_id: int) -> dict[str, Any]:
        return self._message(self.world.messages[message_id])

    def dms(self, user_id: int) -> list[dict[str, Any]]:
        """Messages in the DM channel between the bot and the user, oldest first."""
        cid = self.world.dm_channels.get(user_id)
        return self.messages(cid, as_user=user_id) if cid else []

    def all_dms(self) -> dict[int, list[dict[str, Any]]]:
        """DMs each user received from the bot."""
        bot = self.world.application.bot_user_id
        return {
            uid: [m for m in self.dms(uid) if int(m["author"]["id"]) == bot]
            for uid in self.world.dm_channels
        }

    def interaction(self, it: Interaction) -> dict[str, Any]:
        """One interaction: what was done, how and when the bot answered, errors it hit."""
        data = it.data
        latency = (
            None if it.responded_at is None else round((it.responded_at - it.created_at) * 1000, 3)
        )
        return {
            "id": str(it.id),
            "type": it.type,
            "user_id": str(it.user_id),
            "channel_id": str(it.channel_id),
            "guild_id": str(it.guild_id) if it.guild_id else None,
            "message_id": str(it.message_id) if it.message_id else None,
            "custom_id": data.get("custom_id"),
            "command": data.get("name"),
            "response_type": it.response_type,
            "response": it.response_data,
            "latency_ms": latency,
            "original_message_id": str(it.original_message_id) if it.original_message_id else None,
            "followup_ids": [str(i) for i in it.followup_ids],
            "failures": list(it.failures),
            "failed": it.response_type is None
            and self.world.clock.time() - it.created_at > self.deadline,
        }

    def interactions(self, limit: int = 100) -> list[dict[str, Any]]:
        items = list(self.world.interactions.values())[-limit:]
        return [self.interaction(it) for it in items]

    def state(self) -> dict[str, Any]:
        """Guilds with channels, roles and members, for the control API and sandbox."""
        world = self.world
        guilds = []
        for g in world.guilds.values():
            guilds.append(
                {
                    "id": str(g.id),
                    "name": g.name,
                    "channels": [payloads.channel(world, world.channels[c]) for c in g.channel_ids],
                    "roles": [payloads.role(r) for r in g.roles.values()],
                    "members": [payloads.member(world, m) for m in g.members.values()],
                }
            )
        return {
            "application": {"id": str(world.application.id), "name": world.application.name},
            "bot_user_id": str(world.application.bot_user_id),
            "guilds": guilds,
            "users": [payloads.user(u) for u in world.users.values()],
        }

    def _message(self, m: Message) -> dict[str, Any]:
        data = payloads.message(self.world, m)
        if m.visible_to is not None:
            data["visible_to"] = str(m.visible_to)
        return data

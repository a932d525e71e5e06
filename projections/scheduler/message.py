"""What a reminder DM says, and the marks that let Muster find it again.

Each reminder has a **nonce** derived from its key (game, offset, player, start time): it goes
out as the message's ``nonce`` with ``enforce_nonce`` (Discord posts a repeat once) and, in
the embed's footer, as a visible ``ref`` — so after a crash Muster can look through the DM
channel's recent messages and tell whether this reminder already went out, even after
Discord's nonce window has passed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from domain.game import GameState
from domain.rules import Effective
from projections.scheduler.agenda import Due

MUTE_PREFIX = "muster:mute:"
MUTE_GUILD_PREFIX = "muster:muteguild:"
MAX_RULES_SHOWN = 1024  # an embed field's limit


def nonce_of(due: Due) -> str:
    """25 characters (Discord's nonce limit), the same for every attempt of one reminder."""
    return "r" + hashlib.blake2b(due.key.encode(), digest_size=12).hexdigest()


def jump_link(game: GameState) -> str | None:
    """The announcement's URL, once Muster recorded it."""
    if game.announcement is None:
        return None
    a = game.announcement
    return f"https://discord.com/channels/{game.guild_id}/{a.channel_id}/{a.message_id}"


def reminder_body(game: GameState, effective: Effective, due: Due) -> dict[str, Any]:
    """The DM: title, relative and full start time, rules, a jump link, mute buttons."""
    ts = int(game.scheduled_at.timestamp())
    link = jump_link(game)
    embed: dict[str, Any] = {
        "title": game.details.title[:256],
        "description": f"Starts <t:{ts}:R> — <t:{ts}:F>",
        "footer": {"text": f"Muster reminder · ref {nonce_of(due)}"},
        "timestamp": game.scheduled_at.isoformat(),
    }
    if link:
        embed["url"] = link
    if effective.rules:
        rules = effective.rules
        if len(rules) > MAX_RULES_SHOWN:
            rules = rules[: MAX_RULES_SHOWN - 1] + "…"
        embed["fields"] = [{"name": "Rules", "value": rules}]
    buttons: list[dict[str, Any]] = [
        {"type": 2, "style": 2, "label": "Mute this game", "custom_id": MUTE_PREFIX + due.game_id},
        {
            "type": 2,
            "style": 2,
            "label": "Mute this server",
            "custom_id": MUTE_GUILD_PREFIX + game.guild_id,
        },
    ]
    if link:
        buttons.append({"type": 2, "style": 5, "label": "Go to the game", "url": link})
    return {
        "content": f"Reminder: **{game.details.title}** starts <t:{ts}:R> (<t:{ts}:F>).",
        "embeds": [embed],
        "components": [{"type": 1, "components": buttons}],
        "allowed_mentions": {"parse": []},
    }


def start_of(due: Due) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(due.start, UTC)

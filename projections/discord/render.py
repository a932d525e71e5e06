"""What Muster shows in Discord: the announcement of a game and the DMs it owes members.

Pure functions of the read model (:class:`~projections.queries.GameDetail`): no clock, no I/O.
Everything fits Discord's limits (embed title 256, description 4096, field value 1024, whole
embed 6000, message content 2000); long lists end with "+N more". Mentions render as names but
ping nobody (``allowed_mentions`` is empty): the announcement is edited often.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from gateways.discord.ops import Body, Json
from projections.discord.plan import DirectMessage
from projections.queries import GameDetail

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD = 1024
MAX_CONTENT = 2000
MAX_EMBED = 6000
JOIN, LEAVE, ATTEND = "muster:join:", "muster:leave:", "muster:attend:"
STYLE_PRIMARY, STYLE_SUCCESS, STYLE_DANGER = 1, 3, 4
COLOURS = {"scheduled": 0x2ECC71, "in_progress": 0x3498DB, "completed": 0x95A5A6,
           "cancelled": 0xE74C3C}  # fmt: skip
STATUS_WORDS = {"in_progress": "In progress", "completed": "Completed", "cancelled": "Cancelled"}
NO_PINGS: Json = {"parse": []}
DISCORD_WEB = "https://discord.com"


def unix(when: datetime) -> int:
    return int(when.timestamp())


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(lines: Sequence[str], limit: int = MAX_FIELD, empty: str = "—") -> str:
    """Lines joined, within ``limit``; what does not fit is counted as "+N more"."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text or empty
    reserve = len(f"\n+{len(lines)} more")
    shown: list[str] = []
    used = 0
    for line in lines:
        used += len(line) + (1 if shown else 0)
        if used + reserve > limit:
            break
        shown.append(line)
    return "\n".join([*shown, f"+{len(lines) - len(shown)} more"])


def duration(minutes: int) -> str:
    """``90`` → ``1 h 30 min``."""
    hours, rest = divmod(minutes, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "",
                                      f"{rest} min" if rest else "") if part)  # fmt: skip


def jump_link(guild_id: str, channel_id: str, message_id: str) -> str:
    """The link that opens a message in Discord."""
    return f"{DISCORD_WEB}/channels/{guild_id}/{channel_id}/{message_id}"


def _lines(game: GameDetail) -> tuple[list[str], list[str]]:
    """Players (mentions, then placeholders) and the waitlist with positions."""
    joined = [f"<@{p.user_id}>" for p in game.participants if p.kind == "joined"]
    held = [f"{p.label} *(placeholder)*" for p in game.participants if p.kind == "placeholder"]
    waiting = [f"{p.position}. <@{p.user_id}>" for p in game.participants
               if p.kind == "waitlisted"]  # fmt: skip
    return joined + held, waiting


def buttons(game: GameDetail) -> list[Json]:
    """Join (or "Join waitlist") and Leave, with the states the rules ask for; once the game is
    completed, "Record attendance" too (the host's; the bot refuses anyone else)."""
    scheduled = game.status == "scheduled"
    full = game.joined_count >= game.max_players
    cap = game.settings.waitlist_cap
    waitlist_full = full and cap is not None and game.waitlist_count >= cap
    join = {
        "type": 2,
        "style": STYLE_SUCCESS,
        "label": "Join waitlist" if full else "Join",
        "custom_id": f"{JOIN}{game.game_id}",
        "disabled": not scheduled or waitlist_full,
    }
    leave = {
        "type": 2,
        "style": STYLE_DANGER,
        "label": "Leave",
        "custom_id": f"{LEAVE}{game.game_id}",
        "disabled": not scheduled,
    }
    row = [join, leave]
    if game.status == "completed":
        row.append({"type": 2, "style": STYLE_PRIMARY, "label": "Record attendance",
                    "custom_id": f"{ATTEND}{game.game_id}"})  # fmt: skip
    return [{"type": 1, "components": row}]


def announcement(game: GameDetail) -> Body:
    """The whole announcement message of a game, as it should look now."""
    when = unix(game.scheduled_at)
    status = STATUS_WORDS.get(game.status)
    title = clip(f"{game.title} — {status}" if status else game.title, MAX_TITLE)
    head = [f"**When:** <t:{when}:F> (<t:{when}:R>)", f"**Host:** <@{game.host_id}>"]
    if game.duration_minutes:
        head.append(f"**Duration:** {duration(game.duration_minutes)}")
    if status:
        head.insert(0, f"**Status:** {status}")
    players, waiting = _lines(game)
    fields: list[Json] = []
    if game.settings.rules:
        fields.append({"name": "Rules", "value": clip(game.settings.rules, MAX_FIELD)})
    fields.append({"name": f"Players ({game.joined_count}/{game.max_players})",
                   "value": listing(players)})  # fmt: skip
    if waiting:
        cap = game.settings.waitlist_cap
        limit = f"/{cap}" if cap is not None else ""
        fields.append(
            {"name": f"Waitlist ({game.waitlist_count}{limit})", "value": listing(waiting)}
        )
    footer = f"Game {game.game_id}"
    used = len(title) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    description = "\n".join(head) + (f"\n\n{game.description}" if game.description else "")
    embed: Json = {
        "title": title,
        "description": clip(description, min(MAX_DESCRIPTION, MAX_EMBED - used)),
        "color": COLOURS.get(game.status, COLOURS["scheduled"]),
        "fields": fields,
        "footer": {"text": footer},
    }
    return Body(
        content=clip(f"📅 **{game.title}** — <t:{when}:F>", MAX_CONTENT),
        embeds=[embed],
        components=buttons(game),
        allowed_mentions=NO_PINGS,
    )


# -- DMs -------------------------------------------------------------------------------------


def _where(game: GameDetail) -> str:
    if game.announcement_message_id and game.announcement_channel_id:
        link = jump_link(game.guild_id, game.announcement_channel_id, game.announcement_message_id)
        return f"\nAnnouncement: {link}"
    return f"\nChannel: <#{game.channel_id}>"


REF_ROOM = 40  # the projector adds a last line naming the DM's nonce (dm_search.ref_line)


def _dm(text: str) -> Body:
    return Body(content=clip(text, MAX_CONTENT - REF_ROOM), allowed_mentions=NO_PINGS)


def promoted_dm(game: GameDetail) -> Body:
    """A seat freed up and the member moved up from the waitlist."""
    when = unix(game.scheduled_at)
    return _dm(f"Good news! You're in **{game.title}**, <t:{when}:F> (<t:{when}:R>)."
               f"{_where(game)}")  # fmt: skip


def cancelled_dm(game: GameDetail, reason: str) -> Body:
    when = unix(game.scheduled_at)
    because = f" Reason: {reason}" if reason else ""
    return _dm(f"**{game.title}** (<t:{when}:F>) was cancelled by the host.{because}"
               f"{_where(game)}")  # fmt: skip


def rescheduled_dm(game: GameDetail, scheduled_at: datetime, previous: datetime) -> Body:
    when, was = unix(scheduled_at), unix(previous)
    return _dm(f"**{game.title}** moved to <t:{when}:F> (<t:{when}:R>); it was <t:{was}:F>."
               f"{_where(game)}")  # fmt: skip


def removed_dm(game: GameDetail) -> Body:
    when = unix(game.scheduled_at)
    return _dm(f"The host removed you from **{game.title}** (<t:{when}:F>).{_where(game)}")


def moved_to_waitlist_dm(game: GameDetail, position: int) -> Body:
    return _dm(f"A change by the host moved you to the waitlist of **{game.title}**, "
               f"position {position}.{_where(game)}")  # fmt: skip


def dm_body(detail: GameDetail, dm: DirectMessage) -> Body:
    """The text of one DM."""
    if dm.kind == "promoted":
        return promoted_dm(detail)
    if dm.kind == "cancelled":
        return cancelled_dm(detail, dm.reason)
    if dm.kind == "rescheduled":
        return rescheduled_dm(
            detail, dm.scheduled_at or detail.scheduled_at,
            dm.previous_scheduled_at or detail.scheduled_at,
        )  # fmt: skip
    if dm.kind == "moved_to_waitlist":
        return moved_to_waitlist_dm(detail, dm.waitlist_position or 0)
    return removed_dm(detail)


def located(detail: GameDetail, channel_id: str, message_id: str) -> GameDetail:
    """``detail`` with its announcement's place (for the jump link)."""
    return msgspec.structs.replace(
        detail, announcement_channel_id=channel_id, announcement_message_id=message_id
    )

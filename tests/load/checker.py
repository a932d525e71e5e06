"""The checker: after the run, over the history and the final state, what went wrong.

Input (:class:`Evidence`, all plain data, so hand-made histories test the checker itself):

* ``actions`` and ``faults``: the history (``tests/load/history.py``);
* ``events``: the whole log in order, each ``{"pos", "game", "type", "command_id", ...fields}``;
* ``dms``: every DM the emulated Discord holds, ``{"user_id", "nonce", "content", "footer", "at"}``;
* ``announcements``: per game, the message the channel shows and the render of the read model;
* ``replay``: ``muster replay``'s exit code and output; ``stream``: the log's stream name;
* ``end``: when the load stopped (due times before ``end - grace`` must have been handled).

Each check returns its violations; :func:`check` gathers them into a :class:`Report`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from domain import errors as domain_errors

EFFECTS = {
    "join": {"game.player_joined.v1", "game.player_waitlisted.v1"},
    "leave": {"game.player_left.v1"},
    "create": {"game.created.v1"},
    "edit": {"game.updated.v1"},
    "cancel": {"game.cancelled.v1"},
}
SUCCESS = {
    "join": (r"^You're in — \d+/\d+\.$", r"^The game is full: you are #\d+ on the waitlist\.$"),
    "leave": (r"^You left the game\.", r"^You left the waitlist\.$"),
    "create": (r"^\*\*.+\*\* is on for <t:\d+:F>",),
    "edit": (r"^Game updated: ",),
    "cancel": (r"^\*\*.+\*\* is cancelled; players are told\.$",),
}
# Refusals a person may see, each with the domain or bot code it stands for.
REFUSALS = (
    (r"^You're already in this game\.$", "already_joined"),
    (r"^You're already on the waitlist, #\d+\.$", "already_joined"),
    (r"^You already left: you are not in this game or its waitlist\.$", "not_joined"),
    (r"^You can't (join|leave): the game (has started|is over|was cancelled)\.$", "game_not_open"),
    (r"^All \d+ seats are taken and (there is no waitlist|the waitlist is full)", "game_full"),
    (r"^Only the host \(<@\d+>\) or someone with Manage Server can ", "not_host"),
    (r"^A game that is [a-z ]+ cannot be [a-z ]+\.$", "invalid_status_change"),
    (r"^This game is [a-z ]+, so players can no longer join or leave\.$", "game_not_open"),
    (r"^That did not work:\n", "invalid_command"),
    (r"^Nothing changed\.$", "unchanged"),
    (r"^Nothing was changed:\n", "invalid_command"),
    (r"^I don't know a game .* here\. Start typing its title", "game_not_found"),
    (r"^There is no game ", "game_not_found"),
    # the bot's own: a form or button no handler answers (expired, or shown before a restart)
    (r"^This form or button is no longer active \(it expired, or Muster restarted", "stale_form"),
)
UNKNOWN_OUTCOME = (  # the bot could not confirm: at most one effect, never a rule broken
    r"^Something went wrong on our side",
    r"^Muster is restarting right now",
    r"^Easy there: you clicked a lot",
    r"^Muster cannot read its games right now",  # /game edit's read, bounded (no effect)
)
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
API_CODES = {
    "invalid_request", "invalid_idempotency_key", "bad_mentions", "not_logged_in", "csrf_failed",
    "page_not_found", "channel_not_found", "unknown_channel", "game_not_yet_created",
    "discord_unavailable", "unavailable", "invalid_cursor", "invalid_at", "server_error",
}  # fmt: skip
BOT_PATH_FAULTS = ("kill:bot", "gateway_drop")
EXCUSE_BEFORE, EXCUSE_AFTER = 50.0, 10.0  # an action that overlaps a bot outage may go silent


def domain_codes() -> set[str]:
    found: set[str] = set()
    stack: list[type] = [domain_errors.DomainError]
    while stack:
        cls = stack.pop()
        found.add(cls.code)  # type: ignore[attr-defined]
        stack.extend(cls.__subclasses__())
    return found


@dataclass
class Evidence:
    actions: list[dict[str, Any]]
    faults: list[dict[str, Any]]
    events: list[dict[str, Any]]
    dms: list[dict[str, Any]]
    announcements: list[dict[str, Any]]
    replay: dict[str, Any]
    stream: str
    end: float
    grace: float = 90.0


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[Any]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, items: list[Any]) -> None:
        self.counts[name] = len(items)
        if items:
            self.examples[name] = items[:5]

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    def lines(self) -> list[str]:
        out = [f"  {name:<28} {count}" for name, count in self.counts.items()]
        for name, items in self.examples.items():
            out.append(f"  e.g. {name}: {items}")
        return out


# -- answers -------------------------------------------------------------------------------------
def classify(action: dict[str, Any]) -> str:
    """``ok``, ``refused``, ``unknown`` (no confirmed outcome), ``traceback``, ``unrecognised``."""
    answer = action.get("answer") or {}
    kind = answer.get("type")
    if kind == "reply":
        text = answer.get("text") or ""
        if TRACEBACK.search(text):
            return "traceback"
        if any(re.search(p, text) for p in SUCCESS.get(action["kind"], ())):
            return "ok"
        if any(re.search(p, text) for p, _ in REFUSALS):
            return "refused"
        if any(re.search(p, text) for p in UNKNOWN_OUTCOME):
            return "unknown"
        return "unrecognised"
    if kind == "http":
        status = int(answer.get("status") or 0)
        if TRACEBACK.search(str(answer.get("text") or "") + str(answer.get("message") or "")):
            return "traceback"
        if 200 <= status < 300:
            return "ok"
        if 400 <= status < 500:
            return "refused"
        return "unknown"
    return "unknown"  # silence, unreachable, a modal never submitted


def effects_by_command(events: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        found[event.get("command_id") or ""][event["type"]] += 1
    return found


def check_effects(ev: Evidence) -> tuple[list[Any], list[Any], list[Any]]:
    """(lost, doubled, refused but applied) by command id."""
    effects = effects_by_command(ev.events)
    lost, doubled, phantom = [], [], []
    for action in ev.actions:
        wanted = EFFECTS.get(action["kind"])
        if wanted is None or not action.get("command_id"):
            continue
        count = sum(
            n for t, n in effects.get(action["command_id"], Counter()).items() if t in wanted
        )
        verdict = classify(action)
        answer = action.get("answer") or {}
        unchanged = answer.get("result") == "unchanged"
        if count > 1:
            doubled.append((action["id"], action["command_id"], count))
        elif verdict == "ok" and count == 0 and not unchanged:
            lost.append((action["id"], action["kind"], action["command_id"]))
        elif verdict == "refused" and count:
            phantom.append((action["id"], action["command_id"], answer))
    # any command applied twice, whoever sent it (scheduler, reactions, projections)
    for command_id, types in effects.items():
        for kind in ("game.created.v1", "game.cancelled.v1", "game.player_promoted.v1"):
            if types[kind] > 1 and kind != "game.player_promoted.v1":
                doubled.append(("log", command_id, kind, types[kind]))
    return lost, doubled, phantom


# -- folding the log -------------------------------------------------------------------------------
def fold_games(events: list[dict[str, Any]]) -> tuple[list[Any], list[Any], list[Any]]:
    """(overbooked states, FIFO violations, over the cap after the start), checking the state
    after every atomic append. Seats are taken only while a game is scheduled; a cap lowered
    after the start moves nobody (the domain's rule), so that is noted, not counted."""
    joined: dict[str, list[str]] = defaultdict(list)
    waiting: dict[str, list[str]] = defaultdict(list)
    cap: dict[str, int] = {}
    status: dict[str, str] = {}
    overbooked, unfair, after_start = [], [], []
    previous: tuple[str, str] | None = None

    def settle(game: str, pos: int) -> None:
        if game in cap and len(joined[game]) > cap[game]:
            found = (game, pos, len(joined[game]), cap[game])
            (overbooked if status.get(game) == "scheduled" else after_start).append(found)

    for event in events:
        game, kind = event.get("game"), event["type"]
        if not game:
            continue
        key = (game, event.get("command_id") or "")
        if previous is not None and key != previous:
            settle(*previous[:1], event["pos"])
        previous = key
        user = event.get("user_id")
        if kind == "game.created.v1":
            status[game] = "scheduled"
            details = event.get("details") or {}
            if details.get("max_players"):
                cap[game] = int(details["max_players"])
        elif kind in ("game.started.v2", "game.cancelled.v1", "game.completed.v1"):
            status[game] = kind.split(".")[1]
        elif kind == "game.updated.v1":
            details = event.get("details") or {}
            if details.get("max_players"):
                cap[game] = int(details["max_players"])
        elif kind in ("game.player_joined.v1", "game.player_promoted.v1"):
            cap[game] = int(event["max_players"])
            if kind == "game.player_promoted.v1":
                if not waiting[game] or waiting[game][0] != user:
                    unfair.append((game, event["pos"], user, waiting[game][:3]))
                if user in waiting[game]:
                    waiting[game].remove(user)
            joined[game].append(user)
            if event.get("joined_count") is not None and event["joined_count"] != len(joined[game]):
                unfair.append((game, event["pos"], "joined_count", event["joined_count"],
                               len(joined[game])))  # fmt: skip
        elif kind == "game.player_waitlisted.v1":
            if event.get("position") != len(waiting[game]) + 1:
                unfair.append((game, event["pos"], user, "position", event.get("position"),
                               len(waiting[game]) + 1))  # fmt: skip
            waiting[game].append(user)
        elif kind == "game.player_left.v1":
            source = waiting[game] if event.get("from_waitlist") else joined[game]
            if user in source:
                source.remove(user)
        elif kind == "game.player_moved_to_waitlist.v1":
            if user in joined[game]:
                joined[game].remove(user)
            waiting[game].insert(max(0, int(event["position"]) - 1), user)
            cap[game] = int(event["max_players"])
    if previous is not None:
        settle(previous[0], -1)
    return overbooked, unfair, after_start


def dm_nonce(stream: str, source: int, user: str) -> str:
    """The nonce projections/discord gives the DM owed for the event at ``source``."""
    text = ":".join(map(str, ("dm", stream, source, user)))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def reminder_nonce(game: str, offset: int, user: str, start: int) -> str:
    key = f"{game}:{offset}:{user}:{start}"
    return "r" + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def check_promotions(ev: Evidence) -> tuple[list[Any], list[Any]]:
    """(promotions not told exactly once, DMs sent more than once)."""
    by_nonce = Counter(str(dm.get("nonce") or "") for dm in ev.dms if dm.get("nonce"))
    recorded: dict[tuple[int, str], list[str]] = defaultdict(list)
    for event in ev.events:
        if event["type"] == "game.direct_message_recorded.v1":
            recorded[(int(event["source_position"]), str(event["user_id"]))].append(event["status"])
    untold = []
    for event in ev.events:
        if event["type"] != "game.player_promoted.v1":
            continue
        key = (int(event["pos"]), str(event["user_id"]))
        statuses = recorded.get(key, [])
        sent = by_nonce.get(dm_nonce(ev.stream, *key), 0)
        if len(statuses) != 1 or (statuses == ["sent"] and sent != 1) or sent > 1:
            untold.append((event["game"], key, statuses, sent))
    duplicates = [(nonce, n) for nonce, n in by_nonce.items() if n > 1]
    return untold, duplicates


DECIDING = 5.0
"""Seconds after a reminder's due time in which its player may leave and rightly get none: the
scheduler decides a moment after the due time, and the domain refuses a reminder for a player
who has left (docs/scheduler.md). A player seated from 100 s before until this long after the
due time must have a reminder recorded."""


def check_reminders(ev: Evidence) -> tuple[list[Any], list[Any], list[Any]]:
    """(duplicate reminders, reminders decided after the game was cancelled, due reminders never
    handled, reminders decided before a cancellation and recorded sent after it). A reminder is
    decided when its intent is in the log; one in flight when the host cancels may still go out
    (the scheduler cannot take back a DM it is sending), which is noted, not counted."""
    records: Counter[tuple[str, int, str, int]] = Counter()
    intents: list[tuple[str, int]] = []  # where each reminder was decided
    sent_positions: list[tuple[str, int]] = []  # "sent" records
    cancelled_at: dict[str, float] = {}
    cancelled_pos: dict[str, int] = {}
    start_of: dict[str, float] = {}
    offsets: dict[str, list[int]] = {}
    inherited: dict[str, list[int]] = {}  # guild or channel id -> its reminder offsets
    membership: dict[str, dict[str, list[tuple[float, bool]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for event in ev.events:
        game, kind = event.get("game"), event["type"]
        at = _ts(event.get("occurred_at"))
        if kind in ("guild.configured.v1", "channel.configured.v1"):
            where = event.get("channel_id") or event.get("guild_id")
            inherited[str(where)] = list(
                (event.get("settings") or {}).get("reminder_minutes") or []
            )
        elif kind == "game.created.v1":
            start_of[game] = _ts(event["scheduled_at"])
            offsets[game] = list(
                (event.get("details") or {}).get("reminder_minutes")
                or inherited.get(str(event.get("channel_id")))
                or inherited.get(str(event.get("guild_id")))
                or []
            )
        elif kind == "game.rescheduled.v1":
            start_of[game] = _ts(event["scheduled_at"])
        elif kind == "game.cancelled.v1":
            cancelled_at.setdefault(game, at)
            cancelled_pos.setdefault(game, int(event["pos"]))
        elif kind == "game.reminder_intent_recorded.v1":
            intents.append((game, int(event["pos"])))
        elif kind in ("game.player_joined.v1", "game.player_promoted.v1"):
            membership[game][event["user_id"]].append((at, True))
        elif kind in ("game.player_left.v1", "game.player_moved_to_waitlist.v1"):
            if kind == "game.player_moved_to_waitlist.v1" or not event.get("from_waitlist"):
                membership[game][event["user_id"]].append((at, False))
        elif kind == "game.reminder_recorded.v1":
            start = int(_ts(event["scheduled_at"]))
            key = (game, int(event["offset_minutes"]), str(event["user_id"]), start)
            records[key] += 1
            if event["status"] == "sent":
                sent_positions.append((game, int(event["pos"])))
    reminder_dms = Counter(
        str(dm.get("nonce") or "") for dm in ev.dms if str(dm.get("nonce") or "").startswith("r")
    )
    duplicates = [key for key, n in records.items() if n > 1]
    duplicates += [("dm", nonce, n) for nonce, n in reminder_dms.items() if n > 1]
    after_cancel = [(g, p) for g, p in intents if p > cancelled_pos.get(g, 1 << 62)]
    in_flight = [
        (g, p)
        for g, p in sent_positions
        if p > cancelled_pos.get(g, 1 << 62) and (g, p) not in set(after_cancel)
    ]
    missed = []
    for game, start in start_of.items():
        for offset in offsets.get(game) or []:
            due = start - offset * 60
            if due > ev.end - ev.grace or cancelled_at.get(game, float("inf")) <= due + 5:
                continue
            for user, changes in membership[game].items():
                seated = _member_throughout(changes, due - 100, due + DECIDING)
                if seated and records[(game, offset, user, int(start))] == 0:
                    missed.append((game, offset, user))
    return duplicates, after_cancel, missed, in_flight


def _member_throughout(changes: list[tuple[float, bool]], since: float, until: float) -> bool:
    """Seated at ``since`` and no change of seat until ``until``."""
    state = False
    for at, joined in changes:
        if at <= since:
            state = joined
        elif at <= until:
            return False
    return state


def _ts(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


# -- users' answers -------------------------------------------------------------------------------
def in_windows(t0: float, t1: float, windows: list[tuple[float, float]]) -> bool:
    return any(t0 - EXCUSE_AFTER <= end and start - EXCUSE_BEFORE <= t1 for start, end in windows)


def check_answers(ev: Evidence) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """(tracebacks, silences outside bot outages, unrecognised replies, undocumented codes)."""
    outages = [(f["t0"], f["t1"]) for f in ev.faults if f["kind"] in BOT_PATH_FAULTS]
    codes = domain_codes() | API_CODES
    tracebacks, silences, unrecognised, undocumented = [], [], [], []
    for action in ev.actions:
        verdict = classify(action)
        answer = action.get("answer") or {}
        if verdict == "traceback":
            tracebacks.append((action["id"], answer))
        elif verdict == "unrecognised":
            unrecognised.append((action["id"], action["kind"], answer.get("text")))
        if answer.get("type") == "silence" and not in_windows(action["t0"], action["t1"], outages):
            silences.append((action["id"], action["kind"], action.get("command_id"), action["t0"]))
        if answer.get("type") == "http" and int(answer.get("status") or 0) >= 400:
            code = answer.get("code")
            if code not in codes:
                undocumented.append((action["id"], answer.get("status"), code))
    return tracebacks, silences, unrecognised, undocumented


def check_announcements(ev: Evidence) -> list[Any]:
    stale = []
    for item in ev.announcements:
        if item.get("shown") != item.get("expected"):
            stale.append(
                (item["game_id"], _first_difference(item.get("shown"), item.get("expected")))
            )
    return stale


def _first_difference(shown: Any, expected: Any) -> str:
    if not isinstance(shown, dict) or not isinstance(expected, dict):
        return f"shown {shown!r:.80} expected {expected!r:.80}"
    for key in sorted(set(shown) | set(expected)):
        if shown.get(key) != expected.get(key):
            return f"{key}: shown {shown.get(key)!r:.120} expected {expected.get(key)!r:.120}"
    return ""


def load_evidence(out: Path) -> Evidence:
    """The evidence a fault run kept in ``out`` (to check it again, or with a newer checker)."""
    lines = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines() if x]
    events = []
    for line in (out / "events.jsonl").read_text().splitlines():
        envelope = json.loads(line)
        subject = envelope["subject"]
        game = subject.rsplit(".", 1)[1] if ".game." in subject else None
        events.append({**envelope["body"], "pos": envelope["seq"], "game": game})
    replay = (out / "replay.txt").read_text()
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    actions = [x for x in lines if x["type"] == "action"]
    return Evidence(
        actions=actions, faults=[x for x in lines if x["type"] == "fault"], events=events,
        dms=json.loads((out / "dms.json").read_text()),
        announcements=json.loads((out / "announcements.json").read_text()),
        replay={"exit": 0 if "no difference" in replay else 1, "output": replay},
        stream="EVENTS", end=report.get("end") or max(a["t1"] for a in actions),
    )  # fmt: skip


def check(ev: Evidence) -> Report:
    report = Report()
    lost, doubled, phantom = check_effects(ev)
    overbooked, unfair, after_start = fold_games(ev.events)
    untold, duplicate_dms = check_promotions(ev)
    duplicate_reminders, cancelled_reminders, missed, in_flight = check_reminders(ev)
    tracebacks, silences, unrecognised, undocumented = check_answers(ev)
    report.add("lost", lost)
    report.add("doubled", doubled)
    report.add("refused but applied", phantom)
    report.add("overbooked", overbooked)
    report.add("waitlist not FIFO", unfair)
    report.add("promotion not told once", untold)
    report.add("duplicate DMs", duplicate_dms)
    differences = [] if ev.replay.get("exit") == 0 else [ev.replay.get("output", "")[-500:]]
    report.add("replay differences", differences)
    report.add("stale announcements", check_announcements(ev))
    report.add("duplicate reminders", duplicate_reminders)
    report.add("reminders after cancel", cancelled_reminders)
    report.add("due reminders missed", missed)
    report.add("tracebacks", tracebacks)
    report.add("silences", silences)
    report.add("unrecognised replies", unrecognised)
    report.add("undocumented errors", undocumented)
    verdicts = Counter(classify(a) for a in ev.actions)
    report.notes["answers"] = dict(verdicts)
    report.notes["reminders in flight at a cancellation"] = len(in_flight)
    report.notes["over the cap after the start (cap lowered in progress)"] = len(after_start)
    report.notes["actions"] = dict(Counter(f"{a['via']}:{a['kind']}" for a in ev.actions))
    return report


if __name__ == "__main__":  # python -m tests.load.checker EVIDENCE_DIR
    where = Path(sys.argv[1])
    checked = check(load_evidence(where))
    if (where / "report.json").exists():
        checked.add(
            "did not settle", json.loads((where / "report.json").read_text()).get("unsettled", [])
        )
    print("\n".join(checked.lines()))
    print(checked.notes)
    raise SystemExit(0 if checked.ok else 1)

"""The load: members, hosts and web users acting at once through the real entry points.

* members click Join and Leave on announcements in the emulated Discord (the real bot answers);
* hosts create, edit and cancel games with ``/game create|edit|cancel`` (modals included) and
  with the JSON API (``Idempotency-Key``; a client retries with the same key, as a good one does);
* members join and leave through the API; web users read game pages, the API and the list;
* games are scheduled a few minutes ahead with a reminder one minute before, so the scheduler
  reaches due times (reminders, starts, ends) during the run.

Every action goes to the :class:`~tests.load.history.History` with the answer the person got.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from deploy.emulator.interactions import ScriptError
from deploy.emulator.model import LOADING, Interaction
from deploy.emulator.people import Person, wait_for_answer
from tests.load.history import History, now
from tests.load.system import System

ACK_WITHIN = 10.0  # seconds for the bot's first answer (Discord itself allows 3)
ANSWER_WITHIN = 45.0  # seconds for the deferred answer (a command may wait out a NATS restart)
GAME_FOOTER = re.compile(r"^Game ([0-9a-f-]{36})$")
WHEN = re.compile(r"<t:(\d+):F>")


@dataclass
class GameInfo:
    game_id: str
    title: str
    scheduled_at: float
    via: str
    cancelled: bool = False


@dataclass
class Load:
    """Drives the running system at ``rate`` actions per second."""

    system: System
    people: dict[str, Any]
    history: History
    rate: float = 4.0
    seed: int = 1
    api_users: int = 6
    games: dict[str, GameInfo] = field(default_factory=dict)
    pending_titles: dict[str, str] = field(default_factory=dict)  # title -> via
    clients: dict[int, httpx.AsyncClient] = field(default_factory=dict)
    counter: int = 0
    in_flight: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def emu(self) -> Any:
        return self.system.emu

    # -- setup -------------------------------------------------------------------------------
    async def login(self, person: Person) -> httpx.AsyncClient:
        """An API client logged in as ``person`` through the emulated OAuth2 page."""
        client = httpx.AsyncClient(base_url=self.system.web_url, timeout=30)
        start = await client.get("/auth/login")
        authorize = start.headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        async with httpx.AsyncClient() as plain:
            answer = await plain.post(
                authorize.split("?")[0],
                data={**query, "user_id": str(person.id), "decision": "authorize"},
            )
        done = await client.get(answer.headers["location"])
        assert done.status_code == 303, done.text
        me = (await client.get("/auth/me")).json()
        client.headers["X-CSRF-Token"] = me["csrf_token"]
        self.clients[person.id] = client
        return client

    async def setup(self) -> None:
        for person in [*self.people["hosts"], *self.people["players"][: self.api_users]]:
            await self.login(person)
        host = self.people["hosts"][0]
        guild = str(self.people["guild"].id)
        answer = await self.clients[host.id].patch(
            f"/api/v1/guilds/{guild}/settings", json={"reminder_minutes": [1], "max_players": 3}
        )
        assert answer.status_code == 200, answer.text

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    # -- what the channel shows --------------------------------------------------------------
    def announcements(self) -> dict[str, Any]:
        """game id → its announcement message in #games (found by its footer)."""
        found: dict[str, Any] = {}
        world = self.emu.world
        messages = [m for channel in self.people["channels"]
                    for m in list(world.channel(channel.id).messages.values())]  # fmt: skip
        for message in messages:
            for embed in message.embeds or []:
                match = GAME_FOOTER.match((embed.get("footer") or {}).get("text", ""))
                if match:
                    found[match.group(1)] = message
                    self._learn(
                        match.group(1), embed.get("title", ""), embed.get("description", "")
                    )
        return found

    def _learn(self, game_id: str, shown_title: str, description: str) -> None:
        if game_id in self.games:
            return
        when = WHEN.search(description)
        for title, via in list(self.pending_titles.items()):
            if shown_title.startswith(title):
                del self.pending_titles[title]
                at = float(when.group(1)) if when else 0.0
                self.games[game_id] = GameInfo(game_id, title, at, via)
                return

    def open_games(self, margin: float = 8.0) -> list[GameInfo]:
        """Games still scheduled (as far as the load knows) and not about to start."""
        t = now()
        return [
            g for g in self.games.values()
            if not g.cancelled and (g.scheduled_at == 0.0 or g.scheduled_at > t + margin)
        ]  # fmt: skip

    # -- Discord -----------------------------------------------------------------------------
    async def answer_of(self, it: Interaction) -> dict[str, Any]:
        """What the person saw: the ephemeral reply text, or silence."""
        if not await wait_for_answer(it, ACK_WITHIN):  # what the emulator saw, for the report
            return {"type": "silence", "stage": "ack", "interaction": it.id,
                    "failures": list(it.failures)}  # fmt: skip
        if it.response_type == 4:
            return {"type": "reply", "text": (it.response_data or {}).get("content", "")}
        if it.response_type == 9:
            return {"type": "modal"}
        deadline = now() + ANSWER_WITHIN
        while now() < deadline:
            msg = self.emu.world.messages.get(it.original_message_id or 0)
            if msg is not None and not msg.flags & LOADING:
                return {"type": "reply", "text": msg.content or ""}
            await asyncio.sleep(0.1)
        return {"type": "silence", "stage": "answer", "interaction": it.id,
                "failures": list(it.failures)}  # fmt: skip

    async def click(self, person: Person, game: GameInfo, which: str) -> None:
        message = self.announcements().get(game.game_id)
        if message is None:
            return
        t0 = now()
        try:
            it = self.emu.interactions.click(person.id, message, f"muster:{which}:{game.game_id}")
        except ScriptError:
            return  # the button is disabled: the game started or was cancelled
        answer = await self.answer_of(it)
        self.history.action(
            kind=which, via="discord", user=str(person.id), game=game.game_id,
            command_id=f"discord:{it.id}", t0=t0, t1=now(), answer=answer,
        )  # fmt: skip

    async def slash(self, person: Person, name: str, options: dict[str, Any],
                    modal: dict[str, str] | None, kind: str, game: str | None) -> None:  # fmt: skip
        t0 = now()
        channel = self.emu.world.channel(self.rng.choice(self.people["channels"]).id)
        try:
            it = self.emu.interactions.command(person.id, channel, name, options)
        except ScriptError as error:  # the bot has not registered its commands yet
            self.history.action(kind=kind, via="discord", user=str(person.id), game=game,
                                command_id=None, t0=t0, t1=now(),
                                answer={"type": "unreachable", "error": str(error)})  # fmt: skip
            return
        answer = await self.answer_of(it)
        if modal is not None and answer["type"] == "modal":
            it = self.emu.interactions.submit_modal(person.id, it, modal)
            answer = await self.answer_of(it)
        self.history.action(kind=kind, via="discord", user=str(person.id), game=game,
                            command_id=f"discord:{it.id}", t0=t0, t1=now(), answer=answer,
                            title=(modal or {}).get("title"))  # fmt: skip

    # -- the API -----------------------------------------------------------------------------
    async def api(self, person: Person, kind: str, method: str, path: str, game: str | None,
                  body: dict[str, Any] | None = None) -> dict[str, Any] | None:  # fmt: skip
        """A write with an Idempotency-Key, retried with the same key on 5xx or no answer."""
        client = self.clients[person.id]
        key = str(uuid.uuid4())
        t0 = now()
        answer: dict[str, Any] = {}
        data = None
        for attempt in range(1, 4):
            try:
                response = await client.request(method, path, json=body,
                                                headers={"Idempotency-Key": key})  # fmt: skip
            except httpx.HTTPError as error:
                answer = {"type": "unreachable", "error": type(error).__name__, "attempts": attempt}
                await asyncio.sleep(2.0)
                continue
            answer = {"type": "http", "status": response.status_code, "attempts": attempt}
            try:
                data = response.json()
            except ValueError:
                answer["text"] = response.text[:500]
                data = None
            if isinstance(data, dict):
                error = data.get("error") or {}
                answer["code"] = error.get("code")
                answer["result"] = data.get("result")
                answer["message"] = error.get("message") or data.get("message")
            if response.status_code < 500:
                break
            await asyncio.sleep(2.0)
        self.history.action(kind=kind, via="api", user=str(person.id), game=game,
                            command_id=f"api:{person.id}:{key}", t0=t0, t1=now(),
                            answer=answer, title=(body or {}).get("title"))  # fmt: skip
        return data if answer.get("type") == "http" and answer["status"] < 300 else None

    async def read(self, person: Person, game: GameInfo | None) -> None:
        client = self.clients[person.id]
        guild = self.people["guild"].id
        path = self.rng.choice(
            [f"/games/{game.game_id}", f"/api/v1/games/{game.game_id}"] if game
            else [f"/api/v1/games?guild_id={guild}", f"/guilds/{guild}"]
        )  # fmt: skip
        t0 = now()
        try:
            response = await client.get(path)
            answer = {"type": "http", "status": response.status_code}
            if response.status_code >= 400:
                answer["text"] = response.text[:300]
                with contextlib.suppress(ValueError, AttributeError):
                    answer["code"] = response.json()["error"]["code"]
        except httpx.HTTPError as error:
            answer = {"type": "unreachable", "error": type(error).__name__}
        self.history.action(kind="read", via="web", user=str(person.id), path=path,
                            game=game.game_id if game else None, command_id=None,
                            t0=t0, t1=now(), answer=answer)  # fmt: skip

    # -- hosts -------------------------------------------------------------------------------
    def _when(self) -> datetime:
        return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
            minutes=self.rng.randint(2, 4)
        )

    async def create(self) -> None:
        self.counter += 1
        host = self.rng.choice(self.people["hosts"])
        at = self._when()
        if self.counter % 2:
            title = f"Slash {self.counter}"
            self.pending_titles[title] = "discord"
            # a duration of minutes, like the API's games: the scheduler's board stays bounded
            await self.slash(host, "game create", {"duration": "2"},
                             {"title": title, "when": at.strftime("%Y-%m-%d %H:%M"),
                              "max_players": str(self.rng.randint(2, 4))},
                             "create", None)  # fmt: skip
            return
        title = f"Api {self.counter}"
        room = self.rng.choice(self.people["channels"])
        body = {"guild_id": str(self.people["guild"].id), "channel_id": str(room.id),
                "title": title, "scheduled_at": at.isoformat(), "duration_minutes": 1,
                "max_players": self.rng.randint(2, 4), "reminder_minutes": [1]}  # fmt: skip
        data = await self.api(host, "create", "POST", "/api/v1/games", None, body)
        if data and data.get("game_id"):
            self.games[data["game_id"]] = GameInfo(data["game_id"], title, at.timestamp(), "api")

    async def edit(self, game: GameInfo) -> None:
        host = self.rng.choice(self.people["hosts"])
        if self.rng.random() < 0.5:
            title = f"{game.title.split(' (')[0]} ({self.rng.randint(1, 999)})"
            await self.slash(host, "game edit", {"game": game.game_id}, {"title": title},
                             "edit", game.game_id)  # fmt: skip
        else:
            body = {"max_players": self.rng.randint(2, 4)}
            await self.api(host, "edit", "PATCH", f"/api/v1/games/{game.game_id}", game.game_id,
                           body)  # fmt: skip

    async def cancel(self, game: GameInfo) -> None:
        host = self.rng.choice(self.people["hosts"])
        game.cancelled = True
        if self.rng.random() < 0.5:
            await self.slash(host, "game cancel", {"game": game.game_id, "reason": "load"}, None,
                             "cancel", game.game_id)  # fmt: skip
        else:
            await self.api(host, "cancel", "POST", f"/api/v1/games/{game.game_id}/cancel",
                           game.game_id, {"reason": "load"})  # fmt: skip

    # -- the mix -----------------------------------------------------------------------------
    async def one(self) -> None:
        self.announcements()
        games = self.open_games()
        players = self.people["players"]
        roll = self.rng.random()
        if not games or roll < 0.05:
            await self.create()
        elif roll < 0.55:
            await self.click(self.rng.choice(players), self.rng.choice(games),
                             "join" if self.rng.random() < 0.6 else "leave")  # fmt: skip
        elif roll < 0.72:
            who = self.rng.choice(players[: self.api_users])
            game = self.rng.choice([g for g in games if g.scheduled_at] or games)
            which = "join" if self.rng.random() < 0.6 else "leave"
            await self.api(who, which, "POST", f"/api/v1/games/{game.game_id}/{which}",
                           game.game_id)  # fmt: skip
        elif roll < 0.90:
            who = self.rng.choice(players[: self.api_users])
            await self.read(who, self.rng.choice([*games, None]))
        elif roll < 0.975:
            await self.edit(self.rng.choice(games))
        else:
            await self.cancel(self.rng.choice(games))

    async def run(self, stop: asyncio.Event, max_in_flight: int = 64) -> None:
        """Start one action every 1/rate s (open loop, bounded in flight) until ``stop``."""
        tasks: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(max_in_flight)

        async def guarded() -> None:
            async with slots:
                self.in_flight += 1
                try:
                    await self.one()
                finally:
                    self.in_flight -= 1

        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        try:
            while not stop.is_set():
                n += 1
                task = asyncio.create_task(guarded())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                delay = start + n / self.rate - loop.time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
        except asyncio.CancelledError:  # the run is stopped (SIGTERM): so are its actions
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

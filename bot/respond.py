"""How every interaction is answered: limit, defer, send the command, one ephemeral follow-up.

1. The per-user limit is checked first; over it, a polite ephemeral reply and nothing else.
2. The interaction is **deferred** (ephemeral "thinking…") before anything slow, so Discord's
   3-second deadline is met however long the command takes.
3. The command goes to the domain through the :class:`~domain.ports.CommandPort`, with
   ``command_id = discord:<interaction id>``: a redelivered interaction stores nothing twice.
4. **One** ephemeral follow-up says what happened. Domain errors become their sentence; any
   other failure is logged with its traceback and answered "Something went wrong…".

It also counts what is in flight, so a graceful shutdown can wait for every started
interaction to be answered while new ones are told to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import discord
from discord.http import handle_message_parameters
from discord.webhook.async_ import async_context

from bot.limits import PerUserLimit
from bot.profiles import ProfileObserver
from bot.replies import BUSY, SHUTTING_DOWN, SLOW_DOWN, SOMETHING_WENT_WRONG, Action, for_error
from bot.replies import for_outcome as default_words
from domain.commands import AnyCommand
from domain.errors import DomainError
from domain.outcome import Outcome
from domain.ports import CommandPort

log = logging.getLogger("muster.bot")
Interaction = discord.Interaction[Any]


MAX_CONTENT = 2000  # Discord refuses a longer message (and the person would see nothing)


def fit(text: str, limit: int = MAX_CONTENT) -> str:
    """``text`` cut to Discord's message limit (an echo of a huge input must not cost the
    answer itself)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def command_id(interaction: Interaction) -> str:
    """The idempotency key of whatever this interaction asks: ``discord:<interaction id>``."""
    return f"discord:{interaction.id}"


def authority(interaction: Interaction) -> dict[str, Any]:
    """``user_id``, ``role_ids`` and ``permissions`` as the domain expects them."""
    user = interaction.user
    roles = getattr(user, "roles", ())
    return {
        "user_id": str(user.id),
        "role_ids": tuple(str(r.id) for r in roles if r.id != interaction.guild_id),
        "permissions": interaction.permissions.value,
    }


EPHEMERAL = discord.MessageFlags(ephemeral=True)


async def follow_up(interaction: Interaction, content: str) -> None:
    """``interaction.followup.send(content, ephemeral=True)``: the same request (payload,
    ``?wait=1``, rate-limit handling and errors are discord.py's own), without building the
    follow-up ``Webhook`` and, from Discord's reply, a whole ``WebhookMessage`` that nobody
    reads: work on the event loop, on every click, that a paced click arriving meanwhile waits
    for. Goes through discord.py's webhook adapter as ``Interaction``'s own methods do
    (discord.py is pinned below 2.8; ``tests/e2e/emulator/test_follow_up.py`` compares the two)."""
    state = interaction._state
    http = state.http
    with handle_message_parameters(
        content=content,
        flags=EPHEMERAL,
        previous_allowed_mentions=getattr(state, "allowed_mentions", None),
    ) as params:
        await async_context.get().execute_webhook(
            interaction.application_id,
            interaction.token,
            session=interaction._session,
            proxy=http.proxy,
            proxy_auth=http.proxy_auth,
            payload=params.payload,
            multipart=params.multipart,
            files=params.files,
            wait=True,  # as discord.py always asks for an application's webhook
        )


class Responder:
    """Answers interactions; one per bot."""

    def __init__(
        self,
        commands: CommandPort,
        limit: PerUserLimit,
        profiles: ProfileObserver | None = None,
    ) -> None:
        self.commands, self.limit, self.profiles = commands, limit, profiles
        self.accepting = True
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.answered = 0
        self.failed = 0
        self.last_error = ""

    # -- the steps ---------------------------------------------------------------------------
    async def admit(self, interaction: Interaction) -> bool:
        """Observe the member; refuse (politely, at once) when over the limit or stopping."""
        if self.profiles is not None:
            self.profiles.observe(interaction.guild_id, interaction.user)
        refusal = None
        if not self.accepting:
            refusal = SHUTTING_DOWN
        elif not self.limit.allow(interaction.user.id):
            refusal = SLOW_DOWN
        if refusal is None:
            return True
        try:
            await interaction.response.send_message(refusal, ephemeral=True)
        except discord.HTTPException as error:  # the person saw "interaction failed": say why
            self._failed(f"refusal not delivered: {error}")
        return False

    async def defer(self, interaction: Interaction) -> bool:
        """Acknowledge within Discord's deadline (ephemeral thinking); False if too late."""
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.NotFound:  # 10062: the 3 s passed (the person saw "interaction failed")
            self._failed("the interaction expired before it was acknowledged")
            return False
        except discord.HTTPException as error:
            if error.code == 40060:  # a redelivered interaction we answered already
                return False
            self._failed(f"defer failed: {error}")
            return False
        return True

    async def decide(
        self,
        command: AnyCommand,
        action: Action = "other",
        words: Callable[[Outcome], str] = default_words,
    ) -> tuple[str, Outcome | None]:
        """Send the command; the sentence for the person and the Outcome (None if refused)."""
        try:
            outcome = await self.commands.send(command)
        except DomainError as error:
            return for_error(error, action), None
        except TimeoutError as error:  # the port's "not reached / no answer in time"
            log.warning("command %s not confirmed: %s", command.command_id, error)
            return BUSY, None
        except Exception as error:  # never a traceback to a person; logged here
            log.exception("command %s failed", command.command_id)
            self._failed(f"{type(error).__name__}: {error}")
            return SOMETHING_WENT_WRONG, None
        return words(outcome), outcome

    async def say(self, interaction: Interaction, text: str, **kwargs: Any) -> None:
        """The one ephemeral follow-up (fills the deferred "thinking…"), cut to fit Discord."""
        try:
            if kwargs:
                await interaction.followup.send(fit(text), ephemeral=True, **kwargs)
            else:
                await follow_up(interaction, fit(text))
            self.answered += 1
        except discord.HTTPException as error:
            self._failed(f"follow-up failed: {error}")
            log.warning("could not answer interaction %s: %s", interaction.id, error)

    # -- the whole flow ------------------------------------------------------------------------
    async def run(
        self,
        interaction: Interaction,
        build: Callable[[], AnyCommand],
        action: Action = "other",
        words: Callable[[Outcome], str] = default_words,
    ) -> Outcome | None:
        """Admit, defer, send ``build()``, answer once. The Outcome, if the command succeeded."""
        if not await self.admit(interaction):
            return None
        self._started()  # as tracked(), without a context manager's cost on every click
        try:
            if not await self.defer(interaction):
                return None
            return await self.answer(interaction, build(), action, words)
        finally:
            self._ended()

    async def handle(
        self, interaction: Interaction, work: Callable[[], Awaitable[None]], *, defer: bool = True
    ) -> None:
        """Admit, then run ``work`` :meth:`guarded`, after deferring unless ``defer`` is False
        (``work`` answers itself: :meth:`say`, :meth:`answer`, or a modal when not deferred)."""
        if not await self.admit(interaction):
            return

        async def deferred() -> None:
            if not defer or await self.defer(interaction):
                await work()

        await self.guarded(interaction, deferred)

    async def answer(
        self,
        interaction: Interaction,
        command: AnyCommand,
        action: Action = "other",
        words: Callable[[Outcome], str] = default_words,
    ) -> Outcome | None:
        """Send ``command`` and say how it went (a deferred interaction); its Outcome, if any."""
        text, outcome = await self.decide(command, action, words)
        await self.say(interaction, text)
        return outcome

    async def guarded(self, interaction: Interaction, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` (which answers the interaction itself); on an unexpected error, log it
        and still answer "Something went wrong…" in whatever way is still open."""
        async with self.tracked():
            try:
                await work()
            except Exception as error:  # the person gets a sentence, the log a trace
                log.exception("interaction %s failed", interaction.id)
                self._failed(f"{type(error).__name__}: {error}")
                await self.apologise(interaction)

    async def apologise(self, interaction: Interaction) -> None:
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(SOMETHING_WENT_WRONG, ephemeral=True)
            else:
                await interaction.response.send_message(SOMETHING_WENT_WRONG, ephemeral=True)

    @contextlib.asynccontextmanager
    async def tracked(self) -> AsyncIterator[None]:
        """Count an interaction as in flight until it is answered."""
        self._started()
        try:
            yield
        finally:
            self._ended()

    def _started(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def _ended(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def finish(self, timeout: float) -> bool:
        """Refuse new interactions and wait up to ``timeout`` s for those in flight."""
        self.accepting = False
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _failed(self, reason: str) -> None:
        self.failed += 1
        self.last_error = reason
        log.warning("an interaction was not answered as planned: %s", reason)

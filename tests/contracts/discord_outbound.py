"""The contract of :class:`gateways.discord.OutboundPort`, run against every outbound mode
(``direct``, ``in_process``, ``external``, on the Discord emulator) and the in-memory fake.

A subclass provides ``outbound`` (the port), ``second_outbound`` (another process's port on the
same Discord and the same shared state, with a clock an hour ahead) and ``discord`` (a
:class:`DiscordView` of what Discord shows). Nothing here waits on the wall clock: ``wait=True``
and ``flush()`` say when an edit is done.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from gateways.discord import Body, OutboundError, OutboundPort

Json = dict[str, Any]


class DiscordView(Protocol):
    """What Discord shows, for the cases to check."""

    games: str  # a text channel
    user: str  # a member the bot may DM

    def new_channel(self) -> str: ...

    def messages(self, channel_id: str) -> list[Json]:
        """Oldest first."""
        ...

    def dms(self, user_id: str) -> list[Json]: ...

    def calls(self, what: str) -> int:
        """Requests Discord received: ``create``, ``edit`` or ``open_dm``."""
        ...


class OutboundContract:
    """Subclass with ``outbound``, ``second_outbound`` and ``discord`` fixtures."""

    @pytest.fixture
    def outbound(self) -> OutboundPort:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def second_outbound(self) -> OutboundPort:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def discord(self) -> DiscordView:  # pragma: no cover - overridden
        raise NotImplementedError

    @staticmethod
    def shown(discord: DiscordView, channel: str) -> list[str]:
        return [m["content"] for m in discord.messages(channel)]

    async def test_send_returns_the_message_and_posts_it(
        self, outbound: OutboundPort, discord: DiscordView
    ) -> None:
        sent = await outbound.send_message(discord.games, Body(content="Catan tonight"))
        assert sent is not None
        [shown] = discord.messages(discord.games)
        assert shown["id"] == sent["id"]
        assert shown["content"] == "Catan tonight"

    async def test_a_retried_send_posts_once(
        self, outbound: OutboundPort, discord: DiscordView
    ) -> None:
        body = Body(content="once")
        first = await outbound.send_message(discord.games, body, op_id="a" * 32)
        again = await outbound.send_message(discord.games, body, op_id="a" * 32)
        assert first is not None
        assert again is not None
        assert first["id"] == again["id"]
        assert self.shown(discord, discord.games) == ["once"]

    async def test_a_burst_of_edits_coalesces(
        self, outbound: OutboundPort, discord: DiscordView
    ) -> None:
        sent = await outbound.send_message(discord.games, Body(content="players: 0"))
        assert sent is not None
        for n in range(1, 51):
            await outbound.edit_message(discord.games, sent["id"], Body(content=f"players: {n}"))
        await outbound.flush()
        assert self.shown(discord, discord.games) == ["players: 50"]
        assert discord.calls("edit") <= 3

    async def test_edits_set_only_the_fields_they_name(
        self, outbound: OutboundPort, discord: DiscordView
    ) -> None:
        sent = await outbound.send_message(discord.games, Body(content="title"))
        assert sent is not None
        embed = {"title": "Catan", "description": "4 players"}
        await outbound.edit_message(discord.games, sent["id"], Body(embeds=[embed]))
        await outbound.edit_message(discord.games, sent["id"], Body(content="new title"), wait=True)
        await outbound.flush()
        [shown] = discord.messages(discord.games)
        assert shown["content"] == "new title"
        assert shown["embeds"][0]["title"] == "Catan"

    async def test_update_several_messages(
        self, outbound: OutboundPort, discord: DiscordView
    ) -> None:
        channels = [discord.games, discord.new_channel(), discord.new_channel()]
        sent = [await outbound.send_message(c, Body(content="old")) for c in channels]
        edits = [
            (c, m["id"], Body(content=f"new {i}"), 3)
            for i, (c, m) in enumerate(zip(channels, sent, strict=True))
            if m
        ]
        await outbound.update_messages(edits, wait=True)
        assert [self.shown(discord, c) for c in channels] == [["new 0"], ["new 1"], ["new 2"]]

    async def test_delete_is_idempotent(self, outbound: OutboundPort, discord: DiscordView) -> None:
        sent = await outbound.send_message(discord.games, Body(content="bye"))
        assert sent is not None
        await outbound.delete_message(discord.games, sent["id"])
        await outbound.delete_message(discord.games, sent["id"])
        assert discord.messages(discord.games) == []

    async def test_dm_and_history(self, outbound: OutboundPort, discord: DiscordView) -> None:
        await outbound.send_dm(discord.user, Body(content="Catan starts in 15 minutes"))
        await outbound.send_dm(discord.user, Body(content="Catan starts now"))
        assert [m["content"] for m in discord.dms(discord.user)] == [
            "Catan starts in 15 minutes",
            "Catan starts now",
        ]
        assert discord.calls("open_dm") == 1  # the DM channel is opened once
        for i in range(3):
            await outbound.send_message(discord.games, Body(content=f"h{i}"))
        history = await outbound.fetch_history(discord.games, limit=2)
        assert [m["content"] for m in history] == ["h2", "h1"]

    async def test_discord_refusing_raises_outbound_error(
        self, outbound: OutboundPort, discord: DiscordView
    ) -> None:
        with pytest.raises(OutboundError) as caught:
            await outbound.send_message(discord.games, Body(content=""))
        assert caught.value.status == 400
        assert caught.value.code == 50006
        assert discord.calls("create") == 1  # a 4xx is not retried

    async def test_coalesced_edits_keep_the_newest_version(
        self, outbound: OutboundPort, discord: DiscordView
    ) -> None:
        sent = await outbound.send_message(discord.games, Body(content="v0"))
        assert sent is not None
        await outbound.edit_message(discord.games, sent["id"], Body(content="v9"), version=9)
        await outbound.edit_message(discord.games, sent["id"], Body(content="v8"), version=8)
        await outbound.flush()
        assert self.shown(discord, discord.games) == ["v9"]

    async def test_an_older_render_never_overwrites_a_newer_one_across_processes(
        self, outbound: OutboundPort, second_outbound: OutboundPort, discord: DiscordView
    ) -> None:
        """Versions are log positions: the same in every process, whatever its clock says."""
        sent = await outbound.send_message(discord.games, Body(content="v0"))
        assert sent is not None
        message = sent["id"]
        # An edit without a version is applied as it comes and claims no order.
        await second_outbound.edit_message(discord.games, message, Body(content="x"), wait=True)
        assert self.shown(discord, discord.games) == ["x"]
        await outbound.edit_message(
            discord.games, message, Body(content="v7"), version=7, wait=True
        )
        # The other process (its clock an hour ahead) rendered positions 5 and 6 earlier and
        # sends them later: Discord keeps showing position 7.
        await second_outbound.edit_message(
            discord.games, message, Body(content="v5"), version=5, wait=True
        )
        await second_outbound.update_messages(
            [(discord.games, message, Body(content="v6"), 6)], wait=True
        )
        await second_outbound.flush()
        assert self.shown(discord, discord.games) == ["v7"]
        await second_outbound.edit_message(
            discord.games, message, Body(content="v8"), version=8, wait=True
        )
        assert self.shown(discord, discord.games) == ["v8"]

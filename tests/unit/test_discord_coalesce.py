"""Edits of one message coalesce by version, and an edit with no turn yet is not lost."""

from __future__ import annotations

import pytest

from gateways.discord import Body
from gateways.discord.coalesce import Coalescer, merge
from gateways.discord.errors import TurnTimeout
from gateways.discord.metrics import Metrics
from gateways.discord.ops import EditMessage, Json


def edit(content: str, version: int | None = None, embeds: list[Json] | None = None) -> EditMessage:
    body = Body(content=content) if embeds is None else Body(content=content, embeds=embeds)
    return EditMessage(channel_id="1", message_id="2", body=body, version=version)


def test_merge_keeps_the_newer_version_whatever_the_arrival_order() -> None:
    newer = edit("v9", 9, embeds=[{"title": "T"}])
    older = edit("v8", 8)
    merged = merge(newer, older)  # v8 arrives after v9
    assert (merged.body.content, merged.version) == ("v9", 9)
    assert merge(older, newer).body.content == "v9"
    assert merge(edit("a"), edit("b")).body.content == "b"  # no versions: the later arrival
    assert merge(edit("a", 3), edit("b")).version == 3


async def test_an_edit_whose_turn_is_too_far_is_still_dispatched() -> None:
    dispatched: list[EditMessage] = []

    async def admit(op: EditMessage) -> object:
        raise TurnTimeout("channel:1", 60.0)

    async def dispatch(op: EditMessage) -> None:
        dispatched.append(op)

    coalescer = Coalescer(admit, dispatch, Metrics(), "test")
    await coalescer.edit(edit("shown", 1), wait=True)
    assert [(op.body.content, op.admitted) for op in dispatched] == [("shown", False)]


async def test_a_failed_dispatch_reaches_the_waiter() -> None:
    async def admit(op: EditMessage) -> object:
        return None

    async def dispatch(op: EditMessage) -> None:
        raise TurnTimeout("channel:1", 60.0)

    coalescer = Coalescer(admit, dispatch, Metrics(), "test")
    with pytest.raises(TurnTimeout):
        await coalescer.edit(edit("x", 1), wait=True)

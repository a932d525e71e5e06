"""The refusing outbound fake passes the same contract cases as the real outbound modes and the
shared fake (``tests/contracts/discord_outbound.py``), and refuses as told."""

from __future__ import annotations

import pytest

from gateways.discord import Body, OutboundError
from tests.fakes.outbound import RefusingOutbound
from tests.unit.test_discord_fakes import OnFakeDiscord


class TestRefusingOutbound(OnFakeDiscord):
    make = RefusingOutbound


async def test_a_blocked_member_is_refused_with_50007() -> None:
    outbound = RefusingOutbound(blocked=["7"])
    with pytest.raises(OutboundError) as caught:
        await outbound.send_dm("7", Body(content="hi"))
    assert caught.value.code == 50007
    assert outbound.discord.dms("7") == []


async def test_the_next_operation_fails_as_told_then_works() -> None:
    outbound = RefusingOutbound()
    channel = outbound.discord.new_channel()
    outbound.fail_next("send", OutboundError("send", "Discord returned 503", 503))
    with pytest.raises(OutboundError):
        await outbound.send_message(channel, Body(content="once"), op_id="a")
    sent = await outbound.send_message(channel, Body(content="once"), op_id="a")
    assert sent is not None
    assert [m["content"] for m in outbound.discord.messages(channel)] == ["once"]

"""The Mailbox contract (projections/scheduler/mailbox.py), run against the fake the unit tests
use and against ``DiscordMailbox`` on the emulator: the same cases, the same answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from deploy.emulator import DiscordEmulator
from gateways.discord import DiscordConfig, DiscordRest, open_outbound
from gateways.discord.metrics import Metrics
from projections.scheduler import DiscordMailbox, Mailbox
from tests.unit.scheduler.harness import FakeMailbox

pytestmark = [pytest.mark.integration]

BODY: dict[str, Any] = {"content": "Reminder: **Catan** starts <t:1:R>", "embeds": []}
CREATE = "POST /channels/{channel_id}/messages"


@dataclass
class Subject:
    mailbox: Mailbox
    open_user: str
    closed_user: str
    count: Any  # () -> number of messages the open user received
    break_discord: Any  # () -> next sends fail as if Discord were not answering


@pytest.fixture(params=["fake", "discord"])
async def subject(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Subject]:
    if request.param == "fake":
        fake = FakeMailbox()
        fake.refusing.add("2")

        def down() -> None:
            fake.down = True

        yield Subject(fake, "1", "2", lambda: len(fake.to("1")), down)
        return
    async with DiscordEmulator() as emu:
        guild = emu.people.guild("Mailbox")
        member = guild.member("open")
        closed = guild.member("closed", accepts_dms=False)
        redis = Redis.from_url(redis_url)
        config = DiscordConfig(
            token=emu.bot_token, api_base=emu.api_base, key_prefix=f"t{uuid.uuid4().hex[:8]}",
            backoff=(0.05, 0.05, 0.05),
        )  # fmt: skip
        async with DiscordRest(config, redis, metrics=Metrics()) as rest:
            outbound = await open_outbound(rest)

            def down() -> None:
                emu.faults.server_errors(CREATE, count=100, status=503)

            yield Subject(
                DiscordMailbox(rest, outbound), str(member.id), str(closed.id),
                lambda: len(emu.inspect.dms(member.id)), down,
            )  # fmt: skip
            await outbound.close()
        await redis.aclose()


async def test_a_nonce_is_delivered_once_however_often_it_is_sent(subject: Subject) -> None:
    first = await subject.mailbox.send(subject.open_user, BODY, "r" + "a" * 24)
    again = await subject.mailbox.send(subject.open_user, BODY, "r" + "a" * 24)
    assert first.status == again.status == "sent"
    assert first.detail == again.detail
    assert subject.count() == 1
    other = await subject.mailbox.send(subject.open_user, BODY, "r" + "b" * 24)
    assert other.status == "sent"
    assert subject.count() == 2


async def test_find_tells_whether_a_nonce_went_out(subject: Subject) -> None:
    assert await subject.mailbox.find(subject.open_user, "r" + "c" * 24) is None
    sent = await subject.mailbox.send(subject.open_user, BODY, "r" + "c" * 24)
    found = await subject.mailbox.find(subject.open_user, "r" + "c" * 24)
    assert found is not None
    assert sent.detail.endswith(found)
    assert await subject.mailbox.find(subject.open_user, "r" + "d" * 24) is None


async def test_a_member_who_refuses_dms_fails_with_discords_reason(subject: Subject) -> None:
    refused = await subject.mailbox.send(subject.closed_user, BODY, "r" + "e" * 24)
    assert refused.status == "failed"
    assert refused.detail.startswith("50007")


async def test_discord_not_answering_is_worth_a_retry(subject: Subject) -> None:
    subject.break_discord()
    result = await subject.mailbox.send(subject.open_user, BODY, "r" + "f" * 24)
    assert result.status == "retry"
    assert subject.count() == 0


async def test_prepare_never_raises(subject: Subject) -> None:
    await subject.mailbox.prepare(subject.open_user)
    await subject.mailbox.prepare(subject.closed_user)
    subject.break_discord()
    await subject.mailbox.prepare("12345")
    assert subject.count() == 0

"""External mode: SIGKILL the worker process mid-burst; after a restart every op is done once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from redis.asyncio import Redis

from deploy.emulator import DiscordEmulator, RateLimits
from gateways.discord import Body, DiscordConfig, DiscordRest, ExternalOutbound
from gateways.discord.external import ensure_streams
from gateways.discord.metrics import Metrics
from tests.integration.discord_rest.conftest import CREATE_ROUTE, drop_ops_streams
from tests.integration.discord_rest.test_timing import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
OPS = 500
CHANNELS = 10
FAST = {"global_per_second": 10_000, "channel_budget": (10_000, 1.0)}


def start_worker(
    emu: DiscordEmulator, config: DiscordConfig, urls: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MUSTER_NATS_URL": urls["nats"],
        "MUSTER_REDIS_URL": urls["redis"],
        "MUSTER_DISCORD_API_BASE": emu.api_base,
        "MUSTER_DISCORD_TOKEN": emu.bot_token,
    }
    args = [
        sys.executable, "-m", "deploy.worker_cmd",
        "--stream", config.ops_stream, "--prefix", config.ops_prefix,
        "--dead-prefix", config.dead_prefix, "--key-prefix", config.key_prefix,
        "--ack-wait", str(config.ack_wait), "--concurrency", "64",
        "--global-per-second", "10000", "--channel-budget", "10000/1",
    ]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=out)


async def test_sigkill_mid_burst_then_restart_does_every_op_once(
    redis: Redis, nc: NATS, nats_url: str, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:10]
    async with DiscordEmulator(rate_limits=RateLimits.relaxed()) as emu:
        guild = emu.people.guild("Kill Test")
        channels = [guild.text_channel(f"games-{i}") for i in range(CHANNELS)]
        emu.faults.latency(0.02, CREATE_ROUTE)  # so the kill lands with creates in flight
        config = DiscordConfig(
            token=emu.bot_token,
            api_base=emu.api_base,
            key_prefix=prefix,
            outbound="external",
            ops_stream=f"TEST_OPS_{tag}",
            ops_prefix=f"t{tag}.ops",
            dead_prefix=f"t{tag}.dead",
            ack_wait=2.0,
            **FAST,  # type: ignore[arg-type]
        )
        urls = {"nats": nats_url, "redis": redis_url}
        log = tmp_path / "worker.log"
        await ensure_streams(nc, config)
        try:
            async with DiscordRest(config, redis, metrics=Metrics()) as rest:
                out = await ExternalOutbound(rest, nc).start()
                worker = start_worker(emu, config, urls, log)
                try:
                    for i in range(OPS):
                        channel = channels[i % CHANNELS]
                        await out.send_message(channel.id, Body(content=f"op {i}"), wait=False)
                    await emu.until(lambda: posted(emu, channels) >= 100, within=20)
                    worker.send_signal(signal.SIGKILL)
                    worker.wait(5)
                    at_kill = posted(emu, channels)
                    assert 100 <= at_kill < OPS, "the kill must land in the middle of the burst"
                    worker = start_worker(emu, config, urls, log)
                    await emu.until(lambda: posted(emu, channels) >= OPS, within=30)
                    # Acknowledged operations leave the work queue; once it is empty nothing
                    # can be redelivered, so the counts below are final.
                    await eventually(lambda: queue_empty(nc, config.ops_stream), within=30)
                finally:
                    worker.terminate()
                    assert worker.wait(10) == 0, log.read_text()[-3000:]
                    await out.close()
            contents = Counter(m["content"] for c in channels for m in emu.channel_messages(c))
            assert set(contents) == {f"op {i}" for i in range(OPS)}
            assert max(contents.values()) == 1, contents.most_common(3)
            info = await nc.jetstream().stream_info(config.ops_stream)
            assert info.state.messages == 0  # everything acknowledged
            dead = await nc.jetstream().stream_info(f"{config.ops_stream}_DEAD")
            assert dead.state.messages == 0
            print(f"posted at kill: {at_kill}; creates sent: {emu.requests.count(CREATE_ROUTE)}")
        finally:
            await drop_ops_streams(nc, config)


async def queue_empty(nc: NATS, stream: str) -> bool:
    return (await nc.jetstream().stream_info(stream)).state.messages == 0


def posted(emu: DiscordEmulator, channels: list[object]) -> int:
    return sum(len(emu.channel_messages(c)) for c in channels)

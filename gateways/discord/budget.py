"""Rate limits respected *before* they are hit, across processes, in Redis.

Every bot-token request takes a slot in the global window (``global_per_second``); message creates
and edits also take one in their channel's window (``channel_budget``, 5 per 5 s on Discord), and
an edit waits ``spacing`` after the channel's newest write, so a busy message gets one edit per
spacing with the latest content instead of a burst of five and a 5-second stall. A 429 blocks its
bucket (or everything, when global) for ``Retry-After`` in every process. One Lua call decides,
so two processes never both take the last slot; another extends a block only if it ends later
than the current one, so no process shortens another's block. A request whose turn is further
away than ``turn_wait`` fails with :class:`~gateways.discord.errors.TurnTimeout` at once instead
of waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Sequence

from redis.asyncio import Redis

from gateways.discord.config import DiscordConfig
from gateways.discord.errors import TurnTimeout
from gateways.discord.keys import Keys

# KEYS: global window, channel window, block keys...; ARGV: member, global limit, global window
# ms, channel limit, channel window ms, spacing ms, use global, use channel. Returns ms to wait.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i = 3, #KEYS do
  local p = redis.call('PTTL', KEYS[i])
  if p > wait then wait = p end
end
local function window(key, limit, win)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return tonumber(oldest[2]) + win - now
  end
  return 0
end
if ARGV[7] == '1' then
  wait = math.max(wait, window(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3])))
end
if ARGV[8] == '1' then
  wait = math.max(wait, window(KEYS[2], tonumber(ARGV[4]), tonumber(ARGV[5])))
  local spacing = tonumber(ARGV[6])
  if spacing > 0 then
    local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
    if newest[2] then wait = math.max(wait, tonumber(newest[2]) + spacing - now) end
  end
end
if wait > 0 then return wait end
if ARGV[7] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
if ARGV[8] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return 0
"""


# KEYS: the block; ARGV: milliseconds. Sets the block unless a longer one is already in place.
_BLOCK = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  return 1
end
return 0
"""


class Gate:
    """Waits until a request may go out; shared by every process using the same Redis."""

    def __init__(self, redis: Redis, keys: Keys, config: DiscordConfig) -> None:
        self.redis, self.keys, self.config = redis, keys, config
        self._take = redis.register_script(_TAKE)
        self._block = redis.register_script(_BLOCK)
        self._ids = itertools.count()
        self._me = f"{os.getpid()}-{id(self):x}"

    async def wait_turn(
        self,
        blocks: Sequence[str],
        *,
        global_limit: bool = True,
        channel: str | None = None,
        edit: bool = False,
    ) -> float:
        """Take a slot (global, and the channel's for message writes); return seconds waited.

        Raises ``TurnTimeout`` when the wait would pass ``turn_wait`` in all.
        """
        cfg = self.config
        margin_ms = int(cfg.budget_margin * 1000)
        climit, cper = cfg.channel_budget
        keys = [
            self.keys.budget("global"),
            self.keys.budget(f"channel:{channel}"),
            self.keys.block("global"),
            *(self.keys.block(b) for b in blocks),
        ]
        waited = 0.0
        while True:
            member = f"{self._me}-{next(self._ids)}"
            args: list[str | int] = [
                member,
                cfg.global_per_second,
                1000 + margin_ms // 2,
                climit,
                int(cper * 1000) + margin_ms,
                int(cfg.spacing * 1000) if edit else 0,
                "1" if global_limit else "0",
                "1" if channel is not None else "0",
            ]
            wait_ms = int(await self._take(keys=keys, args=args))
            if wait_ms <= 0:
                return waited
            if waited + wait_ms / 1000 > cfg.turn_wait:
                raise TurnTimeout(", ".join(blocks) or "global", waited + wait_ms / 1000)
            await asyncio.sleep(wait_ms / 1000)
            waited += wait_ms / 1000

    async def block(self, bucket: str, seconds: float) -> None:
        """Hold back every request on ``bucket`` (``global`` for all) for ``seconds``."""
        ms = max(1, int(seconds * 1000))
        await self._block(keys=[self.keys.block(bucket)], args=[ms])

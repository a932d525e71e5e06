"""Rate limits respected *before* they are hit, across processes, in Redis.

Every bot-token request takes a slot in the global window (``global_per_second`` per second);
message creates and edits also take one in their channel's window (``channel_budget``, 5 per 5 s
on Discord), and an edit waits ``spacing`` after the channel's newest write, so a busy message
gets one edit per spacing with the latest content instead of a burst of five and a 5-second
stall. A 429 blocks its bucket (or everything, when global) for ``Retry-After`` in every process.

**A slot is held from the moment it is taken until one window after Discord counted it.**
While the request is in flight its slot counts as "now" (it is stamped ``lease`` seconds ahead,
so a process that dies mid-request frees it after ``lease`` plus a window); :meth:`Gate.done`
restamps it with the time Discord counted it — no later than the answer's arrival, earlier when
Discord's clock (``X-RateLimit-Reset`` less ``X-RateLimit-Reset-After``) proves it, through a
lower bound on the offset between Discord's clock and Redis's learned from every answer. Discord
counts a request after it was taken, so whatever the latency and its jitter, no window of
Discord's — fixed windows opened by a first request, or a sliding one — can see more than the
budget's requests: the last one taken in such a window saw every other one either in flight or
counted less than a window earlier. The budget can therefore be Discord's own limit;
``budget_margin`` only covers the clocks' rounding.

One Lua call decides, so two processes never both take the last slot; another extends a block
only if it ends later than the current one, so no process shortens another's block. A request
whose turn is further away than ``turn_wait`` fails with
:class:`~gateways.discord.errors.TurnTimeout` at once instead of waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateways.discord.config import DiscordConfig
from gateways.discord.errors import TurnTimeout
from gateways.discord.keys import Keys

# KEYS: global window, channel window, block keys...; ARGV: member, global limit, global window
# ms, channel limit, channel window ms, spacing ms, use global, use channel, lease ms, poll ms.
# Returns ms to wait (0: the slot was taken, stamped now + lease until ``done``).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[9])
local poll = tonumber(ARGV[10])
local wait = 0
for i = 3, #KEYS do
  local p = redis.call('PTTL', KEYS[i])
  if p > wait then wait = p end
end
local function window(key, limit, win)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    -- the slot frees when the (count - limit + 1)-th oldest stamp leaves the window; a stamp
    -- in the future is a request still in flight: look again soon, it is answered any moment
    local nth = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local stamp = tonumber(nth[2])
    if stamp > now then return poll end
    return math.max(1, stamp + win - now)
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
    if newest[2] then
      local last = math.min(tonumber(newest[2]), now)
      wait = math.max(wait, last + spacing - now)
    end
  end
end
if wait > 0 then return wait end
if ARGV[7] == '1' then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease + tonumber(ARGV[3]))
end
if ARGV[8] == '1' then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], lease + tonumber(ARGV[5]))
end
return 0
"""

# KEYS: the clock offset, then the windows; ARGV: member, Discord's time of the request in ms
# ('' if unknown), drift allowed per ms. Restamps the member (where it still is) with the time
# Discord counted its request, as far as it is known for sure: Redis's time now, or earlier when
# Discord's clock says so. ``server - now`` never exceeds the true offset between the two clocks
# (the request reached Discord before now), so the largest one seen is a lower bound on it, let
# down by ``drift`` per ms in case the clocks drift apart; ``server - offset`` is then never
# before the request's true time in Redis's clock.
_DONE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stamp = now
if ARGV[2] ~= '' then
  local server = tonumber(ARGV[2])
  local best = server - now
  local kept = redis.call('HMGET', KEYS[1], 'offset', 'at')
  if kept[1] then
    local decayed = tonumber(kept[1]) - (now - tonumber(kept[2])) * tonumber(ARGV[3])
    if decayed > best then best = decayed end
  end
  redis.call('HSET', KEYS[1], 'offset', best, 'at', now)
  redis.call('PEXPIRE', KEYS[1], 3600000)
  stamp = math.min(now, math.ceil(server - best))
end
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', stamp, ARGV[1])
end
return stamp
"""

# KEYS: the block; ARGV: milliseconds. Sets the block unless a longer one is already in place.
_BLOCK = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  return 1
end
return 0
"""

log = logging.getLogger(__name__)

POLL_MS = 10  # how soon to look again when the budget is full of requests still in flight
CLOCK_DRIFT = 1e-4  # how fast Redis's and Discord's clocks may drift apart (100 ppm)


@dataclass(frozen=True, slots=True)
class Turn:
    """A slot taken in the budget: hand it to :meth:`Gate.done` when the answer arrives."""

    member: str
    keys: tuple[str, ...]
    waited: float = 0.0


class Gate:
    """Waits until a request may go out; shared by every process using the same Redis."""

    def __init__(self, redis: Redis, keys: Keys, config: DiscordConfig) -> None:
        self.redis, self.keys, self.config = redis, keys, config
        self._take = redis.register_script(_TAKE)
        self._done = redis.register_script(_DONE)
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
    ) -> Turn:
        """Take a slot (global, and the channel's for message writes); held until ``done``.

        Raises ``TurnTimeout`` when the wait would pass ``turn_wait`` in all.
        """
        cfg = self.config
        margin_ms = int(cfg.budget_margin * 1000)
        climit, cper = cfg.channel_budget
        global_key = self.keys.budget("global")
        channel_key = self.keys.budget(f"channel:{channel}")
        keys = [
            global_key,
            channel_key,
            self.keys.block("global"),
            *(self.keys.block(b) for b in blocks),
        ]
        held = tuple(k for k, used in ((global_key, global_limit), (channel_key, channel)) if used)
        waited = 0.0
        while True:
            member = f"{self._me}-{next(self._ids)}"
            args: list[str | int] = [
                member,
                cfg.global_per_second,
                1000 + margin_ms,
                climit,
                int(cper * 1000) + margin_ms,
                int(cfg.spacing * 1000) if edit else 0,
                "1" if global_limit else "0",
                "1" if channel is not None else "0",
                int(cfg.slot_lease * 1000),
                POLL_MS,
            ]
            wait_ms = int(await self._take(keys=keys, args=args))
            if wait_ms <= 0:
                return Turn(member, held, waited)
            if waited + wait_ms / 1000 > cfg.turn_wait:
                ahead = wait_ms / 1000
                raise TurnTimeout(", ".join(blocks) or "global", waited + ahead, ahead)
            await asyncio.sleep(wait_ms / 1000)
            waited += wait_ms / 1000

    def turn_of(self, member: str, channel: str | None = None) -> Turn:
        """The turn behind a slot's ``member`` id (as carried by a queued operation)."""
        keys = [self.keys.budget("global")]
        if channel is not None:
            keys.append(self.keys.budget(f"channel:{channel}"))
        return Turn(member, tuple(keys))

    async def done(self, turn: Turn | None, counted_at: float | None = None) -> None:
        """The answer to ``turn``'s request arrived: its slot counts from when Discord counted
        the request (``counted_at``, Discord's Unix time, when its headers tell), else from now.
        """
        if turn is None or not turn.keys:
            return
        server = "" if counted_at is None else str(int(counted_at * 1000))
        keys = [self.keys.budget("clock"), *turn.keys]
        try:
            await self._done(keys=keys, args=[turn.member, server, CLOCK_DRIFT])
        except RedisError as exc:  # the slot keeps its lease and frees itself when it ends
            log.warning("could not release a rate-limit slot: %s", exc)

    async def block(self, bucket: str, seconds: float) -> None:
        """Hold back every request on ``bucket`` (``global`` for all) for ``seconds``."""
        ms = max(1, int(seconds * 1000))
        await self._block(keys=[self.keys.block(bucket)], args=[ms])

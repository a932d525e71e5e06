"""Faults on demand: 429 storms, 5xx bursts, added latency, slow reads, gateway drops."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deploy.emulator.gateway import Gateway


@dataclass(slots=True)
class RouteFault:
    """A fault on one route (``"POST /channels/{channel_id}/messages"``) or on all (None)."""

    kind: str  # "storm", "error", "latency", "slow"
    route: str | None
    count: int | None = None  # requests left to affect (None: until ``until`` or cleared)
    until: float | None = None  # monotonic deadline
    retry_after: float = 1.0
    scope: str = "user"
    status: int = 500
    seconds: float = 0.0
    bytes_per_second: int = 1024

    def matches(self, route_key: str, now: float) -> bool:
        if self.route is not None and self.route != route_key:
            return False
        return self.until is None or now < self.until

    def as_dict(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in _FIELDS}


_FIELDS = (
    "kind",
    "route",
    "count",
    "until",
    "retry_after",
    "scope",
    "status",
    "seconds",
    "bytes_per_second",
)


class Faults:
    """What should go wrong next; the HTTP middleware and the gateway consult it."""

    def __init__(self) -> None:
        self.route_faults: list[RouteFault] = []
        self.gateway_latency = 0.0
        self.refuse_resume = 0
        self.gateway: Gateway | None = None

    # -- configuring ----------------------------------------------------------------------
    def rate_limit_storm(
        self,
        route: str | None,
        *,
        count: int | None = 3,
        seconds: float | None = None,
        retry_after: float = 1.0,
        scope: str = "user",
    ) -> RouteFault:
        """Answer the next ``count`` requests (or all for ``seconds``) on a route with 429."""
        return self._add(
            RouteFault("storm", route, count, self._until(seconds), retry_after, scope=scope)
        )

    def server_errors(
        self, route: str | None = None, *, count: int = 3, status: int = 500
    ) -> RouteFault:
        """Answer the next ``count`` requests with a 5xx status."""
        return self._add(RouteFault("error", route, count, status=status))

    def latency(
        self, seconds: float, route: str | None = None, *, duration: float | None = None
    ) -> RouteFault:
        """Delay every matching request by ``seconds`` before handling it."""
        return self._add(RouteFault("latency", route, None, self._until(duration), seconds=seconds))

    def slow_reads(self, bytes_per_second: int, route: str | None = None) -> RouteFault:
        """Trickle response bodies at ``bytes_per_second`` (a slow network to the client)."""
        return self._add(RouteFault("slow", route, None, bytes_per_second=bytes_per_second))

    def refuse_next_resume(self, times: int = 1) -> None:
        """Answer the next RESUME(s) with INVALID_SESSION (d=false)."""
        self.refuse_resume += times

    def drop_websocket(self, *, code: int | None = None) -> int:
        """Drop live gateway connections (TCP abort, or a close frame with ``code``)."""
        return self.gateway.drop_connections(code=code) if self.gateway else 0

    def send_reconnect(self) -> None:
        """Send opcode 7 RECONNECT on every live connection."""
        if self.gateway:
            self.gateway.send_reconnect()

    def clear(self) -> None:
        self.route_faults.clear()
        self.gateway_latency = 0.0
        self.refuse_resume = 0

    # -- consulting -----------------------------------------------------------------------
    def take(self, kind: str, route_key: str) -> RouteFault | None:
        """The first active fault of ``kind`` for the route, consuming one of its uses."""
        if not self.route_faults:
            return None
        now = time.monotonic()
        for fault in list(self.route_faults):
            if fault.until is not None and now >= fault.until:
                self.route_faults.remove(fault)
                continue
            if fault.kind != kind or not fault.matches(route_key, now):
                continue
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.route_faults.remove(fault)
            return fault
        return None

    def take_refuse_resume(self) -> bool:
        if self.refuse_resume > 0:
            self.refuse_resume -= 1
            return True
        return False

    def _add(self, fault: RouteFault) -> RouteFault:
        self.route_faults.append(fault)
        return fault

    @staticmethod
    def _until(seconds: float | None) -> float | None:
        return None if seconds is None else time.monotonic() + seconds

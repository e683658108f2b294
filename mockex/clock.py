"""
The market clock: epoch milliseconds derived from an injected reactor.

mockex never reads the wall clock or the global reactor in library code. A
:class:`MarketClock` maps the reactor's ``seconds()`` to market time, optionally
accelerated (``speed=60``: a one-minute candle closes every real second) and optionally
starting at a chosen instant, so tests on ``MemoryReactorClock`` control time exactly.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class MarketClock:
    """
    Market time = ``origin_ms + (reactor.seconds() - start) * 1000 * speed``.

    With the defaults (no origin, speed 1) market time is the reactor's own time.
    """

    def __init__(
        self, reactor: IReactorTime, speed: float = 1.0, origin_ms: int | None = None
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, not {speed!r}")
        self.reactor = reactor
        self.speed = speed
        self._start = reactor.seconds()
        self._origin_ms = self._start * 1000.0 if origin_ms is None else float(origin_ms)

    def now_ms(self) -> int:
        # Rounded, not truncated: 0.1 s steps of a float clock must add up to 100 ms each.
        return round(self._origin_ms + (self.reactor.seconds() - self._start) * 1000.0 * self.speed)

    def call_at(self, when_ms: int, f: Callable[..., Any], *args: Any) -> IDelayedCall:
        """Call ``f(*args)`` when market time reaches ``when_ms`` (at once if past)."""
        delay = (when_ms - self._origin_ms) / (1000.0 * self.speed) + self._start - self.reactor.seconds()
        return self.reactor.callLater(max(0.0, delay), f, *args)

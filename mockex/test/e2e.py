"""
The harness of the loopback end-to-end tests: a started server on the real reactor,
ccxt in a worker thread (ccxt.pro in an asyncio loop in a worker thread), and the steps
every venue's test repeats (page by ``since``, watch a stream, collect the exception
classes a list of bad calls raises).

Real sockets on 127.0.0.1 only; every test is bounded by ``timeout`` and by ccxt's own
10 s request timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Sequence

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from mockex.server import MockServer

try:
    import ccxt
    import ccxt.pro
except ImportError:  # pragma: no cover - ccxt is in the 'test' extra
    ccxt = None

MINUTE = 60_000


def contiguous(test: TestCase, candles: list[list[float]], step: int) -> None:
    """Ascending, no duplicate, every neighbour ``step`` apart."""
    stamps = [c[0] for c in candles]
    test.assertEqual(stamps, sorted(set(stamps)))
    test.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {step})


def pages(
    exchange: Any, symbol: str, start: int, count: int, limit: int | None = None, until_after: int | None = None
) -> list[list[float]]:
    """
    ``count`` calls of ``fetch_ohlcv(symbol, "1m", since=start, limit=limit)``, each from
    the minute after the last one's newest candle (``until_after``: also send ccxt's
    ``until`` param, that many ms after ``since``).
    """
    out: list[list[float]] = []
    for _ in range(count):
        params = {} if until_after is None else {"until": start + until_after}
        page = exchange.fetch_ohlcv(symbol, "1m", since=start, limit=limit, params=params)
        out.extend(page)
        start = page[-1][0] + MINUTE
    return out


def raised(exchange: Any, calls: Sequence[Callable[[Any], Any]]) -> list[type | None]:
    """The exception class each call raises (``None`` for a call that returns)."""
    classes: list[type | None] = []
    for call in calls:
        try:
            call(exchange)
        except Exception as e:  # noqa: BLE001 - the class is the assertion
            classes.append(type(e))
        else:
            classes.append(None)
    return classes


class VenueE2E(TestCase):
    """One venue's server on the real reactor, for one test."""

    timeout = 120
    venue = ""
    seed = 11

    def setUp(self) -> Any:
        if ccxt is None:
            raise SkipTest("ccxt is not installed (pip install -e '.[test]')")
        self.server = MockServer(self.venue, port=0, seed=self.seed, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    def point(self, exchange: Any) -> Any:
        """Set the base URLs of a new ccxt instance to the server's (each venue's test says which)."""
        raise NotImplementedError

    def in_thread(self, f: Callable[[], Any]) -> Deferred[Any]:
        return deferToThread(f)

    def in_loop(self, coroutine_function: Callable[[], Any]) -> Deferred[Any]:
        return deferToThread(asyncio.run, coroutine_function())

    def errors(self, make: Callable[[], Any], calls: Sequence[Callable[[Any], Any]]) -> Deferred[list[Any]]:
        """In a thread: the exception classes ``calls`` raise on ``point(make())``."""
        return self.in_thread(lambda: raised(self.point(make()), calls))

    @inlineCallbacks
    def watch_live(self, make: Callable[[], Any], symbol: str, unwatch: bool = False) -> Any:
        """
        ccxt.pro on ``point(make())``: ``watch_ohlcv(symbol, "1m")`` twice (then
        ``un_watch_ohlcv`` if asked); checks that the newest candle is a live 1m candle
        with a price and returns it.
        """

        async def watch() -> list[float]:
            ex = self.point(make())
            try:
                await asyncio.wait_for(ex.watch_ohlcv(symbol, "1m"), 15)
                second = await asyncio.wait_for(ex.watch_ohlcv(symbol, "1m"), 15)
                if unwatch:
                    await asyncio.wait_for(ex.un_watch_ohlcv(symbol, "1m"), 15)
                return second[-1]
            finally:
                await ex.close()

        live = yield self.in_loop(watch)
        self.assertEqual(live[0] % MINUTE, 0)
        self.assertGreater(live[4], 0)
        return live

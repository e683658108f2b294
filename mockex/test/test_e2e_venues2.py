"""
End to end over loopback for the venues of the second batch (KuCoin, Gate, Kraken,
MEXC): unmodified ccxt and ccxt.pro against a started server, only base URLs changed.

As in ``test_e2e_ccxt``: real sockets on 127.0.0.1, the real reactor, ccxt in a
worker thread (ccxt.pro in an asyncio loop in a worker thread), every test bounded
by ``timeout`` and ccxt's own 10 s request timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from mockex.server import MockServer

try:
    import ccxt
    import ccxt.pro
except ImportError:  # pragma: no cover - ccxt is in the 'test' extra
    ccxt = None

MINUTE = 60_000


def _contiguous(test: TestCase, candles: list[list[float]], step: int) -> None:
    stamps = [c[0] for c in candles]
    test.assertEqual(stamps, sorted(set(stamps)))
    test.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {step})


class VenueE2E(TestCase):
    timeout = 120
    venue = ""

    def setUp(self) -> Any:
        if ccxt is None:
            raise SkipTest("ccxt is not installed (pip install -e '.[test]')")
        self.server = MockServer(self.venue, port=0, seed=11, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    def in_thread(self, f: Callable[[], Any]) -> Any:
        return deferToThread(f)

    def in_loop(self, coroutine_function: Callable[[], Any]) -> Any:
        return deferToThread(asyncio.run, coroutine_function())


class KucoinSpotE2E(VenueE2E):
    venue = "kucoin_spot"

    def point(self, exchange: Any) -> Any:
        """Base URLs only: spot REST and the futures host (ccxt's load_markets asks it for contracts)."""
        exchange.urls["api"]["public"] = self.server.url
        exchange.urls["api"]["futuresPublic"] = self.server.url
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def test_fetch_ohlcv_pages(self) -> Any:
        """
        Default ``load_markets`` (currencies, symbols, allTickers, contracts), then three
        pages of 1500 by ``since``: contiguous, no gap, no overlap. (ccxt 4.5's own
        ``paginate`` for KuCoin spot filters every row away: it calls
        ``filter_by_since_limit`` with key ``'timestamp'`` for ``fetchSpotOHLCV``.)
        """

        def fetch() -> tuple[int, list[list[float]], int]:
            ex = self.point(ccxt.kucoin())
            ex.load_markets()
            server_time = ex.fetch_time()
            since = ex.milliseconds() - 5_000 * MINUTE
            since -= since % MINUTE
            out: list[list[float]] = []
            for _ in range(3):
                page = ex.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=1500)
                out.extend(page)
                since = page[-1][0] + MINUTE
            return len(ex.markets), out, server_time

        count, candles, server_time = yield self.in_thread(fetch)
        self.assertEqual(count, 7)
        self.assertGreater(server_time, 1_700_000_000_000)
        self.assertEqual(len(candles), 4500)
        _contiguous(self, candles, MINUTE)

    @inlineCallbacks
    def test_bad_symbol(self) -> Any:
        def attempt() -> list[type]:
            ex = self.point(ccxt.kucoin())
            raised = []
            for call in (lambda: ex.publicGetMarketCandles({"symbol": "NOPE-USDT", "type": "1min"}),
                         lambda: ex.publicGetMarketCandles({"symbol": "BTC-USDT", "type": "1m"})):
                try:
                    call()
                except Exception as e:  # noqa: BLE001 - the class is the assertion
                    raised.append(type(e))
            return raised

        raised = yield self.in_thread(attempt)
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadRequest])

    @inlineCallbacks
    def test_watch_ohlcv(self) -> Any:
        """ccxt.pro: bullet-public, the token handshake, welcome, subscribe/ack, pushes, unwatch."""

        async def watch() -> tuple[list[list[float]], list[list[float]]]:
            ex = self.point(ccxt.pro.kucoin())
            try:
                first = await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
                second = await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
                await asyncio.wait_for(ex.un_watch_ohlcv("BTC/USDT", "1m"), 15)
                return first, second
            finally:
                await ex.close()

        first, second = yield self.in_loop(watch)
        live = second[-1]
        self.assertEqual(live[0] % MINUTE, 0)
        self.assertGreater(live[4], 0)


class GateSpotE2E(VenueE2E):
    venue = "gate_io_spot"

    def point(self, exchange: Any) -> Any:
        """Base URLs only: every public REST family (one host on Gate) and the spot WebSocket."""
        for family in list(exchange.urls["api"]["public"]):
            exchange.urls["api"]["public"][family] = self.server.url + "/api/v4"
        if "spot" in exchange.urls["api"]:
            exchange.urls["api"]["spot"] = self.server.ws_url + "/"
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def test_fetch_ohlcv_paginates(self) -> Any:
        """
        Default ``load_markets``; ccxt's ``paginate`` (from/to windows of 1000) and paging
        by ``since``. ``since`` is minute-aligned and there are two windows: ccxt 4.5
        starts window ``k`` at ``since + k * (1000 min - 1 ms)`` and drops rows older
        than that, so from the third window on (or the second, if ``since`` is
        unaligned) it loses a candle at each seam, whatever the server answers.
        """

        def fetch() -> tuple[int, int, list[list[float]], list[list[float]], list[list[float]]]:
            ex = self.point(ccxt.gate())
            ex.load_markets()
            server_time = ex.fetch_time()
            since = ex.milliseconds() - 1_800 * MINUTE
            since -= since % MINUTE
            paged = ex.fetch_ohlcv("BTC/USDT", "1m", since=since, params={"paginate": True, "paginationCalls": 2})
            manual: list[list[float]] = []
            start = since - 500 * MINUTE
            for _ in range(2):
                page = ex.fetch_ohlcv("ETH/USDT", "1m", since=start, limit=1000)
                manual.extend(page)
                start = page[-1][0] + MINUTE
            latest = ex.fetch_ohlcv("BTC/USDT", "1h", limit=5)
            return len(ex.markets), server_time, paged, manual, latest

        count, server_time, paged, manual, latest = yield self.in_thread(fetch)
        self.assertEqual(count, 7)
        self.assertGreater(server_time, 1_700_000_000_000)
        self.assertGreaterEqual(len(paged), 1_800)
        _contiguous(self, paged, MINUTE)
        self.assertEqual(len(manual), 2000)
        _contiguous(self, manual, MINUTE)
        self.assertEqual(len(latest), 5)

    @inlineCallbacks
    def test_errors(self) -> Any:
        def attempt() -> list[type]:
            ex = self.point(ccxt.gate())
            raised = []
            for call in (lambda: ex.publicSpotGetCandlesticks({"currency_pair": "NOPE_USDT"}),
                         lambda: ex.publicSpotGetCandlesticks({"currency_pair": "BTC_USDT", "interval": "2m"}),
                         lambda: ex.publicSpotGetCandlesticks({"interval": "1m"})):
                try:
                    call()
                except Exception as e:  # noqa: BLE001 - the class is the assertion
                    raised.append(type(e))
            return raised

        raised = yield self.in_thread(attempt)
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadRequest, ccxt.ArgumentsRequired])

    @inlineCallbacks
    def test_watch_ohlcv(self) -> Any:
        async def watch() -> list[list[float]]:
            ex = self.point(ccxt.pro.gate())
            try:
                await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
                return await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
            finally:
                await ex.close()

        second = yield self.in_loop(watch)
        live = second[-1]
        self.assertEqual(live[0] % MINUTE, 0)
        self.assertGreater(live[4], 0)


class KrakenSpotE2E(VenueE2E):
    venue = "kraken_spot"

    def point(self, exchange: Any) -> Any:
        exchange.urls["api"]["public"] = self.server.url
        if "ws" in exchange.urls["api"]:
            exchange.urls["api"]["ws"]["publicV2"] = self.server.ws_url
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def test_fetch_ohlcv(self) -> Any:
        """Default ``load_markets`` (Assets, AssetPairs), the latest 720, and ``since`` within them."""

        def fetch() -> tuple[list[str], list[list[float]], list[list[float]], int]:
            ex = self.point(ccxt.kraken())
            ex.load_markets()
            latest = ex.fetch_ohlcv("BTC/USDT", "1m")
            since = latest[-300][0]
            recent = ex.fetch_ohlcv("ETH/USDT", "1m", since=since)
            return list(ex.markets), latest, recent, since

        markets, latest, recent, since = yield self.in_thread(fetch)
        self.assertIn("BTC/USD", markets)
        self.assertIn("ETH/BTC", markets)
        self.assertEqual(len(latest), 720)
        _contiguous(self, latest, MINUTE)
        self.assertEqual(recent[0][0], since)
        self.assertEqual(len(recent), 300)

    @inlineCallbacks
    def test_watch_ohlcv(self) -> Any:
        async def watch() -> list[list[float]]:
            ex = self.point(ccxt.pro.kraken())
            try:
                await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
                return await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
            finally:
                await ex.close()

        second = yield self.in_loop(watch)
        self.assertEqual(second[-1][0] % MINUTE, 0)
        self.assertGreater(second[-1][4], 0)

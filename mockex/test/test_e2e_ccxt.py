"""
End to end over loopback: unmodified ccxt and ccxt.pro against a started server.

These are the few tests that use real sockets (127.0.0.1, an ephemeral port) and the
real reactor. ccxt runs in a worker thread (the synchronous client) or in an asyncio
loop in a worker thread (ccxt.pro), while the reactor serves. Every test is bounded by
``timeout``; the client side has its own shorter timeouts.

Only the base URLs are changed, as a user would; the options keep ccxt to spot
markets (otherwise it also loads /fapi and /dapi markets, which mockex answers with
no symbols; and ccxt.pro, seeing a URL without "stream" in it, would look klines up
among contracts). Sources: ccxt 4.5 binance.py ``fetch_markets``, pro/binance.py
``is_spot_url``.
"""

from __future__ import annotations

import asyncio
from typing import Any

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

OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
MINUTE = 60_000


def point(exchange: Any, server: MockServer) -> Any:
    """Point a ccxt binance instance at ``server``: base URLs only."""
    exchange.urls["api"]["public"] = server.url + "/api/v3"
    exchange.urls["api"]["private"] = server.url + "/api/v3"
    exchange.urls["api"]["v1"] = server.url + "/api/v1"
    if "ws" in exchange.urls["api"]:
        exchange.urls["api"]["ws"]["spot"] = server.ws_url
        exchange.urls["api"]["ws"]["margin"] = server.ws_url
    exchange.timeout = 10_000
    return exchange


class CcxtTests(TestCase):
    timeout = 120

    def setUp(self) -> Any:
        if ccxt is None:
            raise SkipTest("ccxt is not installed (pip install -e '.[test]')")
        self.server = MockServer("binance_spot", port=0, seed=11, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    def rest_klines(self, **params: Any) -> Any:
        import json
        import urllib.request
        from urllib.parse import urlencode

        url = f"{self.server.url}/api/v3/klines?{urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())

    @inlineCallbacks
    def test_fetch_ohlcv_paginates(self) -> Any:
        """
        ccxt's own paginator (``paginate: True``) walks back over several pages of
        1000 candles; the result is contiguous, deduplicated and equals the REST data.
        """

        def fetch() -> tuple[list[list[float]], list[list[Any]]]:
            ex = point(ccxt.binance({"options": OPTIONS}), self.server)
            ex.load_markets()
            now = ex.milliseconds()
            since = now - 2_500 * MINUTE
            candles = ex.fetch_ohlcv(
                "BTC/USDT", "1m", since=since, params={"paginate": True, "paginationCalls": 3}
            )
            raw = self.rest_klines(symbol="BTCUSDT", interval="1m", startTime=candles[0][0], limit=5)
            return candles, raw

        candles, raw = yield deferToThread(fetch)
        stamps = [c[0] for c in candles]
        self.assertGreaterEqual(len(candles), 2_400)
        self.assertEqual(stamps, sorted(set(stamps)))
        self.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {MINUTE})
        for row, candle in zip(raw, candles):
            self.assertEqual(row[0], candle[0])
            self.assertEqual([float(x) for x in row[1:6]], candle[1:6])

    @inlineCallbacks
    def test_fetch_ohlcv_manual_pages(self) -> Any:
        """Paging by ``since`` (as most bots do) gives consecutive pages with no gap."""

        def fetch() -> list[list[float]]:
            ex = point(ccxt.binance({"options": OPTIONS}), self.server)
            since = ex.parse8601("2024-02-28T00:00:00Z")
            out: list[list[float]] = []
            for _ in range(3):
                page = ex.fetch_ohlcv("ETH/USDT", "1h", since=since, limit=1000)
                out.extend(page)
                since = page[-1][0] + 3_600_000
            return out

        candles = yield deferToThread(fetch)
        self.assertEqual(len(candles), 3000)
        stamps = [c[0] for c in candles]
        self.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {3_600_000})

    @inlineCallbacks
    def test_bad_symbol(self) -> Any:
        """The venue's -1121 reaches ccxt as BadSymbol; so does a symbol ccxt never loaded."""

        def attempt() -> list[type]:
            ex = point(ccxt.binance({"options": OPTIONS}), self.server)
            ex.load_markets()
            raised = []
            try:
                ex.publicGetKlines({"symbol": "NOPEUSDT", "interval": "1m"})
            except Exception as e:  # noqa: BLE001 - the class is the assertion
                raised.append(type(e))
            try:
                ex.fetch_ohlcv("NOPE/USDT", "1m")
            except Exception as e:  # noqa: BLE001
                raised.append(type(e))
            return raised

        raised = yield deferToThread(attempt)
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadSymbol])

    @inlineCallbacks
    def test_watch_ohlcv(self) -> Any:
        """ccxt.pro subscribes on /ws/0 and receives live kline updates that match REST."""

        async def watch() -> tuple[list[list[float]], list[list[float]]]:
            ex = point(ccxt.pro.binance({"options": OPTIONS}), self.server)
            try:
                await ex.load_markets()
                first = await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
                second = await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), 15)
                return first, second
            finally:
                await ex.close()

        first, second = yield deferToThread(asyncio.run, watch())
        self.assertTrue(first and second)
        live = second[-1]
        rows = yield deferToThread(self.rest_klines, symbol="BTCUSDT", interval="1m", limit=2)
        self.assertIn(live[0], [r[0] for r in rows])
        self.assertEqual(live[0] % MINUTE, 0)
        self.assertGreater(live[4], 0)

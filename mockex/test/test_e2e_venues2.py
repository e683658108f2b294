"""
End to end over loopback for the venues of the second batch (KuCoin, Gate, Kraken):
unmodified ccxt and ccxt.pro against a started server, only base URLs changed. The
harness (real sockets on 127.0.0.1, the real reactor, ccxt in a worker thread, bounded
tests) is :mod:`mockex.test.e2e`.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import inlineCallbacks

from mockex.test.e2e import MINUTE, VenueE2E, ccxt, contiguous, pages


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
            return len(ex.markets), pages(ex, "BTC/USDT", since, 3, limit=1500), server_time

        count, candles, server_time = yield self.in_thread(fetch)
        self.assertEqual(count, 7)
        self.assertGreater(server_time, 1_700_000_000_000)
        self.assertEqual(len(candles), 4500)
        contiguous(self, candles, MINUTE)

    @inlineCallbacks
    def test_bad_symbol(self) -> Any:
        raised = yield self.errors(ccxt.kucoin, [
            lambda ex: ex.publicGetMarketCandles({"symbol": "NOPE-USDT", "type": "1min"}),
            lambda ex: ex.publicGetMarketCandles({"symbol": "BTC-USDT", "type": "1m"}),
        ])
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadRequest])

    def test_watch_ohlcv(self) -> Any:
        """ccxt.pro: bullet-public, the token handshake, welcome, subscribe/ack, pushes, unwatch."""
        return self.watch_live(ccxt.pro.kucoin, "BTC/USDT", unwatch=True)


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
            manual = pages(ex, "ETH/USDT", since - 500 * MINUTE, 2, limit=1000)
            latest = ex.fetch_ohlcv("BTC/USDT", "1h", limit=5)
            return len(ex.markets), server_time, paged, manual, latest

        count, server_time, paged, manual, latest = yield self.in_thread(fetch)
        self.assertEqual(count, 7)
        self.assertGreater(server_time, 1_700_000_000_000)
        self.assertGreaterEqual(len(paged), 1_800)
        contiguous(self, paged, MINUTE)
        self.assertEqual(len(manual), 2000)
        contiguous(self, manual, MINUTE)
        self.assertEqual(len(latest), 5)

    @inlineCallbacks
    def test_errors(self) -> Any:
        raised = yield self.errors(ccxt.gate, [
            lambda ex: ex.publicSpotGetCandlesticks({"currency_pair": "NOPE_USDT"}),
            lambda ex: ex.publicSpotGetCandlesticks({"currency_pair": "BTC_USDT", "interval": "2m"}),
            lambda ex: ex.publicSpotGetCandlesticks({"interval": "1m"}),
        ])
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadRequest, ccxt.ArgumentsRequired])

    def test_watch_ohlcv(self) -> Any:
        return self.watch_live(ccxt.pro.gate, "BTC/USDT")


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
        contiguous(self, latest, MINUTE)
        self.assertEqual(recent[0][0], since)
        self.assertEqual(len(recent), 300)

    def test_watch_ohlcv(self) -> Any:
        return self.watch_live(ccxt.pro.kraken, "BTC/USDT")

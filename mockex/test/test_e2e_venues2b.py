"""
End to end over loopback for the venues of issue 7's second half (MEXC spot and
perpetual, KuCoin and Gate perpetuals): unmodified ccxt and ccxt.pro against a started
server, only base URLs changed. The harness is :mod:`mockex.test.e2e`.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest

from mockex.test.e2e import MINUTE, VenueE2E, ccxt, contiguous, pages

try:
    import google.protobuf  # noqa: F401  (ccxt.pro decodes MEXC's pushes with it)
except ImportError:  # pragma: no cover - protobuf is in the 'test' extra
    google = None


class MexcSpotE2E(VenueE2E):
    venue = "mexc_spot"

    def point(self, exchange: Any) -> Any:
        """Base URLs only: spot REST, the contract REST (ccxt's load_markets asks it), the spot WebSocket."""
        exchange.urls["api"]["spot"]["public"] = self.server.url
        exchange.urls["api"]["contract"]["public"] = self.server.url + "/api/v1/contract"
        if "ws" in exchange.urls["api"]:
            exchange.urls["api"]["ws"]["spot"] = self.server.ws_url
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def test_fetch_ohlcv_paginates(self) -> Any:
        """Default ``load_markets``, ``fetch_time``; ``paginate`` over three windows; paging by ``since``."""

        def fetch() -> tuple[int, int, list[list[float]], list[list[float]], list[list[float]]]:
            ex = self.point(ccxt.mexc())
            ex.load_markets()
            server_time = ex.fetch_time()
            since = ex.milliseconds() - 1_400 * MINUTE
            since -= since % MINUTE
            paged = ex.fetch_ohlcv("BTC/USDT", "1m", since=since, params={"paginate": True, "paginationCalls": 3})
            manual = pages(ex, "ETH/USDT", since - 2_000 * MINUTE, 3)
            latest = ex.fetch_ohlcv("BTC/USDT", "1h", limit=5)
            return len(ex.markets), server_time, paged, manual, latest

        count, server_time, paged, manual, latest = yield self.in_thread(fetch)
        self.assertEqual(count, 7)
        self.assertGreater(server_time, 1_700_000_000_000)
        self.assertGreaterEqual(len(paged), 1_400)
        contiguous(self, paged, MINUTE)
        self.assertEqual(len(manual), 1500)
        contiguous(self, manual, MINUTE)
        self.assertEqual(len(latest), 5)
        contiguous(self, latest, 60 * MINUTE)

    @inlineCallbacks
    def test_errors(self) -> Any:
        raised = yield self.errors(ccxt.mexc, [
            lambda ex: ex.spotPublicGetKlines({"symbol": "NOPEUSDT", "interval": "1m"}),
            lambda ex: ex.spotPublicGetKlines({"symbol": "BTCUSDT", "interval": "1h"}),
            lambda ex: ex.spotPublicGetKlines({"symbol": "BTCUSDT", "interval": "1m", "limit": "x"}),
        ])
        # -1121 is BadSymbol in ccxt's table, for "Invalid interval." too (the captured answer).
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadSymbol, ccxt.BadRequest])

    def test_watch_ohlcv(self) -> Any:
        """ccxt.pro: SUBSCRIPTION of the protobuf channel, binary pushes decoded by ccxt, unwatch."""
        if google is None:
            raise SkipTest("ccxt.pro needs protobuf to decode MEXC's pushes (pip install protobuf)")
        return self.watch_live(ccxt.pro.mexc, "BTC/USDT", unwatch=True)


class KucoinPerpetualE2E(VenueE2E):
    venue = "kucoin_perpetual"

    def point(self, exchange: Any) -> Any:
        """Base URLs only: the futures host, and the spot host (ccxt's load_markets asks it for currencies)."""
        exchange.urls["api"]["futuresPublic"] = self.server.url
        exchange.urls["api"]["public"] = self.server.url
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def test_fetch_ohlcv_paginates(self) -> Any:
        """
        Default ``load_markets`` (contracts/active), ``fetch_time``, paging by ``since``
        (ccxt's windows of 200), ``limit`` alone. (ccxt 4.5's own ``paginate`` for
        KuCoin contracts filters every row away, as for spot: it calls
        ``filter_by_since_limit`` with key ``'timestamp'`` for ``fetchContractOHLCV``.)
        """

        def fetch() -> tuple[list[str], int, list[list[float]], list[list[float]], list[list[float]]]:
            ex = self.point(ccxt.kucoinfutures())
            ex.load_markets()
            server_time = ex.fetch_time()
            since = ex.milliseconds() - 700 * MINUTE
            since -= since % MINUTE
            paged = ex.fetch_ohlcv("BTC/USDT:USDT", "1m", since=since, params={"paginate": True, "paginationCalls": 3})
            assert paged == [], "ccxt's contract paginate has been fixed: test it here"
            manual = pages(ex, "ETH/USDT:USDT", since - 1_000 * MINUTE, 3)
            latest = ex.fetch_ohlcv("BTC/USDT:USDT", "1h", limit=5)
            return sorted(ex.markets), server_time, paged, manual, latest

        markets, server_time, paged, manual, latest = yield self.in_thread(fetch)
        self.assertIn("BTC/USDT:USDT", markets)
        self.assertEqual(len(markets), 6)
        self.assertGreater(server_time, 1_700_000_000_000)
        self.assertEqual(len(manual), 600)
        contiguous(self, manual, MINUTE)
        self.assertEqual(len(latest), 5)

    @inlineCallbacks
    def test_errors(self) -> Any:
        raised = yield self.errors(ccxt.kucoinfutures, [
            lambda ex: ex.futuresPublicGetKlineQuery({"symbol": "NOPEUSDTM", "granularity": 1}),
            lambda ex: ex.futuresPublicGetKlineQuery({"symbol": "XBTUSDTM", "granularity": 3}),
        ])
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadRequest])

    @inlineCallbacks
    def test_watch_ohlcv(self) -> Any:
        """ccxt.pro: the futures bullet-public, welcome, subscribe/ack, pushes, unwatch."""
        live = yield self.watch_live(ccxt.pro.kucoinfutures, "BTC/USDT:USDT", unwatch=True)
        self.assertGreaterEqual(live[5], 0)


class GatePerpetualE2E(VenueE2E):
    venue = "gate_io_perpetual"

    def point(self, exchange: Any) -> Any:
        """Base URLs only: every public REST family (one host on Gate) and the USDT futures WebSocket."""
        for family in list(exchange.urls["api"]["public"]):
            exchange.urls["api"]["public"][family] = self.server.url + "/api/v4"
        if "swap" in exchange.urls["api"]:
            exchange.urls["api"]["swap"]["usdt"] = self.server.ws_url
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def test_fetch_ohlcv_paginates(self) -> Any:
        """
        Default ``load_markets`` (futures/usdt/contracts among the families), ``fetch_time``;
        ``paginate`` over two windows and paging by ``since`` (ccxt's windows of 1999,
        with ``X-Gate-Size-Decimal: 1``), ``limit`` alone.
        """

        def fetch() -> tuple[list[str], int, list[list[float]], list[list[float]], list[list[float]]]:
            ex = self.point(ccxt.gate())
            ex.load_markets()
            server_time = ex.fetch_time()
            since = ex.milliseconds() - 1_800 * MINUTE
            since -= since % MINUTE
            paged = ex.fetch_ohlcv("BTC/USDT:USDT", "1m", since=since, params={"paginate": True, "paginationCalls": 2})
            manual = pages(ex, "ETH/USDT:USDT", since - 3_000 * MINUTE, 2)
            latest = ex.fetch_ohlcv("BTC/USDT:USDT", "1h", limit=5)
            return sorted(ex.markets), server_time, paged, manual, latest

        markets, server_time, paged, manual, latest = yield self.in_thread(fetch)
        self.assertEqual(len(markets), 6)
        self.assertIn("BTC/USDT:USDT", markets)
        self.assertGreater(server_time, 1_700_000_000_000)
        # two windows of 1000 from a minute-aligned since (ccxt 4.5 loses a candle at later seams, see gate_io_spot.md)
        self.assertGreaterEqual(len(paged), 1_800)
        contiguous(self, paged, MINUTE)
        self.assertEqual(len(manual), 3998)
        contiguous(self, manual, MINUTE)
        self.assertEqual(len(latest), 5)
        self.assertGreater(latest[-1][5], 0)

    @inlineCallbacks
    def test_errors(self) -> Any:
        raised = yield self.errors(ccxt.gate, [
            lambda ex: ex.publicFuturesGetSettleCandlesticks({"settle": "usdt", "contract": "NOPE_USDT"}),
            lambda ex: ex.publicFuturesGetSettleCandlesticks({"settle": "usdt", "contract": "BTC_USDT",
                                                              "interval": "2m"}),
            lambda ex: ex.publicFuturesGetSettleCandlesticks({"settle": "usdt"}),
        ])
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadRequest, ccxt.ArgumentsRequired])

    def test_watch_ohlcv(self) -> Any:
        return self.watch_live(ccxt.pro.gate, "BTC/USDT:USDT")


class MexcPerpetualE2E(VenueE2E):
    venue = "mexc_perpetual"

    def point(self, exchange: Any) -> Any:
        """Base URLs only: contract REST, spot REST (ccxt's load_markets asks it), the contract WebSocket."""
        exchange.urls["api"]["spot"]["public"] = self.server.url
        exchange.urls["api"]["contract"]["public"] = self.server.url + "/api/v1/contract"
        if "ws" in exchange.urls["api"]:
            exchange.urls["api"]["ws"]["swap"] = self.server.ws_url
        exchange.options["defaultType"] = "swap"
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def test_fetch_ohlcv_paginates(self) -> Any:
        """Default ``load_markets``, swap ``fetch_time`` (contract ping), ``paginate`` (windows of 2000), ``since``."""

        def fetch() -> tuple[list[str], int, list[list[float]], list[list[float]], list[list[float]]]:
            ex = self.point(ccxt.mexc())
            ex.load_markets()
            server_time = ex.fetch_time()
            since = ex.milliseconds() - 3_000 * MINUTE
            since -= since % MINUTE
            paged = ex.fetch_ohlcv("BTC/USDT:USDT", "1m", since=since, params={"paginate": True, "paginationCalls": 2})
            manual = pages(ex, "ETH/USDT:USDT", since - 3_000 * MINUTE, 2, until_after=1_999 * MINUTE)
            latest = ex.fetch_ohlcv("BTC/USDT:USDT", "1h", limit=5)
            return sorted(ex.markets), server_time, paged, manual, latest

        markets, server_time, paged, manual, latest = yield self.in_thread(fetch)
        self.assertEqual(len(markets), 6)
        self.assertIn("BTC/USDT:USDT", markets)
        self.assertGreater(server_time, 1_700_000_000_000)
        self.assertGreaterEqual(len(paged), 3_000)
        contiguous(self, paged, MINUTE)
        self.assertEqual(len(manual), 4000)
        contiguous(self, manual, MINUTE)
        self.assertEqual(len(latest), 5)

    @inlineCallbacks
    def test_errors(self) -> Any:
        raised = yield self.errors(ccxt.mexc, [
            lambda ex: ex.contractPublicGetKlineSymbol({"symbol": "NOPE_USDT"}),
            lambda ex: ex.contractPublicGetKlineSymbol({"symbol": "BTC_USDT", "interval": "1m"}),
        ])
        self.assertEqual(raised, [ccxt.BadSymbol, ccxt.BadRequest])

    def test_watch_ohlcv(self) -> Any:
        return self.watch_live(ccxt.pro.mexc, "BTC/USDT:USDT", unwatch=True)

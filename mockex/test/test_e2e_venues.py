"""
End to end over loopback for the Bybit, OKX and Binance perpetual venues: unmodified
ccxt, ccxt.pro and the venues' own SDKs (pybit, python-okx) against started servers,
with only their base URLs changed.

Like test_e2e_ccxt.py: real sockets on 127.0.0.1 (ephemeral ports) and the real
reactor; clients run in worker threads (asyncio ones in their own loop); every test is
bounded by ``timeout`` and the clients by their own shorter timeouts.

Base URLs, as a user would set them (sources: ccxt 4.5 ``describe()['urls']`` and the
pro modules' URL selection; pybit's ``HTTP.endpoint`` and
``pybit.unified_trading.PUBLIC_WSS``; python-okx's ``domain``):

* ccxt bybit: ``urls['api']`` for REST, ``urls['api']['ws']['public'][category]``.
* ccxt okx: ``urls['api']['rest']``, ``urls['api']['ws']`` (the ``/business`` suffix
  is ccxt's own).
* ccxt binance (linear): the ``fapi*`` URLs, ``urls['api']['ws']['linear']`` ending in
  ``/ws`` (ccxt.pro turns it into ``/market/ws``).

python-okx's WebSocket client is not run: it always passes an SSL context, which
``websockets`` refuses for a ``ws://`` URL, so it cannot reach a plain-text server.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from mockex.server import MockServer
from mockex.test.e2e import VenueE2E

try:
    import ccxt
    import ccxt.pro
except ImportError:  # pragma: no cover - ccxt is in the 'test' extra
    ccxt = None

MINUTE = 60_000


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def point_bybit(exchange: Any, server: MockServer, category: str) -> Any:
    exchange.urls["api"] = {
        "public": server.url, "spot": server.url, "futures": server.url, "v2": server.url,
        "private": server.url,
        "ws": {"public": {category: f"ws://127.0.0.1:{server.port}/v5/public/{category}"}},
    }
    exchange.timeout = 10_000
    return exchange


def point_okx(exchange: Any, server: MockServer) -> Any:
    exchange.urls["api"] = {"rest": server.url, "ws": f"ws://127.0.0.1:{server.port}/ws/v5"}
    exchange.timeout = 10_000
    return exchange


def point_binance_linear(exchange: Any, server: MockServer) -> Any:
    api = exchange.urls["api"]
    for key in list(api):
        if key.startswith("fapi"):
            api[key] = api[key].replace("https://fapi.binance.com", server.url)
    if "ws" in api:
        api["ws"]["linear"] = f"ws://127.0.0.1:{server.port}/ws"
    exchange.timeout = 10_000
    return exchange


#: venue -> (ccxt id, how to point it, unified symbol, fetchMarkets types)
CASES: dict[str, tuple[str, Callable[[Any, MockServer], Any], str, list[str]]] = {
    "bybit_spot": ("bybit", lambda e, s: point_bybit(e, s, "spot"), "BTC/USDT", ["spot"]),
    "bybit_perpetual": ("bybit", lambda e, s: point_bybit(e, s, "linear"), "BTC/USDT:USDT", ["linear"]),
    "okx_spot": ("okx", point_okx, "BTC/USDT", ["spot"]),
    "okx_perpetual": ("okx", point_okx, "BTC/USDT:USDT", ["swap"]),
    "binance_perpetual": ("binance", point_binance_linear, "BTC/USDT:USDT", ["linear"]),
}


class _Venue:
    """The ccxt tests of one venue (mixed into a VenueE2E per venue, which starts the server)."""

    timeout = 90
    seed = 5

    def make(self, module: Any) -> Any:
        exchange_id, point, _symbol, types = CASES[self.venue]
        options = {"fetchMarkets": {"types": types}, "fetchCurrencies": False}
        return point(getattr(module, exchange_id)({"options": options}), self.server)

    @inlineCallbacks
    def test_ccxt_fetch_ohlcv_paginates(self) -> Any:
        """load_markets, fetch_time, and ccxt's own paginator over three pages."""
        symbol = CASES[self.venue][2]

        def fetch() -> tuple[int, list[list[float]]]:
            ex = self.make(ccxt)
            ex.load_markets()
            params = {"type": "future"} if CASES[self.venue][0] == "binance" else {}
            server_time = ex.fetch_time(params)
            since = ex.milliseconds() - 2_500 * MINUTE
            candles = ex.fetch_ohlcv(symbol, "1m", since=since, params={"paginate": True, "paginationCalls": 3})
            return server_time, candles

        server_time, candles = yield deferToThread(fetch)
        self.assertLess(abs(server_time - self.server.clock.now_ms()), 60_000)
        stamps = [c[0] for c in candles]
        self.assertGreaterEqual(len(candles), 600)
        self.assertEqual(stamps, sorted(set(stamps)))
        self.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {MINUTE})

    @inlineCallbacks
    def test_ccxt_bad_symbol(self) -> Any:
        def attempt() -> type:
            ex = self.make(ccxt)
            ex.load_markets()
            try:
                ex.fetch_ohlcv(CASES[self.venue][2].replace("BTC", "NOPE"), "1m")
            except Exception as e:  # noqa: BLE001 - the class is the assertion
                return type(e)
            return type(None)

        raised = yield deferToThread(attempt)
        self.assertTrue(issubclass(raised, ccxt.BadSymbol), raised)

    @inlineCallbacks
    def test_ccxt_pro_watch_ohlcv(self) -> Any:
        symbol = CASES[self.venue][2]

        async def watch() -> list[list[float]]:
            ex = self.make(ccxt.pro)
            try:
                await ex.load_markets()
                await asyncio.wait_for(ex.watch_ohlcv(symbol, "1m"), 15)
                return await asyncio.wait_for(ex.watch_ohlcv(symbol, "1m"), 15)
            finally:
                await ex.close()

        candles = yield deferToThread(asyncio.run, watch())
        live = candles[-1]
        self.assertEqual(live[0] % MINUTE, 0)
        self.assertLessEqual(abs(live[0] - self.server.clock.now_ms()), 2 * MINUTE)
        self.assertGreater(live[4], 0)


class BybitSpotTests(_Venue, VenueE2E):
    venue = "bybit_spot"


class BybitPerpetualTests(_Venue, VenueE2E):
    venue = "bybit_perpetual"


class OkxSpotTests(_Venue, VenueE2E):
    venue = "okx_spot"


class OkxPerpetualTests(_Venue, VenueE2E):
    venue = "okx_perpetual"


class BinancePerpetualTests(_Venue, VenueE2E):
    venue = "binance_perpetual"


class PybitTests(TestCase):
    """pybit 5.x, unmodified: ``HTTP.endpoint`` and ``PUBLIC_WSS`` point at mockex."""

    timeout = 60

    def setUp(self) -> Any:
        try:
            import pybit.unified_trading  # noqa: F401
        except ImportError:
            raise SkipTest("pybit is not installed (pip install -e '.[test]')") from None
        self.server = MockServer("bybit_perpetual", port=0, seed=5, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    @inlineCallbacks
    def test_http(self) -> Any:
        from pybit.exceptions import InvalidRequestError
        from pybit.unified_trading import HTTP

        def calls() -> tuple[Any, Any, Any, Any]:
            session = HTTP(testnet=False, timeout=10, max_retries=1)
            session.endpoint = self.server.url
            server_time = session.get_server_time()
            instruments = session.get_instruments_info(category="linear")
            klines = session.get_kline(category="linear", symbol="BTCUSDT", interval="60", limit=5)
            try:
                session.get_kline(category="linear", symbol="NOPEUSDT", interval="1")
                error = None
            except InvalidRequestError as e:
                error = (e.status_code, e.message)
            return server_time, instruments, klines, error

        server_time, instruments, klines, error = yield deferToThread(calls)
        self.assertEqual(server_time["retCode"], 0)
        self.assertEqual(instruments["result"]["list"][0]["symbol"], "BTCUSDT")
        rows = klines["result"]["list"]
        self.assertEqual(len(rows), 5)
        self.assertGreater(int(rows[0][0]), int(rows[1][0]))
        self.assertEqual(error, (10001, "Symbol Is Invalid"))

    @inlineCallbacks
    def test_websocket_kline_stream(self) -> Any:
        import threading

        import pybit.unified_trading as unified

        url = f"ws://127.0.0.1:{self.server.port}/v5/public/{{CHANNEL_TYPE}}"
        self.patch(unified, "PUBLIC_WSS", url)

        def stream() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = []
            enough = threading.Event()

            def callback(message: dict[str, Any]) -> None:
                got.append(message)
                if len(got) >= 3:
                    enough.set()

            ws = unified.WebSocket(testnet=False, channel_type="linear", restart_on_error=False)
            try:
                ws.kline_stream(interval=1, symbol="BTCUSDT", callback=callback)
                enough.wait(15)
            finally:
                ws.exit()
            return got

        got = yield deferToThread(stream)
        self.assertGreaterEqual(len(got), 3)
        self.assertEqual(got[0]["topic"], "kline.1.BTCUSDT")
        self.assertEqual(got[0]["data"][0]["interval"], "1")


class PythonOkxTests(TestCase):
    """python-okx 0.4, unmodified: ``domain`` points at mockex (REST only, see above)."""

    timeout = 60

    def setUp(self) -> Any:
        try:
            import okx.MarketData  # noqa: F401
        except ImportError:
            raise SkipTest("python-okx is not installed (pip install -e '.[test]')") from None
        self.server = MockServer("okx_spot", port=0, seed=5, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    @inlineCallbacks
    def test_rest(self) -> Any:
        import okx.MarketData as MarketData
        import okx.PublicData as PublicData

        def calls() -> tuple[Any, Any, Any, Any, Any]:
            market = MarketData.MarketAPI(flag="0", domain=self.server.url, debug=False)
            public = PublicData.PublicAPI(flag="0", domain=self.server.url, debug=False)
            return (
                public.get_system_time(),
                public.get_instruments(instType="SPOT"),
                market.get_candlesticks(instId="BTC-USDT", bar="1m", limit="5"),
                market.get_history_candlesticks(instId="ETH-USDT", bar="1Dutc", limit="3"),
                market.get_candlesticks(instId="NOPE-USDT"),
            )

        server_time, instruments, candles, history, missing = yield deferToThread(calls)
        self.assertEqual(server_time["code"], "0")
        self.assertEqual(instruments["data"][0]["instId"], "BTC-USDT")
        self.assertEqual(len(candles["data"]), 5)
        self.assertEqual(candles["data"][0][8], "0")
        self.assertEqual([r[8] for r in history["data"]][1:], ["1", "1"])
        self.assertEqual(missing["code"], "51001")

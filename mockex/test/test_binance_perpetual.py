"""
In-memory tests of ``binance_perpetual``: /fapi/v1 REST (klines, continuousKlines,
exchangeInfo, time, ping) and its errors, the fstream routes and their kline payloads.
Expected values follow Binance's USDⓈ-M docs and ccxt 4.5, as named in
mockex/venues/binance_futures.py.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.binance_futures import klines_weight

MINUTE = 60_000
NOW = DEFAULT_NOW_MS + 37_123
SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]


class RestTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("binance_perpetual", now_ms=NOW)

    def klines(self, path: str = "/fapi/v1/klines", **params: Any) -> Any:
        response = self.server.get(path, **params)
        self.assertEqual(response.status, 200, response)
        return response.json()

    def error(self, path: str = "/fapi/v1/klines", **params: Any) -> tuple[int, int, str]:
        response = self.server.get(path, **params)
        body = response.json()
        self.assertEqual(list(body), ["code", "msg"])
        return response.status, body["code"], body["msg"]

    def test_rows_use_the_symbol_precision(self) -> None:
        rows = self.klines(symbol="BTCUSDT", interval="1m", limit=3)
        self.assertEqual([r[0] for r in rows], [NOW // MINUTE * MINUTE - i * MINUTE for i in (2, 1, 0)])
        row = rows[0]
        self.assertEqual(len(row), 12)
        self.assertRegex(row[1], r"^\d+\.\d{2}$")  # pricePrecision 2
        self.assertRegex(row[5], r"^\d+\.\d{3}$")  # quantityPrecision 3
        self.assertRegex(row[7], r"^\d+\.\d{5}$")
        self.assertEqual(row[6], row[0] + MINUTE - 1)
        self.assertIsInstance(row[8], int)
        self.assertEqual(row[11], "0")

    def test_limits(self) -> None:
        self.assertEqual(len(self.klines(symbol="BTCUSDT", interval="1m")), 500)
        self.assertEqual(len(self.klines(symbol="BTCUSDT", interval="1m", limit=1500)), 1500)
        message = "Data sent for parameter 'limit' is not valid."
        self.assertEqual(self.error(symbol="BTCUSDT", interval="1m", limit=1501), (400, -1130, message))
        self.assertEqual(self.error(symbol="BTCUSDT", interval="1m", limit=0), (400, -1130, message))
        clamp = MemoryServer("binance_perpetual", now_ms=NOW, options={"limit_over_max": "clamp"})
        self.assertEqual(len(clamp.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=5000).json()), 1500)

    def test_weight_by_limit(self) -> None:
        self.assertEqual([klines_weight(n) for n in (None, 1, 99, 100, 499, 500, 1000, 1001, 1500)],
                         [5, 1, 1, 2, 2, 5, 5, 10, 10])

    def test_start_and_end(self) -> None:
        start = NOW - 100 * MINUTE
        rows = self.klines(symbol="ETHUSDT", interval="1m", startTime=start, limit=5)
        self.assertEqual(rows[0][0], -(-start // MINUTE) * MINUTE)
        rows = self.klines(symbol="ETHUSDT", interval="1m", endTime=start, limit=5)
        self.assertEqual(rows[-1][0], start // MINUTE * MINUTE)

    def test_intervals(self) -> None:
        for name in ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"]:
            self.assertEqual(len(self.klines(symbol="BTCUSDT", interval=name, limit=2)), 2, name)
        self.assertEqual(self.error(symbol="BTCUSDT", interval="1s"), (400, -1120, "Invalid interval."))

    def test_errors(self) -> None:
        self.assertEqual(self.error(symbol="NOPEUSDT", interval="1m"), (400, -1121, "Invalid symbol."))
        self.assertEqual(self.error(interval="1m")[1:], (-1102, "Mandatory parameter 'symbol' was not sent, "
                                                                "was empty/null, or malformed."))
        self.assertEqual(self.error(symbol="btcusdt", interval="1m")[1], -1100)
        self.assertEqual(self.error(symbol="BTCUSDT", interval="1m", limit="x")[1], -1100)
        self.assertEqual(self.error(symbol="BTCUSDT", interval="1m", timeZone="8")[1], -1104)
        self.assertEqual(self.server.get("/fapi/v1/nothing").status, 404)

    def test_continuous_klines(self) -> None:
        rows = self.klines("/fapi/v1/continuousKlines", pair="BTCUSDT", contractType="PERPETUAL",
                           interval="1m", limit=2)
        self.assertEqual(rows, self.klines(symbol="BTCUSDT", interval="1m", limit=2))
        self.assertEqual(self.error("/fapi/v1/continuousKlines", pair="BTCUSDT", contractType="CURRENT_QUARTER",
                                    interval="1m")[1], -1121)
        self.assertEqual(self.error("/fapi/v1/continuousKlines", pair="BTCUSDT", contractType="X",
                                    interval="1m")[1], -1130)
        self.assertEqual(self.error("/fapi/v1/continuousKlines", pair="BTCUSDT", interval="1m")[1], -1102)

    def test_exchange_info(self) -> None:
        info = self.klines("/fapi/v1/exchangeInfo")
        self.assertEqual(list(info), ["timezone", "serverTime", "futuresType", "rateLimits", "exchangeFilters",
                                      "assets", "symbols"])
        self.assertEqual(info["futuresType"], "U_MARGINED")
        self.assertEqual([s["symbol"] for s in info["symbols"]], SYMBOLS)
        btc = info["symbols"][0]
        self.assertEqual((btc["contractType"], btc["deliveryDate"], btc["marginAsset"], btc["pricePrecision"],
                          btc["quantityPrecision"]), ("PERPETUAL", 4133404800000, "USDT", 2, 3))
        self.assertEqual(info["rateLimits"][0]["limit"], 2400)
        self.assertEqual(self.error("/fapi/v1/exchangeInfo", symbol="BTCUSDT")[1], -1101)

    def test_other_markets_are_empty(self) -> None:
        self.assertEqual(self.klines("/api/v3/exchangeInfo")["symbols"], [])
        self.assertEqual(self.klines("/dapi/v1/exchangeInfo")["symbols"], [])

    def test_time_and_ping(self) -> None:
        self.assertEqual(self.klines("/fapi/v1/time"), {"serverTime": NOW})
        self.assertEqual(self.klines("/fapi/v1/ping"), {})
        self.assertEqual(self.error("/fapi/v1/time", x="1")[1], -1101)

    @settings(max_examples=60)
    @given(st.dictionaries(
        st.sampled_from(["symbol", "interval", "startTime", "endTime", "limit", "pair", "contractType", "x"]),
        st.one_of(st.text(max_size=25), st.integers(-10**20, 10**20).map(str)), max_size=6,
    ))
    def test_arbitrary_parameters_never_5xx(self, params: dict[str, str]) -> None:
        for path in ("/fapi/v1/klines", "/fapi/v1/continuousKlines"):
            self.assertLess(self.server.get(path, **params).status, 500)


class StreamTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("binance_perpetual", now_ms=DEFAULT_NOW_MS)
        self.addCleanup(self.server.stop)

    def test_market_route_like_ccxt_pro(self) -> None:
        """ccxt.pro subscribes on /market/ws/<n>; pushes every 250 ms, one close per candle."""
        ws = self.server.connect("/market/ws/0")
        ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        self.server.advance(61, step=0.25)
        messages = ws.take()
        self.assertEqual(messages[0], {"result": None, "id": 1})
        events = messages[1:]
        self.assertGreaterEqual(len(events), 200)
        closes = [e for e in events if e["k"]["x"]]
        self.assertEqual(len(closes), 1)
        k = closes[0]["k"]
        rest = self.server.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=k["t"], limit=1).json()[0]
        self.assertEqual([rest[0], rest[1], rest[2], rest[3], rest[4], rest[5], rest[6], rest[7], rest[8]],
                         [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"]])

    def test_routes(self) -> None:
        """Klines on /ws, /stream and /market; /public acknowledges and stays silent."""
        for path, expect in (("/ws/btcusdt@kline_1m", True), ("/stream?streams=btcusdt@kline_1m", True),
                             ("/market/stream?streams=btcusdt@kline_1m", True),
                             ("/public/ws/btcusdt@kline_1m", False)):
            ws = self.server.connect(path)
            self.server.advance(1)
            self.assertEqual(bool(ws.take()), expect, path)

    def test_strict_routes(self) -> None:
        server = MemoryServer("binance_perpetual", options={"futures_routes": "strict"})
        legacy = server.connect("/ws/btcusdt@kline_1m")
        market = server.connect("/market/ws/btcusdt@kline_1m")
        server.advance(1)
        self.assertEqual((bool(legacy.take()), bool(market.take())), (False, True))
        server.stop()

    def test_no_time_zone_streams_or_1s(self) -> None:
        ws = self.server.connect("/ws")
        ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1d@+08:00", "btcusdt@kline_1s"], "id": 2})
        self.server.advance(2)
        self.assertEqual(ws.take(), [{"result": None, "id": 2}])

    def test_keepalive(self) -> None:
        """Pings every 3 minutes; a client that never answers is dropped after 10."""
        ws = self.server.connect("/ws")
        ws.auto_pong = False
        self.server.advance(181, step=30)
        self.assertEqual(len(ws.pings), 1)
        self.server.advance(600, step=30)
        self.assertTrue(ws.lost)

"""
Tests for the generic ``mock`` venue (mockex.venues.mock), held to docs/venues/mock.md,
which is its specification. In memory (MemoryServer), plus one loopback test with
plain HTTP and WebSocket clients (urllib and ``websockets``).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SynchronousTestCase, TestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.server import MockServer
from mockex.testing import DEFAULT_NOW_MS, MemoryServer

MINUTE = 60_000
NOW = DEFAULT_NOW_MS + 37_123
ROW_TYPES = [int, str, str, str, str, str, int, str, int, bool]


def error_body(response: Any) -> tuple[int, str]:
    body = response.json()
    assert list(body) == ["error"] and list(body["error"]) == ["code", "message"], body
    return response.status, body["error"]["code"]


class RestTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("mock", now_ms=NOW)

    def candles(self, **params: Any) -> Any:
        return self.server.get("/api/v1/candles", **params)

    def test_time(self) -> None:
        response = self.server.get("/api/v1/time")
        self.assertEqual((response.status, response.body), (200, b'{"time":%d}' % NOW))
        self.assertEqual(response.headers["content-type"], "application/json")

    def test_markets(self) -> None:
        body = self.server.get("/api/v1/markets").json()
        self.assertEqual(list(body), ["time", "intervals", "markets"])
        self.assertEqual(body["intervals"][:3], ["1s", "1m", "3m"])
        self.assertEqual([m["symbol"] for m in body["markets"]], ["BTC-USDT", "ETH-USDT", "SOL-USDT"])
        btc = body["markets"][0]
        self.assertEqual(
            btc,
            {"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "status": "trading", "price_decimals": 2,
             "qty_decimals": 5, "tick_size": "0.01", "lot_size": "0.00001", "listed_at": 1_577_836_800_000},
        )

    def test_latest(self) -> None:
        body = self.candles(symbol="BTC-USDT", interval="1m").json()
        self.assertEqual(list(body), ["symbol", "interval", "candles"])
        rows = body["candles"]
        self.assertEqual(len(rows), 500)
        self.assertEqual([type(x) for x in rows[0]], ROW_TYPES)
        self.assertEqual(rows[-1][0], NOW // MINUTE * MINUTE)
        self.assertIs(rows[-1][9], False)
        self.assertTrue(all(r[9] for r in rows[:-1]))
        self.assertEqual({b[0] - a[0] for a, b in zip(rows, rows[1:])}, {MINUTE})
        for r in rows:
            self.assertEqual(r[6], r[0] + MINUTE - 1)
            self.assertLessEqual(float(r[3]), min(float(r[1]), float(r[4])))
            self.assertGreaterEqual(float(r[2]), max(float(r[1]), float(r[4])))
        self.assertEqual(len(rows[0][1].partition(".")[2]), 2)
        self.assertEqual(len(rows[0][5].partition(".")[2]), 5)

    def test_start_end_limit(self) -> None:
        start = NOW - 100 * MINUTE
        rows = self.candles(symbol="ETH-USDT", interval="5m", start=start, limit=3).json()["candles"]
        self.assertEqual(rows[0][0], -(-start // (5 * MINUTE)) * 5 * MINUTE)
        self.assertEqual(len(rows), 3)
        end = NOW // MINUTE * MINUTE - 60 * MINUTE
        rows = self.candles(symbol="ETH-USDT", interval="1m", end=end, limit=2).json()["candles"]
        self.assertEqual([r[0] for r in rows], [end - MINUTE, end])
        rows = self.candles(symbol="ETH-USDT", interval="1m", start=end - 9 * MINUTE, end=end).json()["candles"]
        self.assertEqual(len(rows), 10)
        rows = self.candles(symbol="ETH-USDT", interval="1m", limit=1000).json()["candles"]
        self.assertEqual(len(rows), 1000)

    def test_before_listing_and_future(self) -> None:
        rows = self.candles(symbol="BTC-USDT", interval="1d", start=0, limit=2).json()["candles"]
        self.assertEqual(rows[0][0], 1_577_836_800_000)
        rows = self.candles(symbol="BTC-USDT", interval="1d", end=1_000).json()["candles"]
        self.assertEqual(rows, [])
        rows = self.candles(symbol="BTC-USDT", interval="1m", start=NOW + 3_600_000).json()["candles"]
        self.assertEqual(rows, [])

    def test_intervals(self) -> None:
        for name in ("1s", "3m", "1h", "1d", "3d", "1w", "1M"):
            rows = self.candles(symbol="BTC-USDT", interval=name, limit=2).json()["candles"]
            self.assertEqual(len(rows), 2, name)
        week = self.candles(symbol="BTC-USDT", interval="1w", limit=1).json()["candles"][0]
        self.assertEqual((week[0] // 86_400_000 - 4) % 7, 0)  # Mondays

    def test_cross_interval(self) -> None:
        """A 5m candle is its five 1m candles."""
        start = NOW - 30 * MINUTE
        five = self.candles(symbol="BTC-USDT", interval="5m", start=start, limit=1).json()["candles"][0]
        ones = self.candles(symbol="BTC-USDT", interval="1m", start=five[0], limit=5).json()["candles"]
        self.assertEqual(five[1], ones[0][1])
        self.assertEqual(five[4], ones[-1][4])
        self.assertEqual(float(five[2]), max(float(r[2]) for r in ones))
        self.assertEqual(five[8], sum(r[8] for r in ones))

    def test_errors(self) -> None:
        cases = [
            ({}, (400, "missing_parameter")),
            ({"symbol": "BTC-USDT"}, (400, "missing_parameter")),
            ({"symbol": "BTC-USDT", "interval": "2m"}, (400, "invalid_interval")),
            ({"symbol": "BTCUSDT", "interval": "1m"}, (404, "unknown_symbol")),
            ({"symbol": "BTC-USDT", "interval": "1m", "limit": "0"}, (400, "invalid_parameter")),
            ({"symbol": "BTC-USDT", "interval": "1m", "limit": "1001"}, (400, "invalid_parameter")),
            ({"symbol": "BTC-USDT", "interval": "1m", "limit": "x"}, (400, "invalid_parameter")),
            ({"symbol": "BTC-USDT", "interval": "1m", "start": "-1"}, (400, "invalid_parameter")),
            ({"symbol": "BTC-USDT", "interval": "1m", "start": "10", "end": "5"}, (400, "invalid_parameter")),
            ({"symbol": "BTC-USDT", "interval": "1m", "startTime": "5"}, (400, "unknown_parameter")),
        ]
        for params, expected in cases:
            self.assertEqual(error_body(self.candles(**params)), expected, params)
        twice = self.server.request("GET", "/api/v1/candles", [("symbol", "BTC-USDT"), ("symbol", "BTC-USDT")])
        self.assertEqual(error_body(twice), (400, "invalid_parameter"))
        self.assertEqual(error_body(self.server.get("/api/v1/time", x="1")), (400, "unknown_parameter"))
        self.assertEqual(error_body(self.server.get("/api/v1/nope")), (404, "not_found"))
        self.assertEqual(error_body(self.server.request("POST", "/api/v1/candles")), (405, "method_not_allowed"))

    def test_internal_error(self) -> None:
        import mockex.venues.mock as module

        def boom(*args: Any) -> Any:
            raise RuntimeError("bug")

        self.patch(module, "window", boom)
        self.assertEqual(error_body(self.candles(symbol="BTC-USDT", interval="1m")), (500, "internal"))
        self.flushLoggedErrors(RuntimeError)

    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["symbol", "interval", "start", "end", "limit", "x", ""]),
                st.one_of(st.sampled_from(["BTC-USDT", "1m", "0", "1", "1000", "99999999999999999999"]),
                          st.text(max_size=8)),
            ),
            max_size=6,
        )
    )
    def test_never_5xx(self, params: list[tuple[str, str]]) -> None:
        response = self.server.request("GET", "/api/v1/candles", params)
        self.assertIn(response.status, (200, 400, 404))
        if response.status != 200:
            error_body(response)


class StreamTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("mock", now_ms=DEFAULT_NOW_MS)
        # Many frames at one instant; the 10 messages a second are test_venue_limits'.
        self.server.server.set_rate_limits(ws_limit=None)
        self.ws = self.server.connect("/ws")

    def send(self, value: Any) -> list[Any]:
        self.ws.messages.clear()
        if isinstance(value, (bytes, str)):
            self.ws.send_text(value)
        else:
            self.ws.send_json(value)
        self.server.flush()
        return self.ws.take()

    def subscribe(self, symbol: str = "BTC-USDT", interval: str = "1m", **extra: Any) -> list[Any]:
        return self.send({"op": "subscribe", "channel": "candles", "symbol": symbol, "interval": interval, **extra})

    def test_subscribe_and_pushes(self) -> None:
        ack, first = self.subscribe(id=7)
        self.assertEqual(ack, {"op": "subscribed", "id": 7, "channel": "candles", "symbol": "BTC-USDT",
                               "interval": "1m"})
        self.assertEqual(list(first), ["channel", "symbol", "interval", "time", "candle"])
        self.assertEqual(first["candle"][0], DEFAULT_NOW_MS)
        self.server.advance(61)
        pushes = self.ws.take()
        closed = [p for p in pushes if p["candle"][9]]
        self.assertEqual(len(closed), 1)
        rest = self.server.get("/api/v1/candles", symbol="BTC-USDT", interval="1m", start=DEFAULT_NOW_MS, limit=1)
        self.assertEqual(closed[0]["candle"], rest.json()["candles"][0])
        self.assertEqual(pushes[-1]["candle"][0], DEFAULT_NOW_MS + MINUTE)

    def test_list_unsubscribe_ping(self) -> None:
        self.subscribe()
        self.subscribe("ETH-USDT", "1h")
        (listed,) = self.send({"op": "list", "id": "a"})
        self.assertEqual(listed["subscriptions"], [
            {"channel": "candles", "symbol": "BTC-USDT", "interval": "1m"},
            {"channel": "candles", "symbol": "ETH-USDT", "interval": "1h"},
        ])
        (ack,) = self.send({"op": "unsubscribe", "channel": "candles", "symbol": "BTC-USDT", "interval": "1m"})
        self.assertEqual(ack["op"], "unsubscribed")
        self.server.advance(3)
        self.assertEqual({p["symbol"] for p in self.ws.take()}, {"ETH-USDT"})
        (pong,) = self.send({"op": "ping", "id": 1})
        self.assertEqual(pong, {"op": "pong", "id": 1, "time": self.server.now_ms()})

    def test_errors(self) -> None:
        cases = [
            (b"not json", "invalid_message"),
            (b"[1]", "invalid_message"),
            ({"op": "subscribe", "id": [1]}, "invalid_id"),
            ({"op": "nope"}, "unknown_op"),
            ({"op": "subscribe", "channel": "trades"}, "unknown_channel"),
            ({"op": "subscribe", "channel": "candles"}, "missing_parameter"),
            ({"op": "subscribe", "channel": "candles", "symbol": "BTC-USDT"}, "missing_parameter"),
            ({"op": "subscribe", "channel": "candles", "symbol": "X", "interval": "1m"}, "unknown_symbol"),
            ({"op": "subscribe", "channel": "candles", "symbol": "BTC-USDT", "interval": "7m"},
             "invalid_interval"),
            ({"op": "unsubscribe", "channel": "candles", "symbol": "BTC-USDT", "interval": "1m"},
             "not_subscribed"),
        ]
        for message, code in cases:
            (reply,) = self.send(message)
            self.assertEqual((reply["op"], reply["error"]["code"]), ("error", code), message)
        self.ws.sendMessage(b"\x00", isBinary=True)
        self.server.flush()
        self.assertEqual(self.ws.take()[0]["error"]["code"], "invalid_message")
        self.assertFalse(self.ws.lost)

    def test_keepalive(self) -> None:
        self.server.advance(31)
        self.assertEqual(len(self.ws.pings), 1)
        self.ws.auto_pong = False
        self.server.advance(120, step=5)
        self.assertTrue(self.ws.lost)


class LoopbackTests(TestCase):
    """Plain clients over real sockets: urllib and the ``websockets`` package."""

    timeout = 30

    def setUp(self) -> Any:
        self.server = MockServer("mock", port=0, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    @inlineCallbacks
    def test_rest_and_stream(self) -> Any:
        import urllib.request

        def run() -> tuple[Any, list[Any]]:
            from websockets.sync.client import connect

            url = f"{self.server.url}/api/v1/candles?symbol=BTC-USDT&interval=1m&limit=5"
            with urllib.request.urlopen(url, timeout=10) as response:
                rest = json.loads(response.read())
            with connect(self.server.ws_url, open_timeout=10, close_timeout=2) as ws:
                ws.send(json.dumps({"op": "subscribe", "channel": "candles", "symbol": "BTC-USDT",
                                    "interval": "1s"}))
                got = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
            return rest, got

        rest, got = yield deferToThread(run)
        self.assertEqual(len(rest["candles"]), 5)
        self.assertEqual(got[0]["op"], "subscribed")
        self.assertEqual(got[2]["channel"], "candles")

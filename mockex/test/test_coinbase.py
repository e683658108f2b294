"""
Tests for ``coinbase_advanced_trade`` (mockex.venues.coinbase): REST and the candles and
heartbeats channels in memory; ccxt (REST) and coinbase-advanced-py's WSClient (candles
channel; ccxt.pro has no watchOHLCV for coinbase, and the SDK's REST client only speaks
https) over loopback, unmodified apart from base URLs.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.server import MockServer
from mockex.testing import DEFAULT_NOW_MS, MemoryServer

NOW = DEFAULT_NOW_MS + 37_123
NOW_S = NOW // 1000
BASE = "/api/v3/brokerage/market/products"
CANDLES = BASE + "/BTC-USD/candles"


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status, body["error"], body["message"]


class RestTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("coinbase_advanced_trade", now_ms=NOW)
        # Bursts at one instant of the clock; the 10 requests per second per IP are
        # test_venue_limits' concern.
        self.server.server.set_rate_limits(enabled=False)

    def candles(self, **params: Any) -> Any:
        return self.server.get(CANDLES, **params)

    def test_time(self) -> None:
        self.assertEqual(self.server.get("/api/v3/brokerage/time").json(),
                         {"iso": "2026-11-25T00:00:37Z", "epochSeconds": str(NOW_S), "epochMillis": str(NOW)})
        self.assertEqual(self.server.get("/v2/time").json(), {"data": {"epoch": NOW_S, "iso": "2026-11-25T00:00:37Z"}})

    def test_products(self) -> None:
        body = self.server.get(BASE).json()
        self.assertEqual(list(body), ["products", "num_products"])
        ids = [p["product_id"] for p in body["products"]]
        self.assertEqual(ids, ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD"])
        btc = body["products"][0]
        self.assertEqual((btc["price_increment"], btc["base_increment"], btc["product_type"]),
                         ("0.01", "0.00000001", "SPOT"))
        self.assertEqual(self.server.get(BASE, product_type="FUTURE").json()["products"], [])
        self.assertEqual(self.server.get(BASE + "/ETH-USD").json()["product_id"], "ETH-USD")
        self.assertEqual(error(self.server.get(BASE + "/NOPE-USD")),
                         (404, "NOT_FOUND", "Product NOPE-USD not supported"))

    def test_candles_newest_first(self) -> None:
        body = self.candles(granularity="ONE_MINUTE", start=NOW_S - 600, end=NOW_S)
        rows = body.json()["candles"]
        self.assertEqual(len(rows), 10)
        self.assertEqual(list(rows[0]), ["start", "low", "high", "open", "close", "volume"])
        starts = [int(r["start"]) for r in rows]
        self.assertEqual(starts, sorted(starts, reverse=True))
        self.assertEqual(starts[0], NOW_S // 60 * 60)
        self.assertTrue(all(isinstance(v, str) for r in rows for v in r.values()))
        self.assertEqual(body.headers["content-type"], "application/json; charset=utf-8")

    def test_candles_selection(self) -> None:
        rows = self.candles(granularity="ONE_HOUR").json()["candles"]
        self.assertEqual(len(rows), 350)
        rows = self.candles(granularity="ONE_DAY", limit=3).json()["candles"]
        self.assertEqual(len(rows), 3)
        rows = self.candles(granularity="FOUR_HOUR", start=NOW_S - 86_400).json()["candles"]
        self.assertEqual(len(rows), 6)
        rows = self.candles(granularity="ONE_MINUTE", start=NOW_S - 350 * 60, end=NOW_S).json()["candles"]
        self.assertEqual(len(rows), 350)
        rows = self.candles(granularity="ONE_MINUTE", start=NOW_S - 600, end=NOW_S, limit=2).json()["candles"]
        self.assertEqual([int(r["start"]) for r in rows], [NOW_S // 60 * 60, NOW_S // 60 * 60 - 60])

    def test_cross_granularity(self) -> None:
        hour_ago = (NOW_S - 3600) // 300 * 300
        five = self.candles(granularity="FIVE_MINUTE", start=hour_ago, end=hour_ago).json()["candles"][0]
        ones = self.candles(granularity="ONE_MINUTE", start=int(five["start"]),
                            end=int(five["start"]) + 240).json()["candles"]
        self.assertEqual((five["open"], five["close"]), (ones[-1]["open"], ones[0]["close"]))

    def test_errors(self) -> None:
        too_many = "start and end argument is invalid - number of candles requested should be less than 350"
        cases = [
            ({}, "granularity argument is invalid"),
            ({"granularity": "1m"}, "granularity argument is invalid"),
            ({"granularity": "ONE_WEEK"}, "granularity argument is invalid"),
            ({"granularity": "ONE_MINUTE", "start": NOW_S - 351 * 60, "end": NOW_S}, too_many),
            ({"granularity": "ONE_MINUTE", "start": "x"}, "start argument is invalid"),
            ({"granularity": "ONE_MINUTE", "limit": "351"}, "limit argument is invalid"),
            ({"granularity": "ONE_MINUTE", "start": NOW_S, "end": NOW_S - 60},
             "start and end argument is invalid - start must be before end"),
        ]
        for params, message in cases:
            response = self.candles(**params)
            self.assertEqual(error(response), (400, "INVALID_ARGUMENT", message), params)
            self.assertEqual(response.json()["error_details"], message)
        self.assertEqual(error(self.server.get(BASE + "/NOPE-USD/candles", granularity="ONE_MINUTE")),
                         (404, "NOT_FOUND", "Product NOPE-USD not supported"))
        missing = self.server.get("/api/v3/brokerage/nope")
        self.assertEqual((missing.status, missing.body), (404, b"404 page not found\n"))

    @given(st.lists(st.tuples(st.sampled_from(["granularity", "start", "end", "limit", "x"]),
                              st.one_of(st.sampled_from(["ONE_MINUTE", "ONE_DAY", "0", "1795564800", "350"]),
                                        st.text(max_size=6))), max_size=5))
    def test_never_5xx(self, params: list[tuple[str, str]]) -> None:
        response = self.server.request("GET", CANDLES, params)
        self.assertIn(response.status, (200, 400))
        response = self.server.request("GET", BASE, params)
        self.assertIn(response.status, (200, 400))


class StreamTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("coinbase_advanced_trade", now_ms=DEFAULT_NOW_MS)
        self.ws = self.server.connect("/")

    def send(self, value: Any) -> list[Any]:
        self.ws.messages.clear()
        self.ws.send_text(value if isinstance(value, (str, bytes)) else json.dumps(value))
        self.server.flush()
        return self.ws.take()

    def test_candles_snapshot_then_updates(self) -> None:
        ack, snapshot = self.send({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "candles"})
        self.assertEqual(ack["channel"], "subscriptions")
        self.assertEqual(ack["events"], [{"subscriptions": {"candles": ["BTC-USD"]}}])
        self.assertEqual(list(snapshot), ["channel", "client_id", "timestamp", "sequence_num", "events"])
        self.assertEqual(snapshot["events"][0]["type"], "snapshot")
        candle = snapshot["events"][0]["candles"][0]
        self.assertEqual(list(candle), ["start", "high", "low", "open", "close", "volume", "product_id"])
        self.assertEqual(int(candle["start"]), DEFAULT_NOW_MS // 1000)
        self.server.advance(301, step=1)
        updates = self.ws.take()
        self.assertTrue(all(u["events"][0]["type"] == "update" for u in updates))
        starts = [int(u["events"][0]["candles"][0]["start"]) for u in updates]
        self.assertEqual(sorted(set(starts)), [DEFAULT_NOW_MS // 1000, DEFAULT_NOW_MS // 1000 + 300])
        closing = [u["events"][0]["candles"][0] for u in updates if int(u["events"][0]["candles"][0]["start"])
                   == DEFAULT_NOW_MS // 1000][-1]
        rest = self.server.get(BASE + "/BTC-USD/candles", granularity="FIVE_MINUTE",
                               start=DEFAULT_NOW_MS // 1000, end=DEFAULT_NOW_MS // 1000).json()["candles"][0]
        self.assertEqual({k: closing[k] for k in rest}, rest)

    def test_heartbeats_and_unsubscribe(self) -> None:
        (ack,) = self.send({"type": "subscribe", "channel": "heartbeats"})
        self.assertEqual(ack["events"], [{"subscriptions": {"heartbeats": []}}])
        self.server.advance(120, step=1)
        beats = self.ws.take()
        self.assertEqual({b["channel"] for b in beats}, {"heartbeats"})
        counters = [int(b["events"][0]["heartbeat_counter"]) for b in beats]
        self.assertEqual(counters, list(range(counters[0], counters[0] + len(counters))))
        self.assertGreaterEqual(len(beats), 119)
        (ack,) = self.send({"type": "unsubscribe", "channel": "heartbeats"})
        self.assertEqual(ack["events"], [{"subscriptions": {}}])
        self.server.advance(3)
        self.assertEqual(self.ws.take(), [])

    def test_errors(self) -> None:
        for message, text in [
            ("nope", "Failed to parse message"),
            ({"type": "hello"}, "Failed to parse message"),
            ({"type": "subscribe", "channel": "level3", "product_ids": ["BTC-USD"]}, "Failed to subscribe"),
            ({"type": "subscribe", "channel": "candles", "product_ids": ["NOPE-USD"]}, "Failed to subscribe"),
            ({"type": "subscribe", "channel": "candles"}, "Failed to subscribe"),
        ]:
            self.assertEqual(self.send(message), [{"type": "error", "message": text}], message)
        self.assertFalse(self.ws.lost)


class LoopbackTests(TestCase):
    timeout = 60

    def setUp(self) -> Any:
        self.server = MockServer("coinbase_advanced_trade", port=0, seed=5, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    @inlineCallbacks
    def test_ccxt_rest(self) -> Any:
        try:
            import ccxt
        except ImportError:
            raise SkipTest("ccxt is not installed")

        def run() -> Any:
            ex = ccxt.coinbase()
            ex.urls["api"]["rest"] = self.server.url
            ex.timeout = 10_000
            ex.load_markets()
            latest = ex.fetch_ohlcv("BTC/USD", "1m", limit=5)
            since = ex.milliseconds() - 100 * 3_600_000
            hours = ex.fetch_ohlcv("ETH/USD", "1h", since=since, limit=100)
            paged = ex.fetch_ohlcv("BTC/USD", "1m", since=ex.milliseconds() - 700 * 60_000,
                                   params={"paginate": True, "paginationCalls": 3})
            return list(ex.markets), latest, hours, paged, ex.fetch_time(), ex.milliseconds()

        markets, latest, hours, paged, server_ms, local_ms = yield deferToThread(run)
        self.assertIn("BTC/USD", markets)
        self.assertEqual(len(latest), 5)
        self.assertEqual(len(hours), 100)
        stamps = [c[0] for c in paged]
        self.assertEqual(len(stamps), 300)  # ccxt trims its three pages to the default limit
        self.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {60_000})
        self.assertLess(abs(server_ms - local_ms), 5_000)

    @inlineCallbacks
    def test_sdk_websocket(self) -> Any:
        try:
            from coinbase.websocket import WSClient
        except ImportError:
            raise SkipTest("coinbase-advanced-py is not installed")

        def run() -> Any:
            # The SDK's own subscribe message, sent over a plain WebSocket: its WSClient
            # needs websockets < 14 (``extra_headers``), older than the one installed here.
            from websockets.sync.client import connect

            sdk = WSClient(on_message=lambda m: None, retry=False)
            message = sdk._build_subscription_message(["BTC-USD"], "candles", "subscribe", True)
            with connect(self.server.ws_url, open_timeout=10, close_timeout=2) as ws:
                ws.send(json.dumps(message))
                return [json.loads(ws.recv(timeout=10)) for _ in range(3)]

        messages = yield deferToThread(run)
        self.assertEqual([m["channel"] for m in messages], ["subscriptions", "candles", "candles"])
        self.assertEqual(messages[1]["events"][0]["type"], "snapshot")

"""
Tests for the Hyperliquid venues (mockex.venues.hyperliquid): ``POST /info`` and ``/ws``,
in memory; then ccxt / ccxt.pro and hyperliquid-python-sdk over loopback, unmodified
apart from their base URLs.
"""

from __future__ import annotations

import asyncio
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

MINUTE = 60_000
NOW = DEFAULT_NOW_MS + 37_123
JSON_HEADERS = {"Content-Type": "application/json"}
CANDLE_KEYS = ["t", "T", "s", "i", "o", "c", "h", "l", "v", "n"]
TEXT = "text/plain; charset=utf-8"


def info(server: MemoryServer, body: Any, headers: Any = JSON_HEADERS) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return server.request("POST", "/info", headers=headers, body=raw)


def ordered(raw: bytes) -> Any:
    return json.loads(raw, object_pairs_hook=list)


BODIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5)
    | st.sampled_from(["candleSnapshot", "BTC", "@142", "1m", "meta"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["type", "req", "coin", "interval", "startTime", "endTime", "dex"]),
                      children, max_size=5),
    max_leaves=12,
)


class _RestCases:
    """Cases both venues answer alike (mixed into a TestCase per venue)."""

    venue: str
    coin: str
    server: MemoryServer

    def setUp(self) -> None:
        self.server = MemoryServer(self.venue, now_ms=NOW)
        # Bursts at one instant of the clock (at 20 a request, 60 requests use the
        # minute's 1200); the limits are test_venue_limits' concern.
        self.server.server.set_rate_limits(enabled=False)

    def snapshot(self, **req: Any) -> Any:
        body = {"type": "candleSnapshot", "req": {"coin": self.coin, "interval": "1m", **req}}
        return info(self.server, body)

    def test_candles(self) -> None:
        response = self.snapshot(startTime=NOW - 10 * MINUTE, endTime=NOW)
        self.assertEqual((response.status, response.headers["content-type"]), (200, "application/json"))
        rows = ordered(response.body)
        self.assertEqual(len(rows), 10)
        self.assertEqual([k for k, _ in rows[0]], CANDLE_KEYS)
        first = dict(rows[0])
        self.assertEqual(first["t"], (NOW - 10 * MINUTE) // MINUTE * MINUTE + MINUTE)
        self.assertEqual(first["T"], first["t"] + MINUTE - 1)
        self.assertEqual((first["s"], first["i"]), (self.coin, "1m"))
        for key in "ochlv":
            self.assertIsInstance(first[key], str)
            self.assertIn(".", first[key])
            self.assertFalse(first[key].endswith("0") and not first[key].endswith(".0"), first[key])
        self.assertIs(type(first["n"]), int)
        self.assertEqual(dict(rows[-1])["t"], NOW // MINUTE * MINUTE)

    def test_history_limit(self) -> None:
        rows = self.snapshot(startTime=0).json()
        self.assertEqual(len(rows), 5000)
        self.assertEqual(rows[-1]["t"], NOW // MINUTE * MINUTE)
        server = MemoryServer(self.venue, now_ms=NOW, options={"history_candles": "0"})
        body = {"type": "candleSnapshot", "req": {"coin": self.coin, "interval": "1d", "startTime": 0}}
        days = info(server, body).json()
        self.assertGreater(len(days), 300)

    def test_end_only_and_empty(self) -> None:
        self.assertEqual(self.snapshot(startTime=NOW + 10 * MINUTE).json(), [])
        self.assertEqual(self.snapshot(startTime=NOW, endTime=NOW - MINUTE).json(), [])
        rows = self.snapshot(startTime=NOW - 3 * MINUTE, endTime=None).json()
        self.assertEqual(len(rows), 3)

    def test_unknown_coin(self) -> None:
        response = info(self.server, {"type": "candleSnapshot",
                                      "req": {"coin": "NOPE", "interval": "1m", "startTime": 0}})
        self.assertEqual((response.status, response.body), (200, b"[]"))
        server = MemoryServer(self.venue, now_ms=NOW, options={"unknown_coin": "error"})
        response = info(server, {"type": "candleSnapshot", "req": {"coin": "NOPE", "interval": "1m", "startTime": 0}})
        self.assertEqual((response.status, response.body), (500, b"null"))

    def test_exchange_status(self) -> None:
        body = info(self.server, {"type": "exchangeStatus"}).body
        self.assertEqual(body, b'{"specialStatuses":null,"time":"%d"}' % NOW)

    def test_perp_meta(self) -> None:
        if self.venue != "hyperliquid_perpetual":
            return
        meta = info(self.server, {"type": "meta"}).json()
        self.assertEqual(list(meta), ["universe", "marginTables", "collateralToken"])
        self.assertEqual([c["name"] for c in meta["universe"]], ["BTC", "ETH", "SOL", "HYPE", "DOGE"])
        self.assertEqual(list(meta["universe"][0]), ["szDecimals", "name", "maxLeverage", "marginTableId"])
        meta, contexts = info(self.server, {"type": "metaAndAssetCtxs"}).json()
        self.assertEqual(len(contexts), 5)
        self.assertIn("markPx", contexts[0])
        spot, spot_contexts = info(self.server, {"type": "spotMetaAndAssetCtxs"}).json()
        self.assertEqual((spot["universe"], spot_contexts), ([], []))
        self.assertEqual(info(self.server, {"type": "perpDexs"}).json(), [None])
        self.assertEqual(info(self.server, {"type": "meta", "dex": "xyz"}).json()["universe"], [])
        self.assertEqual(set(info(self.server, {"type": "allMids"}).json()), {"BTC", "ETH", "SOL", "HYPE", "DOGE"})

    def test_errors(self) -> None:
        prefix = "Failed to deserialize the JSON body into the target type: "
        cases = [
            ({}, 422, prefix + "missing field `type` at line 1 column 2"),
            ({"type": 1}, 422, prefix + "invalid type: integer `1`, expected variant identifier"),
            ({"type": "nope"}, 422, prefix + "unknown variant `nope`, expected one of"),
            ({"type": "candleSnapshot"}, 422, prefix + "missing field `req`"),
            ({"type": "candleSnapshot", "req": {}}, 422, prefix + "req: missing field `coin`"),
            ({"type": "candleSnapshot", "req": {"coin": 1, "interval": "1m", "startTime": 0}}, 422,
             prefix + "req.coin: invalid type: integer `1`, expected a string"),
            ({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "2m", "startTime": 0}}, 422,
             prefix + "req.interval: unknown variant `2m`, expected one of `1m`"),
            ({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m", "startTime": -1}}, 422,
             prefix + "req.startTime: invalid value: integer `-1`, expected u64"),
            ({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m", "startTime": "0"}}, 422,
             prefix + 'req.startTime: invalid type: string "0", expected u64'),
            (b"{nope", 400, "Failed to parse the request body as JSON: expected value at line 1 column 2"),
            (b"", 400, "Failed to parse the request body as JSON: EOF while parsing a value"),
        ]
        for body, status, text in cases:
            response = info(self.server, body)
            self.assertEqual(response.status, status, body)
            self.assertEqual(response.headers["content-type"], TEXT)
            self.assertTrue(response.body.decode().startswith(text), (body, response.body))
        response = info(self.server, {"type": "meta"}, headers={})
        self.assertEqual((response.status, response.body),
                         (415, b"Expected request with `Content-Type: application/json`"))
        self.assertEqual(self.server.get("/info").status, 405)
        self.assertEqual(self.server.get("/nope").status, 404)

    def never_5xx(self, body: Any) -> None:
        response = info(self.server, body)
        self.assertIn(response.status, (200, 400, 422))  # type: ignore[attr-defined]


class PerpRestTests(_RestCases, SynchronousTestCase):
    venue = "hyperliquid_perpetual"
    coin = "BTC"

    @given(BODIES)
    def test_never_5xx(self, body: Any) -> None:
        self.never_5xx(body)


class SpotRestTests(_RestCases, SynchronousTestCase):
    venue = "hyperliquid_spot"
    coin = "@142"

    @given(BODIES)
    def test_never_5xx(self, body: Any) -> None:
        self.never_5xx(body)

    def test_meta(self) -> None:
        spot = info(self.server, {"type": "spotMeta"}).json()
        self.assertEqual([u["name"] for u in spot["universe"]], ["PURR/USDC", "@107", "@142", "@151", "@156"])
        self.assertEqual([t["name"] for t in spot["tokens"]], ["USDC", "PURR", "HYPE", "UBTC", "UETH", "USOL"])
        self.assertEqual(spot["universe"][2]["tokens"], [3, 0])
        _, contexts = info(self.server, {"type": "spotMetaAndAssetCtxs"}).json()
        self.assertEqual([c["coin"] for c in contexts], ["PURR/USDC", "@107", "@142", "@151", "@156"])
        self.assertEqual(info(self.server, {"type": "meta"}).json()["universe"], [])

    def test_pair_named_coin(self) -> None:
        rows = info(self.server, {"type": "candleSnapshot",
                                  "req": {"coin": "PURR/USDC", "interval": "1h", "startTime": NOW - 3_600_000}}).json()
        self.assertEqual(rows[0]["s"], "PURR/USDC")


class StreamTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("hyperliquid_perpetual", now_ms=DEFAULT_NOW_MS)
        self.ws = self.server.connect("/ws")

    def send(self, value: Any) -> list[Any]:
        self.ws.messages.clear()
        self.ws.send_text(value if isinstance(value, (str, bytes)) else json.dumps(value))
        self.server.flush()
        return self.ws.take()

    def test_greeting_subscribe_push(self) -> None:
        self.assertEqual(self.ws.messages, [b"Websocket connection established."])
        sub = {"type": "candle", "coin": "BTC", "interval": "1m"}
        (ack,) = self.send({"method": "subscribe", "subscription": sub})
        self.assertEqual(ack, {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": sub}})
        self.server.advance(61)
        pushes = [ordered(m) for m in self.ws.messages]
        self.assertTrue(pushes)
        self.assertEqual([k for k, _ in pushes[0]], ["channel", "data"])
        self.assertEqual([k for k, _ in pushes[0][1][1]], CANDLE_KEYS)
        candles = [dict(p[1][1]) for p in pushes]
        first = [c for c in candles if c["t"] == DEFAULT_NOW_MS]
        rest = info(self.server, {"type": "candleSnapshot",
                                  "req": {"coin": "BTC", "interval": "1m", "startTime": DEFAULT_NOW_MS,
                                          "endTime": DEFAULT_NOW_MS}}).json()
        self.assertEqual(first[-1], rest[0])
        self.assertEqual(candles[-1]["t"], DEFAULT_NOW_MS + MINUTE)

    def test_ping_unsubscribe_errors(self) -> None:
        self.assertEqual(self.send({"method": "ping"}), [{"channel": "pong"}])
        sub = {"type": "candle", "coin": "ETH", "interval": "5m"}
        self.send({"method": "subscribe", "subscription": sub})
        (dup,) = self.send({"method": "subscribe", "subscription": sub})
        self.assertEqual(dup["channel"], "error")
        self.assertTrue(dup["data"].startswith("Already subscribed"))
        (ack,) = self.send({"method": "unsubscribe", "subscription": sub})
        self.assertEqual(ack["data"]["method"], "unsubscribe")
        self.server.advance(3)
        self.assertEqual(self.ws.take(), [])
        (again,) = self.send({"method": "unsubscribe", "subscription": sub})
        self.assertTrue(again["data"].startswith("Already unsubscribed"))
        (bad,) = self.send("hello")
        self.assertEqual(bad, {"channel": "error", "data": "Error parsing JSON into valid websocket request: hello"})
        (invalid,) = self.send({"method": "subscribe", "subscription": {"type": "candle", "coin": "NOPE",
                                                                         "interval": "1m"}})
        self.assertTrue(invalid["data"].startswith("Invalid subscription"))
        (interval,) = self.send({"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC",
                                                                          "interval": "1s"}})
        self.assertTrue(interval["data"].startswith("Invalid subscription"))
        self.assertFalse(self.ws.lost)

    def test_idle_timeout(self) -> None:
        """The server drops a connection it has sent nothing to for 60 s (docs)."""
        self.server.advance(50)
        self.send({"method": "ping"})
        self.server.advance(55, step=5)
        self.assertFalse(self.ws.lost)
        self.server.advance(10, step=5)
        self.assertTrue(self.ws.lost)

    def test_subscription_keeps_it_alive(self) -> None:
        self.send({"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"}})
        self.server.advance(180, step=5)
        self.assertFalse(self.ws.lost)


class LoopbackTests(TestCase):
    """ccxt, ccxt.pro and hyperliquid-python-sdk, unmodified apart from base URLs."""

    timeout = 60

    def start(self, venue: str) -> Any:
        try:
            import ccxt  # noqa: F401
        except ImportError:
            raise SkipTest("ccxt is not installed")
        self.server = MockServer(venue, port=0, seed=3, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    def point(self, exchange: Any) -> Any:
        exchange.urls["api"]["public"] = self.server.url
        exchange.urls["api"]["private"] = self.server.url
        if "ws" in exchange.urls["api"]:
            exchange.urls["api"]["ws"]["public"] = self.server.ws_url
        exchange.timeout = 10_000
        return exchange

    @inlineCallbacks
    def check_ccxt(self, venue: str, symbol: str) -> Any:
        yield self.start(venue)
        import ccxt
        import ccxt.pro

        def rest() -> Any:
            ex = self.point(ccxt.hyperliquid())
            ex.load_markets()
            latest = ex.fetch_ohlcv(symbol, "1m", limit=5)
            since = ex.milliseconds() - 50 * 3_600_000
            hours = ex.fetch_ohlcv(symbol, "1h", since=since)
            return latest, hours, ex.fetch_time(), ex.milliseconds()

        latest, hours, server_ms, local_ms = yield deferToThread(rest)
        self.assertEqual(len(latest), 5)
        self.assertEqual(len(hours), 50)
        self.assertLess(abs(server_ms - local_ms), 5_000)

        async def watch() -> Any:
            ex = self.point(ccxt.pro.hyperliquid())
            try:
                await ex.load_markets()
                first = await asyncio.wait_for(ex.watch_ohlcv(symbol, "1m"), 10)
                second = await asyncio.wait_for(ex.watch_ohlcv(symbol, "1m"), 10)
                return first, second
            finally:
                await ex.close()

        first, second = yield deferToThread(asyncio.run, watch())
        self.assertEqual(second[-1][0] % MINUTE, 0)
        self.assertGreaterEqual(second[-1][0], latest[-1][0])

    def test_ccxt_perpetual(self) -> Any:
        return self.check_ccxt("hyperliquid_perpetual", "BTC/USDC:USDC")

    def test_ccxt_spot(self) -> Any:
        return self.check_ccxt("hyperliquid_spot", "BTC/USDC")

    @inlineCallbacks
    def test_sdk(self) -> Any:
        try:
            from hyperliquid.info import Info
        except ImportError:
            raise SkipTest("hyperliquid-python-sdk is not installed")
        yield self.start("hyperliquid_perpetual")

        def run() -> Any:
            import queue

            sdk = Info(self.server.url, skip_ws=False, timeout=10)
            try:
                now = self.server.clock.now_ms()
                candles = sdk.candles_snapshot("ETH", "15m", now - 3_600_000, now)
                got: "queue.Queue[Any]" = queue.Queue()
                sdk.subscribe({"type": "candle", "coin": "ETH", "interval": "1m"}, got.put)
                return candles, got.get(timeout=10)
            finally:
                sdk.disconnect_websocket()

        candles, pushed = yield deferToThread(run)
        self.assertIn(len(candles), (4, 5))
        self.assertEqual(pushed["channel"], "candle")
        self.assertEqual(pushed["data"]["s"], "ETH")

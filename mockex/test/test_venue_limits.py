"""
Each venue's declared rate limits, enforced by the shared limiter, in memory: the
request that reaches a limit is served and the next one is refused in the venue's own
format (status, body, headers), the window moves on, and what a venue advertises is
what it enforces. Sources are named in each venue module.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer

#: DEFAULT_NOW_MS is a whole minute (and a whole 5 minutes): aligned windows start there.
assert DEFAULT_NOW_MS % 300_000 == 0


class BinancePerpetualTests(SynchronousTestCase):
    """REQUEST_WEIGHT 2400 per minute; klines weigh 1/2/5/10 by ``limit``."""

    def setUp(self) -> None:
        self.m = MemoryServer("binance_perpetual")
        self.addCleanup(self.m.stop)

    def klines(self, limit: int | None = 1000, **kw: Any) -> Any:
        params = {"symbol": "BTCUSDT", "interval": "1m"}
        if limit is not None:
            params["limit"] = str(limit)
        return self.m.get("/fapi/v1/klines", **params, **kw)

    @staticmethod
    def used(response: Any) -> int:
        return int(response.headers["x-mbx-used-weight-1m"])

    def test_weights_by_limit(self) -> None:
        expected = 0
        for limit, weight in [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (None, 5), (1000, 5),
                              (1001, 10), (1500, 10)]:
            expected += weight
            self.assertEqual(self.used(self.klines(limit)), expected, limit)
        for path, weight in [("/fapi/v1/ping", 1), ("/fapi/v1/time", 1), ("/fapi/v1/exchangeInfo", 1)]:
            expected += weight
            self.assertEqual(self.used(self.m.get(path)), expected, path)
        self.assertNotIn("x-mbx-used-weight", self.m.get("/fapi/v1/ping").headers)

    def test_2400_then_429(self) -> None:
        for _ in range(479):
            self.assertEqual(self.klines(1000).status, 200)
        self.m.clock.advance(30)
        reaching = self.klines(1000)
        self.assertEqual((reaching.status, self.used(reaching)), (200, 2400))
        over = self.m.get("/fapi/v1/ping")
        self.assertEqual(over.status, 429)
        self.assertEqual(over.body.decode(), '{"code":-1003,"msg":"Too many requests; current limit is 2400 '
                         'requests per minute. Please use the websocket for live updates to avoid polling the API."}')
        self.assertEqual((over.headers["retry-after"], self.used(over)), ("30", 2401))
        self.m.clock.advance(30)
        fresh = self.m.get("/fapi/v1/ping")
        self.assertEqual((fresh.status, self.used(fresh)), (200, 1))

    def test_ban_after_ten_rejections(self) -> None:
        self.m.server.set_rate_limits(rest_limit=1)
        self.m.get("/fapi/v1/ping")
        for _ in range(10):
            self.assertEqual(self.m.get("/fapi/v1/ping").status, 429)
        ban = self.m.get("/fapi/v1/ping")
        until = DEFAULT_NOW_MS + 120_000
        self.assertEqual((ban.status, ban.headers["retry-after"]), (418, "120"))
        self.assertEqual(ban.json(), {"code": -1003, "msg": f"Way too many requests; IP banned until {until}. "
                                      "Please use the websocket for live updates to avoid bans."})

    def test_advertised_is_enforced(self) -> None:
        info = self.m.get("/fapi/v1/exchangeInfo").json()["rateLimits"]
        self.assertEqual(info[0], {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                   "limit": 2400})
        self.assertEqual([w["rateLimitType"] for w in info], ["REQUEST_WEIGHT", "ORDERS", "ORDERS"])
        self.m.server.set_rate_limits(rest_limit=3)
        self.assertEqual(self.m.get("/fapi/v1/exchangeInfo").json()["rateLimits"][0]["limit"], 3)
        self.assertEqual(self.m.get("/fapi/v1/ping").status, 200)
        self.assertEqual(self.m.get("/fapi/v1/ping").status, 429)

    def test_ws_ten_messages_a_second(self) -> None:
        ws = self.m.connect("/ws")
        for i in range(10):
            ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
        self.m.flush()
        self.assertEqual(len(ws.take()), 10)
        self.assertFalse(ws.lost)
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 10})
        self.m.flush()
        self.assertEqual((ws.close_code, ws.close_reason), (1008, "Too many requests"))

    def test_ws_1024_streams(self) -> None:
        ws = self.m.connect("/ws")
        ws.send_json({"method": "SUBSCRIBE", "params": [f"s{i}usdt@kline_1m" for i in range(1025)], "id": 1})
        self.m.flush()
        self.assertEqual(ws.take(), [{"error": {"code": 4, "msg": "Too many subscriptions"}, "id": 1}])


class BybitTests(SynchronousTestCase):
    """600 requests per 5 s per IP; over it, 403 "access too frequent" for 10 minutes."""

    def setUp(self) -> None:
        self.m = MemoryServer("bybit_spot")
        self.addCleanup(self.m.stop)

    def test_600_per_5s_then_a_10_minute_lockout(self) -> None:
        for _ in range(599):
            self.assertEqual(self.m.get("/v5/market/time").status, 200)
        self.m.clock.advance(4.9)
        reaching = self.m.get("/v5/market/kline", category="spot", symbol="BTCUSDT", interval="1")
        self.assertEqual(reaching.status, 200)
        self.assertFalse([h for h in reaching.headers if h.lower().startswith("x-bapi")])
        over = self.m.get("/v5/market/time")
        self.assertEqual((over.status, over.body), (403, b"access too frequent"))
        self.assertNotIn("retry-after", over.headers)
        self.m.clock.advance(0.1)  # a new 5 s window, but the IP is locked out
        self.assertEqual(self.m.get("/v5/market/time").status, 403)
        self.assertEqual(self.m.get("/v5/market/time", client="10.0.0.2").status, 200)
        self.m.clock.advance(599.8)
        self.assertEqual(self.m.get("/v5/market/time").status, 403)
        self.m.clock.advance(0.1)
        self.assertEqual(self.m.get("/v5/market/time").status, 200)

    def test_window_moves_on(self) -> None:
        for _ in range(600):
            self.m.get("/v5/market/time")
        self.m.clock.advance(5)
        for _ in range(600):
            self.assertEqual(self.m.get("/v5/market/time").status, 200)

    def test_websocket_connection_attempts(self) -> None:
        self.m.server.set_rate_limits(ws_connection_attempts=2)  # 500 per 5 minutes, scaled down
        self.assertEqual(self.m.server.limits.ws.attempts_window_ms, 300_000)
        self.assertEqual(self.m.server.limits.ws.max_connections, 1000)
        for _ in range(2):
            self.assertFalse(self.m.connect("/v5/public/spot").lost)
        refused = self.m.connect("/v5/public/spot", open=False)
        self.m.flush()
        self.assertTrue(refused.lost)


class OkxTests(SynchronousTestCase):
    """Per IP and endpoint: candles 40, history-candles 20, instruments 20, time 10 per 2 s."""

    TOO_MANY = b'{"msg":"Too Many Requests","code":"50011"}'

    def setUp(self) -> None:
        self.m = MemoryServer("okx_spot")
        self.addCleanup(self.m.stop)

    def test_each_endpoint_its_own_window(self) -> None:
        for path, limit, params in [
            ("/api/v5/market/candles", 40, {"instId": "BTC-USDT"}),
            ("/api/v5/market/history-candles", 20, {"instId": "BTC-USDT"}),
            ("/api/v5/public/instruments", 20, {"instType": "SPOT"}),
            ("/api/v5/public/time", 10, {}),
        ]:
            for _ in range(limit):
                self.assertEqual(self.m.get(path, **params).status, 200, path)
            over = self.m.get(path, **params)
            self.assertEqual((over.status, over.body), (429, self.TOO_MANY), path)
            self.assertEqual(over.headers["content-type"], "application/json")
            self.assertNotIn("retry-after", over.headers)
        # another IP has its own windows
        self.assertEqual(self.m.get("/api/v5/public/time", client="10.0.0.2").status, 200)

    def test_window_moves_on_and_never_bans(self) -> None:
        for _ in range(60):
            self.m.get("/api/v5/public/time")
        self.m.clock.advance(1.999)
        self.assertEqual(self.m.get("/api/v5/public/time").status, 429)
        self.m.clock.advance(0.001)
        for _ in range(10):
            self.assertEqual(self.m.get("/api/v5/public/time").status, 200)

    def test_three_connections_a_second(self) -> None:
        for _ in range(3):
            self.assertFalse(self.m.connect("/ws/v5/business").lost)
        refused = self.m.connect("/ws/v5/business", open=False)
        self.m.flush()
        self.assertTrue(refused.lost)
        self.m.clock.advance(1)
        self.assertFalse(self.m.connect("/ws/v5/business").lost)


class KucoinTests(SynchronousTestCase):
    """The public pool: 2000 weight per 30 s from the first request; gw-ratelimit-*."""

    def setUp(self) -> None:
        self.m = MemoryServer("kucoin_spot")
        self.addCleanup(self.m.stop)

    @staticmethod
    def pool(response: Any) -> tuple[str, str, str]:
        h = response.headers
        return h["gw-ratelimit-remaining"], h["gw-ratelimit-limit"], h["gw-ratelimit-reset"]

    def test_headers_count_down_from_the_first_request(self) -> None:
        self.m.clock.advance(7.5)  # not a multiple of 30 s: the window starts here
        self.assertEqual(self.pool(self.m.get("/api/v1/timestamp")), ("1997", "2000", "30000"))
        self.m.clock.advance(12.3)
        self.assertEqual(self.pool(self.m.get("/api/v2/symbols")), ("1993", "2000", "17700"))
        self.assertEqual(self.pool(self.m.get("/api/v1/market/allTickers")), ("1978", "2000", "17700"))
        wire = [name for name in self.m.get("/api/v1/status").headers if name.startswith("gw-")]
        self.assertEqual(wire, ["gw-ratelimit-remaining", "gw-ratelimit-limit", "gw-ratelimit-reset"])

    def test_2000_then_429(self) -> None:
        for _ in range(499):
            self.assertEqual(self.m.get("/api/v2/symbols").status, 200)
        reaching = self.m.get("/api/v2/symbols")
        self.assertEqual((reaching.status, self.pool(reaching)[0]), (200, "0"))
        self.m.clock.advance(29)
        over = self.m.get("/api/v1/timestamp")
        self.assertEqual((over.status, over.json()), (429, {"code": "429000", "msg": "Too many requests. "
                                                                "System-level rate limit exceeded."}))
        self.assertEqual(self.pool(over), ("0", "2000", "1000"))
        self.assertNotIn("retry-after", over.headers)
        self.m.clock.advance(1)
        fresh = self.m.get("/api/v1/timestamp")
        self.assertEqual((fresh.status, self.pool(fresh)), (200, ("1997", "2000", "30000")))

    def test_websocket_100_messages_in_10_s(self) -> None:
        token = self.m.request("POST", "/api/v1/bullet-public").json()["data"]["token"]
        ws = self.m.connect(f"/?token={token}")
        for i in range(100):
            ws.send_json({"id": str(i), "type": "ping"})
        self.m.advance(9.5)
        self.assertFalse(ws.lost)
        ws.send_json({"id": "100", "type": "ping"})
        self.m.flush()
        self.assertEqual((ws.close_code, ws.close_reason), (1008, "Too many requests"))

    def test_websocket_400_topics(self) -> None:
        self.m.server.set_rate_limits(ws_max_streams=2)  # 400, scaled down
        token = self.m.request("POST", "/api/v1/bullet-public").json()["data"]["token"]
        ws = self.m.connect(f"/?token={token}")
        ws.take()
        ws.send_json({"id": "1", "type": "subscribe", "topic": "/market/candles:BTC-USDT_1min,ETH-USDT_1min",
                      "response": True})
        ws.send_json({"id": "2", "type": "subscribe", "topic": "/market/candles:SOL-USDT_1min", "response": True})
        self.m.flush()
        replies = [r for r in ws.take() if r.get("type") in ("ack", "error")]
        self.assertEqual(replies, [{"id": "1", "type": "ack"}, {
            "id": "2", "type": "error", "code": 509,
            "data": "exceed max subscription count limitation of 2 per session"}])


class GateTests(SynchronousTestCase):
    """200 requests per 10 s per endpoint per IP; x-gate-ratelimit-* headers."""

    def setUp(self) -> None:
        self.m = MemoryServer("gate_io_spot")
        self.addCleanup(self.m.stop)

    @staticmethod
    def gate(response: Any) -> tuple[str, str, str]:
        h = response.headers
        return (h["x-gate-ratelimit-requests-remain"], h["x-gate-ratelimit-limit"],
                h["x-gate-ratelimit-reset-timestamp"])

    def test_per_endpoint_then_429(self) -> None:
        now_s = DEFAULT_NOW_MS // 1000
        self.assertEqual(self.gate(self.m.get("/api/v4/spot/time")), ("199", "200", str(now_s)))
        for _ in range(198):
            self.m.get("/api/v4/spot/time")
        self.m.clock.advance(9)
        reaching = self.m.get("/api/v4/spot/time")
        self.assertEqual((reaching.status, self.gate(reaching)), (200, ("0", "200", str(now_s + 10))))
        over = self.m.get("/api/v4/spot/time")
        self.assertEqual((over.status, over.json()), (429, {"label": "TOO_MANY_REQUESTS",
                                                            "message": "Request Rate limit Exceeded"}))
        self.assertEqual(self.gate(over), ("0", "200", str(now_s + 10)))
        self.assertNotIn("retry-after", over.headers)
        # another endpoint has its own window
        other = self.m.get("/api/v4/spot/currency_pairs")
        self.assertEqual((other.status, self.gate(other)[0]), (200, "199"))
        self.m.clock.advance(1)
        self.assertEqual(self.gate(self.m.get("/api/v4/spot/time"))[:2], ("199", "200"))


class KrakenTests(SynchronousTestCase):
    """15 requests per 15 s per IP (the decaying counter, approximated); HTTP 200 errors."""

    def setUp(self) -> None:
        self.m = MemoryServer("kraken_spot")
        self.addCleanup(self.m.stop)

    def test_fifteen_then_egeneral(self) -> None:
        for _ in range(15):
            self.assertEqual(self.m.get("/0/public/Time").json()["error"], [])
        over = self.m.get("/0/public/Time")
        self.assertEqual((over.status, over.body), (200, b'{"error":["EGeneral:Too many requests"]}'))
        self.assertNotIn("retry-after", over.headers)
        self.m.clock.advance(14.999)
        self.assertEqual(self.m.get("/0/public/OHLC", pair="XBTUSD").json()["error"],
                         ["EGeneral:Too many requests"])
        self.m.clock.advance(0.001)
        self.assertEqual(self.m.get("/0/public/Time").json()["error"], [])


class HyperliquidTests(SynchronousTestCase):
    """1200 weight per minute per IP; info weights by type, candleSnapshot by size."""

    def setUp(self) -> None:
        self.m = MemoryServer("hyperliquid_perpetual")
        self.addCleanup(self.m.stop)

    def info(self, body: dict[str, Any]) -> Any:
        return self.m.request("POST", "/info", headers={"Content-Type": "application/json"},
                              body=json.dumps(body).encode())

    def test_weights_and_the_429(self) -> None:
        limiter = self.m.server.limiter
        self.info({"type": "exchangeStatus"})
        self.assertEqual(limiter.used("127.0.0.1"), (2,))
        self.info({"type": "meta"})
        self.assertEqual(limiter.used("127.0.0.1"), (22,))
        start = DEFAULT_NOW_MS - 600 * 60_000
        self.info({"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m", "startTime": start,
                                                     "endTime": DEFAULT_NOW_MS}})
        self.assertEqual(limiter.used("127.0.0.1"), (22 + 20 + 601 // 60,))
        for _ in range(57):
            self.assertEqual(self.info({"type": "meta"}).status, 200)
        for _ in range(4):
            self.assertEqual(self.info({"type": "exchangeStatus"}).status, 200)
        self.assertEqual(limiter.used("127.0.0.1"), (1200,))
        over = self.info({"type": "allMids"})
        self.assertEqual((over.status, over.body), (429, b"null"))
        self.m.clock.advance(60)
        self.assertEqual(self.info({"type": "allMids"}).status, 200)

    def test_1000_subscriptions(self) -> None:
        self.m.server.set_rate_limits(ws_max_streams=1)  # 1000, scaled down
        ws = self.m.connect("/ws")
        ws.send_json({"method": "subscribe", "subscription": {"type": "candle", "coin": "BTC", "interval": "1m"}})
        ws.send_json({"method": "subscribe", "subscription": {"type": "candle", "coin": "ETH", "interval": "1m"}})
        self.m.flush()
        replies = [json.loads(m) for m in ws.messages if m.startswith(b"{")]
        self.assertEqual([r["channel"] for r in replies], ["subscriptionResponse", "error"])
        self.assertEqual(replies[1]["data"], "Cannot track more than 1 total subscriptions")


class CoinbaseTests(SynchronousTestCase):
    """10 requests per second per IP; 429 rate_limit_exceeded."""

    def setUp(self) -> None:
        self.m = MemoryServer("coinbase_advanced_trade")
        self.addCleanup(self.m.stop)

    def test_ten_a_second(self) -> None:
        for _ in range(10):
            self.assertEqual(self.m.get("/api/v3/brokerage/time").status, 200)
        over = self.m.get("/api/v3/brokerage/market/products")
        self.assertEqual(over.status, 429)
        self.assertEqual(over.json()["error"], "rate_limit_exceeded")
        self.m.clock.advance(1)
        self.assertEqual(self.m.get("/api/v3/brokerage/time").status, 200)

    def test_eight_messages_a_second(self) -> None:
        ws = self.m.connect("/")
        for _ in range(9):
            ws.send_text("{}")
        self.m.flush()
        self.assertEqual(ws.close_code, 1008)


class AscendexTests(SynchronousTestCase):
    def test_hundred_a_second(self) -> None:
        m = MemoryServer("ascend_ex_spot")
        self.addCleanup(m.stop)
        for _ in range(100):
            self.assertEqual(m.get("/api/pro/v1/products").status, 200)
        over = m.get("/api/pro/v1/products")
        self.assertEqual((over.status, over.json()), (429, {"code": 200002, "message": "Too many requests",
                                                            "reason": "TOO_MANY_ATTEMPTS"}))
        m.clock.advance(1)
        self.assertEqual(m.get("/api/pro/v1/products").status, 200)


class MockVenueTests(SynchronousTestCase):
    def test_1200_a_minute(self) -> None:
        m = MemoryServer("mock")
        self.addCleanup(m.stop)
        first = m.get("/api/v1/time")
        self.assertEqual((first.headers["x-mock-ratelimit-remaining"], first.headers["x-mock-ratelimit-reset"]),
                         ("1199", "60000"))
        for _ in range(1199):
            m.get("/api/v1/time")
        m.clock.advance(59.5)
        over = m.get("/api/v1/time")
        self.assertEqual((over.status, over.json()["error"]["code"], over.headers["retry-after"]),
                         (429, "rate_limited", "1"))
        m.clock.advance(0.5)
        self.assertEqual(m.get("/api/v1/time").status, 200)


class MexcTests(SynchronousTestCase):
    """Spot: 500 weight per 10 s per endpoint; contract: 20 requests per 2 s, code 510."""

    def test_spot_per_endpoint_then_429(self) -> None:
        m = MemoryServer("mexc_spot")
        self.addCleanup(m.stop)
        for _ in range(50):  # exchangeInfo weighs 10: 50 of them reach 500
            self.assertEqual(m.get("/api/v3/exchangeInfo").status, 200)
        over = m.get("/api/v3/exchangeInfo")
        self.assertEqual(over.status, 429)
        self.assertEqual(json.loads(over.body)["msg"], "Too Many Requests")
        self.assertEqual(over.headers["retry-after"], "10")
        self.assertEqual(m.get("/api/v3/time").status, 200)  # another endpoint, its own window
        m.clock.advance(10)
        self.assertEqual(m.get("/api/v3/exchangeInfo").status, 200)

    def test_contract_twenty_per_2s(self) -> None:
        m = MemoryServer("mexc_perpetual")
        self.addCleanup(m.stop)
        for _ in range(20):
            self.assertEqual(m.get("/api/v1/contract/ping").status, 200)
        over = m.get("/api/v1/contract/ping")
        self.assertEqual(over.status, 200)
        self.assertEqual(json.loads(over.body), {"success": False, "code": 510, "message": "Requests are too frequent!"})
        self.assertNotIn("retry-after", over.headers)
        m.clock.advance(2)
        self.assertEqual(json.loads(m.get("/api/v1/contract/ping").body)["success"], True)


class PerpetualPoolTests(SynchronousTestCase):
    """kucoin_perpetual shares spot's pool shape; gate_io_perpetual spot's per-endpoint rule."""

    def test_kucoin_perpetual_pool(self) -> None:
        m = MemoryServer("kucoin_perpetual")
        self.addCleanup(m.stop)
        first = m.get("/api/v1/timestamp")  # weight 2
        self.assertEqual(first.headers["gw-ratelimit-remaining"], "1998")
        self.assertEqual(first.headers["gw-ratelimit-limit"], "2000")
        for _ in range(999):
            last = m.get("/api/v1/timestamp")
        self.assertEqual((last.status, last.headers["gw-ratelimit-remaining"]), (200, "0"))
        over = m.get("/api/v1/timestamp")
        self.assertEqual(over.status, 429)
        self.assertEqual(json.loads(over.body)["code"], "429000")

    def test_gate_io_perpetual_per_endpoint(self) -> None:
        m = MemoryServer("gate_io_perpetual")
        self.addCleanup(m.stop)
        for _ in range(200):
            ok = m.get("/api/v4/futures/usdt/contracts")
        self.assertEqual((ok.status, ok.headers["x-gate-ratelimit-requests-remain"]), (200, "0"))
        self.assertEqual(m.get("/api/v4/futures/usdt/contracts").status, 429)
        self.assertEqual(m.get("/api/v4/spot/time").status, 200)

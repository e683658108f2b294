"""
WebSocket limits and keep-alive, in memory (real Autobahn client and server over
iosim, on a MemoryReactorClock): message rate, streams per connection, connection
attempts, concurrent connections, server pings and the pong timeout.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from mockex.ratelimit import RateLimiter
from mockex.testing import MemoryServer
from mockex.venues.binance import LIMITS, binance_spot


def listing(i: int) -> dict[str, object]:
    return {"method": "LIST_SUBSCRIPTIONS", "id": i}


class MessageRateTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()
        self.addCleanup(self.m.stop)

    def test_sixth_message_in_a_second_disconnects(self) -> None:
        ws = self.m.connect("/ws/btcusdt@kline_1m")
        for i in range(5):
            ws.send_json(listing(i))
        self.m.flush()
        self.assertEqual([r["id"] for r in ws.take()], [0, 1, 2, 3, 4])
        self.assertFalse(ws.lost)
        ws.send_json(listing(5))
        self.m.flush()
        self.assertEqual(ws.take(), [])  # the sixth is not answered
        self.assertEqual((ws.close_code, ws.close_reason), (1008, "Too many requests"))
        self.assertTrue(ws.lost)

    def test_five_per_second_forever_is_fine(self) -> None:
        ws = self.m.connect("/ws")
        for second in range(10):
            for i in range(5):
                ws.send_json(listing(second * 5 + i))
                self.m.advance(0.2, step=0.2)
        self.assertEqual(len([r for r in ws.take() if "result" in r]), 50)
        self.assertFalse(ws.lost)

    def test_window_slides(self) -> None:
        """Five at 0.9 s, one more at 1.5 s: six within one second, disconnected."""
        ws = self.m.connect("/ws")
        self.m.clock.advance(0.9)
        for i in range(5):
            ws.send_json(listing(i))
        self.m.flush()
        self.m.advance(0.6)
        ws.send_json(listing(5))
        self.m.flush()
        self.assertEqual(ws.close_code, 1008)

    def test_pings_and_pongs_count(self) -> None:
        ws = self.m.connect("/ws")
        for _ in range(5):
            ws.sendPing(b"")
        self.m.flush()
        self.assertFalse(ws.lost)
        ws.sendPong(b"")
        self.m.flush()
        self.assertEqual(ws.close_code, 1008)

    def test_configurable_rate_and_burst(self) -> None:
        """The seed's knobs: ws_limit per second with bursts of ws_burst."""
        self.m.server.set_rate_limits(ws_limit=5, ws_burst=10)
        ws = self.m.connect("/ws")
        for i in range(10):
            ws.send_json(listing(i))
        self.m.flush()
        self.assertFalse(ws.lost)
        self.m.advance(1.5)
        ws.send_json(listing(10))
        self.m.flush()
        self.assertEqual(ws.close_code, 1008)  # 11 in 2 s

    def test_off(self) -> None:
        self.m.server.set_rate_limits(enabled=False)
        ws = self.m.connect("/ws")
        for i in range(50):
            ws.send_json(listing(i))
        self.m.flush()
        self.assertEqual(len(ws.take()), 50)
        self.assertFalse(ws.lost)


class StreamLimitTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()
        self.addCleanup(self.m.stop)

    def test_1024_streams_then_an_error(self) -> None:
        """1024 streams (well-formed names count, data or not); the 1025th is refused."""
        ws = self.m.connect("/ws/btcusdt@kline_1m")
        names = [f"sym{i}usdt@kline_1m" for i in range(1023)]
        ws.send_json({"method": "SUBSCRIBE", "params": names, "id": 1})
        self.m.flush()
        self.assertEqual(ws.take(), [{"result": None, "id": 1}])
        ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m", "ethusdt@kline_5m"], "id": 2})
        self.m.flush()
        self.assertEqual(ws.take(), [{"error": {"code": 4, "msg": "Too many subscriptions"}, "id": 2}])
        self.assertFalse(ws.lost)
        ws.send_json(listing(3))
        self.m.flush()
        self.assertEqual(len(ws.take()[0]["result"]), 1024)
        # unsubscribing makes room
        ws.send_json({"method": "UNSUBSCRIBE", "params": ["sym0usdt@kline_1m"], "id": 4})
        self.m.advance(1)
        ws.send_json({"method": "SUBSCRIBE", "params": ["ethusdt@kline_5m"], "id": 5})
        self.m.flush()
        self.assertEqual([r.get("result", r) for r in ws.take() if "id" in r], [None, None])

    def test_too_many_streams_in_the_url(self) -> None:
        self.m.server.set_rate_limits(ws_max_streams=2)
        ws = self.m.connect("/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m/bnbusdt@kline_1m", open=False)
        self.m.flush()
        self.assertEqual(ws.json(), [{"error": {"code": 4, "msg": "Too many subscriptions"}, "id": None}])
        self.assertEqual(ws.close_code, 1008)
        ok = self.m.connect("/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m")
        self.assertFalse(ok.lost)


class ConnectionLimitTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()
        self.addCleanup(self.m.stop)

    def test_connection_attempts_per_window(self) -> None:
        self.m.server.set_rate_limits(ws_connection_attempts=3)
        self.m.clock.advance(290)  # 10 s before the 5-minute window ends
        for _ in range(3):
            self.m.connect("/ws").sendClose()
        refused = self.m.connect("/ws", open=False)
        self.assertFalse(refused.opened)
        self.assertIn("429", refused.close_reason or "")
        self.assertTrue(self.m.connect("/ws", client="10.0.0.9").opened)  # another IP
        self.m.advance(10)
        self.assertTrue(self.m.connect("/ws").opened)

    def test_300_attempts_per_5_minutes(self) -> None:
        """Binance's own number, at the limiter (300 in-memory handshakes are slow)."""
        limiter = RateLimiter(binance_spot, LIMITS, lambda: 1_795_564_800_000)
        self.assertEqual({limiter.ws_attempt("1.2.3.4") for _ in range(300)}, {None})
        self.assertEqual(limiter.ws_attempt("1.2.3.4"), (429, "Too many connection attempts"))
        self.assertIsNone(limiter.ws_attempt("1.2.3.5"))

    def test_concurrent_connections_per_client(self) -> None:
        self.m.server.set_rate_limits(ws_max_connections=2, client_header="X-MBX-APIKEY")
        a = self.m.connect("/ws")
        self.m.connect("/ws")
        third = self.m.connect("/ws", open=False)
        self.assertFalse(third.opened)
        self.assertIn("Too many connections", third.close_reason or "")
        # another client on the same loopback address, told apart by its header
        self.assertTrue(self.m.connect("/ws", headers={"X-MBX-APIKEY": "k2"}).opened)
        a.sendClose()
        self.m.flush()
        self.assertTrue(self.m.connect("/ws").opened)

    def test_refused_attempts_do_not_leak_connections(self) -> None:
        self.m.server.set_rate_limits(ws_max_connections=1)
        first = self.m.connect("/ws")
        for _ in range(3):
            self.assertFalse(self.m.connect("/ws", open=False).opened)
        limiter = self.m.server.limiter
        self.assertEqual(limiter.connections("127.0.0.1"), 1)
        first.dropConnection(abort=True)
        self.m.flush()
        self.assertEqual(limiter.connections("127.0.0.1"), 0)


class KeepaliveTests(SynchronousTestCase):
    """The server pings every 20 s and drops a connection silent for 60 s."""

    def setUp(self) -> None:
        self.m = MemoryServer()
        self.addCleanup(self.m.stop)

    def test_pings_every_20_seconds(self) -> None:
        ws = self.m.connect("/ws")
        self.m.advance(19.5)
        self.assertEqual(ws.pings, [])
        self.m.advance(0.5)
        self.assertEqual(ws.pings, [b""])
        self.m.advance(100)
        self.assertEqual(len(ws.pings), 6)
        self.assertFalse(ws.lost)

    def test_no_pong_for_60_seconds_disconnects(self) -> None:
        ws = self.m.connect("/ws")
        ws.auto_pong = False
        self.m.advance(59.5)
        self.assertFalse(ws.lost)
        self.m.advance(0.5)
        self.assertTrue(ws.lost)
        self.assertEqual(len(ws.pings), 2)  # at 20 s and 40 s; at 60 s it drops instead

    def test_keepalive_pongs_stay_under_the_message_rate(self) -> None:
        ws = self.m.connect("/ws/btcusdt@kline_1m")
        self.m.advance(200)
        self.assertFalse(ws.lost)
        self.assertTrue(json.loads(ws.messages[-1])["e"] == "kline")

"""
trial tests of client.py on mockex's in-memory server (``mockex.testing.MemoryServer``):
no sockets, no real time; time moves candle by candle when the test says so.

Run: ``python -m twisted.trial test_client`` from this directory.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from client import KlineClient, KlineStream
from mockex.testing import MemoryServer

NOW_MS = 1_795_564_800_000 + 25_000  # 25 s into a minute


class KlineClientTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("binance_spot", now_ms=NOW_MS, seed=3)
        self.addCleanup(self.server.assert_clean)
        self.addCleanup(self.server.stop)
        self.client = KlineClient(self.server.treq, "http://127.0.0.1")

    def closed_candles(self, limit: int) -> list:
        d = self.client.closed_candles("BTCUSDT", limit=limit)
        self.server.treq.flush()
        return self.successResultOf(d)

    def test_history(self) -> None:
        candles = self.closed_candles(5)
        self.assertEqual([c.open_ms for c in candles],
                         [NOW_MS - 25_000 - 60_000 * i for i in range(5, 0, -1)])
        for c in candles:
            self.assertTrue(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high)

    def test_stream_closes_match_rest(self) -> None:
        """Three minutes pass: the stream closes three candles, equal to REST's."""
        stream = self.server.connect("/ws/btcusdt@kline_1m", protocol=KlineStream)
        self.server.advance_candles(3)
        self.assertEqual(len(stream.closed), 3)
        self.assertEqual(stream.closed, self.closed_candles(3))

    def test_stream_sees_server_going_away(self) -> None:
        stream = self.server.connect("/ws/btcusdt@kline_1m", protocol=KlineStream)
        self.server.stop()
        self.successResultOf(stream.done)
        self.assertEqual(stream.close_code, 1001)  # going away

    def test_error_is_reported(self) -> None:
        self.server.set_network_conditions(error_rate=1.0)
        d = self.client.closed_candles("BTCUSDT")
        self.server.treq.flush()
        self.assertIn("HTTP 5", str(self.failureResultOf(d, RuntimeError).value))

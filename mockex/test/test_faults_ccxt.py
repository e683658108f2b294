"""
Faults over loopback with unmodified ccxt: under each fault ccxt raises its normal
network errors, and once the faults are cleared the same client works again.
(127.0.0.1, an ephemeral port, the real reactor; ccxt in a worker thread.)
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from mockex.server import MockServer
from mockex.test.test_e2e_ccxt import OPTIONS, ccxt, point


class CcxtFaultTests(TestCase):
    timeout = 60

    def setUp(self) -> Any:
        if ccxt is None:
            raise SkipTest("ccxt is not installed (pip install -e '.[test]')")
        self.server = MockServer("binance_spot", port=0, seed=3, reactor=reactor)
        self.addCleanup(self.server.stop)
        return self.server.start()

    @inlineCallbacks
    def test_network_errors_and_recovery(self) -> Any:
        faults = self.server.faults
        outcomes: list[tuple[str, Any]] = []
        scenarios = [
            ("stall", {"kind": "drop", "params": {"mode": "stall"}, "target": {"routes": ["klines"]}}),
            ("reset", {"kind": "drop", "params": {"mode": "reset"}, "target": {"routes": ["klines"]}}),
            ("garbled 503", [
                {"kind": "error", "params": {"kinds": ["busy"]}, "target": {"routes": ["klines"]}},
                {"kind": "malformed", "params": {"mode": "garbage"}, "target": {"routes": ["klines"]}},
            ]),
            ("outage", {"kind": "refuse"}),
        ]

        ex = point(ccxt.binance({"options": OPTIONS}), self.server)
        ex.timeout = 1500
        yield deferToThread(ex.load_markets)

        def attempt() -> Any:
            # An outage refuses new connections: start from an empty connection pool.
            ex.session.close()
            try:
                return len(ex.fetch_ohlcv("BTC/USDT", "1m", limit=5))
            except Exception as e:  # noqa: BLE001 - the class is the assertion
                return e

        for name, rules in scenarios:
            faults.clear()
            faults.add_all(rules if isinstance(rules, list) else [rules])
            outcomes.append((name, (yield deferToThread(attempt))))
            faults.clear()
            outcomes.append((name + " cleared", (yield deferToThread(attempt))))

        got = dict(outcomes)
        self.assertIsInstance(got["stall"], ccxt.RequestTimeout)
        self.assertIsInstance(got["reset"], ccxt.NetworkError)
        self.assertNotIsInstance(got["reset"], ccxt.RequestTimeout)
        self.assertIsInstance(got["garbled 503"], ccxt.ExchangeNotAvailable)
        self.assertIsInstance(got["outage"], ccxt.NetworkError)
        for name, _ in scenarios:
            self.assertEqual(got[name + " cleared"], 5, name)
        kinds = [e.kind for e in faults.journal]
        for kind in ("drop", "error", "malformed", "refuse"):
            self.assertIn(kind, kinds)

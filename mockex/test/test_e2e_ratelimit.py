"""
Over loopback: unmodified ccxt, with its own rate limiter off, runs into mockex's
Binance limits and raises its own errors.

ccxt 4.5 ``binance.handle_errors`` turns any 418 or 429 into ``DDoSProtection`` before
it looks at the body (its ``-1003`` -> ``RateLimitExceeded`` mapping only applies to
other statuses); both are ``NetworkError``. Market time starts on a whole minute so
the weight window cannot roll over during the test.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, TestCase

from mockex.server import MockServer
from mockex.test.test_e2e_ccxt import OPTIONS, point

try:
    import ccxt
except ImportError:  # pragma: no cover - ccxt is in the 'test' extra
    ccxt = None


class CcxtRateLimitTests(TestCase):
    timeout = 60

    def setUp(self) -> Any:
        if ccxt is None:
            raise SkipTest("ccxt is not installed (pip install -e '.[test]')")
        origin = int(reactor.seconds() * 1000) // 60_000 * 60_000
        self.server = MockServer("binance_spot", port=0, seed=5, reactor=reactor, origin_ms=origin)
        # small enough to reach quickly; everything else is Binance's declaration
        self.server.set_rate_limits(rest_limit=60, ban_after=2)
        self.addCleanup(self.server.stop)
        return self.server.start()

    @inlineCallbacks
    def test_ccxt_hits_the_limit(self) -> Any:
        def run() -> dict[str, Any]:
            ex = point(ccxt.binance({"options": OPTIONS, "enableRateLimit": False}), self.server)
            ex.load_markets()  # exchangeInfo: weight 20
            seen: dict[str, Any] = {"used": [ex.last_response_headers.get("x-mbx-used-weight-1m")]}
            errors: list[Exception] = []
            for _ in range(40):
                try:
                    ex.fetch_ohlcv("BTC/USDT", "1m", limit=5)  # klines: weight 2
                    seen["used"].append(ex.last_response_headers.get("x-mbx-used-weight-1m"))
                except ccxt.BaseError as e:
                    errors.append(e)
                    if len(errors) == 4:
                        break
            seen["errors"] = errors
            return seen

        seen = yield deferToThread(run)
        self.assertEqual(seen["used"], [str(w) for w in range(20, 61, 2)])
        errors = seen["errors"]
        self.assertEqual(len(errors), 4)
        for e in errors:
            self.assertIsInstance(e, ccxt.DDoSProtection)
            self.assertIsInstance(e, ccxt.NetworkError)
            self.assertIn('"code":-1003', str(e))
        self.assertEqual([" 429 " in str(e) for e in errors], [True, True, False, False])
        self.assertIn("Too much request weight used; current limit is 60 request weight per 1 MINUTE", str(errors[0]))
        self.assertIn(" 418 ", str(errors[2]))
        self.assertIn("IP banned until", str(errors[2]))

"""
ccxt against every venue it knows, in memory, at chosen instants.

ccxt builds its candle windows from its own clock (KuCoin: ``startAt = now - n
candles``, ``endAt = now``; Coinbase: ``start``/``end`` from ``seconds()``...), so
whether ``fetch_ohlcv`` gets what it asked for can depend on where in a candle the
request falls. Over loopback that is luck (the facade suite once got four KuCoin
candles for ``limit=5``, in the first second of a minute); here
:meth:`mockex.testing.MemoryServer.ccxt` gives ccxt the server's clock, and each venue
is asked at the edges of a candle.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from mockex.clients import CCXT_IDS, ccxt_symbol
from mockex.plugins import exchanges
from mockex.testing import DEFAULT_NOW_MS, MemoryServer

MINUTE = 60_000
#: Milliseconds into a one-minute candle.
PHASES = (0, 1, 999, 1000, 30_000, 59_999)

try:
    import ccxt  # noqa: F401
except ImportError:  # pragma: no cover - ccxt is in the test extra
    ccxt = None


class CcxtAtEveryInstant(SynchronousTestCase):
    if ccxt is None:
        skip = "ccxt is not installed"

    def check_venue(self, venue: str) -> None:
        server = MemoryServer(venue, now_ms=DEFAULT_NOW_MS)
        # One client asking many times on a clock that barely moves: limits are
        # tested on their own (test_venue_limits).
        server.server.set_rate_limits(enabled=False)
        exchange = server.ccxt()
        exchange.load_markets()
        symbol = ccxt_symbol(server)
        for n, phase in enumerate(PHASES, start=1):
            server.advance_to(DEFAULT_NOW_MS + n * MINUTE + phase)
            live = server.now_ms() // MINUTE * MINUTE
            got = [row[0] for row in exchange.fetch_ohlcv(symbol, "1m", limit=5)]
            newest = [live - (4 - i) * MINUTE for i in range(5)]
            if phase == 0:
                # At the very millisecond a candle opens ccxt's own window (``since =
                # now - 5 candles``, the first five rows kept) may end one candle early.
                self.assertIn(got, (newest, [t - MINUTE for t in newest]), (venue, phase))
            else:
                self.assertEqual(got, newest, (venue, phase))
            since = live - 100 * MINUTE
            got = [row[0] for row in exchange.fetch_ohlcv(symbol, "1m", since=since, limit=5)]
            self.assertEqual(got, [since + i * MINUTE for i in range(5)], (venue, phase, "since"))
            got = [row[0] for row in exchange.fetch_ohlcv(symbol, "1m", since=since)]
            self.assertEqual(got[:2], [since, since + MINUTE], (venue, phase, "since, no limit"))
            self.assertEqual({b - a for a, b in zip(got, got[1:])}, {MINUTE}, (venue, phase))
        server.stop()


def _add_tests() -> None:
    for venue in sorted(set(CCXT_IDS) & set(exchanges())):
        def test(self: CcxtAtEveryInstant, venue: str = venue) -> None:
            self.check_venue(venue)

        test.__name__ = f"test_{venue}"
        test.__doc__ = f"ccxt's fetch_ohlcv on {venue}: limit, since + limit and since, at each phase."
        setattr(CcxtAtEveryInstant, test.__name__, test)


_add_tests()

"""
RowCache: the live candle's per-second memo never serves a stale row, and the
envelope joined in one pass gives the bytes the venues used to concatenate.

The reference in every test is a second, independent :class:`CandleSource` (same
seed, same calls) whose candles are formatted directly, with no cache in between.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from mockex.fmt import fixed, fixed_piece
from mockex.intervals import CANONICAL, MINUTE_MS, SECOND_MS
from mockex.market import CandleSource, Market
from mockex.replay import ReplaySeries, Row
from mockex.rows import RowCache, row_formatter
from mockex.venues.binance import kline_formatter
from mockex.venues.common import DEFAULT_MARKETS

BTC = DEFAULT_MARKETS[0]
#: mid-minute and mid-second
NOW = 1_795_564_800_000 + 37_123
FMT = kline_formatter(BTC.price_decimals, BTC.qty_decimals, 1)


def reference(source: CandleSource, market: Market, name: str, count: int, now_ms: int,
              offset_ms: int = 0) -> bytes:
    """``count`` rows up to ``now_ms``, each candle computed and formatted afresh."""
    interval = CANONICAL[name]
    last = interval.floor(now_ms, offset_ms)
    first = interval.shift(last, -(count - 1), offset_ms)
    candles = [source.candle(market, interval, o, now_ms, offset_ms)
               for o in interval.opens(first, count, offset_ms)]
    return b"[" + b",".join(FMT(c) for c in candles if c is not None) + b"]"


def cached(rows: RowCache, market: Market, name: str, count: int, now_ms: int, offset_ms: int = 0) -> bytes:
    interval = CANONICAL[name]
    last = interval.floor(now_ms, offset_ms)
    first = interval.shift(last, -(count - 1), offset_ms)
    return rows.rows(market, interval, offset_ms, first, count, now_ms, ("test",), FMT,
                     prefix=b"[", suffix=b"]")


class LiveMemoTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.source = CandleSource(seed=5)
        self.rows = RowCache(self.source)
        self.ref = CandleSource(seed=5)

    def check(self, now_ms: int, names: tuple[str, ...] = ("1s", "1m", "5m", "1h", "1d"), count: int = 3) -> None:
        for name in names:
            for offset in (0, 8 * 3_600_000):
                self.assertEqual(
                    cached(self.rows, BTC, name, count, now_ms, offset),
                    reference(self.ref, BTC, name, count, now_ms, offset),
                    f"{name} offset {offset} at {now_ms}",
                )

    def test_time_moving(self) -> None:
        """Within a second, across seconds and across a candle's close: fresh bytes."""
        now = NOW
        for step in (0, 1, 300, 575, 1, 999, 1000, 1, 22_876, 1, 1, 59_999, 60_001, 3_600_000):
            now += step
            self.check(now)
            self.check(now)  # a second request in the same millisecond hits the memo

    def test_time_going_back(self) -> None:
        """Market time set back (a clock jump): the memo is keyed by the second."""
        for now in (NOW, NOW + 5_000, NOW, NOW - 61_000, NOW + 5_000):
            self.check(now)

    def test_scenario_mid_second(self) -> None:
        """A scenario set in the middle of a second the memo holds: from the next
        second on, every live row shows it, exactly as uncached candles do."""
        self.check(NOW)
        for source in (self.source, self.ref):
            source.set_scenario(BTC, "shock", NOW + 200, 20.0)
        self.check(NOW + 200)
        before = cached(self.rows, BTC, "1m", 1, NOW + 300)
        later = NOW + 2 * SECOND_MS
        self.check(later)
        self.assertNotEqual(cached(self.rows, BTC, "1m", 1, later)[:30], b"")
        # the shock is visible: the live minute's close moved by about 20%
        self.assertNotEqual(before, cached(self.rows, BTC, "1m", 1, later))
        for source in (self.source, self.ref):
            source.set_scenario(BTC, "gap", later + 10, duration_ms=5 * SECOND_MS)
        for t in range(later + 10, later + 10 * SECOND_MS, 250):
            self.check(t, names=("1s", "1m"))

    def test_listing_second(self) -> None:
        """A market listed mid-minute, in its first seconds: live candles as computed afresh
        (including "opened less than a second ago", which takes another path)."""
        listed = NOW // SECOND_MS * SECOND_MS - SECOND_MS
        young = Market.create("NEW", "USDT", 3.0, price_decimals=4, qty_decimals=1, listed_ms=listed)
        for t in (listed, listed + 1, listed + 999, listed + 1_000, listed + 1_500, NOW, NOW + 1_000):
            for name in ("1s", "1m"):
                self.assertEqual(cached(self.rows, young, name, 1, t), reference(self.ref, young, name, 1, t))

    def test_formats_kept_apart(self) -> None:
        """Two formats of the same live candle in the same second: each its own bytes."""
        interval = CANONICAL["1m"]
        first = interval.floor(NOW)
        micro = kline_formatter(BTC.price_decimals, BTC.qty_decimals, 1000)
        ms = self.rows.rows(BTC, interval, 0, first, 1, NOW, ("ms",), FMT)
        us = self.rows.rows(BTC, interval, 0, first, 1, NOW, ("us",), micro)
        candle = self.ref.candle(BTC, interval, first, NOW)
        self.assertEqual((ms, us), (FMT(candle), micro(candle)))

    def test_replay_not_memoised(self) -> None:
        """A replayed market's live candle is read from the recording every time."""
        market = Market.create("BTC", "USDT", 50_000.0, price_decimals=2, qty_decimals=5)
        start = (NOW // MINUTE_MS - 5) * MINUTE_MS
        recorded = [Row(start + i * MINUTE_MS, "100", "110", "90", str(100 + i), "2", "200", 3, "1", "100")
                    for i in range(10)]
        source = CandleSource(replays={market.key: ReplaySeries(market, recorded)})
        ref = CandleSource(replays={market.key: ReplaySeries(market, recorded)})
        rows = RowCache(source)
        fmt = kline_formatter(market.price_decimals, market.qty_decimals, 1)
        interval = CANONICAL["5m"]
        for t in (NOW, NOW + 1, NOW + 22_876, NOW + 22_877, NOW + 82_877, NOW + 142_877):
            first = interval.floor(t)
            got = rows.rows(market, interval, 0, first, 1, t, ("r",), fmt)
            candle = ref.candle(market, interval, first, t)
            self.assertEqual(got, b"" if candle is None else fmt(candle), t)
        self.assertEqual((rows._live, rows._answers), ({}, {}))


class EnvelopeTests(SynchronousTestCase):
    def test_envelope_and_order(self) -> None:
        """prefix + rows + suffix, in either order, with or without a live row."""
        source = CandleSource(seed=1)
        rows = RowCache(source)
        interval = CANONICAL["1m"]
        for now, count in ((NOW, 1), (NOW, 4), (NOW // MINUTE_MS * MINUTE_MS, 4), (NOW, 0)):
            first = interval.shift(interval.floor(now), -(count - 1)) if count else interval.floor(now)
            candles = source.candles(BTC, interval, first, count, now) if count else []
            formatted = [FMT(c) for c in candles]
            for newest_first in (False, True):
                ordered = formatted[::-1] if newest_first else formatted
                got = rows.rows(BTC, interval, 0, first, count, now, ("e",), FMT,
                                newest_first=newest_first, prefix=b"<", suffix=b">")
                self.assertEqual(got, b"<" + b",".join(ordered) + b">", (now, count, newest_first))
                self.assertEqual(rows.rows(BTC, interval, 0, first, count, now, ("e",), FMT,
                                           newest_first=newest_first), b",".join(ordered))


class ManyTests(SynchronousTestCase):
    """A formatter's ``many`` (rows from raw nodes) writes what its ``row`` writes."""

    def test_many_is_row(self) -> None:
        source = CandleSource(seed=3)
        now = NOW + 400 * 86_400_000
        for name in ("1s", "1m", "5m", "2h", "1d", "3d", "1w", "1M"):
            for offset in (0, 345 * MINUTE_MS):
                interval = CANONICAL[name]
                first = interval.shift(interval.floor(NOW, offset), -40, offset)
                raw = source.closed_nodes(BTC, interval, first, 40, now, offset)
                assert raw is not None
                candles = source.candles(BTC, interval, first, 40, now, offset)
                for scale in (1, 1000):
                    fmt = kline_formatter(BTC.price_decimals, BTC.qty_decimals, scale)
                    self.assertEqual(fmt.many(*raw), [fmt(c) for c in candles], (name, offset, scale))

    def test_listing_candle(self) -> None:
        """The listing candle (partial: from the listing on) written from its raw node."""
        source = CandleSource(seed=3)
        now = NOW + 400 * 86_400_000
        fmt = kline_formatter(BTC.price_decimals, BTC.qty_decimals, 1)
        for name in ("1d", "3d", "1w", "1M"):
            for offset in (0, 345 * MINUTE_MS):
                interval = CANONICAL[name]
                first = interval.floor(BTC.listed_ms, offset)
                self.assertLess(first, BTC.listed_ms)
                for count in (1, 2, 30):
                    raw = source.closed_nodes(BTC, interval, first, count, now, offset)
                    assert raw is not None
                    candles = source.candles(BTC, interval, first, count, now, offset)
                    self.assertEqual(fmt.many(*raw), [fmt(c) for c in candles], (name, offset, count))

    def test_negative_values_take_the_slow_path(self) -> None:
        """The fast arithmetic cannot write a negative value: such rows are written by ``slow``."""
        candles = CandleSource(seed=3).candles(BTC, CANONICAL["1h"], NOW - 10 * 3_600_000, 3, NOW)
        bent = candles[1]._replace(low=-5, taker_quote=-123_456_789)
        fmt = kline_formatter(BTC.price_decimals, BTC.qty_decimals, 1)
        self.assertIn(b'"-0.05000000"', fmt(bent))
        self.assertIn(b'"-1.23456789"', fmt(bent))
        nodes = [c[2:11] + (c.first_trade_id + 7,) for c in (candles[0], bent, candles[2])]
        bounds = [c.open_ms for c in candles] + [candles[-1].end_ms]
        self.assertEqual(fmt.many(bounds, nodes, lambda: 7), [fmt(candles[0]), fmt(bent), fmt(candles[2])])

    def test_template_cannot_write_a_minus(self) -> None:
        with self.assertRaises(ValueError):
            row_formatter('["BTC-USDT",%d]', "{open}", FMT)
        row_formatter('[%-5d,%d]', "{open}, {close}", FMT)

    def test_no_raw_form(self) -> None:
        """closed_nodes answers None where candles() takes its general path."""
        source = CandleSource(seed=3)
        interval = CANONICAL["1m"]
        last = interval.floor(NOW)
        self.assertIsNone(source.closed_nodes(BTC, interval, last, 1, NOW))  # not closed
        self.assertIsNone(source.closed_nodes(BTC, interval, interval.floor(BTC.listed_ms) - MINUTE_MS, 3, NOW))
        self.assertIsNone(source.closed_nodes(BTC, interval, last - MINUTE_MS, 0, NOW))
        self.assertIsNotNone(source.closed_nodes(BTC, interval, last - MINUTE_MS, 1, NOW))
        source.set_scenario(BTC, "shock", NOW, -0.1)
        later = NOW + 60 * MINUTE_MS
        self.assertIsNotNone(source.closed_nodes(BTC, interval, last - MINUTE_MS, 1, later))  # before it
        self.assertIsNone(source.closed_nodes(BTC, interval, last, 2, later))


class FixedPieceTests(SynchronousTestCase):
    def test_pieces_write_what_fixed_writes(self) -> None:
        """Every piece, with and without a fraction table, writes :func:`fixed`'s text."""
        values = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345, 1_000_000, 987_654_321, 48_138_796_154_318]
        for scale in range(9):
            for places in range(9):
                for tables in (None, {}):
                    piece, args = fixed_piece("x", scale, places, tables)
                    namespace = dict(tables or {})
                    for x in values:
                        written = (piece.encode() % eval(f"({args})", namespace, {"x": x})).decode()
                        self.assertEqual(written, fixed(x, scale, places), (x, scale, places, tables is None))

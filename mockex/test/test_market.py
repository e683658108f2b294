"""
Tests for mockex.market: determinism, exact aggregation across intervals, the live
candle, price level, and the integer invariants of every candle.
"""

from __future__ import annotations

import math
import pickle
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mockex.intervals import CANONICAL, DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS
from mockex.market import (
    BRANCHING,
    LEVEL_MS,
    Candle,
    CandleSource,
    Market,
    RandomWalkModel,
    aggregate,
    cover,
    split_integer,
    window,
)

BTC = Market.create("BTC", "USDT", 50_000.0, price_decimals=2, qty_decimals=5, listed_ms=1_502_942_400_000)
NOW = 1_795_609_835_507  # 2026-11-25 09:10:35.507 UTC
# Any minute from mid-2018 to 2026.
minutes = st.integers(min_value=25_500_000, max_value=NOW // MINUTE_MS - 2000).map(lambda m: m * MINUTE_MS)

#: Pairs (coarse, fine) where every coarse candle is a whole number of fine ones.
NESTED = [
    ("3m", "1m"), ("5m", "1m"), ("15m", "5m"), ("30m", "15m"), ("1h", "1m"), ("2h", "1h"),
    ("4h", "1h"), ("6h", "2h"), ("8h", "4h"), ("12h", "6h"), ("1d", "1h"), ("3d", "1d"),
    ("1w", "1d"), ("1M", "1d"), ("1m", "1s"),
]


def assert_aggregate(case: SynchronousTestCase, whole: Candle, parts: list[Candle]) -> None:
    case.assertEqual(whole.open, parts[0].open)
    case.assertEqual(whole.close, parts[-1].close)
    case.assertEqual(whole.high, max(p.high for p in parts))
    case.assertEqual(whole.low, min(p.low for p in parts))
    case.assertEqual(whole.volume, sum(p.volume for p in parts))
    case.assertEqual(whole.quote_volume, sum(p.quote_volume for p in parts))
    case.assertEqual(whole.trades, sum(p.trades for p in parts))
    case.assertEqual(whole.taker_base, sum(p.taker_base for p in parts))
    case.assertEqual(whole.taker_quote, sum(p.taker_quote for p in parts))
    traded = [p for p in parts if p.trades]
    if traded:
        case.assertEqual(whole.first_trade_id, traded[0].first_trade_id)
        case.assertEqual(whole.last_trade_id, traded[-1].last_trade_id)


def assert_valid(case: SynchronousTestCase, c: Candle) -> None:
    """The invariants of any candle."""
    case.assertGreaterEqual(c.low, 1)
    case.assertLessEqual(c.low, min(c.open, c.close))
    case.assertGreaterEqual(c.high, max(c.open, c.close))
    case.assertGreaterEqual(c.volume, 0)
    case.assertLessEqual(c.taker_base, c.volume)
    case.assertLessEqual(c.taker_quote, c.quote_volume)
    case.assertLessEqual(c.trades, c.volume)
    if c.trades:
        case.assertEqual(c.last_trade_id - c.first_trade_id + 1, c.trades)
    else:
        case.assertEqual((c.first_trade_id, c.last_trade_id), (-1, -1))


class SplitTests(SynchronousTestCase):
    @given(st.integers(min_value=0, max_value=10**20), st.lists(st.integers(0, 10**12), min_size=1, max_size=70))
    def test_split_exact(self, total: int, weights: list[int]) -> None:
        """Parts add up exactly; none exceeds its weight when the total allows."""
        parts = split_integer(total, weights)
        self.assertEqual(sum(parts), total)
        self.assertTrue(all(p >= 0 for p in parts))
        if total <= sum(weights):
            self.assertTrue(all(p <= w for p, w in zip(parts, weights)))

    @given(st.integers(min_value=0, max_value=10**6).map(lambda s: s * SECOND_MS),
           st.integers(min_value=1, max_value=3 * 86_400).map(lambda s: s * SECOND_MS))
    def test_cover_tiles(self, start: int, length: int) -> None:
        """cover() tiles the range exactly, in order, with aligned nodes."""
        nodes = cover(start, start + length)
        t = start
        for level, index in nodes:
            self.assertEqual(index * LEVEL_MS[level], t)
            t += LEVEL_MS[level]
        self.assertEqual(t, start + length)


class ModelTests(SynchronousTestCase):
    def test_children_chain_and_fill(self) -> None:
        """Every split chains opens to closes and reaches the parent's extremes."""
        model = RandomWalkModel(seed=3)
        node = model.day(BTC, 19_000)
        stack = [(0, 19_000, node)]
        checked = 0
        while stack and checked < 300:
            level, index, parent = stack.pop()
            children = model.split(BTC, level, index, parent)
            self.assertEqual(len(children), BRANCHING[level])
            self.assertEqual(aggregate(children)[:9], parent[:9])
            for i in range(len(children) - 1):
                self.assertEqual(children[i][3], children[i + 1][0])
            if level + 1 < len(BRANCHING):
                k = BRANCHING[level]
                stack.extend((level + 1, index * k + i, c) for i, c in enumerate(children[:2]))
            checked += 1


class SourceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.source = CandleSource(seed=7)

    @given(st.sampled_from(NESTED), minutes, st.integers(min_value=0, max_value=14 * 4).map(lambda q: q * 15 * MINUTE_MS - 12 * HOUR_MS))
    @settings(max_examples=60)
    def test_cross_interval_aggregation(self, pair: tuple[str, str], t: int, offset: int) -> None:
        """A coarse candle is exactly the aggregate of the fine candles it spans."""
        coarse_name, fine_name = pair
        coarse, fine = CANONICAL[coarse_name], CANONICAL[fine_name]
        if fine_name == "1s":
            offset = 0
        opened = coarse.floor(t, offset)
        whole = self.source.candle(BTC, coarse, opened, NOW, offset)
        end = coarse.next_open(opened, offset)
        count = fine.count_between(opened, fine.shift(end, -1, offset), offset)
        parts = self.source.candles(BTC, fine, opened, count, NOW, offset)
        assert whole is not None
        self.assertTrue(whole.closed)
        self.assertEqual(len(parts), count)
        assert_aggregate(self, whole, parts)
        for part in parts:
            assert_valid(self, part)

    @given(st.sampled_from(sorted(CANONICAL)), minutes)
    @settings(max_examples=60)
    def test_deterministic_and_order_free(self, name: str, t: int) -> None:
        """Same seed, same candles, whatever was asked before and whatever 'now' is."""
        interval = CANONICAL[name]
        opened = interval.floor(t)
        fresh = CandleSource(seed=7)
        # warm a different part of the tree first
        fresh.candles(BTC, CANONICAL["1h"], interval.floor(t) - 100 * HOUR_MS, 50, NOW)
        a = self.source.candle(BTC, interval, opened, NOW)
        b = fresh.candle(BTC, interval, opened, NOW + 10 * 365 * DAY_MS)
        self.assertEqual(a, b)
        other = CandleSource(seed=8).candle(BTC, interval, opened, NOW)
        self.assertNotEqual(a, other)

    def test_same_bytes_in_another_process(self) -> None:
        """The same seed gives the same candles in a fresh interpreter (no hash salt)."""
        script = (
            "import pickle,sys;from mockex.market import *;from mockex.intervals import CANONICAL as C;"
            "m=Market.create('BTC','USDT',50000.0,price_decimals=2,qty_decimals=5,listed_ms=1502942400000);"
            f"s=CandleSource(seed=7);sys.stdout.buffer.write(pickle.dumps(s.candles(m,C['5m'],C['5m'].floor({NOW})-300000*20,20,{NOW})))"
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, check=True, timeout=60,
            env={"PYTHONHASHSEED": "123", "PATH": ""},
            cwd=__import__("os").path.dirname(__import__("os").path.dirname(__import__("mockex").__file__)),
        ).stdout
        here = self.source.candles(BTC, CANONICAL["5m"], CANONICAL["5m"].floor(NOW) - 300000 * 20, 20, NOW)
        self.assertEqual(pickle.loads(out), here)

    @given(st.sampled_from(["1s", "1m", "5m", "1h", "1d", "1w", "1M"]), st.integers(0, 10**9))
    @settings(max_examples=60)
    def test_live_candle_grows_into_closed(self, name: str, fraction: int) -> None:
        """
        The live candle at any moment is the aggregate of what has elapsed: it
        keeps the final open, lies within the final range, never has more volume,
        and at the close equals the closed candle.
        """
        interval = CANONICAL[name]
        opened = interval.floor(NOW)
        end = interval.next_open(opened)
        at = opened + fraction % (end - opened)
        live = self.source.candle(BTC, interval, opened, at)
        final = self.source.candle(BTC, interval, opened, end)
        assert live is not None and final is not None
        self.assertFalse(live.closed)
        self.assertTrue(final.closed)
        self.assertEqual(live.open, final.open)
        self.assertLessEqual(live.high, final.high)
        self.assertGreaterEqual(live.low, final.low)
        self.assertLessEqual(live.volume, final.volume)
        self.assertLessEqual(live.trades, final.trades)
        assert_valid(self, live)
        later = self.source.candle(BTC, interval, opened, min(end - 1, at + 5000))
        assert later is not None
        self.assertGreaterEqual(later.volume, live.volume)

    def test_not_yet_opened(self) -> None:
        """A candle that opens after 'now' does not exist."""
        interval = CANONICAL["1m"]
        self.assertIsNone(self.source.candle(BTC, interval, interval.floor(NOW) + MINUTE_MS, NOW))

    def test_price_stays_near_configured_level(self) -> None:
        """Over nine years of days, BTC configured at 50 000 stays within 0.5x-2x of it."""
        day = CANONICAL["1d"]
        first = self.source.first_open(BTC, day)
        days = self.source.candles(BTC, day, first, 3400, NOW)
        self.assertGreater(len(days), 3000)
        lows = min(c.low for c in days) / 100
        highs = max(c.high for c in days) / 100
        self.assertGreater(lows, 25_000)
        self.assertLess(highs, 100_000)
        returns = [math.log(b.close / a.close) for a, b in zip(days, days[1:])]
        sd = math.sqrt(sum(r * r for r in returns) / len(returns))
        self.assertTrue(0.015 < sd < 0.04, sd)

    def test_first_candle_at_listing(self) -> None:
        """Candles before the listing do not exist; the first opens at the listing."""
        one_min = CANONICAL["1m"]
        first, count = window(one_min, 0, self.source.first_open(BTC, one_min), NOW, 0, None, 1)
        self.assertEqual((first, count), (1_502_942_400_000, 1))
        candle = self.source.candle(BTC, one_min, first, NOW)
        assert candle is not None
        self.assertEqual(candle.first_trade_id, 0)


class WindowTests(SynchronousTestCase):
    """The (startTime, endTime, limit) selection of Binance's R4."""

    interval = CANONICAL["1m"]
    first = 1_000 * MINUTE_MS
    now = 2_000 * MINUTE_MS + 30_000

    def select(self, start: int | None, end: int | None, limit: int) -> tuple[int, int]:
        return window(self.interval, 0, self.first, self.now, start, end, limit)

    def test_most_recent(self) -> None:
        self.assertEqual(self.select(None, None, 10), (1991 * MINUTE_MS, 10))

    def test_start_unaligned(self) -> None:
        self.assertEqual(self.select(1500 * MINUTE_MS + 1, None, 10), (1501 * MINUTE_MS, 10))

    def test_end_only(self) -> None:
        self.assertEqual(self.select(None, 1500 * MINUTE_MS + 5, 10), (1491 * MINUTE_MS, 10))

    def test_both_never_past_end(self) -> None:
        self.assertEqual(self.select(1500 * MINUTE_MS, 1503 * MINUTE_MS, 10), (1500 * MINUTE_MS, 4))

    def test_start_after_end(self) -> None:
        self.assertEqual(self.select(1600 * MINUTE_MS, 1500 * MINUTE_MS, 10)[1], 0)

    def test_before_listing_and_future(self) -> None:
        self.assertEqual(self.select(0, None, 5), (self.first, 5))
        self.assertEqual(self.select(3000 * MINUTE_MS, None, 5)[1], 0)

    @given(st.one_of(st.none(), st.integers(0, 3000 * MINUTE_MS)),
           st.one_of(st.none(), st.integers(0, 3000 * MINUTE_MS)),
           st.integers(1, 1000))
    def test_window_bounds(self, start: int | None, end: int | None, limit: int) -> None:
        """Never more than limit, never before the listing or after now, start/end honoured."""
        first, count = self.select(start, end, limit)
        self.assertLessEqual(count, limit)
        if count:
            last = first + (count - 1) * MINUTE_MS
            self.assertGreaterEqual(first, self.first)
            self.assertLessEqual(last, self.now)
            if start is not None:
                self.assertGreaterEqual(first, start)
            if end is not None:
                self.assertLessEqual(last, end)

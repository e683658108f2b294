"""
Tests for mockex.models: the invariants of every node and candle under every model
(hypothesis), determinism, and the stylized facts on long series with fixed seeds.
"""

from __future__ import annotations

import gc
import math
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mockex.intervals import CANONICAL, DAY_MS, MINUTE_MS, days_from_civil
from mockex import models
from mockex.market import BRANCHING, LEAF, CandleSource, Market, aggregate
from mockex.models import MODELS, GBMModel, StylizedModel, model_factory, uniforms
from mockex.test.test_market import NESTED, assert_aggregate, assert_valid

BTC = Market.create("BTC", "USDT", 50_000.0, price_decimals=2, qty_decimals=5,
                    listed_ms=1_502_942_400_000, daily_volume=20_000.0, daily_trades=3_000_000)
DOGE = Market.create("DOGE", "USDT", 0.16, price_decimals=5, qty_decimals=0,
                     listed_ms=1_562_328_000_000, daily_volume=9e8, daily_trades=400_000)
NOW = days_from_civil(2035, 12, 31) * DAY_MS
days_2017_2035 = st.integers(days_from_civil(2019, 7, 6), days_from_civil(2035, 12, 30))


def acf(xs: list[float], lag: int) -> float:
    n = len(xs)
    m = sum(xs) / n
    d = [x - m for x in xs]
    return sum(d[i] * d[i + lag] for i in range(n - lag)) / sum(v * v for v in d)


def kurtosis(xs: list[float]) -> float:
    n = len(xs)
    m = sum(xs) / n
    d = [x - m for x in xs]
    s2 = sum(v * v for v in d) / n
    return sum(v**4 for v in d) / n / s2**2


def one_minute_returns(model: str, seed: int, days: int, market: Market = BTC) -> tuple[list[float], list[int]]:
    source = CandleSource(seed=seed, model_factory=model)
    start = days_from_civil(2024, 1, 1) * DAY_MS
    candles = source.candles(market, CANONICAL["1m"], start, days * 1440, NOW)
    closes = [c.close for c in candles]
    return [math.log(b / a) for a, b in zip(closes, closes[1:])], [c.volume for c in candles[1:]]


class NodeInvariantTests(SynchronousTestCase):
    @given(st.sampled_from(["stylized", "gbm"]), st.sampled_from([BTC, DOGE]), days_2017_2035,
           st.lists(st.integers(0, 59), min_size=LEAF, max_size=LEAF))
    @settings(max_examples=40)
    def test_split_contract(self, name: str, market: Market, day: int, path: list[int]) -> None:
        """Along a random path from a day to a second, every split honours the contract."""
        model = model_factory(name)(11)
        node = model.day(market, day)
        index = day
        for level in range(LEAF):
            children = model.split(market, level, index, node)
            k = BRANCHING[level]
            self.assertEqual(len(children), k)
            self.assertEqual(aggregate(children)[:9], node[:9])
            self.assertEqual(children[0][9], node[9])
            for a, b in zip(children, children[1:]):
                self.assertEqual(a[3], b[0])
                self.assertEqual(b[9], a[9] + a[6])
            for child in children:
                o, h, low, c, v, q, n, tb, tq = child[:9]
                self.assertTrue(1 <= low <= min(o, c) and h >= max(o, c), child)
                self.assertTrue(node[2] <= low and h <= node[1])
                self.assertTrue(0 <= n <= v and 0 <= tb <= v and 0 <= tq <= q, child)
                self.assertEqual(v > 0, n > 0, child)
            position = path[level] % k
            index = index * k + position
            node = children[position]

    def test_uniforms_open_interval_and_stable(self) -> None:
        """The counter-based generator: values in (0, 1), fixed for a key."""
        u = uniforms(b"key", 1000)
        self.assertTrue(all(0.0 < x < 1.0 for x in u))
        self.assertEqual(uniforms(b"key", 3), u[:3])
        self.assertEqual(round(u[0], 12), round(uniforms(b"key", 1)[0], 12))
        self.assertNotEqual(uniforms(b"kez", 3), u[:3])

    def test_model_names(self) -> None:
        self.assertEqual(set(MODELS), {"stylized", "gbm", "randomwalk"})
        self.assertIs(model_factory("gbm"), GBMModel)
        self.assertRaises(ValueError, model_factory, "nope")


class BatchTests(SynchronousTestCase):
    """
    The batched forms (``days``, ``split_run``, ``spans``) give exactly what the
    one-at-a-time forms give, whatever the batch: any access path, the same bytes.
    """

    @given(st.sampled_from(["stylized", "gbm"]), st.sampled_from([BTC, DOGE]), days_2017_2035,
           st.integers(1, 40), st.integers(0, LEAF - 1))
    @settings(max_examples=30, deadline=None)
    def test_split_run_is_split(self, name: str, market: Market, day: int, count: int, level: int) -> None:
        model = model_factory(name)(11)
        first = day
        for lv in range(level):
            first *= BRANCHING[lv]
        source = CandleSource(seed=11, model_factory=name)
        nodes = source._tree(market).run(level, first, count)
        batch = model.split_run(market, level, first, nodes)
        self.assertEqual(batch, [model.split(market, level, first + i, node) for i, node in enumerate(nodes)])

    @given(st.sampled_from(["stylized", "gbm"]), days_2017_2035, st.integers(1, 60))
    @settings(max_examples=30, deadline=None)
    def test_days_are_day(self, name: str, day: int, count: int) -> None:
        batch = model_factory(name)(11).days(BTC, day, count)
        self.assertEqual(batch, [model_factory(name)(11).day(BTC, d) for d in range(day, day + count)])

    @given(st.sampled_from(["stylized", "gbm"]), days_2017_2035,
           st.lists(st.integers(1, 40), min_size=1, max_size=12), st.sampled_from([1, 3, 7, 0]))
    @settings(max_examples=40, deadline=None)
    def test_spans_are_aggregates_of_days(self, name: str, day: int, lengths: list[int], align: int) -> None:
        """A span of days (weeks, 3-day runs, months or anything) is exactly its days."""
        if align == 7:
            day -= (day + 3) % 7
        elif align == 3:
            day -= day % 3
        bounds = [day]
        for n in lengths:
            bounds.append(bounds[-1] + (n * align if align else n))
        spans = model_factory(name)(11).spans(BTC, bounds)
        days = model_factory(name)(11).days(BTC, bounds[0], bounds[-1] - bounds[0])
        for (a, b), span in zip(zip(bounds, bounds[1:]), spans):
            self.assertEqual(span[:10], aggregate(days[a - day:b - day])[:10])


class SpansByArraysTests(SynchronousTestCase):
    """
    Spans over many cut weeks (3d, 1M) are reduced from the kernel's arrays, never
    made into day tuples: exactly the aggregates of the days, whichever way the
    volumes had to be cut.
    """

    def spans_and_days(self, market: Market, first: int, count: int, step: int) -> tuple[list, list, list]:
        taken: list[object] = []
        by_arrays = StylizedModel._spans_by_arrays

        def spy(model: StylizedModel, *args: object) -> object:
            out = by_arrays(model, *args)  # type: ignore[arg-type]
            taken.append(out)
            return out

        self.patch(StylizedModel, "_spans_by_arrays", spy)
        bounds = list(range(first, first + count * step + 1, step))
        spans = StylizedModel(5).spans(market, bounds)
        self.slow_cuts_by_spans = len(getattr(self, "slow", []))
        days = StylizedModel(5).days(market, first, count * step)
        expected = [aggregate(days[i:i + step])[:10] for i in range(0, count * step, step)]
        return taken, [span[:10] for span in spans], expected

    def test_three_day_spans(self) -> None:
        taken, spans, expected = self.spans_and_days(BTC, days_from_civil(2030, 1, 2), 300, 3)
        self.assertEqual(len(taken), 1)
        self.assertIsNotNone(taken[0])
        self.assertEqual(spans, expected)

    def test_thin_market(self) -> None:
        """
        Days without trades: groups cut the slow way, patched into the arrays, and
        spans whose first day has no trades (their first trade is a later day's).
        """
        thin = Market.create("THIN", "USDT", 3.0, price_decimals=4, qty_decimals=1,
                             listed_ms=1_502_942_400_000, daily_volume=50.0, daily_trades=1)
        self.slow: list[int] = []
        slow = self.slow
        volumes = models._volumes

        def counted(*args: object) -> object:
            slow.append(1)
            return volumes(*args)  # type: ignore[arg-type]

        self.patch(models, "_volumes", counted)
        taken, spans, expected = self.spans_and_days(thin, days_from_civil(2030, 1, 2), 300, 3)
        self.assertIsNotNone(taken[0])
        self.assertGreater(self.slow_cuts_by_spans, 0)
        self.assertTrue(slow)
        days = StylizedModel(5).days(thin, days_from_civil(2030, 1, 2), 900)
        self.assertTrue(any(days[i][6] == 0 and span[6] > 0 for i, span in zip(range(0, 900, 3), spans)))
        self.assertEqual(spans, expected)

    def test_huge_totals_fall_back(self) -> None:
        """Totals the arrays cannot cut: the general path, the same values."""
        self.patch(models, "_BIG", 1 << 20)
        taken, spans, expected = self.spans_and_days(BTC, days_from_civil(2030, 1, 2), 300, 3)
        self.assertEqual(taken, [None])
        self.assertEqual(spans, expected)


class KernelTests(SynchronousTestCase):
    """
    The split kernel has two paths, numpy arrays for batches and plain Python for
    small ones, and cuts totals too large for uint64 in Python ints: every path gives
    the same bytes, and the same contract.
    """

    def both_paths(self, name: str, market: Market, day: int, count: int, level: int) -> list[tuple]:
        """Two weeks of days and a run of splits at ``level``, once by each path."""
        first = day
        for lv in range(level):
            first *= BRANCHING[lv]
        out = []
        for small in (0, 1 << 30):
            self.patch(models, "_SMALL", small)
            model = model_factory(name)(11)
            nodes = CandleSource(seed=11, model_factory=name)._tree(market).run(level, first, count)
            out.append((model.days(market, day, 14), nodes, model.split_run(market, level, first, nodes)))
        return out

    @given(st.sampled_from(["stylized", "gbm"]), st.sampled_from([BTC, DOGE]), days_2017_2035,
           st.integers(1, 30), st.integers(0, LEAF - 1))
    @settings(max_examples=30, deadline=None)
    def test_small_path_is_array_path(self, name: str, market: Market, day: int, count: int, level: int) -> None:
        arrays, plain = self.both_paths(name, market, day, count, level)
        self.assertEqual(arrays, plain)

    @given(st.sampled_from(["stylized", "gbm"]), st.sampled_from([BTC, DOGE]), days_2017_2035,
           st.integers(1, 12), st.integers(0, LEAF - 1))
    @settings(max_examples=20, deadline=None)
    def test_huge_totals(self, name: str, market: Market, day: int, count: int, level: int) -> None:
        """Totals beyond the array cut (here anything from 2**20) are cut exactly too."""
        self.patch(models, "_BIG", 1 << 20)
        arrays, plain = self.both_paths(name, market, day, count, level)
        self.assertEqual(arrays, plain)
        _, nodes, groups = arrays
        for node, children in zip(nodes, groups):
            self.assertEqual(aggregate(children)[:9], node[:9])
            self.assertEqual(children[0][9], node[9])
            for a, b in zip(children, children[1:]):
                self.assertEqual(b[9], a[9] + a[6])
            for child in children:
                o, h, low, c, v, q, n, tb, tq = child[:9]
                self.assertTrue(0 <= n <= v and 0 <= tb <= v and 0 <= tq <= q, child)
                self.assertEqual(v > 0, n > 0, child)


class NoCycleTests(SynchronousTestCase):
    def test_source_freed_without_the_collector(self) -> None:
        """
        A source and its model, caches and all, go when the last reference does: a
        reference cycle would leave them to a full collection (tens of ms on a large
        heap, in the middle of some later request).
        """
        for name in ("stylized", "gbm", "randomwalk"):
            source = CandleSource(seed=4, model_factory=name)
            for interval in ("1m", "1d", "3d", "1w", "1M"):
                iv = CANONICAL[interval]
                source.candles(BTC, iv, iv.floor(NOW - 400 * iv.ms), 300, NOW)
            source.candle(BTC, CANONICAL["1m"], CANONICAL["1m"].floor(NOW) - 7 * MINUTE_MS, NOW)
            refs = [weakref.ref(source), weakref.ref(source.model_for(BTC))]
            gc.disable()
            try:
                del source
                self.assertEqual([ref() for ref in refs], [None, None], name)
            finally:
                gc.enable()


class PerMarketModelTests(SynchronousTestCase):
    def test_models_chosen_per_symbol(self) -> None:
        """A market named in ``models`` uses that model; others the default."""
        source = CandleSource(seed=3, models={"BTC/USDT": "gbm"})
        self.assertIsInstance(source.model_for(BTC), GBMModel)
        self.assertIsInstance(source.model_for(DOGE), StylizedModel)
        self.assertNotIsInstance(source.model_for(DOGE), GBMModel)
        day = CANONICAL["1d"]
        opened = day.floor(NOW - 100 * DAY_MS)
        self.assertEqual(
            source.candle(BTC, day, opened, NOW), CandleSource(seed=3, model_factory="gbm").candle(BTC, day, opened, NOW)
        )


class CandleInvariantTests(SynchronousTestCase):
    sources = {name: CandleSource(seed=5, model_factory=name) for name in ("stylized", "gbm")}

    @given(st.sampled_from(["stylized", "gbm"]), st.sampled_from(NESTED), days_2017_2035,
           st.integers(0, 1439), st.sampled_from([0, 5 * 3_600_000 + 45 * 60_000, -8 * 3_600_000]))
    @settings(max_examples=60)
    def test_cross_interval_aggregation(self, name: str, pair: tuple[str, str], day: int, minute: int, offset: int) -> None:
        """Under every model a coarse candle is exactly its fine candles, all valid."""
        source = self.sources[name]
        coarse, fine = CANONICAL[pair[0]], CANONICAL[pair[1]]
        if pair[1] == "1s":
            offset = 0
        opened = coarse.floor(day * DAY_MS + minute * MINUTE_MS, offset)
        whole = source.candle(BTC, coarse, opened, NOW, offset)
        end = coarse.next_open(opened, offset)
        count = fine.count_between(opened, fine.shift(end, -1, offset), offset)
        parts = source.candles(BTC, fine, opened, count, NOW, offset)
        assert whole is not None
        assert_aggregate(self, whole, parts)
        assert_valid(self, whole)
        for part in parts:
            assert_valid(self, part)
        for a, b in zip(parts, parts[1:]):
            self.assertEqual(a.close, b.open)
            if a.trades and b.trades:
                self.assertEqual(b.first_trade_id, a.last_trade_id + 1)

    @given(st.sampled_from(["stylized", "gbm"]), st.sampled_from(sorted(CANONICAL)), days_2017_2035)
    @settings(max_examples=40)
    def test_deterministic_order_free(self, name: str, interval_name: str, day: int) -> None:
        """Same seed, same candle, whatever was computed before."""
        interval = CANONICAL[interval_name]
        opened = interval.floor(day * DAY_MS + 12_345_000)
        fresh = CandleSource(seed=5, model_factory=name)
        fresh.candles(BTC, CANONICAL["1h"], opened - 50 * 3_600_000, 30, NOW)
        self.assertEqual(self.sources[name].candle(BTC, interval, opened, NOW), fresh.candle(BTC, interval, opened, NOW))

    def test_trade_ids_run_on_across_days(self) -> None:
        """Daily candles: ids continue from day to day, over years."""
        source = self.sources["stylized"]
        day = CANONICAL["1d"]
        days = source.candles(BTC, day, day.floor(NOW) - 2000 * DAY_MS, 2000, NOW)
        for a, b in zip(days, days[1:]):
            self.assertEqual(b.first_trade_id, a.last_trade_id + 1)


class StylizedFactsTests(SynchronousTestCase):
    """
    Thirty days of 1m candles (43 199 returns) for two fixed seeds. Figures at the time
    of writing (seed 1 / seed 2): excess kurtosis 28.7 / 15.4; |r| ACF at lags 1, 10,
    60, 240: 0.32, 0.22, 0.18, 0.14 / 0.28, 0.18, 0.12, 0.08; r ACF at lag 1 -0.036 /
    -0.018, at lags 2-10 within +-0.04; corr(|r|, volume) 0.46 / 0.44. GBM (seed 1):
    excess kurtosis 1.0, |r| ACF at lags 30, 60, 120: 0.029, 0.024, 0.007, r ACF at lag
    1 -0.031.
    """

    def test_stylized_facts(self) -> None:
        for seed in (1, 2):
            r, volume = one_minute_returns("stylized", seed, 30)
            self.assertGreater(kurtosis(r) - 3, 6.0)
            a = [abs(x) for x in r]
            for lag in (1, 5, 10, 20, 30, 45, 60, 90, 120):
                self.assertGreater(acf(a, lag), 0.04, (seed, lag))
            for lag in (1, 2, 3, 5, 10):
                self.assertLess(abs(acf(r, lag)), 0.05, (seed, lag))
            ma, mv = sum(a) / len(a), sum(volume) / len(volume)
            cov = sum((x - ma) * (y - mv) for x, y in zip(a, volume))
            corr = cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mv) ** 2 for y in volume))
            self.assertGreater(corr, 0.2)

    def test_gbm_has_no_clustering(self) -> None:
        """The GBM model: thin tails, |r| ACF near zero beyond a few lags."""
        r, _ = one_minute_returns("gbm", 1, 10)
        self.assertLess(kurtosis(r) - 3, 2.0)
        a = [abs(x) for x in r]
        self.assertLess(max(abs(acf(a, lag)) for lag in (30, 60, 120)), 0.04)
        self.assertLess(abs(acf(r, 1)), 0.05)

    def test_daily_level(self) -> None:
        """Daily returns: the configured volatility on average, clustering, no drift away."""
        source = CandleSource(seed=1)
        day = CANONICAL["1d"]
        days = source.candles(BTC, day, days_from_civil(2018, 1, 1) * DAY_MS, 6000, NOW)
        r = [math.log(b.close / a.close) for a, b in zip(days, days[1:])]
        sd = math.sqrt(sum(x * x for x in r) / len(r))
        self.assertTrue(0.02 < sd < 0.035, sd)
        self.assertGreater(acf([abs(x) for x in r], 1), 0.1)
        self.assertLess(abs(acf(r, 1)), 0.05)
        self.assertGreater(min(c.low for c in days), 50_000 * 100 / 4)
        self.assertLess(max(c.high for c in days), 50_000 * 100 * 4)

    def test_intraday_volume_profile(self) -> None:
        """Volume by UTC hour follows the profile: the peak hour beats the trough."""
        source = CandleSource(seed=1)
        hour = CANONICAL["1h"]
        start = days_from_civil(2025, 1, 6) * DAY_MS
        hours = source.candles(BTC, hour, start, 24 * 56, NOW)
        by_hour = [0] * 24
        for c in hours:
            by_hour[(c.open_ms // 3_600_000) % 24] += c.volume
        self.assertGreater(by_hour[15], 1.5 * by_hour[3])

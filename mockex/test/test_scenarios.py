"""
Scenarios (mockex.scenarios): they start at the next whole second, change nothing
already served, keep every candle invariant and cross-interval aggregation, and do
what they say (shock, trend, volatility, freeze, gap).
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mockex.intervals import CANONICAL, DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS
from mockex.market import CandleSource
from mockex.test.test_market import assert_aggregate, assert_valid
from mockex.test.test_models import BTC

NOW = 1_795_609_835_507  # 2026-11-25 09:10:35.507 UTC
M1 = CANONICAL["1m"]


def history(source: CandleSource, now: int, count: int = 300, interval: str = "1m") -> list:
    iv = CANONICAL[interval]
    return source.candles(BTC, iv, iv.floor(now) - (count - 1) * iv.ms, count, now)


class ScenarioTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.source = CandleSource(seed=4)
        self.plain = CandleSource(seed=4)

    def test_past_unchanged_and_live_continuous(self) -> None:
        """Everything served before the scenario, including the live candle so far, stays."""
        before = history(self.source, NOW)
        scenario = self.source.set_scenario(BTC, "shock", NOW, -20.0)
        self.assertEqual(scenario.start_ms, (NOW // SECOND_MS + 1) * SECOND_MS)
        self.assertEqual(history(self.source, NOW), before)
        later = history(self.source, NOW + 30 * SECOND_MS)
        plain = history(self.plain, NOW + 30 * SECOND_MS)
        self.assertEqual(later[:-2], plain[:-2])
        live, base = later[-2], plain[-2]  # the candle that was live at the switch
        self.assertEqual(live.open, base.open)
        self.assertGreaterEqual(live.high, before[-1].high)
        self.assertEqual(live.first_trade_id, before[-1].first_trade_id)
        self.assertLess(live.close, base.close * 0.85)
        self.assertLessEqual(live.low, live.close)

    def test_shock_moves_price(self) -> None:
        self.source.set_scenario(BTC, "shock", NOW, 10.0)
        t = NOW + HOUR_MS
        a = self.source.candle(BTC, M1, M1.floor(t), t)
        b = self.plain.candle(BTC, M1, M1.floor(t), t)
        assert a is not None and b is not None
        self.assertAlmostEqual(a.open / b.open, 1.1, places=3)

    def test_trend(self) -> None:
        """+10 %/day for a day: a day later the price is 10 % above the model's, and stays."""
        self.source.set_scenario(BTC, "trend", NOW, 10.0, DAY_MS)
        for t, ratio in ((NOW + DAY_MS // 2, math.sqrt(1.1)), (NOW + DAY_MS + HOUR_MS, 1.1), (NOW + 5 * DAY_MS, 1.1)):
            a = self.source.candle(BTC, M1, M1.floor(t), t)
            b = self.plain.candle(BTC, M1, M1.floor(t), t)
            assert a is not None and b is not None
            self.assertAlmostEqual(a.open / b.open, ratio, places=2)

    def test_volatility_regime(self) -> None:
        """x3 volatility for 6 hours: 1m returns three times as large, then back."""
        self.source.set_scenario(BTC, "volatility", NOW, 3.0, 6 * HOUR_MS)
        t = NOW + 7 * HOUR_MS
        start = M1.floor(NOW) + MINUTE_MS

        def sd(source: CandleSource, first: int, count: int) -> float:
            cs = source.candles(BTC, M1, first, count, t)
            r = [math.log(c.close / c.open) for c in cs]
            return math.sqrt(sum(x * x for x in r) / len(r))

        ratio = sd(self.source, start, 300) / sd(self.plain, start, 300)
        self.assertLess(abs(ratio - 3.0), 0.1)
        after = start + 6 * HOUR_MS + MINUTE_MS
        self.assertLess(abs(sd(self.source, after, 50) / sd(self.plain, after, 50) - 1.0), 0.05)

    def test_freeze(self) -> None:
        """A frozen market: the venue's empty candle (no trades, o=h=l=c=last price)."""
        before = self.source.candle(BTC, M1, M1.floor(NOW), NOW)
        self.source.set_scenario(BTC, "freeze", NOW, duration_ms=10 * MINUTE_MS)
        t = NOW + 20 * MINUTE_MS
        cs = self.source.candles(BTC, M1, M1.floor(NOW) - 2 * MINUTE_MS, 23, t)
        frozen = [c for c in cs if M1.floor(NOW) < c.open_ms < M1.floor(NOW) + 10 * MINUTE_MS]
        self.assertEqual(len(frozen), 9)
        for c in frozen:
            self.assertEqual((c.volume, c.trades, c.first_trade_id, c.last_trade_id), (0, 0, -1, -1))
            self.assertEqual({c.open, c.high, c.low, c.close}, {frozen[0].open})
        assert before is not None
        traded = [c for c in cs if c.trades]
        for a, b in zip(traded, traded[1:]):
            self.assertEqual(b.first_trade_id, a.last_trade_id + 1)
        self.assertEqual(cs[-1].open_ms, M1.floor(t))

    def test_gap(self) -> None:
        """Candles wholly inside a gap do not exist; the rest are served."""
        self.source.set_scenario(BTC, "gap", NOW, duration_ms=5 * MINUTE_MS)
        t = NOW + HOUR_MS
        cs = self.source.candles(BTC, M1, M1.floor(NOW) - MINUTE_MS, 10, t)
        opens = [(c.open_ms - M1.floor(NOW)) // MINUTE_MS for c in cs]
        self.assertEqual(opens, [-1, 0, 5, 6, 7, 8])
        self.assertIsNone(self.source.candle(BTC, M1, M1.floor(NOW) + 2 * MINUTE_MS, t))
        hour = CANONICAL["1h"]
        self.assertIsNotNone(self.source.candle(BTC, hour, hour.floor(NOW), t))

    def test_bad_scenarios(self) -> None:
        self.assertRaises(ValueError, self.source.set_scenario, BTC, "nonsense", NOW)
        self.assertRaises(ValueError, self.source.set_scenario, BTC, "shock", NOW, -100.0)
        self.assertRaises(ValueError, self.source.set_scenario, BTC, "volatility", NOW, 0.0)

    def test_served_past_is_respected(self) -> None:
        """A scenario never starts before a moment already served (e.g. a stream tick ahead of now)."""
        self.source.candle(BTC, M1, M1.floor(NOW + 1500), NOW + 1500)
        scenario = self.source.set_scenario(BTC, "shock", NOW, 5.0)
        self.assertEqual(scenario.start_ms, (NOW + 1500) // SECOND_MS * SECOND_MS + SECOND_MS)


class ScenarioPropertyTests(SynchronousTestCase):
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["shock", "trend", "volatility", "freeze", "gap"]),
                st.integers(0, 3 * HOUR_MS),
                st.floats(-30, 30),
                st.one_of(st.none(), st.integers(SECOND_MS, 2 * HOUR_MS)),
            ),
            min_size=1, max_size=3,
        ),
        st.sampled_from([("1h", "1m"), ("4h", "15m"), ("1d", "1h"), ("5m", "1m"), ("1m", "1s"), ("12h", "4h")]),
        st.integers(0, 6 * HOUR_MS),
    )
    @settings(max_examples=25)
    def test_invariants_under_scenarios(self, scenarios: list, pair: tuple[str, str], probe: int) -> None:
        """Any scenarios at any instants: closed candles equal their parts, all valid."""
        source = CandleSource(seed=9)
        now = NOW
        for kind, delay, value, duration in scenarios:
            now += delay
            if kind == "volatility":
                value = abs(value) / 10 + 0.2
            source.set_scenario(BTC, kind, now, value, duration)
        end = now + 8 * HOUR_MS
        coarse, fine = CANONICAL[pair[0]], CANONICAL[pair[1]]
        opened = coarse.floor(NOW + probe)
        whole = source.candle(BTC, coarse, opened, end)
        count = fine.count_between(opened, fine.shift(coarse.next_open(opened), -1))
        parts = source.candles(BTC, fine, opened, count, end)
        if whole is None or len(parts) < count:
            return  # a gap removed something
        assert_aggregate(self, whole, parts)
        for c in [whole] + parts:
            assert_valid(self, c)
        traded = [c for c in parts if c.trades]
        for a, b in zip(traded, traded[1:]):
            self.assertEqual(b.first_trade_id, a.last_trade_id + 1)

"""Tests for mockex.intervals: boundaries of fixed, weekly and calendar intervals."""

from __future__ import annotations

import calendar
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mockex.intervals import (
    CANONICAL,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Interval,
    civil_from_days,
    days_from_civil,
)

times = st.integers(min_value=0, max_value=4_102_444_800_000)  # 1970 .. 2100
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m * MINUTE_MS)
names = st.sampled_from(sorted(CANONICAL))


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


class CalendarTests(SynchronousTestCase):
    @given(st.integers(min_value=-800_000, max_value=800_000))
    def test_round_trip(self, days: int) -> None:
        """civil_from_days inverts days_from_civil, and agrees with datetime."""
        y, m, d = civil_from_days(days)
        self.assertEqual(days_from_civil(y, m, d), days)
        if 1 <= y <= 9999:
            self.assertEqual(dt.date(1970, 1, 1) + dt.timedelta(days=days), dt.date(y, m, d))


class IntervalTests(SynchronousTestCase):
    def test_week_opens_on_monday(self) -> None:
        """1w candles open at Monday 00:00 UTC (Binance's docs example: 1499040000000)."""
        week = CANONICAL["1w"]
        self.assertEqual(week.floor(1499040000000 + 3 * DAY_MS), 1499040000000)
        self.assertEqual(utc(week.floor(1_795_609_835_507)).weekday(), 0)

    def test_month_is_calendar(self) -> None:
        """1M candles open on the first of each month; lengths follow the calendar."""
        month = CANONICAL["1M"]
        feb_2024 = calendar.timegm((2024, 2, 10, 12, 0, 0)) * 1000
        start = month.floor(feb_2024)
        self.assertEqual(utc(start), dt.datetime(2024, 2, 1, tzinfo=dt.timezone.utc))
        self.assertEqual(month.next_open(start) - start, 29 * DAY_MS)  # leap year
        self.assertEqual(utc(month.shift(start, 11)), dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
        self.assertEqual(month.count_between(start, month.shift(start, 11)), 12)

    def test_offset_moves_day_boundaries(self) -> None:
        """With +08:00 a 1d candle opens at 16:00 UTC the day before."""
        day = CANONICAL["1d"]
        t = calendar.timegm((2026, 11, 25, 3, 0, 0)) * 1000
        self.assertEqual(utc(day.floor(t, 8 * HOUR_MS)), dt.datetime(2026, 11, 24, 16, tzinfo=dt.timezone.utc))
        self.assertEqual(utc(day.floor(t, -HOUR_MS)), dt.datetime(2026, 11, 25, 1, tzinfo=dt.timezone.utc))
        self.assertEqual(utc(day.floor(t - 3 * HOUR_MS, -HOUR_MS)), dt.datetime(2026, 11, 24, 1, tzinfo=dt.timezone.utc))

    def test_month_with_offset(self) -> None:
        """A +08:00 month opens at local midnight of the 1st."""
        month = CANONICAL["1M"]
        t = calendar.timegm((2026, 3, 31, 20, 0, 0)) * 1000  # April 1st 04:00 at +08:00
        self.assertEqual(utc(month.floor(t, 8 * HOUR_MS)), dt.datetime(2026, 3, 31, 16, tzinfo=dt.timezone.utc))

    @given(names, times, offsets)
    def test_floor_contains(self, name: str, t: int, offset: int) -> None:
        """floor(t) <= t < next_open(floor(t)), and floor is idempotent."""
        interval = CANONICAL[name]
        opened = interval.floor(t, offset)
        self.assertLessEqual(opened, t)
        self.assertLess(t, interval.next_open(opened, offset))
        self.assertEqual(interval.floor(opened, offset), opened)
        self.assertEqual(interval.ceil(opened, offset), opened)

    @given(names, times, offsets, st.integers(min_value=-50, max_value=50))
    def test_shift_and_count(self, name: str, t: int, offset: int, n: int) -> None:
        """shift by n then count_between gives n + 1 candles; opens() agrees with shift."""
        interval = CANONICAL[name]
        a = interval.floor(t, offset)
        b = interval.shift(a, n, offset)
        self.assertEqual(interval.floor(b, offset), b)
        lo, hi = min(a, b), max(a, b)
        self.assertEqual(interval.count_between(lo, hi, offset), abs(n) + 1)
        opens = list(interval.opens(lo, abs(n) + 1, offset))
        self.assertEqual(opens[-1], hi)
        self.assertEqual(opens, sorted(set(opens)))

    def test_fixed_anchor_normalised(self) -> None:
        """An anchor is kept modulo the length, so equal intervals compare equal."""
        self.assertEqual(Interval.fixed(DAY_MS, DAY_MS + 5), Interval.fixed(DAY_MS, 5))

"""
Candle intervals as venue-neutral arithmetic on epoch milliseconds.

Every venue names its intervals differently (Binance ``1h``, Bybit ``60``, OKX ``1H``,
Coinbase ``ONE_HOUR``) but they all mean one of two shapes:

* a fixed length of time, anchored somewhere on the epoch axis (``1m`` is 60 000 ms
  anchored at 0; ``1w`` is 7 days anchored at Monday 1970-01-05), or
* a number of calendar months (``1M``), whose lengths vary.

An optional time-zone offset moves where the boundaries fall (Binance's ``timeZone``
parameter and ``@+08:00`` stream suffix): the candle opens at local midnight, but every
timestamp stays a UTC epoch value.

All arithmetic is integer and allocation-free so that enumerating a thousand open times
is cheap; calendar conversion uses Howard Hinnant's ``days_from_civil`` algorithm.
"""

from __future__ import annotations

from typing import Iterator

from attrs import frozen

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

#: 1970-01-05 00:00 UTC, the first Monday of the epoch.
MONDAY_ANCHOR_MS = 4 * DAY_MS


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The (year, month, day) of a count of days since 1970-01-01."""
    days += 719468
    era = (days if days >= 0 else days - 146096) // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year + (month <= 2), month, day


def _month_index(ms: int) -> int:
    year, month, _ = civil_from_days(ms // DAY_MS)
    return year * 12 + (month - 1)


def _month_start(index: int) -> int:
    year, month0 = divmod(index, 12)
    return days_from_civil(year, month0 + 1, 1) * DAY_MS


@frozen
class Interval:
    """
    A candle length.

    ``months == 0``: a fixed length of ``ms`` milliseconds whose boundaries fall on
    ``anchor_ms + k * ms``. ``months > 0``: that many calendar months, starting in
    January (so ``3`` months start in January, April, July and October).
    """

    ms: int
    anchor_ms: int = 0
    months: int = 0

    @classmethod
    def fixed(cls, ms: int, anchor_ms: int = 0) -> "Interval":
        return cls(ms=ms, anchor_ms=anchor_ms % ms)

    @classmethod
    def calendar_months(cls, months: int) -> "Interval":
        return cls(ms=0, anchor_ms=0, months=months)

    @property
    def nominal_ms(self) -> int:
        """Length in ms; for months, an average (used only for sizing, never for boundaries)."""
        return self.ms if not self.months else self.months * 2_629_746_000

    def floor(self, t_ms: int, offset_ms: int = 0) -> int:
        """Open time of the candle that contains ``t_ms``."""
        if not self.months:
            shift = self.anchor_ms - offset_ms
            return (t_ms - shift) // self.ms * self.ms + shift
        local = t_ms + offset_ms
        index = _month_index(local)
        index -= index % self.months
        return _month_start(index) - offset_ms

    def ceil(self, t_ms: int, offset_ms: int = 0) -> int:
        """Open time of the first candle that opens at or after ``t_ms``."""
        opened = self.floor(t_ms, offset_ms)
        return opened if opened == t_ms else self.next_open(opened, offset_ms)

    def next_open(self, open_ms: int, offset_ms: int = 0) -> int:
        """Open time of the candle after the one opening at ``open_ms``."""
        return self.shift(open_ms, 1, offset_ms)

    def shift(self, open_ms: int, count: int, offset_ms: int = 0) -> int:
        """The open time ``count`` candles after (or before, if negative) ``open_ms``."""
        if not self.months:
            return open_ms + count * self.ms
        index = _month_index(open_ms + offset_ms)
        return _month_start(index + count * self.months) - offset_ms

    def opens(self, first_open: int, count: int, offset_ms: int = 0) -> Iterator[int]:
        """``count`` consecutive open times starting at ``first_open``."""
        if not self.months:
            step = self.ms
            return iter(range(first_open, first_open + count * step, step))
        return (self.shift(first_open, i, offset_ms) for i in range(count))

    def count_between(self, first_open: int, last_open: int, offset_ms: int = 0) -> int:
        """How many candles open in ``[first_open, last_open]`` (both candle opens)."""
        if last_open < first_open:
            return 0
        if not self.months:
            return (last_open - first_open) // self.ms + 1
        a = _month_index(first_open + offset_ms)
        b = _month_index(last_open + offset_ms)
        return (b - a) // self.months + 1


# The intervals most venues share, by Binance's names (mockex's canonical names).
CANONICAL: dict[str, Interval] = {
    "1s": Interval.fixed(SECOND_MS),
    "1m": Interval.fixed(MINUTE_MS),
    "3m": Interval.fixed(3 * MINUTE_MS),
    "5m": Interval.fixed(5 * MINUTE_MS),
    "15m": Interval.fixed(15 * MINUTE_MS),
    "30m": Interval.fixed(30 * MINUTE_MS),
    "1h": Interval.fixed(HOUR_MS),
    "2h": Interval.fixed(2 * HOUR_MS),
    "4h": Interval.fixed(4 * HOUR_MS),
    "6h": Interval.fixed(6 * HOUR_MS),
    "8h": Interval.fixed(8 * HOUR_MS),
    "12h": Interval.fixed(12 * HOUR_MS),
    "1d": Interval.fixed(DAY_MS),
    "3d": Interval.fixed(3 * DAY_MS),
    "1w": Interval.fixed(WEEK_MS, MONDAY_ANCHOR_MS),
    "1M": Interval.calendar_months(1),
}

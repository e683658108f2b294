"""
Server time of ``GET /api/v3/klines?limit=1000`` at any date, cold and warm.

    /tmp/venv/bin/python bench/history.py [--model NAME] [--repeat N]

In-process and bounded: the Binance venue's handler is called directly with a fresh
server state (cold: new CandleSource and RowCache, nothing cached) and then again with
the same request (warm). Dates are spread from 2017-09 to 2035-12 with "now" at
2036-01-01, so the figures also show whether cost depends on the distance from now.
No socket, no reactor, no wall clock in the library: only this script reads a timer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockex.interfaces import RestRequest  # noqa: E402
from mockex.intervals import DAY_MS, days_from_civil  # noqa: E402
from mockex.market import CandleSource  # noqa: E402
from mockex.server import VenueContext  # noqa: E402
from mockex.tap import freeze_startup_heap  # noqa: E402
from mockex.venues.binance import DEFAULT_MARKETS, klines  # noqa: E402

NOW_MS = days_from_civil(2036, 1, 1) * DAY_MS
INTERVALS = ["1s", "1m", "5m", "15m", "1h", "4h", "12h", "1d", "3d", "1w", "1M"]
YEARS = [2017, 2019, 2021, 2023, 2025, 2027, 2029, 2031, 2033, 2035]


def context(model: str | None) -> VenueContext:
    kwargs = {} if model is None else {"model_factory": model}
    source = CandleSource(seed=1, **kwargs)
    return VenueContext(source, {"BTCUSDT": DEFAULT_MARKETS[0]}, _FixedClock(), {})


class _FixedClock:
    def now_ms(self) -> int:
        return NOW_MS


def request(interval: str, end_ms: int) -> RestRequest:
    args = {"symbol": ["BTCUSDT"], "interval": [interval], "endTime": [str(end_ms)], "limit": ["1000"]}
    return RestRequest("GET", "/api/v3/klines", args, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model name for every market (default: the default)")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs per (interval, year)")
    args = parser.parse_args()
    # as twistd does once running (mockex.tap): a first request builds the per-parameter
    # tables, then the start-up heap is frozen, so a full collection during a measured
    # request scans what requests allocated, not every module and table
    klines(request("1m", NOW_MS - 10**9), context(args.model))
    freeze_startup_heap()
    print(f"{'interval':>8} {'rows':>5} {'cold min':>9} {'cold median':>12} {'cold max':>9} {'warm median':>12}   cold ms by year {YEARS[0]}..{YEARS[-1]}")
    for name in INTERVALS:
        cold: list[float] = []
        warm: list[float] = []
        by_year: list[float] = []
        rows = 0
        for year in YEARS:
            end = days_from_civil(year, 10, 1) * DAY_MS + 12_345_678
            year_cold = []
            for r in range(args.repeat):
                ctx = context(args.model)
                req = request(name, end + r * 7_777_000)
                t0 = time.perf_counter()
                response = klines(req, ctx)
                t1 = time.perf_counter()
                klines(req, ctx)
                t2 = time.perf_counter()
                assert response.status == 200, response.body[:200]
                rows = response.body.count(b"[") - 1
                year_cold.append((t1 - t0) * 1000)
                warm.append((t2 - t1) * 1000)
            cold.extend(year_cold)
            by_year.append(statistics.median(year_cold))
        print(
            f"{name:>8} {rows:>5} {min(cold):>7.2f}ms {statistics.median(cold):>10.2f}ms {max(cold):>7.2f}ms "
            f"{statistics.median(warm):>10.3f}ms   " + " ".join(f"{v:.1f}" for v in by_year)
        )


if __name__ == "__main__":
    main()

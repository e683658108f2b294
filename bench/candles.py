"""
Time to serve 1000 candles, in process, at several distances from now.

Every measurement goes through the whole REST path of a real
:class:`~mockex.server.MockServer` on a ``MemoryReactorClock``
(:class:`mockex.testing.MemoryServer`: Site, Klein, the venue handler, the row
cache; ``StubTreq`` instead of a socket). *Cold* builds a fresh server (empty node
tree, empty row cache) before each timed request; *warm* repeats the request on the
server that has just answered it. Each cold request starts after a ``gc.collect()``
so that one measurement does not pay for the previous one's garbage. The floor is the same path answering
``/api/v3/time`` (what any request costs through StubTreq and Klein).

    python bench/candles.py [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
try:
    import mockex  # noqa: F401 - a tree on the path already (run.py --src) wins
except ImportError:
    sys.path.insert(0, str(ROOT))

from mockex.intervals import DAY_MS, HOUR_MS, MINUTE_MS  # noqa: E402
from mockex.testing import DEFAULT_NOW_MS, MemoryServer  # noqa: E402

#: Market time of every measurement: 2026-11-25 12:34:56.789 UTC (not on a boundary).
NOW_MS = DEFAULT_NOW_MS + 12 * HOUR_MS + 34 * MINUTE_MS + 56_789
YEAR_MS = 365 * DAY_MS
#: (label, endTime distance before now in ms; None: no endTime, the newest 1000)
DISTANCES: tuple[tuple[str, int | None], ...] = (
    ("now", None),
    ("1 day", DAY_MS),
    ("1 year", YEAR_MS),
    ("8 years", 8 * YEAR_MS),
)
INTERVALS = ("1m", "1h", "1d")
LIMIT = 1000


def _params(interval: str, distance: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {"symbol": "BTCUSDT", "interval": interval, "limit": LIMIT}
    if distance is not None:
        params["endTime"] = NOW_MS - distance
    return params


def _timed_get(server: MemoryServer, path: str, params: dict[str, Any], cpu: list[float] | None = None) -> tuple[float, Any]:
    c0 = time.process_time()
    t0 = time.perf_counter()
    response = server.request("GET", path, params)
    elapsed = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    if response.status != 200:
        raise RuntimeError(f"{path} {params} answered {response.status}: {response.body[:200]!r}")
    return elapsed, response


def _count_rows(body: bytes) -> int:
    if body == b"[]":
        return 0
    return body.count(b"],[") + 1


def measure(runs: int = 5, warm_runs: int = 5, before_round: Any = None) -> dict[str, Any]:
    """
    ``{"floor_ms": ..., "rows": [{interval, distance, count, cold_ms, warm_ms}, ...]}``.

    The cells (interval x distance) are measured round-robin, one cold request of
    each per round, ``runs`` rounds: a slow phase of the machine (a busy SMT sibling,
    another tenant) then touches every cell alike instead of a few.
    """
    # Import, first-call and heap-growth costs are not what is measured: one
    # throwaway pass over the intervals first.
    for interval in INTERVALS:
        scratch = MemoryServer(now_ms=NOW_MS)
        _timed_get(scratch, "/api/v3/klines", _params(interval, 2 * YEAR_MS))
    cells = [(interval, label, distance) for interval in INTERVALS for label, distance in DISTANCES]
    data: dict[tuple[str, str], dict[str, Any]] = {
        (interval, label): {"cold": [], "cold_cpu": [], "warm": [], "count": 0, "first_open": None}
        for interval, label, _ in cells
    }
    floor: list[float] = []
    for _ in range(runs):
        if before_round is not None:
            before_round()  # e.g. wait for a quiet machine
        for interval, label, distance in cells:
            params = _params(interval, distance)
            cell = data[(interval, label)]
            server = MemoryServer(now_ms=NOW_MS)
            gc.collect()  # the previous server's garbage is not this request's cost
            elapsed, response = _timed_get(server, "/api/v3/klines", params, cell["cold_cpu"])
            cell["cold"].append(elapsed)
            cell["count"] = _count_rows(response.body)
            rows_json = response.json()
            cell["first_open"] = rows_json[0][0] if rows_json else None
            for _ in range(warm_runs):
                cell["warm"].append(_timed_get(server, "/api/v3/klines", params)[0])
            floor.append(_timed_get(server, "/api/v3/time", {})[0])
    rows = []
    for interval, label, _ in cells:
        cell = data[(interval, label)]
        rows.append({
            "interval": interval,
            "distance": label,
            "count": cell["count"],
            "first_open_ms": cell["first_open"],
            "cold_ms": statistics.median(cell["cold"]) * 1000.0,
            "cold_all_ms": [round(c * 1000.0, 2) for c in cell["cold"]],
            # CPU time of this process: what other processes on the machine cannot inflate
            "cold_cpu_ms": statistics.median(cell["cold_cpu"]) * 1000.0,
            "warm_ms": statistics.median(cell["warm"]) * 1000.0,
        })
    return {"now_ms": NOW_MS, "floor_ms": statistics.median(floor) * 1000.0, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description="1000 candles at several distances, in process")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    result = measure(args.runs)
    print(f"floor (/api/v3/time through StubTreq): {result['floor_ms']:.2f} ms")
    for row in result["rows"]:
        print(
            f"{row['interval']:>3} {row['distance']:>8}: {row['count']:5d} candles  "
            f"cold {row['cold_ms']:8.2f} ms (CPU {row['cold_cpu_ms']:8.2f})  warm {row['warm_ms']:7.2f} ms"
        )


if __name__ == "__main__":
    main()

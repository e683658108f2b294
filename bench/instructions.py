"""
Instructions per cold ``GET /api/v3/klines?limit=1000``, counted by callgrind.

    python bench/instructions.py INTERVAL [YEAR]      # e.g. 1m 2031, 1M 2035

Unlike times on a shared machine, instruction counts do not depend on the load: use
them to decide between two versions of the model or the formatter. Runs this tree's
``klines`` under ``valgrind --tool=callgrind`` with 1 and then 6 cold requests (a fresh
CandleSource each, end date October of YEAR, "now" 2036-01-01, as bench/history.py) and
prints (I6 - I1) / 5. Needs valgrind (``apt-get install -y valgrind``); about a minute.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def count(interval: str, year: int, requests: int) -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__, "--run",
         interval, str(year), str(requests)],
        env=env, capture_output=True, text=True, check=True, timeout=900,
    )
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))  # type: ignore[union-attr]


def run(interval: str, year: int, requests: int) -> None:
    """The measured process: one warm-up request at another date, then ``requests`` cold ones."""
    # bench/history.py's request and fresh server state (this script's directory is on
    # sys.path, and history.py puts the tree first)
    from history import context, request, klines  # type: ignore[import-not-found]
    from mockex.intervals import DAY_MS, days_from_civil

    end = days_from_civil(year, 10, 1) * DAY_MS + 12_345_678
    for at in [end - 400 * DAY_MS] + [end] * requests:
        assert klines(request(interval, at), context(None)).status == 200


def main() -> None:
    if sys.argv[1:2] == ["--run"]:
        run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    interval = sys.argv[1]
    year = int(sys.argv[2]) if len(sys.argv) == 3 else 2031
    one, six = count(interval, year, 1), count(interval, year, 6)
    print(f"{interval} {year}: {(six - one) // 5 / 1e6:.1f} M instructions per cold request")


if __name__ == "__main__":
    main()

"""
Draw docs/models.png: a generated series beside its statistics.

    /tmp/venv/bin/pip install matplotlib   # not a runtime dependency of mockex
    /tmp/venv/bin/python docs/models_plot.py

Seven days of 1m BTC/USDT candles (seed 1) from the stylized and the GBM model: price,
1m returns, the distribution of standardized returns against a normal, and the
autocorrelation of returns and of |returns|.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockex.intervals import CANONICAL, DAY_MS, days_from_civil  # noqa: E402
from mockex.market import CandleSource, Market  # noqa: E402

BTC = Market.create("BTC", "USDT", 50_000.0, price_decimals=2, qty_decimals=5,
                    listed_ms=1_502_942_400_000, daily_volume=20_000.0, daily_trades=3_000_000)
START = days_from_civil(2024, 1, 1) * DAY_MS
DAYS = 7


def acf(xs: list[float], lag: int) -> float:
    n = len(xs)
    m = sum(xs) / n
    d = [x - m for x in xs]
    return sum(d[i] * d[i + lag] for i in range(n - lag)) / sum(v * v for v in d)


def series(model: str) -> tuple[list[float], list[float], list[float]]:
    source = CandleSource(seed=1, model_factory=model)
    candles = source.candles(BTC, CANONICAL["1m"], START, DAYS * 1440, START + 30 * DAY_MS)
    closes = [c.close / 100 for c in candles]
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:])]
    return closes, returns, [c.volume / 1e5 for c in candles]


def main() -> None:
    fig, axes = plt.subplots(2, 4, figsize=(18, 7))
    lags = list(range(1, 121))
    for row, model in enumerate(("stylized", "gbm")):
        closes, r, volume = series(model)
        n = len(r)
        m = sum(r) / n
        sd = math.sqrt(sum((x - m) ** 2 for x in r) / n)
        kurt = sum((x - m) ** 4 for x in r) / n / sd**4
        ax = axes[row][0]
        ax.plot([i / 1440 for i in range(len(closes))], closes, lw=0.6)
        ax.set_title(f"{model}: 1m close, {DAYS} days")
        ax.set_xlabel("day")
        ax2 = ax.twinx()
        ax2.bar([i / 1440 for i in range(len(volume))], volume, width=1 / 1440, color="grey", alpha=0.3)
        ax2.set_yticks([])
        ax = axes[row][1]
        ax.plot(r, lw=0.4)
        ax.set_title("1m log returns")
        ax = axes[row][2]
        z = [(x - m) / sd for x in r]
        ax.hist(z, bins=120, range=(-8, 8), density=True, log=True, alpha=0.7, label="returns")
        xs = [i / 10 for i in range(-80, 81)]
        ax.plot(xs, [math.exp(-x * x / 2) / math.sqrt(2 * math.pi) for x in xs], "r", lw=1, label="normal")
        ax.set_ylim(1e-5, 1)
        ax.set_title(f"standardized returns: excess kurtosis {kurt - 3:.1f}")
        ax.legend()
        ax = axes[row][3]
        a = [abs(x) for x in r]
        ax.plot(lags, [acf(a, k) for k in lags], label="ACF |r|")
        ax.plot(lags, [acf(r, k) for k in lags], label="ACF r")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylim(-0.15, 0.45)
        ax.set_xlabel("lag (minutes)")
        ax.set_title("autocorrelation")
        ax.legend()
    fig.tight_layout()
    out = Path(__file__).with_name("models.png")
    fig.savefig(out, dpi=80)
    print(out)


if __name__ == "__main__":
    main()

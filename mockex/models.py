"""
Market models that behave like a market: seekable, top-down, deterministic.

Every model here plugs into :class:`~mockex.market.CandleSource` through
:class:`~mockex.market.ICandleModel` (``day()`` and ``split()``) and keeps the tree's
guarantees: any node of any date is six steps from its day, aggregation is exact
(integers), and the same seed gives the same bytes in any process.

:class:`StylizedModel` (the default, ``"stylized"``) reproduces the stylized facts of
crypto returns with a *multiplicative cascade* that fits the tree:

* **Volatility clustering across days**: a day's variance is ``sigma0**2`` times a
  log-normal factor made of seeded value-noise processes at scales of days to months
  (each evaluated at the day, so it is seekable), times the day's *activity*.
* **Clustering and fat tails inside the day**: when a node splits, each child's share of
  the node's variance is a log-normal weight (normalised to the node's variance, so
  returns stay uncorrelated). A child's variance is thus the day's times a product of
  up to six weights: the multifractal random cascade, giving fat-tailed 1m returns and
  ``|r|`` autocorrelation that decays slowly over dozens of lags.
* **Jumps**: rare jump days (their variance multiplied) and rare jump nodes, whose
  share of the parent's variance is concentrated into one child at every level down to
  one second, so the move happens fast.
* **Intraday profile**: a seasonal factor over the UTC day on variance and volume, and
  a weekday factor (weekends quieter).
* **Volume rises with |return| and with local variance**; trade counts follow volume;
  taker-buy volume leans with the candle's direction.

Children are a Brownian bridge with *heterogeneous* variances from the node's open to
its close; a node's high and low are drawn from the exact law of a Brownian bridge's
maximum and minimum, so children fit inside them (a path that leaves the range is
redrawn, then, rarely, shrunk).

:class:`GBMModel` (``"gbm"``) is the same construction with every effect off: constant
volatility, no jumps, flat profile. Both keep the price near the configured level over
the years with independent anchors every ``block_days`` whose spread,
``sigma0 * sqrt(block_days / 2)``, makes day returns uncorrelated within a block.

Randomness is counter-based: ``shake_128(seed, market, what, where)`` expanded to as
many 64-bit words as a node needs, no generator object to seed.
"""

from __future__ import annotations

import math
import struct
from operator import gt as _gt
from functools import lru_cache
from hashlib import shake_128
from typing import Callable, Mapping

from attrs import frozen
from zope.interface import implementer

from mockex.intervals import DAY_MS, HOUR_MS
from mockex.market import (
    BRANCHING,
    LEVEL_MS,
    QUOTE_DECIMALS,
    ICandleModel,
    Market,
    Node,
    RandomWalkModel,
    split_integer,
    stable_seed,
)

_TWO_PI = 2.0 * math.pi
_U52 = 2.0**-52


@lru_cache(maxsize=None)
def _struct(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}Q")


def uniforms(key: bytes, n: int) -> list[float]:
    """``n`` uniforms in the open interval (0, 1), a pure function of ``key``."""
    words = _struct(n).unpack(shake_128(key).digest(8 * n))
    return [((w >> 12) + 0.5) * _U52 for w in words]


def normals(u: list[float], start: int, count: int) -> list[float]:
    """``count`` (even) standard normal deviates from ``u[start:start + count]`` (Box-Muller)."""
    log, sqrt, cos, sin = math.log, math.sqrt, math.cos, math.sin
    radii = [sqrt(-2.0 * log(x)) for x in u[start:start + count:2]]
    angles = [_TWO_PI * x for x in u[start + 1:start + count:2]]
    out = [0.0] * count
    out[0::2] = [r * cos(t) for r, t in zip(radii, angles)]
    out[1::2] = [r * sin(t) for r, t in zip(radii, angles)]
    return out


@lru_cache(maxsize=None)
def _smoothstep(scale: int) -> tuple[float, ...]:
    """``t * t * (3 - 2t)`` at ``t = r / scale`` for ``r`` in ``range(scale)``."""
    out = []
    for rem in range(scale):
        t = rem / scale
        out.append(t * t * (3.0 - 2.0 * t))
    return tuple(out)


def bridge_max(a: float, b: float, var: float, u: float) -> float:
    """A draw of the maximum of a Brownian bridge from ``a`` to ``b`` with variance ``var``."""
    d = b - a
    return 0.5 * (a + b + math.sqrt(d * d - 2.0 * var * math.log(u)))


@frozen
class ModelParams:
    """
    Parameters of :class:`StylizedModel`. The defaults are calibrated to crypto 1m data:
    excess kurtosis of 1m log returns well above 3, ``|r|`` autocorrelation positive
    over dozens of lags, no autocorrelation of ``r``.
    """

    #: days between price anchors (mean reversion to the configured price)
    block_days: int = 128
    #: anchor spread in units of ``sigma0 * sqrt(block_days / 2)``
    anchor_scale: float = 1.0
    #: value-noise scales (days) and amplitude of the daily log-volatility process
    vol_scales: tuple[int, ...] = (3, 10, 30, 100)
    vol_amplitude: float = 0.22
    #: i.i.d. day-to-day noise of log-volatility
    day_vol_noise: float = 0.15
    #: how strongly variance follows activity (``sigma**2 ~ activity**k``)
    vol_activity: float = 1.5
    #: value-noise scales (days) and total amplitude of activity (trades and volume)
    activity_scales: tuple[int, ...] = (7, 30, 120)
    activity_amplitude: float = 0.2
    #: weekday activity, Monday first (mean 1)
    weekday: tuple[float, ...] = (1.02, 1.07, 1.07, 1.07, 1.04, 0.88, 0.85)
    #: log-normal sigma of the variance cascade per level (4h, 1h, 15m, 5m, 1m, 1s)
    cascade: tuple[float, ...] = (0.35, 0.4, 0.45, 0.45, 0.45, 0.5)
    #: probability and variance multiplier of a jump day
    jump_day_probability: float = 0.02
    jump_day_variance: float = 4.0
    #: probability that a child of a split starts a jump; a jump child takes this many
    #: times the variance of all its siblings together
    jump_node_probability: float = 0.003
    jump_share: float = 2.0
    #: intraday seasonality over the UTC day: relative amplitude on variance and volume,
    #: and the UTC hour of the peak
    intraday_vol: float = 0.3
    intraday_volume: float = 0.45
    peak_hour: float = 15.0
    #: volume: log-normal noise, elasticity to local variance, gain with |return|/sd
    volume_noise: float = 0.3
    volume_variance: float = 0.5
    volume_abs_return: float = 0.6
    #: taker-buy share leans this much with the candle's direction
    taker_tilt: float = 0.3
    #: highs and lows are drawn from the law of a Brownian bridge's extremes with this
    #: many times the node's variance (room for the children's path)
    range_variance: float = 1.0


#: Geometric Brownian motion: constant volatility, no jumps, flat profiles.
GBM_PARAMS = ModelParams(
    vol_amplitude=0.0,
    day_vol_noise=0.0,
    vol_activity=0.0,
    activity_amplitude=0.0,
    weekday=(1.0,) * 7,
    cascade=(0.0,) * 6,
    jump_day_probability=0.0,
    jump_node_probability=0.0,
    intraday_vol=0.0,
    intraday_volume=0.0,
    volume_variance=0.0,
    volume_abs_return=0.0,
    taker_tilt=0.0,
)


class _Block:
    """A block of days: log prices at its day boundaries, day variances, jump flags."""

    __slots__ = ("xs", "vs", "jumps", "cum", "activity")

    def __init__(
        self, xs: list[float], vs: list[float], jumps: list[int], cum: list[float], activity: list[float]
    ) -> None:
        self.xs = xs
        self.vs = vs
        self.jumps = jumps
        #: cumulative activity N(d) at the block's days and the day after it
        self.cum = cum
        self.activity = activity


@implementer(ICandleModel)
class StylizedModel:
    """
    Multiscale stochastic volatility with a multiplicative cascade, jumps, intraday
    profiles and volume that follows activity. See the module docstring and
    docs/models.md. Nodes carry two extra fields after the ten integers: the node's
    return variance (float) and a jump flag.
    """

    name = "stylized"

    def __init__(self, seed: int, params: ModelParams = ModelParams()) -> None:
        self.seed = seed
        self.params = params
        p = params
        # variance correction so that E[sigma_day**2] = sigma0**2 (value noise with
        # smoothstep interpolation has about 0.6 of its knots' variance)
        self._vol_correction = 2.0 * (len(p.vol_scales) * 0.6 * p.vol_amplitude**2 + p.day_vol_noise**2)
        self._activity_amp = (
            p.activity_amplitude / len(p.activity_scales) if p.activity_scales else 0.0
        )
        mean_w = sum(p.weekday) / 7.0
        weekday = [w / mean_w for w in p.weekday]
        self._weekday_cum = [sum(w - 1.0 for w in weekday[:j]) for j in range(8)]
        self._prefixes: dict[Market, bytes] = {}
        self._day_consts: dict[Market, tuple] = {}
        self._block = lru_cache(maxsize=1024)(self._block_uncached)
        self._day_chunk = lru_cache(maxsize=1024)(self._day_chunk_uncached)
        self._knots = lru_cache(maxsize=4096)(self._knots_uncached)
        self._trade_base = lru_cache(maxsize=256)(self._trade_total)
        self._vol_profile = self._profiles(p.intraday_vol)
        self._volume_profile = self._profiles(p.intraday_volume)
        # Per split level, what split() needs: (k, kk, words, lambda, lambda**2 / 2,
        # nodes per day, variance profile, volume profile, struct of the words).
        self._level_constants = []
        for level, k in enumerate(BRANCHING):
            kk = k + k % 2
            lam = p.cascade[level]
            self._level_constants.append((
                k, kk, 5 * k + kk + 3, lam, 0.5 * lam * lam, DAY_MS // LEVEL_MS[level],
                self._vol_profile[level], self._volume_profile[level], _struct(5 * k + kk + 3),
            ))

    # -- randomness -----------------------------------------------------------------

    def _prefix(self, market: Market) -> bytes:
        prefix = self._prefixes.get(market)
        if prefix is None:
            tag = stable_seed(self.seed, market.key, self.name).to_bytes(8, "big")
            prefix = self._prefixes[market] = tag
        return prefix

    def _u(self, market: Market, what: bytes, where: int, n: int) -> list[float]:
        return uniforms(self._prefix(market) + what + where.to_bytes(8, "big", signed=True), n)

    def _knots_uncached(self, market: Market, what: bytes, chunk: int) -> list[float]:
        return self._u(market, what, chunk, 64)

    def _noise_series(self, market: Market, what: bytes, scale: int, d0: int, count: int, gaussian: bool) -> list[float]:
        """Seeded value noise with knots every ``scale`` days, at days ``d0 .. d0 + count - 1``."""
        tag = what + scale.to_bytes(2, "big")
        smooth = _smoothstep(scale)
        end = d0 + count
        k0, rem = divmod(d0, scale)
        k1 = (end - 1) // scale + 1
        knots = self._knot_values(market, tag, k0, k1 + 1, gaussian)
        out: list[float] = []
        # one knot interval at a time: [k * scale, (k + 1) * scale)
        d = d0
        for k in range(k0, k1):
            y0 = knots[k - k0]
            dy = knots[k + 1 - k0] - y0
            stop = min(scale, rem + end - d)
            out += [y0 + dy * sm for sm in smooth[rem:stop]]
            d += stop - rem
            rem = 0
        return out

    def _knot_values(self, market: Market, tag: bytes, j0: int, j1: int, gaussian: bool) -> list[float]:
        """:meth:`_knot` for ``j0 <= j < j1``, a chunk of knots at a time."""
        out: list[float] = []
        log, sqrt, cos = math.log, math.sqrt, math.cos
        j = j0
        while j < j1:
            chunk, i = divmod(j, 32)
            stop = min(32, i + j1 - j)
            u = self._knots(market, tag, chunk)
            if gaussian:
                out += [sqrt(-2.0 * log(u[2 * m])) * cos(_TWO_PI * u[2 * m + 1]) for m in range(i, stop)]
            else:
                out += [2.0 * u[2 * m] - 1.0 for m in range(i, stop)]
            j += stop - i
        return out

    def _knot(self, market: Market, tag: bytes, j: int, gaussian: bool) -> float:
        chunk, i = divmod(j, 32)
        u = self._knots(market, tag, chunk)
        if gaussian:
            return math.sqrt(-2.0 * math.log(u[2 * i])) * math.cos(_TWO_PI * u[2 * i + 1])
        return 2.0 * u[2 * i] - 1.0

    def _cumulative_activity(self, market: Market, d0: int, count: int) -> list[float]:
        """``N(d)`` for ``count`` days from ``d0``: a day's activity is ``1 + N(d + 1) - N(d)``."""
        cum = self._weekday_cum
        out = [cum[(d + 3) % 7] for d in range(d0, d0 + count)]
        amp = self._activity_amp
        if amp:
            for s in self.params.activity_scales:
                series = self._noise_series(market, b"act", s, d0, count, False)
                out = [n + amp * s * y for n, y in zip(out, series)]
        return out

    def _trade_index(self, market: Market, day: int) -> int:
        """Trades before ``day`` since 1970: increasing, O(1), activity-weighted."""
        block, off = divmod(day, self.params.block_days)
        return int(max(1, market.daily_trades) * (day + self._block(market, block).cum[off]))

    def _trade_total(self, market: Market) -> int:
        return self._trade_index(market, market.listed_ms // DAY_MS)

    def _anchor(self, market: Market, block: int) -> float:
        p = self.params
        u = self._u(market, b"anc", block, 2)
        z = math.sqrt(-2.0 * math.log(u[0])) * math.cos(_TWO_PI * u[1])
        sd = market.daily_volatility * math.sqrt(p.block_days / 2.0) * p.anchor_scale
        return math.log(market.price) + sd * z

    def _block_uncached(self, market: Market, block: int) -> _Block:
        p = self.params
        n = p.block_days
        d0 = block * n
        u = self._u(market, b"blk", block, 4 * n)
        zs = normals(u, 0, 2 * n)
        cum = self._cumulative_activity(market, d0, n + 1)
        activity = [1.0 + b - a for a, b in zip(cum, cum[1:])]
        x = [0.0] * n
        if p.vol_amplitude:
            amp = p.vol_amplitude
            for s in p.vol_scales:
                series = self._noise_series(market, b"vol", s, d0, n, True)
                x = [a + amp * y for a, y in zip(x, series)]
        base = market.daily_volatility**2
        correction = self._vol_correction
        noise = p.day_vol_noise
        ka = p.vol_activity
        exp = math.exp
        vs = [base * exp(2.0 * (a + noise * z) - correction) for a, z in zip(x, zs[n:])]
        if ka:
            vs = [var * act**ka for var, act in zip(vs, activity)]
        jump_p = p.jump_day_probability
        jumps = [1 if x < jump_p else 0 for x in u[2 * n:3 * n]]
        if 1 in jumps:
            jv = p.jump_day_variance
            vs = [var * jv if jump else var for var, jump in zip(vs, jumps)]
        start = self._anchor(market, block)
        end = self._anchor(market, block + 1)
        xs = [start]
        x0 = start
        remaining = sum(vs)
        for i in range(n - 1):
            v = vs[i]
            x0 += (end - x0) * v / remaining + math.sqrt(v * (remaining - v) / remaining) * zs[i]
            remaining -= v
            xs.append(x0)
        xs.append(end)
        return _Block(xs, vs, jumps, cum, activity)

    def _day_constants(self, market: Market) -> tuple:
        """What day() needs of a market, computed once."""
        consts = self._day_consts.get(market)
        if consts is None:
            p = self.params
            consts = self._day_consts[market] = (
                10**market.price_decimals,
                market.daily_volatility,
                max(1, market.daily_trades),
                market.daily_volume * 10**market.qty_decimals,
                10 ** (QUOTE_DECIMALS - market.price_decimals - market.qty_decimals),
                self._trade_base(market),
                self._prefix(market) + b"day",
                (1.0 + p.volume_abs_return * 0.8),
                p.volume_noise**2,
            )
        return consts

    def day(self, market: Market, day_index: int) -> Node:
        chunk, i = divmod(day_index, _DAY_CHUNK)
        return self._day_chunk(market, chunk)[i]

    def _day_chunk_uncached(self, market: Market, chunk: int) -> tuple[Node, ...]:
        """
        The days ``chunk * _DAY_CHUNK ..`` in one go (a coarse request reads runs of
        days): :meth:`_one_day`'s float operations, in its order, in one loop.
        """
        p = self.params
        ticks, sigma0, rate, daily_lots, scale, trade_base, prefix, gain_norm, vn2 = (
            self._day_consts.get(market) or self._day_constants(market)
        )
        exp, log, sqrt, cos, tanh = math.exp, math.log, math.sqrt, math.cos, math.tanh
        rv = p.range_variance
        gain_abs = p.volume_abs_return
        vn = p.volume_noise
        vvar = p.volume_variance
        half_tilt = 0.5 * p.taker_tilt
        unpack = _WORDS6.unpack
        block_days = p.block_days
        d0 = chunk * _DAY_CHUNK
        out = []
        append = out.append
        blk_index = None
        for day_index in range(d0, d0 + _DAY_CHUNK):
            b, off = divmod(day_index, block_days)
            if b != blk_index:
                blk_index = b
                blk = self._block(market, b)
                xs = blk.xs
                bvs = blk.vs
                cum = blk.cum
                activity = blk.activity
                bjumps = blk.jumps
            x0 = xs[off]
            x1 = xs[off + 1]
            var = bvs[off]
            u0, u1, u2, u3, u4, _ = unpack(shake_128(prefix + day_index.to_bytes(8, "big", signed=True)).digest(48))
            o = max(1, round(exp(x0) * ticks))
            c = max(1, round(exp(x1) * ticks))
            rvar = var * rv
            d = x1 - x0
            top = 0.5 * (x0 + x1 + sqrt(d * d - 2.0 * rvar * log(((u0 >> 12) + 0.5) * _U52)))
            h = max(o, c, round(exp(top) * ticks))
            d = -x1 - -x0
            bottom = 0.5 * (-x0 + -x1 + sqrt(d * d - 2.0 * rvar * log(((u1 >> 12) + 0.5) * _U52)))
            low = max(1, min(o, c, round(exp(-bottom) * ticks)))
            first = int(rate * (day_index + cum[off]))
            trades = int(rate * (day_index + 1 + cum[off + 1])) - first
            z = sqrt(-2.0 * log(((u2 >> 12) + 0.5) * _U52)) * cos(_TWO_PI * (((u3 >> 12) + 0.5) * _U52))
            sd = sqrt(var)
            gain = (1.0 + gain_abs * abs(x1 - x0) / sd) / gain_norm
            lots = (
                daily_lots
                * activity[off]
                * (sd / sigma0) ** vvar
                * gain
                * exp(vn * z - 0.5 * vn2)
            )
            lots = max(trades, round(lots)) if trades else 0
            quote = round(lots * (o + h + low + c) / 4 * scale)
            share = 0.5 + half_tilt * tanh((x1 - x0) / sd) + 0.04 * ((((u4 >> 12) + 0.5) * _U52) - 0.5)
            taker = round(lots * share)
            taker_quote = quote * taker // lots if lots else 0
            append((o, h, low, c, lots, quote, trades, taker, taker_quote, first - trade_base, var, bjumps[off]))
        return tuple(out)

    def _one_day(self, market: Market, day_index: int, consts: tuple) -> Node:
        # The plain formulation's float operations, in its order, with market constants
        # and the bridge-extreme law inlined (same seed, same bytes).
        p = self.params
        ticks, sigma0, rate, daily_lots, scale, trade_base, prefix, gain_norm, vn2 = consts
        blk_index, off = divmod(day_index, p.block_days)
        blk = self._block(market, blk_index)
        xs = blk.xs
        x0 = xs[off]
        x1 = xs[off + 1]
        var = blk.vs[off]
        words = _WORDS6.unpack(shake_128(prefix + day_index.to_bytes(8, "big", signed=True)).digest(48))
        u = [((w >> 12) + 0.5) * _U52 for w in words]
        exp, log, sqrt = math.exp, math.log, math.sqrt
        o = max(1, round(exp(x0) * ticks))
        c = max(1, round(exp(x1) * ticks))
        rvar = var * p.range_variance
        d = x1 - x0
        top = 0.5 * (x0 + x1 + sqrt(d * d - 2.0 * rvar * log(u[0])))
        h = max(o, c, round(exp(top) * ticks))
        d = -x1 - -x0
        bottom = 0.5 * (-x0 + -x1 + sqrt(d * d - 2.0 * rvar * log(u[1])))
        low = max(1, min(o, c, round(exp(-bottom) * ticks)))
        cum = blk.cum
        first = int(rate * (day_index + cum[off]))
        trades = int(rate * (day_index + 1 + cum[off + 1])) - first
        z = sqrt(-2.0 * log(u[2])) * math.cos(_TWO_PI * u[3])
        sd = sqrt(var)
        gain = (1.0 + p.volume_abs_return * abs(x1 - x0) / sd) / gain_norm
        vn = p.volume_noise
        lots = (
            daily_lots
            * blk.activity[off]
            * (sd / sigma0) ** p.volume_variance
            * gain
            * exp(vn * z - 0.5 * vn2)
        )
        lots = max(trades, round(lots)) if trades else 0
        quote = round(lots * (o + h + low + c) / 4 * scale)
        share = 0.5 + 0.5 * p.taker_tilt * math.tanh((x1 - x0) / sd) + 0.04 * (u[4] - 0.5)
        taker = round(lots * share)
        taker_quote = quote * taker // lots if lots else 0
        first -= trade_base
        return (o, h, low, c, lots, quote, trades, taker, taker_quote, first, var, blk.jumps[off])

    # -- splits ---------------------------------------------------------------------

    def _profiles(self, amplitude: float) -> list[list[float] | None]:
        """Per split level: the seasonal factor of each child of a day-aligned position."""
        out: list[list[float] | None] = []
        for level in range(len(BRANCHING)):
            child_ms = LEVEL_MS[level + 1]
            if not amplitude or child_ms < 15 * 60_000:
                out.append(None)
                continue
            per_day = DAY_MS // child_ms
            out.append([
                1.0 + amplitude * math.cos(_TWO_PI * (((j + 0.5) * child_ms / HOUR_MS) - self.params.peak_hour) / 24.0)
                for j in range(per_day)
            ])
        return out

    def split(self, market: Market, level: int, index: int, node: Node) -> tuple[Node, ...]:
        # Written for speed (this is where cold requests spend their time): local
        # names, per-level constants, normals inlined. Every float operation is the
        # one of the plain formulation, in the same order: same seed, same bytes.
        o, h, low, c, v, q, n, tb, tq, first = node[:10]
        var = node[10] if len(node) > 10 else market.daily_volatility**2 * LEVEL_MS[level] / DAY_MS
        jump = node[11] if len(node) > 11 else 0
        p = self.params
        k, kk, nwords, lam, half, per_day, profile, vprofile, words = self._level_constants[level]
        prefix = self._prefixes.get(market) or self._prefix(market)
        key = prefix + _LEVEL_BYTES[level] + index.to_bytes(8, "big", signed=True)
        u = [((w >> 12) + 0.5) * _U52 for w in words.unpack(shake_128(key).digest(8 * nwords))]
        log, exp, sqrt, cos, sin = math.log, math.exp, math.sqrt, math.cos, math.sin
        # u[0:2k]: cascade and volume normals; u[2k:4k]: highs and lows;
        # u[4k:4k+kk]: bridge normals; then 3 for jumps; the last k for taker shares.
        zs = []
        for i in range(0, 2 * k, 2):
            r = sqrt(-2.0 * log(u[i]))
            t = _TWO_PI * u[i + 1]
            zs.append(r * cos(t))
            zs.append(r * sin(t))

        # Variance shares: a log-normal cascade, the intraday profile, a jump child.
        if lam:
            weights = [exp(lam * z - half) for z in zs[:k]]
        else:
            weights = [1.0] * k
        base = (index % per_day) * k
        if profile is not None:
            weights = [w * profile[base + i] for i, w in enumerate(weights)]
        j = 4 * k + kk
        jump_child = -1
        if jump:
            jump_child = int(u[j] * k)
        elif u[j + 1] < p.jump_node_probability * k:
            jump_child = int(u[j + 2] * k)
        if jump_child >= 0:
            weights[jump_child] = p.jump_share * (sum(weights) - weights[jump_child])
        scale = var / sum(weights)
        vs = [w * scale for w in weights]

        # Boundaries: a Brownian bridge in log space with those variances. A path that
        # leaves the node's range is shrunk towards the straight line.
        lo, hi, x0, x1 = log(low), log(h), log(o), log(c)
        gs = []
        for i in range(4 * k, 4 * k + kk, 2):
            r = sqrt(-2.0 * log(u[i]))
            t = _TWO_PI * u[i + 1]
            gs.append(r * cos(t))
            gs.append(r * sin(t))
        path = []
        x = x0
        remaining = var
        inside = True
        for i in range(k - 1):
            vi = vs[i]
            x += (x1 - x) * vi / remaining + sqrt(max(0.0, vi * (remaining - vi)) / remaining) * gs[i]
            remaining -= vi
            if x > hi or x < lo:
                inside = False
            path.append(x)
        if not inside:
            shrink = 1.0
            acc = 0.0
            lines = []
            for i in range(k - 1):
                acc += vs[i]
                line = x0 + (x1 - x0) * acc / var
                lines.append(line)
                d = path[i] - line
                room = (hi - line) if d > 0 else (line - lo)
                if abs(d) > room:
                    shrink = min(shrink, max(0.0, room) / abs(d))
            path = [line + (x - line) * shrink for x, line in zip(path, lines)]
        bounds = [o]
        logs = [x0]
        for x in path:
            t = round(exp(x))
            b = h if t > h else low if t < low else t
            bounds.append(b)
            logs.append(log(b))
        bounds.append(c)
        logs.append(x1)

        # Highs and lows from the law of each child's bridge extremes; the child with the
        # highest draw carries the node's high, the lowest draw its low.
        rv = p.range_variance
        highs = []
        lows = []
        k2 = 2 * k
        k3 = 3 * k
        for i in range(k):
            a = logs[i]
            b = logs[i + 1]
            d2 = (b - a) * (b - a)
            vi = vs[i] * rv
            highs.append(0.5 * (a + b + sqrt(d2 - 2.0 * vi * log(u[k2 + i]))))
            lows.append(0.5 * (a + b - sqrt(d2 - 2.0 * vi * log(u[k3 + i]))))
        jh = highs.index(max(highs))
        jl = lows.index(min(lows))
        child_highs = []
        child_lows = []
        for i in range(k):
            b0 = bounds[i]
            b1 = bounds[i + 1]
            if b0 > b1:
                top, bottom = b0, b1
            else:
                top, bottom = b1, b0
            if i == jh:
                child_highs.append(h)
            else:
                t = round(exp(highs[i]))
                child_highs.append(top if t < top else h if t > h else t)
            if i == jl:
                child_lows.append(low)
            else:
                t = round(exp(lows[i]))
                child_lows.append(bottom if t > bottom else low if t < low else t)

        # Volume follows activity: seasonal profile, local variance, |return|, noise.
        mean_var = var / k
        gain = p.volume_abs_return
        vn = p.volume_noise
        vv = p.volume_variance
        tilt = 0.5 * p.taker_tilt
        tanh = math.tanh
        vweights = []
        leans = []
        for i in range(k):
            r = logs[i + 1] - logs[i]
            vi = vs[i]
            sd = sqrt(vi) or 1e-12
            w = exp(vn * zs[k + i]) * (1.0 + gain * abs(r) / sd)
            if vv:
                w *= (vi / mean_var) ** vv
            if vprofile is not None:
                w *= vprofile[base + i]
            vweights.append(int(1_000_000 * w) + 1)
            leans.append(0.5 + tilt * tanh(r / sd))
        trades = _split(n, vweights)
        extra = _split(v - n, [w if t else 0 for w, t in zip(vweights, trades)])
        vols = [t + e for t, e in zip(trades, extra)]
        takers = split_capped(tb, [int(1_000_000 * vols[i] * leans[i]) for i in range(k)], vols)
        quotes = _split(q, [vols[i] * (child_highs[i] + child_lows[i] + bounds[i] + bounds[i + 1]) for i in range(k)])
        taker_quotes = split_capped(tq, [quotes[i] * takers[i] // vols[i] if vols[i] else 0 for i in range(k)], quotes)

        children = []
        t = first
        for i in range(k):
            ti = trades[i]
            children.append(
                (bounds[i], child_highs[i], child_lows[i], bounds[i + 1], vols[i], quotes[i],
                 ti, takers[i], taker_quotes[i], t, vs[i], 1 if i == jump_child else 0)
            )
            t += ti
        return tuple(children)


#: days computed together (day() of one day computes its chunk)
_DAY_CHUNK = 16
_WORDS6 = _struct(6)
_LEVEL_BYTES = tuple(bytes((level,)) for level in range(len(BRANCHING)))


def _split(total: int, weights: list[int]) -> list[int]:
    """:func:`~mockex.market.split_integer`, with the same result, faster for few parts."""
    wsum = sum(weights)
    if wsum <= 0:
        return split_integer(total, weights)
    parts = [total * w // wsum for w in weights]
    rest = total - sum(parts)
    if rest:
        rems = [(total * w) % wsum for w in weights]
        if rest > 4:
            # split_integer's order: largest remainder first, ties by position (a
            # stable sort in reverse keeps equal keys in their original order)
            for i in sorted(range(len(rems)), key=rems.__getitem__, reverse=True)[:rest]:
                parts[i] += 1
            return parts
        for _ in range(rest):
            i = rems.index(max(rems))
            parts[i] += 1
            rems[i] = -1
    return parts


def split_capped(total: int, weights: list[int], caps: list[int]) -> list[int]:
    """``total`` split like :func:`split_integer`, no part above its cap (``total <= sum(caps)``)."""
    parts = _split(total, weights)
    if not any(map(_gt, parts, caps)):
        return parts
    excess = 0
    for i, (part, cap) in enumerate(zip(parts, caps)):
        if part > cap:
            excess += part - cap
            parts[i] = cap
    if excess:
        for i, cap in enumerate(caps):
            room = cap - parts[i]
            if room > 0:
                take = min(room, excess)
                parts[i] += take
                excess -= take
                if not excess:
                    break
    return parts


@implementer(ICandleModel)
class GBMModel(StylizedModel):
    """Geometric Brownian motion (anchored to the configured price over months)."""

    name = "gbm"

    def __init__(self, seed: int, params: ModelParams = GBM_PARAMS) -> None:
        super().__init__(seed, params)


#: Models by the name ``--model`` and the control API use.
MODELS: Mapping[str, Callable[[int], ICandleModel]] = {
    "stylized": StylizedModel,
    "gbm": GBMModel,
    "randomwalk": RandomWalkModel,
}


def model_factory(name: str) -> Callable[[int], ICandleModel]:
    """The model called ``name``; raises ValueError listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None

"""
Market models that behave like a market: seekable, top-down, deterministic.

Every model here plugs into :class:`~mockex.market.CandleSource` through
:class:`~mockex.market.ICandleModel` (``day()`` and ``split()``, and their batched
forms ``days()``, ``split_run()`` and ``spans()``) and keeps the tree's guarantees: any
node of any date is a fixed number of steps from the top, aggregation is exact
(integers), and the same seed gives the same bytes in any process.

:class:`StylizedModel` (the default, ``"stylized"``) reproduces the stylized facts of
crypto returns with a *multiplicative cascade* that fits the tree. Above the day it has
a calendar tree of its own, so that weekly, monthly and 3-day candles cost a few nodes
each instead of every day they cover:

* **Blocks** of 18 weeks (126 days from a Monday that is also a 3-day boundary): their
  opens and closes are independent *anchors* around the configured price (mean
  reversion over months), their trade counts a closed form of the block index (trade
  ids are O(1) on any date). A block is never a candle: its range is its weeks'.
* **Weeks** close on a Brownian bridge between their block's anchors, with variances
  from seeded value noise over weeks (volatility clustering over weeks to months). A
  week's days are one of 4096 precomputed *shapes* (day variance shares from a
  log-normal cascade, the weekday profile and jump days, and a Brownian bridge from 0
  to 0), scaled to the week: its days' closes are exact Brownian-bridge points, and
  its high and low bound them (plus a day-sized wick) without drawing every day.
* A week splits into three **parts** cut at the 3-day boundaries (lengths 3-3-1,
  2-3-2 or 1-3-3), a part into its **days**; their closes come from the week's shape,
  so nothing above the day ever squeezes a daily return. A 1w candle is one node, a
  3d candle one or two parts, a 1M candle a few weeks and parts.
* Below the day, the tree of :mod:`mockex.market`: 12h, 4h, 1h, 15m, 5m, 1m, 1s.

Every intraday split is the same construction (:func:`_split_groups`): each child gets
a log-normal weight (the cascade, sigma per level) times the intraday profile,
normalised to the node's variance; a jump child (rare, and at every level under a jump)
takes a multiple of its siblings' variance. The children's closes are a Brownian
bridge in ticks from the node's open to its close with those variances (a free walk
less its end spread in proportion to variance, plus the straight line); a path that
leaves the node's range is brought back into it (:func:`_shrink`). Each child's high
and low are draws from the law of a Brownian bridge's maximum and minimum (the child
with the highest draw carries the node's high, the lowest its low); volume, trades,
taker volume and quote volumes are split exactly (cumulative floors) with weights that
follow local variance, ``|return|``, the volume profile and log-normal noise, taker
volume leaning with the direction.

:class:`GBMModel` (``"gbm"``) is the same construction with every effect off: constant
volatility, no jumps, flat profiles.

Randomness is counter-based: ``shake_128(seed, market, level, index)`` gives 16-bit
words, mapped to normal, exponential and log-normal deviates by tables of their
quantiles (no generator object to seed, no transcendental function per draw). Splits
are made in batches (all the nodes of a level that a request needs at once, as numpy
operations over all their children; a small batch in plain Python, bit for bit the
same), but each node's children depend only on the node and its own words: a batch of
one gives the same. The kernel uses only correctly rounded float operations, table
lookups and sums in order, so the same seed gives the same bytes on any CPU.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from functools import lru_cache, reduce
from hashlib import shake_128
from itertools import accumulate, chain, cycle, islice, repeat
from operator import gt as _gt
from operator import add, mul, sub
from statistics import NormalDist
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from attrs import evolve, frozen
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
    trim_cache,
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






def _sum(xs: Iterable[float]) -> float:
    """
    ``xs`` added in order. (Python 3.12's ``sum()`` of floats is compensated: another
    last bit than 3.11's, and the model's bytes must not depend on the version.)
    """
    return reduce(add, xs, 0)


@lru_cache(maxsize=None)
def _smoothstep(scale: int) -> tuple[float, ...]:
    """``t * t * (3 - 2t)`` at ``t = r / scale`` for ``r`` in ``range(scale)``."""
    out = []
    for rem in range(scale):
        t = rem / scale
        out.append(t * t * (3.0 - 2.0 * t))
    return tuple(out)


# -- deviates from 16-bit words ------------------------------------------------------

#: A random word is 16 bits; tables resolve 12 of them (4096 equiprobable quantiles,
#: normal tails to +-3.66 sd), indexed by the whole word so that no shift is needed.
_WORD = 1 << 16
_LEVELS = 1 << 12
_BIG_ENDIAN = sys.byteorder == "big"


def _quantile_table(f: Callable[[float], float]) -> list[float]:
    """``f`` at the 4096 midpoints of (0, 1), 16 entries each, one float per value."""
    values = [f((i + 0.5) / _LEVELS) for i in range(_LEVELS)]
    # a tuple of floats: the garbage collector stops tracking it (a list it would
    # traverse, all 65536 entries, at every full collection)
    return tuple([values[i >> 4] for i in range(_WORD)])


@lru_cache(maxsize=None)
def _normal_table() -> tuple[float, ...]:
    return _quantile_table(NormalDist().inv_cdf)


@lru_cache(maxsize=None)
def _exponential_table() -> tuple[float, ...]:
    return _quantile_table(lambda u: -math.log(u))


@lru_cache(maxsize=None)
def _wick_table() -> tuple[float, ...]:
    """``sqrt(E)`` for an exponential ``E``: a bridge's excursion beyond its ends, in sds."""
    return tuple([math.sqrt(e) for e in _exponential_table()])


@lru_cache(maxsize=None)
def _lognormal_table(sigma: float) -> tuple[float, ...]:
    """``exp(sigma * z - sigma**2 / 2)`` (mean one) by word; all ones when ``sigma`` is 0."""
    if not sigma:
        return (1.0,) * _WORD
    half = 0.5 * sigma * sigma
    values = [math.exp(sigma * z - half) for z in _normal_table()[::16]]
    return tuple([values[i >> 4] for i in range(_WORD)])


#: a week's days are one of this many precomputed shapes (a 12-bit draw)
_SHAPES = 1 << 12


@lru_cache(maxsize=16)
def _week_shapes(sigma: float, weekday_variance: tuple[float, ...], jump_probability: float,
                 jump_variance: float) -> tuple[tuple[tuple[float, ...], ...], ...]:
    """
    The shapes of a week's seven days: (variance shares, cumulative shares F, bridge
    deviations D in units of the week's sd, jump flags, the highest and the lowest
    close at moves of -2..2 sds) each. A Brownian bridge from o to c is exactly
    ``o + (c - o) * F + sd * D`` with D a bridge from 0 to 0, so a week's days are one
    draw among these, scaled. A constant table (a function of the parameters only,
    the same in every process), made once like the quantile tables: 4096 weeks of
    day weights (log-normal cascade, weekday, jump days) and bridges.
    """
    words = _words([b"mockex week shapes" + repr((sigma, weekday_variance, jump_probability, jump_variance)).encode()],
                   2 * 21 * _SHAPES)
    weights_table = _lognormal_table(sigma)
    normal = _normal_table()
    threshold = round(jump_probability * _WORD)
    sqrt = math.sqrt
    shapes = []
    for t in range(_SHAPES):
        u = words[21 * t:21 * t + 21]
        weights = []
        jumps = []
        for wv, uw, uj in zip(weekday_variance, u[0:7], u[14:21]):
            weight = weights_table[uw] * wv
            if uj < threshold:
                weight *= jump_variance
                jumps.append(1)
            else:
                jumps.append(0)
            weights.append(weight)
        total = _sum(weights)
        shares = [x / total for x in weights]
        cumulative = list(accumulate(shares))
        cumulative[-1] = 1.0
        deviations = []
        x = 0.0
        rem = 1.0
        for share, z in zip(shares[:6], u[7:13]):
            r2 = rem - share
            x += -x * share / rem + sqrt(share * r2 / rem) * normal[z]
            rem = r2
            deviations.append(x)
        deviations.append(0.0)
        # the week's extreme closes relative to its open, in its sds, as a function
        # of its move m (also in sds): g(m) = max(0, max(F m + D)) is convex, so chords
        # through m = -2, -1, 0, 1, 2 bound it from above (and the concave minimum
        # from below); beyond, its slope lies in [0, 1]
        ms = (-2.0, -1.0, 0.0, 1.0, 2.0)
        tops = tuple(max(0.0, max(f * m + d for f, d in zip(cumulative, deviations))) for m in ms)
        bottoms = tuple(min(0.0, min(f * m + d for f, d in zip(cumulative, deviations))) for m in ms)
        shapes.append((tuple(shares), tuple(cumulative), tuple(deviations), tuple(jumps), tops, bottoms))
    return tuple(shapes)




def _words(keys: Iterable[bytes], nbytes: int) -> list[int]:
    """The 16-bit words of ``shake_128(key)`` for each key, concatenated."""
    data = array("H", b"".join([shake_128(key).digest(nbytes) for key in keys]))
    if _BIG_ENDIAN:
        data.byteswap()
    return data.tolist()


# -- the calendar above the day -------------------------------------------------------

#: Blocks are 18 weeks (126 days), the first from Monday 1970-01-19; week ``w`` is
#: days ``7w - 3 .. 7w + 3`` (Monday to Sunday, as 1w candles).
BLOCK_WEEKS = 18
BLOCK_DAYS = 7 * BLOCK_WEEKS


def _week_of(day: int) -> int:
    return (day + 3) // 7


def _week_start(week: int) -> int:
    return 7 * week - 3


def _block_of_week(week: int) -> int:
    return (week - 3) // BLOCK_WEEKS


# -- parameters ------------------------------------------------------------------------

@frozen
class ModelParams:
    """
    Parameters of :class:`StylizedModel`. The defaults are calibrated to crypto 1m data:
    excess kurtosis of 1m log returns well above 3, ``|r|`` autocorrelation positive
    over dozens of lags, no autocorrelation of ``r``.
    """

    #: anchor spread (every block, 126 days) in units of ``sigma0 * sqrt(63)``
    anchor_scale: float = 0.9
    #: value-noise scales (weeks) and amplitude of the weekly log-volatility process
    vol_scales: tuple[int, ...] = (2, 6, 18)
    vol_amplitude: float = 0.25
    #: i.i.d. week-to-week noise of log-volatility
    week_vol_noise: float = 0.15
    #: how strongly variance follows activity (``sigma**2 ~ activity**k``)
    vol_activity: float = 1.5
    #: value-noise scales (weeks) and amplitude of weekly activity (trades and volume)
    activity_scales: tuple[int, ...] = (3, 12)
    activity_amplitude: float = 0.2
    #: amplitude of the trade rate's variation from block to block
    block_activity: float = 0.1
    #: weekday activity, Monday first (mean 1)
    weekday: tuple[float, ...] = (1.02, 1.07, 1.07, 1.07, 1.04, 0.88, 0.85)
    #: log-normal sigma of the variance cascade: days within a week, then the children
    #: of each intraday split (12h, 4h, 1h, 15m, 5m, 1m, 1s)
    cascade: tuple[float, ...] = (0.5, 0.35, 0.4, 0.45, 0.5, 0.5, 0.5, 0.5)
    #: probability and variance multiplier of a jump day
    jump_day_probability: float = 0.02
    jump_day_variance: float = 4.0
    #: probability that a child of an intraday split starts a jump; a jump child takes
    #: this many times the variance of all its siblings together
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
    #: many times the node's variance
    range_variance: float = 1.0


#: Geometric Brownian motion: constant volatility, no jumps, flat profiles.
GBM_PARAMS = ModelParams(
    vol_amplitude=0.0,
    week_vol_noise=0.0,
    vol_activity=0.0,
    activity_amplitude=0.0,
    block_activity=0.0,
    weekday=(1.0,) * 7,
    cascade=(0.0,) * 8,
    jump_day_probability=0.0,
    jump_node_probability=0.0,
    intraday_vol=0.0,
    intraday_volume=0.0,
    volume_variance=0.0,
    volume_abs_return=0.0,
    taker_tilt=0.0,
)


class _Level:
    """What :func:`_split_groups` needs of one split level."""

    __slots__ = ("k", "tag", "nbytes", "weights", "weights_array", "jump_threshold", "jump_share", "range2", "gain",
                 "tilt", "volume_noise", "noise_array", "volume_variance")

    def __init__(self, k: int, level: int, sigma: float, p: ModelParams) -> None:
        self.k = k
        self.tag = bytes((level,))
        #: six words per child: cascade, bridge, high, low, volume, jump
        self.nbytes = 12 * k
        self.weights = _lognormal_table(sigma)
        self.weights_array = _lognormal_array(sigma)
        self.jump_threshold = round(p.jump_node_probability * _WORD)
        self.jump_share = p.jump_share
        self.range2 = 2.0 * p.range_variance
        self.gain = p.volume_abs_return
        self.tilt = 0.5 * p.taker_tilt
        self.volume_noise = _lognormal_table(p.volume_noise)
        self.noise_array = _lognormal_array(p.volume_noise)
        self.volume_variance = p.volume_variance


def _word_array(keys: Iterable[bytes], nbytes: int) -> np.ndarray:
    """:func:`_words` as an array (16-bit little-endian words whatever the host)."""
    return np.frombuffer(b"".join([shake_128(key).digest(nbytes) for key in keys]), dtype="<u2")


# The quantile tables as arrays of their 4096 values, indexed by ``word >> 4`` (one
# shift for a whole batch; 32 KB per table stay in cache, 512 KB would not).

@lru_cache(maxsize=None)
def _normal_array() -> np.ndarray:
    return np.array(_normal_table()[::16])


@lru_cache(maxsize=None)
def _smoothstep_array(scale: int) -> np.ndarray:
    return np.array(_smoothstep(scale))


@lru_cache(maxsize=None)
def _wick_array() -> np.ndarray:
    return np.array(_wick_table()[::16])


def _shape_arrays(shapes: tuple) -> tuple[np.ndarray, ...]:
    """
    The shapes' fields as arrays, one row per shape: variance shares, cumulative
    shares, bridge deviations, jump flags (4096 x 7), highest and lowest closes at
    moves of -2..2 sds (4096 x 5).
    """
    return tuple(np.array([t[i] for t in shapes], dtype=np.int64 if i == 3 else float) for i in range(6))


@lru_cache(maxsize=None)
def _exponential_array() -> np.ndarray:
    return np.array(_exponential_table()[::16])


@lru_cache(maxsize=None)
def _lognormal_array(sigma: float) -> np.ndarray:
    return np.array(_lognormal_table(sigma)[::16])


#: Totals below this are cut in uint64 arrays (blocks' quote volumes exceed int64):
#: ``float(total)`` is then at most 2**64 - 2**11, so the floors of
#: ``float(total) * share`` fit. Larger totals are cut in Python ints.
_BIG = (1 << 64) - (1 << 11)
#: Volume weights are capped here (never reached in practice): a weight and its
#: taker weight (up to 1024 times it) stay exact integers in float64 and int64.
_WEIGHT_CAP = 2.0**40
#: Batches of at most this many children are split in plain Python, the same bit for
#: bit: a numpy split costs 0.1-0.3 ms whatever its size (~150 array operations),
#: plain Python ~5 us per child.
_SMALL = 32
#: the most blocks' weeks, and weeks' days, a model keeps (oldest out first)
_CACHED_GROUPS = 1 << 16


def _split_groups(
    lv: _Level,
    keys: Iterable[bytes],
    parents: Sequence[Node],
    vmul: Sequence[float] | None = None,
    amul: Sequence[float] | None = None,
    closes_in: Sequence[int] | None = None,
    ranges_in: Sequence[tuple[int, int]] | None = None,
    tails_in: Sequence[tuple] | None = None,
    as_arrays: bool = False,
) -> list[tuple[Node, ...]] | tuple[np.ndarray, ...] | None:
    """
    The children of each of ``parents`` (one key each), ``lv.k`` apiece; ``vmul`` and
    ``amul`` multiply each child's variance and volume weights (a profile). Above the
    day, a week's shape gives the children's closes (``closes_in``), their ranges
    (``ranges_in``, within the parent's, carriers decided) and what follows each
    child's variance in its node (``tails_in``: jump flag, shape): then only volumes
    are drawn.

    Written for speed (a cold request makes a thousand children or more): the words of
    all the groups come from one join, and every step is a numpy operation on a
    (groups, k) array. Only correctly rounded operations (+ - * / sqrt, floors and
    comparisons), table lookups and sums in order (``cumsum`` along a row, never a
    float reduction whose order SIMD could change): the same bytes on any CPU.
    Everything a child gets depends only on its own row, so any batch gives the same
    children; a small batch is made by :func:`_split_small`, the same operations in
    plain Python.

    ``as_arrays``: the children's first ten fields as (groups, k) arrays instead (see
    :func:`_cut_volumes`), or None when the batch is small or a group needs a path
    in Python ints.
    """
    k = lv.k
    count = len(parents)
    if count * k <= _SMALL:
        if as_arrays:
            return None
        return _split_small(lv, _words(keys, lv.nbytes), parents, vmul, amul, closes_in, ranges_in, tails_in)
    words = _word_array(keys, lv.nbytes).reshape(count, k, 6)
    levels = words >> 4
    w = lv.weights_array[levels[:, :, 0]]
    if vmul is not None:
        w *= np.array(vmul, dtype=np.float64).reshape(count, k)
    columns = list(zip(*(parent[:12] for parent in parents)))
    # One jump child per group at most: the first word under the threshold, or a drawn
    # child when the parent itself is a jump node (so a jump goes down to one second).
    flags: np.ndarray | None = None
    threshold = lv.jump_threshold
    if threshold or any(columns[11]):
        hit = words[:, :, 5] < threshold
        has = hit.any(axis=1)
        at = hit.argmax(axis=1)
        parent_jumps = np.array(columns[11], dtype=bool)
        if parent_jumps.any():
            at = np.where(parent_jumps, (words[:, 0, 5].astype(np.int64) * k) >> 16, at)
            has |= parent_jumps
        rows = np.flatnonzero(has)
        if rows.size:
            cols = at[rows]
            # (a row's sum: the last of its cumulative sums, added in order)
            total = np.cumsum(w[rows], axis=1)[:, -1]
            w[rows, cols] = lv.jump_share * (total - w[rows, cols])
            flags = np.zeros((count, k), dtype=np.int64)
            flags[rows, cols] = 1
    cumulative = np.cumsum(w, axis=1)
    sums = cumulative[:, -1]
    opens0, highs0, lows0, closes0 = np.array(columns[:4], dtype=np.int64)
    units = np.array(columns[10], dtype=np.float64) / sums
    mids = (opens0 + closes0) * 0.5
    tick_units = units * (mids * mids)
    if closes_in is not None:
        return _split_given(lv, levels, w, sums, columns, units, tick_units, opens0, highs0, lows0,
                            np.array(closes_in, dtype=np.int64).reshape(count, k), ranges_in, tails_in, amul,
                            as_arrays)

    # Closes: a Brownian bridge from o to c (in ticks) with the children's variances,
    # whole rows at once: a free walk S with those variances less its end spread in
    # proportion (``S_j - F_j S_k``, F the cumulative variance share), plus the line
    # from o to c. A group whose path leaves its node's range is brought back into it.
    fractions = cumulative / sums[:, None]
    walk = np.cumsum(np.sqrt(w) * _normal_array()[levels[:, :, 1]], axis=1)
    lines = opens0[:, None] + (closes0 - opens0)[:, None] * fractions
    xs = lines + np.sqrt(tick_units)[:, None] * (walk - fractions * walk[:, -1:])
    inner = xs[:, :-1]
    outside = np.flatnonzero(((inner > highs0[:, None]) | (inner < lows0[:, None])).any(axis=1))
    if outside.size:
        # (shrunk towards the straight line: reflecting it instead would make
        # consecutive returns negatively correlated)
        xs[outside, :-1] = _shrink(inner[outside], lines[outside, :-1], highs0[outside], lows0[outside])
    closes = np.rint(xs).astype(np.int64)
    closes[:, -1] = closes0
    opens = np.empty_like(closes)
    opens[:, 0] = opens0
    opens[:, 1:] = closes[:, :-1]
    return _cut_volumes(lv, levels, w, columns, units, tick_units, sums, opens, closes, highs0, lows0, None, amul,
                        flags, None)


def _split_given(
    lv: _Level, levels: np.ndarray, w: np.ndarray, sums: np.ndarray, columns: list[tuple], units: np.ndarray,
    tick_units: np.ndarray, opens0: np.ndarray, highs0: np.ndarray, lows0: np.ndarray, closes: np.ndarray,
    ranges: Sequence[tuple[int, int]] | None, tails: Sequence[tuple] | None, amul: Sequence[float] | None,
    as_arrays: bool = False,
) -> list[tuple[Node, ...]] | tuple[np.ndarray, ...] | None:
    """
    :func:`_split_groups` for children whose closes are given (from a week's shape):
    ranges given too (parts) or drawn from the law of each child's bridge extremes
    within the parent's (days); volumes as in :func:`_split_groups`.
    """
    opens = np.empty_like(closes)
    opens[:, 0] = opens0
    opens[:, 1:] = closes[:, :-1]
    given = None
    if ranges is not None:
        given = np.fromiter(chain.from_iterable(ranges), dtype=np.int64, count=2 * closes.size).reshape(
            closes.shape + (2,))
    return _cut_volumes(lv, levels, w, columns, units, tick_units, sums, opens, closes, highs0, lows0, given, amul,
                        None, tails, as_arrays)


def _cut_volumes(
    lv: _Level, levels: np.ndarray, w: np.ndarray, columns: list[tuple], units: np.ndarray, tick_units: np.ndarray,
    sums: np.ndarray, opens: np.ndarray, closes: np.ndarray, highs0: np.ndarray, lows0: np.ndarray,
    given: np.ndarray | None, amul: Sequence[float] | None, flags: np.ndarray | None, tails: Sequence[tuple] | None,
    as_arrays: bool = False,
) -> list[tuple[Node, ...]] | tuple[np.ndarray, ...] | None:
    """
    The children of a batch, grouped: highs and lows (``given``, or drawn), volume
    weights, and volumes cut exactly: trades and the rest of the volume at the floors
    of ``total * F`` (F a child's cumulative share of the volume weights; a child
    with volume has trades), taker volume, quote and taker quote likewise by volume
    weight times taker share and price; groups that need it again the slow way
    (:func:`_volumes`). Each child ends with its variance and its tail (``tails``;
    default: its jump flag in ``flags``). ``as_arrays``: the children's first ten
    fields as (groups, k) arrays (opens, highs, lows, closes and first trade indices
    int64, volumes uint64) instead of tuples, or None when a group needs the paths
    in Python ints.
    """
    count, k = closes.shape
    d = (closes - opens).astype(np.float64)
    s = (closes + opens).astype(np.float64)
    vt = tick_units[:, None] * w
    if given is None:
        # Highs and lows: twice the bridge extremes, halved; the child with the
        # highest draw carries the node's high, the lowest draw its low.
        expo = _exponential_array()
        dd = d * d
        r = lv.range2 * vt
        hx = s + np.sqrt(dd + r * expo[levels[:, :, 2]])
        lx = s - np.sqrt(dd + r * expo[levels[:, :, 3]])
        highs = np.minimum(np.trunc(0.5 * hx).astype(np.int64), highs0[:, None])
        lows = np.maximum(np.trunc(0.5 * lx).astype(np.int64), lows0[:, None])
        groups = np.arange(count)
        highs[groups, hx.argmax(axis=1)] = highs0
        lows[groups, lx.argmin(axis=1)] = lows0
    else:
        highs = given[:, :, 0]
        lows = given[:, :, 1]
    # Volume weights follow local variance and |return| (and the volume profile);
    # taker shares lean with the direction (``y / sqrt(1 + y*y)``, y the return in sds:
    # tanh's shape, but correctly rounded everywhere).
    sd = np.sqrt(vt)
    sd[sd == 0.0] = 1e-300
    ad = np.abs(d)
    noise = lv.noise_array[levels[:, :, 4]]
    vv = lv.volume_variance
    gain = lv.gain
    if vv == 0.0:
        x = noise * (1.0 + gain * ad / sd) * 1e6
    else:
        ref = np.sqrt(tick_units * sums / k)
        ref[ref == 0.0] = 1e-300
        if vv == 0.5:
            x = noise * (sd + gain * ad) * (1e6 / ref)[:, None]
        else:
            # (a power: Python's, element by element; numpy's may be a SIMD one)
            power = 2.0 * vv
            scaled = (sd * (1e6 / ref)[:, None] * 1e-6).ravel().tolist()
            x = noise * np.array([y**power for y in scaled]).reshape(count, k) * (1.0 + gain * ad / sd) * 1e6
    if amul is not None:
        x *= np.array(amul, dtype=np.float64).reshape(count, k)
    x = np.trunc(np.minimum(x, _WEIGHT_CAP)) + 1.0
    y = np.minimum(np.maximum(d / sd, -1e6), 1e6)
    tw = np.trunc(x * (0.5 + lv.tilt * (y / np.sqrt(1.0 + y * y))) * 1024.0)

    # Cumulative shares (in order along each row: monotone, the last exactly 1) of the
    # volume weights, taker weights and quote weights (times price), and the totals
    # cut by them: trades, the rest of the volume, taker, quote and taker quote.
    cumulative = np.cumsum(np.stack((x, tw, x * s, tw * s)), axis=2)
    ends = cumulative[:, :, -1:]
    positive = ends > 0.0
    ok = positive.all(axis=0)[:, 0]
    fractions = (cumulative / np.where(positive, ends, 1.0))[[0, 0, 1, 2, 3]]
    sources = (columns[6], list(map(sub, columns[4], columns[6])), columns[7], columns[5], columns[8])
    big = [g for g, (v, q) in enumerate(zip(columns[4], columns[5])) if v >= _BIG or q >= _BIG]
    if big:
        sources = [[t if t < _BIG else 0 for t in source] for source in sources]
    totals = np.array(sources, dtype=np.uint64)
    # (float(total) of Python ints: correctly rounded by definition, as in the paths
    # that cut in Python)
    scales = np.array(sources, dtype=np.float64)
    cuts = np.floor(scales[:, :, None] * fractions).astype(np.uint64)
    np.minimum(cuts, totals[:, :, None], out=cuts)
    cuts[:, :, -1] = totals
    parts = cuts.copy()
    parts[:, :, 1:] -= cuts[:, :, :-1]
    trades, extra, takers, quotes, tquotes = parts
    vols = trades + extra
    fits = ok & ~((takers > vols) | (tquotes > quotes) | ((trades == 0) & (vols > 0))).any(axis=1)
    counts = trades.astype(np.int64)
    firsts = np.array(columns[9], dtype=np.int64)[:, None] + np.cumsum(counts, axis=1) - counts
    if as_arrays:
        if big:
            return None
        for g in np.flatnonzero(~fits).tolist():
            # as below: the group again, the slow way, into the arrays
            split = _volumes(*_totals(columns, g), x[g].astype(np.int64).tolist(), (tw[g] / x[g] / 1024.0).tolist(),
                             s[g].astype(np.int64).tolist())
            trades[g], vols[g], takers[g], quotes[g], tquotes[g] = split
            firsts[g] = _firsts(columns[9][g], split[0])
        return opens, highs, lows, closes, vols, quotes, trades, takers, tquotes, firsts
    out = [opens.ravel().tolist(), highs.ravel().tolist(), lows.ravel().tolist(), closes.ravel().tolist(),
           vols.ravel().tolist(), quotes.ravel().tolist(), trades.ravel().tolist(), takers.ravel().tolist(),
           tquotes.ravel().tolist(), firsts.ravel().tolist(), (w * units[:, None]).ravel().tolist()]
    bad = np.flatnonzero(~fits).tolist()
    if big:
        bad = sorted(set(bad).difference(big))
        ok_list = ok.tolist()
        for g in big:
            if ok_list[g]:
                # totals beyond uint64: those cut in Python ints
                split = _cut_big(_totals(columns, g), parts[:, g], fractions[:, g])
                if split is not None:
                    _patch(out, g, k, split, columns[9][g])
                    continue
            bad.append(g)
    for g in bad:
        # rare: a child without trades (its volume goes to the others), a cap, or no
        # weight at all: the group again, the slow way
        _patch(out, g, k, _volumes(*_totals(columns, g), x[g].astype(np.int64).tolist(),
                                   (tw[g] / x[g] / 1024.0).tolist(), s[g].astype(np.int64).tolist()), columns[9][g])
    if tails is None:
        out.append(flags.ravel().tolist() if flags is not None else [0] * (count * k))
    else:
        out.extend(zip(*tails))
    kids = list(zip(*out))
    return list(zip(*[iter(kids)] * k))


def _cut_group(totals: tuple[int, int, int, int, int], fractions: list[list[float]]) -> tuple[list[int], ...] | None:
    """
    One group's volume ``v``, quote ``q``, trades ``n``, taker ``tb`` and taker quote
    ``tq`` (``totals``) cut like :func:`_cut_volumes` does, by the cumulative shares of
    each (trades, the rest, taker, quote, taker quote), in Python ints: the cuts are
    the floors of ``float(total) * F``, capped at the total, the last the total
    (rounding is monotone, so parts are >= 0 and sum to the total).
    """
    v, q, n, tb, tq = totals
    floor = math.floor
    parts = []
    for total, row in zip((n, v - n, tb, q, tq), fractions):
        scale = float(total)
        prev = 0
        out = []
        for f in row[:-1]:
            cut = floor(scale * f)
            if cut > total:
                cut = total
            out.append(cut - prev)
            prev = cut
        out.append(total - prev)
        parts.append(out)
    return _checked(parts)


def _cut_big(totals: tuple[int, int, int, int, int], parts: np.ndarray,
             fractions: np.ndarray) -> tuple[list[int], ...] | None:
    """
    :func:`_cut_group` of a group of :func:`_cut_volumes` with totals of ``_BIG`` or more:
    ``parts`` holds the others' parts (cut in uint64), those are cut here from the same
    floors (float64), in Python ints.
    """
    v, q, n, tb, tq = totals
    rows = []
    for total, row, fraction in zip((n, v - n, tb, q, tq), parts, fractions):
        if total < _BIG:
            rows.append(row.tolist())
            continue
        cuts = [int(y) for y in np.floor(float(total) * fraction[:-1]).tolist()]
        cuts = [cut if cut < total else total for cut in cuts]
        cuts.append(total)
        rows.append(list(map(sub, cuts, [0] + cuts[:-1])))
    return _checked(rows)


def _checked(parts: list[list[int]]) -> tuple[list[int], ...] | None:
    """
    (trades, volumes, takers, quotes, taker quotes) from the parts of (trades, the
    rest of the volume, takers, quotes, taker quotes), or None when a child would get
    volume without trades or a cap is hit (taker <= volume, taker quote <= quote).
    """
    trades, extra, takers, quotes, tquotes = parts
    vols = list(map(add, trades, extra))
    for t, vol, taker, quote, tquote in zip(trades, vols, takers, quotes, tquotes):
        if taker > vol or tquote > quote or (not t and vol):
            return None
    return trades, vols, takers, quotes, tquotes


def _totals(columns: list[tuple], g: int) -> tuple[int, int, int, int, int]:
    """Group ``g``'s volume, quote volume, trades, taker volume and taker quote volume."""
    return columns[4][g], columns[5][g], columns[6][g], columns[7][g], columns[8][g]


def _patch(out: list[list], g: int, k: int, split: tuple[list[int], ...], first: int) -> None:
    """Put group ``g``'s volumes (trades, volumes, takers, quotes, taker quotes) in ``out``."""
    trades, vols, takers, quotes, tquotes = split
    base = g * k
    out[4][base:base + k] = vols
    out[5][base:base + k] = quotes
    out[6][base:base + k] = trades
    out[7][base:base + k] = takers
    out[8][base:base + k] = tquotes
    out[9][base:base + k] = _firsts(first, trades)


def _shrink(xs: np.ndarray, lines: np.ndarray, highs: np.ndarray, lows: np.ndarray) -> np.ndarray:
    """
    Bridge paths (rows of ``xs``) that leave ``[lows, highs]`` brought back into it,
    about their straight lines from o to c: the mean of the path with all its
    deviations scaled down by the factor that makes the worst one fit (which keeps the
    path's shape but quiets the whole node: |return| clustering, even in GBM) and of
    the path soft-clipped point by point (``dev * room / sqrt(room**2 + dev**2)``,
    which keeps the quiet points but bends the path near the edges: negative
    autocorrelation of returns). Both are inside the range, so their mean is.
    """
    devs = xs - lines
    above = highs[:, None] - lines
    below = lines - lows[:, None]
    factors = np.ones_like(xs)
    np.divide(above, devs, out=factors, where=xs > highs[:, None])
    np.divide(below, -devs, out=factors, where=xs < lows[:, None])
    shrink = np.minimum(np.maximum(factors.min(axis=1), 0.0), 1.0)
    rooms = np.where(devs > 0, above, below)
    norms = np.sqrt(rooms * rooms + devs * devs)
    soft = np.zeros_like(xs)
    np.divide(devs * rooms, norms, out=soft, where=norms > 0)
    return lines + 0.5 * (devs * shrink[:, None] + soft)


def _shrink_row(xs: list[float], lines: list[float], h: int, low: int) -> list[float]:
    """:func:`_shrink` of one path, in plain Python (the same operations)."""
    shrink = 1.0
    for x, line in zip(xs, lines):
        if x > h:
            f = (h - line) / (x - line)
        elif x < low:
            f = (line - low) / -(x - line)
        else:
            continue
        if f < shrink:
            shrink = f
    if shrink < 0.0:
        shrink = 0.0
    sqrt = math.sqrt
    out = []
    for x, line in zip(xs, lines):
        dev = x - line
        room = h - line if dev > 0 else line - low
        norm = sqrt(room * room + dev * dev)
        out.append(line + 0.5 * (dev * shrink + (dev * room / norm if norm > 0 else 0.0)))
    return out


def _split_small(
    lv: _Level, words: list[int], parents: Sequence[Node], vmul: Sequence[float] | None,
    amul: Sequence[float] | None, closes_in: Sequence[int] | None, ranges_in: Sequence[tuple[int, int]] | None,
    tails_in: Sequence[tuple] | None,
) -> list[tuple[Node, ...]]:
    """
    :func:`_split_groups` of a small batch, a group at a time in plain Python: the
    same operations in the same order on the same float64 values as the array path
    (which gives the same bytes: tested), without numpy's cost per call.
    """
    k = lv.k
    sqrt = math.sqrt
    normal = _normal_table()
    expo = _exponential_table()
    table = lv.weights
    vnoise = lv.volume_noise
    threshold = lv.jump_threshold
    range2 = lv.range2
    gain = lv.gain
    tilt = lv.tilt
    vv = lv.volume_variance
    power = 2.0 * vv
    groups: list[tuple[Node, ...]] = []
    for g, parent in enumerate(parents):
        o, h, low, c, v, q, n, tb, tq, first, var = parent[:11]
        base = g * k
        u = words[6 * base:6 * (base + k)]
        w = [table[i] for i in u[0::6]]
        if vmul is not None:
            w = list(map(mul, w, vmul[base:base + k]))
        at = -1
        if parent[11]:
            at = u[5] * k >> 16
        elif threshold:
            for j, i in enumerate(u[5::6]):
                if i < threshold:
                    at = j
                    break
        if at >= 0:
            total = list(accumulate(w))[-1]
            w[at] = lv.jump_share * (total - w[at])
        cumulative = list(accumulate(w))
        wsum = cumulative[-1]
        unit = var / wsum
        mid = (o + c) * 0.5
        tick_unit = unit * (mid * mid)
        if closes_in is None:
            fractions = [x / wsum for x in cumulative]
            walk = list(accumulate([sqrt(x) * normal[i] for x, i in zip(w, u[1::6])]))
            end = walk[-1]
            span = c - o
            sd = sqrt(tick_unit)
            lines = [o + span * f for f in fractions]
            xs = [line + sd * (s - f * end) for line, s, f in zip(lines, walk, fractions)]
            del xs[-1]
            for x in xs:
                if x > h or x < low:
                    xs = _shrink_row(xs, lines, h, low)
                    break
            closes = list(map(round, xs))
            closes.append(c)
        else:
            closes = list(closes_in[base:base + k])
        opens = [o] + closes[:-1]
        highs = []
        lows = []
        xw = []
        tws = []
        qws = []
        tqws = []
        ref = sqrt(tick_unit * wsum / k) or 1e-300
        best_high = best_low = 0.0
        jh = jl = -1
        for j, (a, b, wi, i) in enumerate(zip(opens, closes, w, range(0, 6 * k, 6))):
            d = float(b - a)
            s = float(b + a)
            vt = tick_unit * wi
            if ranges_in is None:
                dd = d * d
                r = range2 * vt
                hx = s + sqrt(dd + r * expo[u[i + 2]])
                lx = s - sqrt(dd + r * expo[u[i + 3]])
                if jh < 0 or hx > best_high:
                    best_high = hx
                    jh = j
                if jl < 0 or lx < best_low:
                    best_low = lx
                    jl = j
                hi = int(0.5 * hx)
                lo = int(0.5 * lx)
                highs.append(h if hi > h else hi)
                lows.append(low if lo < low else lo)
            else:
                hi, lo = ranges_in[base + j]
                highs.append(hi)
                lows.append(lo)
            sd = sqrt(vt) or 1e-300
            ad = d if d >= 0.0 else -d
            if vv == 0.0:
                x = vnoise[u[i + 4]] * (1.0 + gain * ad / sd) * 1e6
            elif vv == 0.5:
                x = vnoise[u[i + 4]] * (sd + gain * ad) * (1e6 / ref)
            else:
                x = vnoise[u[i + 4]] * (sd * (1e6 / ref) * 1e-6) ** power * (1.0 + gain * ad / sd) * 1e6
            if amul is not None:
                x *= amul[base + j]
            x = float(int(x if x < _WEIGHT_CAP else _WEIGHT_CAP)) + 1.0
            y = d / sd
            y = -1e6 if y < -1e6 else 1e6 if y > 1e6 else y
            tw = float(int(x * (0.5 + tilt * (y / sqrt(1.0 + y * y))) * 1024.0))
            xw.append(x)
            tws.append(tw)
            qws.append(x * s)
            tqws.append(tw * s)
        if ranges_in is None:
            highs[jh] = h
            lows[jl] = low
        split = None
        weights = [list(accumulate(ws)) for ws in (xw, tws, qws, tqws)]
        if all(ws[-1] > 0.0 for ws in weights):
            shares = [[x / ws[-1] for x in ws] for ws in weights]
            split = _cut_group((v, q, n, tb, tq), [shares[0], shares[0], shares[1], shares[2], shares[3]])
        if split is None:
            split = _volumes(v, q, n, tb, tq, [int(x) for x in xw], [tw / x / 1024.0 for tw, x in zip(tws, xw)],
                             [a + b for a, b in zip(opens, closes)])
        trades, vols, takers, quotes, tquotes = split
        variances = [x * unit for x in w]
        tails = [(0,)] * k
        if tails_in is not None:
            tails = tails_in[base:base + k]
        elif at >= 0:
            tails[at] = (1,)
        groups.append(tuple([(a, hi, lo, b, vol, quote, t, taker, tquote, f, var_, *tail)
                             for a, hi, lo, b, vol, quote, t, taker, tquote, f, var_, tail
                             in zip(opens, highs, lows, closes, vols, quotes, trades, takers, tquotes,
                                    _firsts(first, trades), variances, tails)]))
    return groups


def _volumes(
    v: int, q: int, n: int, tb: int, tq: int, vw: list[int], leans: list[float], prices: list[int],
) -> tuple[list[int], list[int], list[int], list[int], list[int]]:
    """
    A node's volume ``v``, quote volume ``q``, trades ``n``, taker volume ``tb`` and
    taker quote volume ``tq`` split exactly among its children (cumulative floors):
    trades by the volume weights ``vw``, the rest of the volume by the same weights
    where there are trades (a child with volume has trades), taker volume by volume
    times the taker share ``leans``, quote volumes by volume and taker volume times
    ``prices`` (twice a child's mean of open and close). Returns (trades, volumes,
    takers, quotes, taker quotes).
    """
    total = sum(vw)
    extra = v - n
    acc = pn = pe = st = sq = stq = 0
    trades = []
    vols = []
    tws = []
    qws = []
    tqws = []
    for x, lean, s in zip(vw, leans, prices):
        acc += x
        cn = n * acc // total
        ce = extra * acc // total
        t = cn - pn
        vol = t + ce - pe
        pn = cn
        pe = ce
        trades.append(t)
        vols.append(vol)
        tw = int(vol * lean * 1048576.0)
        qw = vol * s
        tws.append(tw)
        qws.append(qw)
        tqws.append(tw * s)
        st += tw
        sq += qw
    if extra and 0 in trades:
        # volume only where there are trades (a child with volume has trades)
        return _volumes_masked(v, q, n, tb, tq, vw, leans, prices, trades)
    stq = sum(tqws)
    if not (st and sq and stq):
        return trades, vols, *_fix_volumes(vols, tb, q, tq, tws, qws)
    takers = []
    quotes = []
    tquotes = []
    ca = cq = ct = pa = pq = pt = 0
    bad = False
    for vol, tw, qw, tqw in zip(vols, tws, qws, tqws):
        ca += tw
        cq += qw
        ct += tqw
        cut = tb * ca // st
        taker = cut - pa
        pa = cut
        cut = q * cq // sq
        quote = cut - pq
        pq = cut
        cut = tq * ct // stq
        tquote = cut - pt
        pt = cut
        if taker > vol or tquote > quote:
            bad = True
        takers.append(taker)
        quotes.append(quote)
        tquotes.append(tquote)
    if bad:
        return trades, vols, *_fix_volumes(vols, tb, q, tq, tws, qws)
    return trades, vols, takers, quotes, tquotes


def _volumes_masked(
    v: int, q: int, n: int, tb: int, tq: int, vw: list[int], leans: list[float], prices: list[int],
    trades: list[int],
) -> tuple[list[int], list[int], list[int], list[int], list[int]]:
    """:func:`_volumes` when some children have no trades: the rest of the volume goes to the others."""
    masked = [x if t else 0 for x, t in zip(vw, trades)]
    total = sum(masked)
    extra = v - n
    acc = pe = 0
    vols = []
    for x, t in zip(masked, trades):
        acc += x
        ce = extra * acc // total
        vols.append(t + ce - pe)
        pe = ce
    tws = [int(vol * lean * 1048576.0) for vol, lean in zip(vols, leans)]
    qws = [vol * s for vol, s in zip(vols, prices)]
    takers = split_capped(tb, tws, vols)
    quotes = split_integer(q, qws)
    tquotes = split_capped(tq, [tw * s for tw, s in zip(tws, prices)], quotes)
    return trades, vols, takers, quotes, tquotes






def _firsts(first: int, trades: list[int]) -> list[int]:
    """Each child's first trade index."""
    out = list(accumulate(trades, initial=first))
    out.pop()
    return out


def _fix_volumes(vols: list[int], tb: int, q: int, tq: int, tws: list[int],
                 qws: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Taker and quote splits again with caps (taker <= volume, taker quote <= quote)."""
    takers = split_capped(tb, tws, vols)
    quotes = split_integer(q, qws)
    tquotes = split_capped(tq, [qq * t // vol if vol else 0 for qq, t, vol in zip(quotes, takers, vols)], quotes)
    return takers, quotes, tquotes


def split_capped(total: int, weights: list[int], caps: list[int]) -> list[int]:
    """``total`` split like :func:`split_integer`, no part above its cap (``total <= sum(caps)``)."""
    parts = split_integer(total, weights)
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


def _profiles(amplitude: float, peak_hour: float) -> list[list[float] | None]:
    """Per split level: the seasonal factor of each child of a day-aligned position."""
    out: list[list[float] | None] = []
    for level in range(len(BRANCHING)):
        child_ms = LEVEL_MS[level + 1]
        if not amplitude or child_ms < 15 * 60_000:
            out.append(None)
            continue
        per_day = DAY_MS // child_ms
        out.append([
            1.0 + amplitude * math.cos(_TWO_PI * (((j + 0.5) * child_ms / HOUR_MS) - peak_hour) / 24.0)
            for j in range(per_day)
        ])
    return out


@lru_cache(maxsize=16)
def _model_setup(p: ModelParams) -> tuple:
    """What a model needs of its parameters (the same for every seed: made once)."""
    # variance correction so that E[sigma_week**2] = sigma0**2 (value noise with
    # smoothstep interpolation has about 0.6 of its knots' variance)
    correction = 2.0 * (len(p.vol_scales) * 0.6 * p.vol_amplitude**2 + p.week_vol_noise**2)
    mean_w = _sum(p.weekday) / 7.0
    weekday = [x / mean_w for x in p.weekday]
    # a day's variance follows its weekday's activity (``activity**vol_activity``)
    weekday_variance = tuple(x**p.vol_activity for x in weekday)
    shapes = _week_shapes(p.cascade[0], weekday_variance, p.jump_day_probability, p.jump_day_variance)
    levels = [_Level(k, level, p.cascade[1 + level], p) for level, k in enumerate(BRANCHING)]
    # above the day: splits whose closes come from a week's shape (no cascade and no
    # jump draws: the shape has them)
    flat = evolve(p, jump_node_probability=0.0)
    block_level = _Level(BLOCK_WEEKS, 0x15, 0.0, flat)
    week_level = _Level(7, 0x11, 0.0, flat)
    return (correction, weekday_variance, shapes, _shape_arrays(shapes), weekday, levels, block_level, week_level,
            _profiles(p.intraday_vol, p.peak_hour), _profiles(p.intraday_volume, p.peak_hour))


class _MarketConstants:
    """What the model needs of a market, computed once."""

    __slots__ = ("prefix", "ticks", "sigma0", "rate", "daily_lots", "quote_scale", "log_price")

    def __init__(self, seed: int, name: str, market: Market) -> None:
        self.prefix = stable_seed(seed, market.key, name).to_bytes(8, "big")
        self.ticks = 10**market.price_decimals
        self.sigma0 = market.daily_volatility
        self.rate = max(1, market.daily_trades)
        self.daily_lots = market.daily_volume * 10**market.qty_decimals
        self.quote_scale = 10 ** (QUOTE_DECIMALS - market.price_decimals - market.qty_decimals)
        self.log_price = math.log(market.price)


@implementer(ICandleModel)
class StylizedModel:
    """
    Multiscale stochastic volatility with a multiplicative cascade, jumps, intraday
    profiles and volume that follows activity. See the module docstring and
    docs/models.md. Nodes carry two extra fields after the ten integers: the node's
    return variance (float) and a jump flag; trade indices count from 1970.
    """

    name = "stylized"

    def __init__(self, seed: int, params: ModelParams = ModelParams()) -> None:
        self.seed = seed
        self.params = params
        if len(params.cascade) != 1 + len(BRANCHING):
            raise ValueError(f"cascade needs {1 + len(BRANCHING)} sigmas (days, then each intraday level)")
        (self._vol_correction, self._weekday_variance, self._shapes, self._shape_arrays, self._weekday_activity,
         self._levels,
         self._block_level, self._week_level, self._vol_profile, self._volume_profile) = _model_setup(params)
        self._consts: dict[Market, _MarketConstants] = {}
        # per market and index: the weeks of a block and the days of a week (each
        # bounded, oldest first out)
        self._block_kids: dict[tuple[Market, int], tuple[Node, ...]] = {}
        self._week_kids: dict[tuple[Market, int], tuple[Node, ...]] = {}
        # (a dict, not lru_cache around a bound method: that would hold the model in a
        # reference cycle, freed only by a full collection, caches and all)
        self._knot_cache: dict[tuple[Market, bytes, int], tuple[list[float], list[float]]] = {}

    # -- randomness -----------------------------------------------------------------

    def _c(self, market: Market) -> _MarketConstants:
        consts = self._consts.get(market)
        if consts is None:
            consts = self._consts[market] = _MarketConstants(self.seed, self.name, market)
        return consts

    def _knots(self, market: Market, what: bytes, chunk: int) -> tuple[list[float], list[float]]:
        """64 knots of a value-noise process: (standard normal, uniform on [-1, 1])."""
        key = (market, what, chunk)
        got = self._knot_cache.get(key)
        if got is None:
            words = _words([self._c(market).prefix + what + chunk.to_bytes(8, "big", signed=True)], 128)
            got = list(map(_normal_table().__getitem__, words)), [u / 32768.0 - 1.0 for u in words]
            self._knot_cache[key] = got
            trim_cache(self._knot_cache, 4096)
        return got

    def _noise_series(self, market: Market, what: bytes, scale: int, start: int, count: int,
                      gaussian: bool) -> np.ndarray:
        """
        Seeded value noise with knots every ``scale`` steps (smoothstep between them),
        at ``start .. start + count - 1``: ``knot + step * smoothstep``, as whole-array
        operations.
        """
        tag = what + scale.to_bytes(2, "big")
        k0, rem = divmod(start, scale)
        k1 = (start + count - 1) // scale + 1
        knots = np.array(self._knot_values(market, tag, k0, k1 + 1, gaussian))
        steps = knots[1:] - knots[:-1]
        n = len(steps)
        values = np.repeat(knots[:-1], scale) + np.repeat(steps, scale) * np.tile(_smoothstep_array(scale), n)
        return values[rem:rem + count]

    def _knot_values(self, market: Market, tag: bytes, j0: int, j1: int, gaussian: bool) -> list[float]:
        """Knots ``j0 .. j1 - 1`` of a value-noise process, a chunk of 64 at a time."""
        out: list[float] = []
        which = 0 if gaussian else 1
        j = j0
        while j < j1:
            chunk, i = divmod(j, 64)
            stop = min(64, i + j1 - j)
            out += self._knots(market, tag, chunk)[which][i:stop]
            j += stop - i
        return out

    # -- blocks -----------------------------------------------------------------------

    def _anchors(self, market: Market, j0: int, count: int) -> list[float]:
        """Log prices at the starts of blocks ``j0 .. j0 + count - 1``."""
        c = self._c(market)
        sd = c.sigma0 * math.sqrt(BLOCK_DAYS / 2.0) * self.params.anchor_scale
        normal = _normal_table()
        keys = [c.prefix + b"\x14" + j.to_bytes(8, "big", signed=True) for j in range(j0, j0 + count)]
        return [c.log_price + sd * normal[u] for u in _words(keys, 2)]

    def _trade_index(self, market: Market, j0: int, count: int) -> list[int]:
        """Trades before blocks ``j0 ..`` since 1970: increasing, O(1), varying by block."""
        c = self._c(market)
        amp = self.params.block_activity * BLOCK_DAYS
        noise = self._noise_series(market, b"bac", 2, j0, count, False).tolist() if amp else [0.0] * count
        return [int(c.rate * (BLOCK_DAYS * j + amp * y)) for j, y in zip(range(j0, j0 + count), noise)]

    def _make_blocks(self, market: Market, j0: int, count: int) -> list[tuple[Node, ...]]:
        """
        The weeks of blocks ``j0 .. j0 + count - 1``, each carrying the index of its
        days' shape (:func:`_week_shapes`), from which its parts and days are split.

        A block's weeks close on a Brownian bridge between its anchors (log price); a
        week's days close on a bridge between the week's open and close (its shape,
        scaled); a week's high and low are its extreme daily closes plus a day-sized
        wick. So no level above the day clamps or shrinks the days' closes (daily
        returns are the days' own), and a week costs a few list operations, not its
        days: 1000 weekly candles cost about what 1000 daily ones do. Written as
        whole-batch array operations.
        """
        p = self.params
        c = self._c(market)
        nweeks = BLOCK_WEEKS * count
        w0 = BLOCK_WEEKS * j0 + 3
        x = np.zeros(nweeks)
        if p.vol_amplitude:
            for scale in p.vol_scales:
                x = x + p.vol_amplitude * self._noise_series(market, b"vol", scale, w0, nweeks, True)
        act_arr = np.ones(nweeks)
        if p.activity_amplitude and p.activity_scales:
            amp = p.activity_amplitude / len(p.activity_scales)
            for scale in p.activity_scales:
                act_arr = act_arr + amp * self._noise_series(market, b"act", scale, w0, nweeks, False)
        activity = act_arr.tolist()
        anchors = self._anchors(market, j0, count + 1)
        index = self._trade_index(market, j0, count + 1)
        blocks = range(j0, j0 + count)
        # per block: volume and taker words; per week: volatility noise, bridge, volume,
        # high wick, low wick and shape words
        block_words = _words([c.prefix + b"\x13" + j.to_bytes(8, "big", signed=True) for j in blocks], 4)
        # Whole-batch array operations, element by element the same float operations in
        # the same order as the plain loops they replace (so the same bytes): IEEE + - * /
        # and sqrt are exact in numpy as in Python; exp and pow stay Python's (numpy's
        # vectorised ones may differ in the last bit between CPUs).
        ww = _word_array([c.prefix + b"\x10" + j.to_bytes(8, "big", signed=True) for j in blocks],
                         12 * BLOCK_WEEKS).reshape(nweeks, 6).astype(np.intp) >> 4
        normal = _normal_array()
        exp, sqrt, tanh = math.exp, math.sqrt, math.tanh
        base_var = 7.0 * c.sigma0**2
        correction = self._vol_correction
        noise = p.week_vol_noise
        ka = p.vol_activity
        growth = np.fromiter(map(exp, (2.0 * (x + noise * normal[ww[:, 0]]) - correction).tolist()),
                             float, nweeks)
        var_arr = base_var * growth * np.fromiter(map(pow, activity, repeat(ka)), float, nweeks)
        variances = var_arr.tolist()
        # weeks' closes: a Brownian bridge in log price between each block's anchors,
        # one step for all blocks at a time
        ticks = c.ticks
        vs = var_arr.reshape(count, BLOCK_WEEKS)
        zs = normal[ww[:, 1]].reshape(count, BLOCK_WEEKS)
        ends = np.array(anchors)
        x1 = ends[1:]
        path = np.empty((count, BLOCK_WEEKS + 1))
        path[:, 0] = xx = ends[:-1]
        path[:, BLOCK_WEEKS] = x1
        rem = vs[:, 0]
        for j in range(1, BLOCK_WEEKS):
            rem = rem + vs[:, j]
        for j in range(BLOCK_WEEKS - 1):
            vt = vs[:, j]
            r2 = rem - vt
            xx = xx + ((x1 - xx) * vt / rem + np.sqrt(vt * r2 / rem) * zs[:, j])
            rem = r2
            path[:, j + 1] = xx
        prices = np.maximum(np.rint(np.fromiter(map(exp, path.ravel().tolist()), float, path.size) * ticks), 1.0)
        prices = prices.astype(np.int64).reshape(count, BLOCK_WEEKS + 1)
        open_arr = prices[:, :BLOCK_WEEKS].ravel()
        close_arr = prices[:, 1:].ravel()
        opens = open_arr.tolist()
        closes = close_arr.tolist()
        # A week's range: its extreme closes (bounded by chords of its shape's function,
        # see _week_shapes) plus a day-sized wick.
        shape_ids = ww[:, 5].tolist()
        tops_t, bottoms_t = self._shape_arrays[4:]
        shape_rows = ww[:, 5]
        tops = tops_t[shape_rows]
        bottoms = bottoms_t[shape_rows]
        sds = np.sqrt(var_arr) * ((open_arr + close_arr) * 0.5)
        m = (close_arr - open_arr) / sds + 2.0
        i = np.clip(np.trunc(m), 0.0, 3.0)
        f = m - i
        i = i.astype(np.intp)
        rows = np.arange(nweeks)
        t_lo = tops[rows, i]
        b_lo = bottoms[rows, i]
        top = np.where(m >= 4.0, tops[:, 4] + m - 4.0,
                       np.where(m <= 0.0, tops[:, 0], t_lo + (tops[rows, i + 1] - t_lo) * f))
        bottom = np.where(m >= 4.0, bottoms[:, 4],
                          np.where(m <= 0.0, bottoms[:, 0] + m, b_lo + (bottoms[rows, i + 1] - b_lo) * f))
        wick = _wick_array()
        wick_scale = math.sqrt(0.5 * p.range_variance / 7.0)
        highs = open_arr + np.trunc(sds * (top + wick_scale * wick[ww[:, 3]])).astype(np.int64) + 1
        lows = np.maximum(open_arr + np.trunc(sds * (bottom - wick_scale * wick[ww[:, 4]])).astype(np.int64) - 1, 1)
        ranges = list(zip(highs.tolist(), lows.tolist()))
        # the blocks' totals: trades a closed form of the index (trade ids are O(1) on
        # any date), volume following activity, variance and |return|; the weeks' are
        # split from them
        vnoise = _lognormal_table(p.volume_noise)
        gain = p.volume_abs_return
        gain_norm = 1.0 + gain * 0.8
        sd_ref = c.sigma0 * math.sqrt(BLOCK_DAYS)
        parents = []
        for b in range(count):
            lo, hi = b * BLOCK_WEEKS, (b + 1) * BLOCK_WEEKS
            var = _sum(variances[lo:hi])
            o = opens[lo]
            cl = closes[hi - 1]
            first = index[b]
            trades = index[b + 1] - first
            sd = sqrt(var)
            d = anchors[b + 1] - anchors[b]
            u = block_words[2 * b:2 * b + 2]
            lots = (c.daily_lots * 7.0 * _sum(activity[lo:hi]) * (sd / sd_ref) ** p.volume_variance
                    * (1.0 + gain * abs(d) / sd) / gain_norm * vnoise[u[0]])
            lots = max(trades, round(lots)) if trades else 0
            quote = round(lots * (o + cl) / 2 * c.quote_scale)
            share = 0.5 + 0.5 * p.taker_tilt * tanh(d / sd) + 0.04 * (u[1] / _WORD - 0.5)
            taker = min(lots, round(lots * share))
            taker_quote = quote * taker // lots if lots else 0
            # (a block is never a candle: its range is its weeks')
            parents.append((o, 1 << 62, 1, cl, lots, quote, trades, taker, taker_quote, first, var, 0))
        level = self._block_level
        return _split_groups(level, [c.prefix + level.tag + j.to_bytes(8, "big", signed=True) for j in blocks], parents,
                             vmul=variances, amul=activity, closes_in=closes, ranges_in=ranges,
                             tails_in=[(0, t) for t in shape_ids])

    def _week_days(self, weeks: Sequence[Node]) -> tuple[list[float], list[int], list[int]]:
        """
        The days of ``weeks`` from their shapes, flat: (variances, closes, jump flags);
        closes ``round(open + F * (close - open) + D * sd)``, as array operations (the
        same float operations as element by element).
        """
        shares, cumulative, deviations, jumps = self._shape_arrays[:4]
        n = len(weeks)
        ids = np.fromiter([week[12] for week in weeks], np.intp, n)
        opens = np.fromiter([week[0] for week in weeks], np.int64, n)
        closes = np.fromiter([week[3] for week in weeks], np.int64, n)
        variances = np.fromiter([week[10] for week in weeks], float, n)
        sds = np.sqrt(variances) * ((opens + closes) * 0.5)
        day_closes = np.rint((opens[:, None] + cumulative[ids] * (closes - opens)[:, None])
                             + deviations[ids] * sds[:, None])
        day_closes[:, 6] = closes
        day_closes = np.maximum(day_closes, 1.0).astype(np.int64)
        return ((shares[ids] * variances[:, None]).ravel().tolist(), day_closes.ravel().tolist(),
                jumps[ids].ravel().tolist())

    def _weeks(self, market: Market, w0: int, count: int) -> list[Node]:
        """Weeks ``w0 .. w0 + count - 1`` (children of their blocks)."""
        j0 = _block_of_week(w0)
        j1 = _block_of_week(w0 + count - 1) + 1
        cache = self._block_kids
        groups = [cache.get((market, j)) for j in range(j0, j1)]
        if None in groups:
            missing = [j for j, g in zip(range(j0, j1), groups) if g is None]
            a = missing[0]
            made = self._make_blocks(market, a, missing[-1] + 1 - a)
            cache.update(zip(((market, j) for j in range(a, missing[-1] + 1)), made))
            trim_cache(cache, _CACHED_GROUPS)
            groups = [cache.get((market, j)) for j in range(j0, j1)]
        offset = w0 - (BLOCK_WEEKS * j0 + 3)
        return list(chain.from_iterable(groups))[offset:offset + count]  # type: ignore[arg-type]

    def _week_split(self, market: Market, weeks: Sequence[int], nodes: Sequence[Node]) -> list[tuple[Node, ...]]:
        """
        The seven days of each of ``weeks`` (whose nodes are ``nodes``): closes and jump
        flags from the week's shape, highs and lows from the law of each day's bridge
        extremes within the week's (the day with the highest draw carries the week's
        high, the lowest its low), volumes split from the week's.
        """
        cache = self._week_kids
        got = [cache.get((market, w)) for w in weeks]
        if None in got:
            todo = [(i, w) for i, (w, g) in enumerate(zip(weeks, got)) if g is None]
            made = self._split_weeks(market, [w for _, w in todo], [nodes[i] for i, _ in todo])
            cache.update(zip(((market, w) for _, w in todo), made))
            trim_cache(cache, _CACHED_GROUPS)
            for (i, _), kids in zip(todo, made):
                got[i] = kids
        return got  # type: ignore[return-value]

    def _split_weeks(self, market: Market, weeks: Sequence[int], nodes: Sequence[Node],
                     as_arrays: bool = False) -> list[tuple[Node, ...]] | tuple[np.ndarray, ...] | None:
        """
        The kernel's split of ``weeks`` (whose nodes are ``nodes``) into their days, not
        cached: tuples, or with ``as_arrays`` (weeks, 7) arrays of the days' first ten
        fields or None (see :func:`_split_groups`).
        """
        day_vars, day_closes, jumps = self._week_days(nodes)
        level = self._week_level
        prefix = self._c(market).prefix + level.tag
        return _split_groups(
            level, [prefix + w.to_bytes(8, "big", signed=True) for w in weeks], [node[:11] + (0,) for node in nodes],
            vmul=day_vars, amul=self._weekday_activity * len(weeks), closes_in=day_closes,
            tails_in=[(jump,) for jump in jumps], as_arrays=as_arrays,
        )

    def days(self, market: Market, first_day: int, count: int) -> list[Node]:
        """Days ``first_day .. first_day + count - 1``: their weeks, split."""
        w0 = _week_of(first_day)
        w1 = _week_of(first_day + count - 1) + 1
        weeks = range(w0, w1)
        out = list(chain.from_iterable(self._week_split(market, weeks, self._weeks(market, w0, w1 - w0))))
        offset = first_day - _week_start(w0)
        return out[offset:offset + count]

    def day(self, market: Market, day_index: int) -> Node:
        return self.days(market, day_index, 1)[0]

    def spans(self, market: Market, bounds: Sequence[int]) -> list[Node]:
        """
        The aggregate of days ``[bounds[i], bounds[i + 1])`` for each ``i``: whole weeks
        as they are, split into days only where a boundary cuts them; a span of one
        piece is that piece, a span of several is :func:`~mockex.market.aggregate` of
        them, computed for all spans at once (prefix sums and slices instead of a call
        per span: a 3d request has a thousand spans of three days).
        """
        first_day = bounds[0]
        last = bounds[-1]
        w0 = _week_of(first_day)
        w1 = _week_of(last - 1) + 1
        weeks = self._weeks(market, w0, w1 - w0)
        # a week is split when a boundary falls inside it or the range starts or ends in it
        edges = np.asarray(bounds, dtype=np.int64)
        starts = 7 * np.arange(w0, w1, dtype=np.int64) - 3
        inside = np.searchsorted(edges, starts + 7, "left") - np.searchsorted(edges, starts, "right")
        cut_mask = (inside > 0) | (starts < first_day) | (starts + 7 > last)
        cut = (np.flatnonzero(cut_mask) + w0).tolist()
        cached = self._week_kids
        if len(cut) * 7 > _SMALL and 2 * sum((market, w) in cached for w in cut) < len(cut):
            # (most of the days not made yet: made as arrays; a warm model reads its tuples)
            out = self._spans_by_arrays(market, edges, weeks, w0, cut, cut_mask)
            if out is not None:
                return out
        split = dict(zip(cut, self._week_split(market, cut, [weeks[w - w0] for w in cut]))) if cut else {}
        # the pieces covering [first_day, last) in order: their first days and nodes
        piece_days: list[int] = []
        pieces: list[Node] = []
        for w, node in zip(range(w0, w1), weeks):
            start = 7 * w - 3
            days = split.get(w)
            if days is None:
                piece_days.append(start)
                pieces.append(node)
            else:
                lo = first_day - start if first_day > start else 0
                hi = last - start if last < start + 7 else 7
                piece_days.extend(range(start + lo, start + hi))
                pieces.extend(days[lo:hi])
        # every boundary is a piece's first day (the weeks it cuts are split)
        idx = np.searchsorted(np.asarray(piece_days, dtype=np.int64), edges).tolist()
        if len(idx) - 1 == len(pieces):
            return pieces
        # (zip stops at the shortest node: every node has the ten fields aggregated)
        opens, highs, lows, closes, vols, quotes, trades, takers, taker_quotes, firsts = list(zip(*pieces))[:10]
        sv, sq, sn, stb, stq = (list(accumulate(col, initial=0))
                                for col in (vols, quotes, trades, takers, taker_quotes))
        out: list[Node] = []
        append = out.append
        for i, j in zip(idx, idx[1:]):
            if j == i + 1:
                append(pieces[i])
                continue
            n = sn[j] - sn[i]
            if not n:
                first = -1
            elif trades[i]:
                first = firsts[i]
            else:
                first = next(f for t, f in zip(trades[i:j], firsts[i:j]) if t)
            append((opens[i], max(highs[i:j]), min(lows[i:j]), closes[j - 1], sv[j] - sv[i], sq[j] - sq[i], n,
                    stb[j] - stb[i], stq[j] - stq[i], first))
        return out

    def _spans_by_arrays(self, market: Market, edges: np.ndarray, weeks: Sequence[Node], w0: int, cut: list[int],
                         cut_mask: np.ndarray) -> list[Node] | None:
        """
        :meth:`spans` (their first ten fields) when many weeks are cut (3d, 1M): the
        cut weeks' days as arrays, never made into tuples, and every span reduced at
        once (the same values as :func:`~mockex.market.aggregate` of its pieces). None
        when a value would not fit the arrays (then the general path).
        """
        # (not cached: a warm model reads the tuples of _week_split)
        days = self._split_weeks(market, cut, [weeks[w - w0] for w in cut], as_arrays=True)
        if days is None:
            return None
        first_day = int(edges[0])
        last = int(edges[-1])
        day_starts = (7 * np.array(cut, dtype=np.int64) - 3)[:, None] + np.arange(7)
        keep = (day_starts >= first_day) & (day_starts < last)
        whole = np.flatnonzero(~cut_mask)
        whole_cols = list(zip(*[weeks[i] for i in whole.tolist()]))[:10] or [()] * 10
        # the pieces in order of their first day: days of cut weeks, whole weeks
        starts = np.concatenate((day_starts[keep], 7 * (whole + w0) - 3))
        order = np.argsort(starts, kind="stable")
        starts = starts[order]
        try:
            o, h, low, c, f = (np.concatenate((days[i][keep], np.array(whole_cols[i], dtype=np.int64)))[order]
                               for i in (0, 1, 2, 3, 9))
            v, n, tb = (np.concatenate((days[i][keep], np.array(whole_cols[i], dtype=np.uint64)))[order]
                        for i in (4, 6, 7))
        except OverflowError:
            return None
        idx = np.searchsorted(starts, edges[:-1])
        if not np.array_equal(starts[idx], edges[:-1]):
            return None
        # (uint64 sums are exact while below 2**64: checked in float, with room to spare;
        # quote volumes, whose month can pass 2**64, are summed in Python ints)
        if np.add.reduceat(v.astype(np.float64), idx).max() >= 2.0**63:
            return None
        positions = order.tolist()
        bounds_at = idx.tolist()
        bounds_at.append(len(positions))
        quote_sums = []
        for i in (5, 8):
            values = days[i][keep].tolist()
            values.extend(whole_cols[i])
            prefix = list(accumulate([values[j] for j in positions], initial=0))
            quote_sums.append([prefix[j] - prefix[i] for i, j in zip(bounds_at, bounds_at[1:])])
        ends = np.append(idx[1:], len(starts))
        trades = np.add.reduceat(n, idx)
        firsts = f[idx]
        single = ends - idx == 1
        firsts[(trades == 0) & ~single] = -1
        out = list(zip(o[idx].tolist(), np.maximum.reduceat(h, idx).tolist(), np.minimum.reduceat(low, idx).tolist(),
                       c[ends - 1].tolist(), np.add.reduceat(v, idx).tolist(), quote_sums[0], trades.tolist(),
                       np.add.reduceat(tb, idx).tolist(), quote_sums[1], firsts.tolist()))
        # a span whose first piece has no trades but others have: its first trade is
        # the first of those (rare)
        for i in np.flatnonzero((n[idx] == 0) & (trades > 0) & ~single).tolist():
            a, b = int(idx[i]), int(ends[i])
            first = next(fi for ni, fi in zip(n[a:b].tolist(), f[a:b].tolist()) if ni)
            out[i] = out[i][:9] + (first,)
        return out

    # -- intraday ---------------------------------------------------------------------

    def split_run(self, market: Market, level: int, first_index: int, nodes: Sequence[Node]) -> list[tuple[Node, ...]]:
        """:meth:`split` of consecutive nodes ``first_index ..`` of ``level``, in one batch."""
        lv = self._levels[level]
        count = len(nodes) * lv.k
        vmul = amul = None
        profile = self._vol_profile[level]
        if profile is not None:
            start = first_index % (DAY_MS // LEVEL_MS[level]) * lv.k
            vmul = list(islice(cycle(profile), start, start + count))
        profile = self._volume_profile[level]
        if profile is not None:
            start = first_index % (DAY_MS // LEVEL_MS[level]) * lv.k
            amul = list(islice(cycle(profile), start, start + count))
        prefix = self._c(market).prefix + lv.tag
        keys = [prefix + i.to_bytes(8, "big", signed=True) for i in range(first_index, first_index + len(nodes))]
        return _split_groups(lv, keys, nodes, vmul, amul)

    def split(self, market: Market, level: int, index: int, node: Node) -> tuple[Node, ...]:
        if len(node) < 12:
            node = tuple(node[:10]) + (market.daily_volatility**2 * LEVEL_MS[level] / DAY_MS, 0)
        return self.split_run(market, level, index, [node])[0]


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

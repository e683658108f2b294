"""
Deterministic, seekable market data.

The design in one paragraph
---------------------------
Every candle that mockex serves, of every interval and time zone, is an aggregate of
nodes of one fixed tree of time: a day splits into two half days, each into three
4-hour nodes, each into four hours, then quarter hours, 5-minute nodes, minutes and
finally seconds. A node holds
integer OHLCV (prices in ticks, volumes in lots), so aggregation is exact. The tree is
built *top-down*: a day's open, high, low, close and volume are drawn first, and each
node's children are then drawn *conditioned on their parent* (a Brownian bridge between
the parent's open and close, clipped into its range, with one child carrying the
parent's high and one its low, and volumes split so that they add up exactly). Any
node is therefore reachable from its day in seven steps, without generating anything
before it: 1000 one-minute candles of 2019 cost the same as 1000 of last week, and a
5m candle is by construction the aggregate of its five 1m candles, a ``1M`` candle of
its days, a ``1d`` candle at ``+05:45`` of the quarter hours it spans.

Each node's randomness comes from its own generator, seeded by a hash of
``(seed, market, level, index)``: the same seed gives the same bytes in any process,
whatever the order of requests or the server's start time.

Days themselves come from a seekable, mean-reverting log-price: anchors every
``BLOCK_DAYS`` days are drawn independently around the configured price, and the days
between two anchors follow a Brownian bridge between them. Whoever configures BTCUSDT at
50 000 sees it trade near 50 000 on any date, with realistic day-to-day moves.

:class:`ICandleModel` is the seam for richer models (volatility clustering, jumps,
replay): a model provides days and node splits; :class:`CandleSource` owns the tree,
caching, aggregation and the live partial candle.
"""

from __future__ import annotations

import hashlib
import math
import random
from itertools import chain, islice
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from attrs import field, frozen
from zope.interface import Interface, implementer

from mockex.intervals import DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, Interval

#: Quote volumes are kept in units of 10**-8 of the quote asset.
QUOTE_DECIMALS = 8

#: A node: (open, high, low, close, volume, quote_volume, trades, taker_base,
#: taker_quote, first_trade_index). Prices in ticks, volume in lots (10**-qty_decimals),
#: quote volumes in 10**-8 quote units. The trade index may count from any fixed origin
#: (the listing day's midnight, or 1970): trade ids count from the listing instant, which
#: the tree subtracts (``_MarketTree.trades_before_listing``). A model
#: may append its own state after these ten fields (mockex.models: the node's return
#: variance and a jump flag); aggregation and candles read only the first ten.
Node = tuple[Any, ...]

#: Node durations, coarsest first; the first level is the root (days).
LEVEL_MS: tuple[int, ...] = (
    DAY_MS,
    12 * HOUR_MS,
    4 * HOUR_MS,
    HOUR_MS,
    15 * MINUTE_MS,
    5 * MINUTE_MS,
    MINUTE_MS,
    SECOND_MS,
)
LEAF = len(LEVEL_MS) - 1
#: How many children a node of level ``i`` has.
BRANCHING: tuple[int, ...] = tuple(
    LEVEL_MS[i] // LEVEL_MS[i + 1] for i in range(LEAF)
)


def _whole_second(attribute: Any, value: int) -> None:
    if value % SECOND_MS:
        raise ValueError(f"{attribute.name} must be a whole second, not {value}")


@frozen(cache_hash=True)
class Market:
    """
    One instrument, venue-neutral. The venue decides how to spell it.

    ``price`` is the level the price reverts to. ``price_decimals`` / ``qty_decimals``
    are the tick and lot sizes as powers of ten (BTCUSDT on Binance: 2 and 5).
    """

    base: str
    quote: str
    price: float
    price_decimals: int
    qty_decimals: int
    #: the instant the market opened (whole seconds); nothing exists before it
    listed_ms: int = field(default=1_502_928_000_000, validator=lambda _, a, v: _whole_second(a, v))
    #: typical daily volume in base units
    daily_volume: float = 0.0
    #: typical trades per day
    daily_trades: int = 0
    #: standard deviation of daily log returns
    daily_volatility: float = 0.025

    @property
    def key(self) -> str:
        """The identity that seeds this market's data: the same on every venue."""
        return f"{self.base}/{self.quote}"

    @classmethod
    def create(
        cls,
        base: str,
        quote: str,
        price: float,
        *,
        price_decimals: int | None = None,
        qty_decimals: int | None = None,
        listed_ms: int | None = None,
        daily_volume: float | None = None,
        daily_trades: int | None = None,
        daily_volatility: float = 0.025,
    ) -> "Market":
        """
        A market with realistic defaults derived from its price: about six significant
        digits of price (50 000.00, 3 000.00, 2.2000, 0.16000), lots of about a dollar's
        worth, a daily turnover of 50 million quote units.
        """
        if not (price > 0 and math.isfinite(price)):
            raise ValueError(f"price must be a positive number, not {price!r}")
        magnitude = math.floor(math.log10(price))
        if price_decimals is None:
            price_decimals = min(8, max(2, 4 - magnitude))
        if qty_decimals is None:
            qty_decimals = min(8, max(0, magnitude + 1))
        if daily_volume is None:
            daily_volume = 50_000_000 / price
        if daily_trades is None:
            lots = daily_volume * 10**qty_decimals
            daily_trades = int(max(1, min(1_000_000, lots / 4)))
        kwargs = {} if listed_ms is None else {"listed_ms": listed_ms}
        return cls(
            base=base,
            quote=quote,
            price=price,
            price_decimals=price_decimals,
            qty_decimals=qty_decimals,
            daily_volume=daily_volume,
            daily_trades=daily_trades,
            daily_volatility=daily_volatility,
            **kwargs,
        )


class Candle(NamedTuple):
    """
    A candle as every venue sees it, before the venue formats it. A named tuple: a
    cold request builds a thousand of them, and a tuple is the cheapest to build.
    """

    open_ms: int
    #: the next candle's open time (exclusive end); venues derive their close time
    end_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int
    taker_base: int
    taker_quote: int
    #: -1 when there were no trades
    first_trade_id: int
    last_trade_id: int
    closed: bool


class ICandleModel(Interface):
    """
    A price model: how days are drawn and how a node splits into its children.

    Both methods must be pure functions of their arguments and the model's seed.
    """

    def day(market: Market, day_index: int) -> Node:
        """The node of day ``day_index`` (days since 1970-01-01)."""

    def split(market: Market, level: int, index: int, node: Node) -> tuple[Node, ...]:
        """
        The ``BRANCHING[level]`` children of node ``index`` of ``level``. They must
        chain (each opens at the previous close; first open and last close are the
        node's), stay within its range with its high and low both reached, and add up
        exactly to its volumes and trade count.
        """


# A model may also provide these batched forms (CandleSource uses them when present;
# mockex.models.StylizedModel does). Each must return exactly what the one-at-a-time
# methods return, whatever the batch, so that any access path gives the same bytes:
#
#   days(market, first_day, count) -> list[Node]
#       day(market, d) for d in range(first_day, first_day + count)
#   split_run(market, level, first_index, nodes) -> list[tuple[Node, ...]]
#       split(market, level, first_index + i, node) for i, node in enumerate(nodes)
#   spans(market, bounds) -> list[Node]
#       for consecutive day boundaries b0 < b1 < ..., the aggregate of the days
#       [b_i, b_i+1), without necessarily drawing every day (3d, 1w, 1M candles)


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from a hash of ``parts``: the same in every process."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def _gauss(rng: random.Random) -> float:
    # Box-Muller on random.random(), whose output is stable across Python versions
    # (random.gauss's algorithm is not promised to be).
    u1 = rng.random() or 1e-300
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * rng.random())


def split_integer(total: int, weights: Sequence[int]) -> list[int]:
    """
    ``total`` split in proportion to non-negative integer ``weights``, exactly
    (largest remainder). A part never exceeds its weight when ``total`` does not exceed
    the sum of the weights.
    """
    wsum = sum(weights)
    if wsum <= 0:
        parts = [0] * len(weights)
        parts[-1] = total
        return parts
    parts = [total * w // wsum for w in weights]
    rest = total - sum(parts)
    if rest:
        order = sorted(
            range(len(weights)), key=lambda i: (total * weights[i]) % wsum, reverse=True
        )
        for i in order[:rest]:
            parts[i] += 1
    return parts


@implementer(ICandleModel)
class RandomWalkModel:
    """
    The default model: a mean-reverting random walk with Brownian-bridge refinement.

    Days: log-price anchors every ``BLOCK_DAYS`` days, drawn around ``log(price)`` with
    standard deviation ``anchor_sigma``; between anchors a Brownian bridge with the
    market's daily volatility. Inside a node: a Brownian bridge from open to close,
    clipped to the node's range; wicks proportional to the child's own volatility;
    volume split with lognormal weights that grow with the child's absolute return.
    """

    BLOCK_DAYS = 32

    def __init__(self, seed: int, anchor_sigma: float = 0.08) -> None:
        self.seed = seed
        self.anchor_sigma = anchor_sigma
        # (a dict: lru_cache around a bound method would hold the model in a cycle)
        self._blocks: dict[tuple[Market, int], tuple[float, ...]] = {}

    def _rng(self, market: Market, *where: object) -> random.Random:
        return random.Random(stable_seed(self.seed, market.key, *where))

    def _anchor(self, market: Market, block: int) -> float:
        rng = self._rng(market, "anchor", block)
        return math.log(market.price) + self.anchor_sigma * _gauss(rng)

    def _block_uncached(self, market: Market, block: int) -> tuple[float, ...]:
        """Log prices at the ``BLOCK_DAYS + 1`` day boundaries of a block."""
        n = self.BLOCK_DAYS
        start = self._anchor(market, block)
        end = self._anchor(market, block + 1)
        rng = self._rng(market, "block", block)
        var = market.daily_volatility**2
        xs = [start]
        x = start
        for i in range(1, n):
            remaining = n - i + 1
            x = x + (end - x) / remaining + math.sqrt(var * (remaining - 1) / remaining) * _gauss(rng)
            xs.append(x)
        xs.append(end)
        return tuple(xs)

    def _block(self, market: Market, block: int) -> tuple[float, ...]:
        key = (market, block)
        got = self._blocks.get(key)
        if got is None:
            got = self._blocks[key] = self._block_uncached(market, block)
            trim_cache(self._blocks, 4096)
        return got

    def _log_price_at_day(self, market: Market, day_index: int) -> float:
        block, offset = divmod(day_index, self.BLOCK_DAYS)
        return self._block(market, block)[offset]

    def _to_ticks(self, market: Market, log_price: float) -> int:
        return max(1, round(math.exp(log_price) * 10**market.price_decimals))

    def _trade_index(self, market: Market, day_index: int) -> int:
        """Trades before day ``day_index`` since 1970: strictly increasing, O(1)."""
        rate = max(1, market.daily_trades)
        jitter = self._rng(market, "trades", day_index).random()
        return day_index * rate + int(rate * 0.4 * jitter)

    def day(self, market: Market, day_index: int) -> Node:
        o = self._to_ticks(market, self._log_price_at_day(market, day_index))
        c = self._to_ticks(market, self._log_price_at_day(market, day_index + 1))
        rng = self._rng(market, "day", day_index)
        sigma = market.daily_volatility
        h = max(o, c, round(max(o, c) * math.exp(abs(_gauss(rng)) * sigma * 0.6)))
        low = max(1, min(o, c, round(min(o, c) * math.exp(-abs(_gauss(rng)) * sigma * 0.6))))
        lots = max(0, round(market.daily_volume * 10**market.qty_decimals * math.exp(0.35 * _gauss(rng) - 0.06)))
        trades = min(
            lots,
            self._trade_index(market, day_index + 1) - self._trade_index(market, day_index),
        )
        vwap = (o + h + low + c) / 4
        scale = 10 ** (QUOTE_DECIMALS - market.price_decimals - market.qty_decimals)
        quote = round(lots * vwap * scale)
        taker_base = round(lots * (0.45 + 0.1 * rng.random()))
        taker_quote = round(quote * taker_base / lots) if lots else 0
        first = self._trade_index(market, day_index) - self._trade_index(
            market, market.listed_ms // DAY_MS
        )
        return (o, h, low, c, lots, quote, trades, taker_base, taker_quote, first)

    def split(self, market: Market, level: int, index: int, node: Node) -> tuple[Node, ...]:
        o, h, low, c, v, q, n, tb, tq, first = node
        k = BRANCHING[level]
        child_ms = LEVEL_MS[level + 1]
        rng = self._rng(market, "split", level, index)
        var = market.daily_volatility**2 / DAY_MS * child_ms  # variance per child
        gauss = _gauss

        # Boundaries: a Brownian bridge in log space from open to close. If it leaves
        # the node's range, its excursion from the straight line is shrunk until it
        # fits (clipping would leave flat runs pinned at the high or low).
        lo, hi, x0, end = math.log(low), math.log(h), math.log(o), math.log(c)
        path = []
        x = x0
        for i in range(1, k):
            remaining = k - i + 1
            x = x + (end - x) / remaining + math.sqrt(var * (remaining - 1) / remaining) * gauss(rng)
            path.append(x)
        shrink = 1.0
        for i, x in enumerate(path, 1):
            line = x0 + (end - x0) * i / k
            d = x - line
            room = (hi - line) if d > 0 else (line - lo)
            if abs(d) > room:
                shrink = min(shrink, room / abs(d) if abs(d) else 1.0)
        bounds = [o]
        for i, x in enumerate(path, 1):
            line = x0 + (end - x0) * i / k
            bounds.append(min(h, max(low, round(math.exp(line + (x - line) * shrink)))))
        bounds.append(c)

        # Which child reaches the node's high and which its low: mostly the one whose
        # body is nearest, sometimes another (a wick).
        tops = [max(bounds[i], bounds[i + 1]) for i in range(k)]
        bottoms = [min(bounds[i], bounds[i + 1]) for i in range(k)]
        jh = tops.index(max(tops)) if rng.random() < 0.75 else rng.randrange(k)
        jl = bottoms.index(min(bottoms)) if rng.random() < 0.75 else rng.randrange(k)
        wick = math.sqrt(var) * 0.7
        highs = [
            h if i == jh else min(h, round(tops[i] * math.exp(abs(gauss(rng)) * wick)))
            for i in range(k)
        ]
        lows = [
            low if i == jl else max(low, round(bottoms[i] * math.exp(-abs(gauss(rng)) * wick)))
            for i in range(k)
        ]

        # Volume follows activity: lognormal noise, more where the price moved.
        sd = math.sqrt(var) or 1e-12
        weights = [
            int(
                1_000_000
                * math.exp(0.4 * gauss(rng))
                * (1.0 + abs(math.log(bounds[i + 1] / bounds[i])) / sd)
            )
            + 1
            for i in range(k)
        ]
        vols = split_integer(v, weights)
        trades = split_integer(n, vols)
        takers = split_integer(tb, vols)
        quotes = split_integer(q, [vols[i] * (tops[i] + bottoms[i]) for i in range(k)])
        taker_quotes = split_integer(tq, quotes)
        children = []
        t = first
        for i in range(k):
            children.append(
                (bounds[i], highs[i], lows[i], bounds[i + 1], vols[i], quotes[i],
                 trades[i], takers[i], taker_quotes[i], t)
            )
            t += trades[i]
        return tuple(children)


def aggregate(nodes: Sequence[Node]) -> Node:
    """The one node equivalent to consecutive ``nodes``."""
    if len(nodes) == 1:
        return nodes[0]
    first_node = nodes[0]
    o, h, low, _, v, q, n, tb, tq, first_trade = first_node[:10]
    if not n:
        first_trade = -1
    c = first_node[3]
    for node in nodes[1:]:
        nh = node[1]
        if nh > h:
            h = nh
        nl = node[2]
        if nl < low:
            low = nl
        c = node[3]
        v += node[4]
        q += node[5]
        if node[6]:
            if not n:
                first_trade = node[9]
            n += node[6]
        tb += node[7]
        tq += node[8]
    return (o, h, low, c, v, q, n, tb, tq, first_trade)


def cover(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """
    The fewest tree nodes, as ``(level, index)``, that exactly tile
    ``[start_ms, end_ms)``; both ends must be whole seconds.
    """
    out: list[tuple[int, int]] = []
    if end_ms > start_ms:
        _cover_walk(out, start_ms, end_ms, 0)
    return out


def _cover_walk(out: list[tuple[int, int]], a: int, b: int, level: int) -> None:
    # (a module function: a nested recursive one is a reference cycle per call, left
    # to the garbage collector)
    size = LEVEL_MS[level]
    if level == LEAF:
        out.extend((level, i) for i in range(a // size, b // size))
        return
    lo = -(-a // size) * size
    hi = b // size * size
    if lo >= hi:
        _cover_walk(out, a, b, level + 1)
        return
    if a < lo:
        _cover_walk(out, a, lo, level + 1)
    out.extend((level, i) for i in range(lo // size, hi // size))
    if hi < b:
        _cover_walk(out, hi, b, level + 1)


_LEVEL_BY_MS = {ms: level for level, ms in enumerate(LEVEL_MS)}


def trim_cache(cache: dict[Any, Any], limit: int) -> None:
    """Drop the oldest entries of ``cache`` (a dict, in insertion order) beyond ``limit``."""
    if len(cache) > limit:
        for key in list(islice(cache, len(cache) - limit)):
            del cache[key]


class _MarketTree:
    """
    The cached node tree of one market, and its scenario overlay (mockex.scenarios):
    nodes that end after the first segment starts are resolved through it.
    """

    def __init__(self, market: Market, model: ICandleModel, cache_size: int) -> None:
        self.market = market
        self.model = model
        self._cache_size = cache_size
        #: days by index, and children by level then parent index: plain dicts (a
        #: batch of splits stores its results in one go; oldest entries go first)
        self._days: dict[int, Node] = {}
        self._kids: list[dict[int, tuple[Node, ...]]] = [{} for _ in BRANCHING]
        # the model's batched forms, when it has them (see ICandleModel)
        self._model_days = getattr(model, "days", None)
        self._model_split_run = getattr(model, "split_run", None)
        #: aggregates of day ranges without every day (None: aggregate the days)
        self.model_spans = getattr(model, "spans", None)
        self.segments: list[Any] = []
        #: the overlay starts here (no overlay: never)
        self._first_cut = 1 << 62
        self._cuts: list[int] = []
        self._overlay: dict[tuple[int, int], Node] = {}
        self._trades_before_listing: int | None = None

    @property
    def trades_before_listing(self) -> int:
        """
        The trade index at the listing instant, which trade ids count from (the
        listing day's first index, whatever origin the model counts from, plus the
        trades of that day before the listing). Made on first use: it costs the
        listing day's splits, and answers without trade ids (Binance's klines) never
        need it.
        """
        if self._trades_before_listing is None:
            listed = self.market.listed_ms
            day_index = listed // DAY_MS
            day_start = day_index * DAY_MS
            # (the model's nodes, as when the tree was made: a scenario set since
            # does not move trade ids)
            before = sum(self.base_node(level, i)[6] for level, i in cover(day_start, listed))
            self._trades_before_listing = self.day(day_index)[9] + before
        return self._trades_before_listing

    def trade_offset(self) -> int:
        """:attr:`trades_before_listing`, as a callable to pass around unevaluated."""
        return self.trades_before_listing

    def day(self, index: int) -> Node:
        node = self._days.get(index)
        if node is None:
            node = self.days(index, 1)[0]
        return node

    def days(self, first: int, count: int) -> list[Node]:
        """Days ``first .. first + count - 1`` (the model's, without scenarios)."""
        get = self._days.get
        out = [get(i) for i in range(first, first + count)]
        if None in out:
            if self._model_days is not None:
                out = self._model_days(self.market, first, count)
            else:
                out = [self.model.day(self.market, i) for i in range(first, first + count)]
            cache = self._days
            cache.update(zip(range(first, first + count), out))
            trim_cache(cache, self._cache_size)
        return out

    def children(self, level: int, index: int) -> tuple[Node, ...]:
        """The model's children of node ``index`` of ``level``, without scenarios."""
        got = self._kids[level].get(index)
        if got is None:
            got = self._split(level, index, [self.base_node(level, index)])[0]
        return got

    def _split(self, level: int, first: int, parents: list[Node]) -> list[tuple[Node, ...]]:
        """Split consecutive nodes of ``level`` from ``first`` and cache their children."""
        if self._model_split_run is not None:
            made = self._model_split_run(self.market, level, first, parents)
        else:
            split = self.model.split
            made = [split(self.market, level, first + i, node) for i, node in enumerate(parents)]
        cache = self._kids[level]
        cache.update(zip(range(first, first + len(made)), made))
        trim_cache(cache, self._cache_size)
        return made

    def run(self, level: int, first: int, count: int) -> list[Node]:
        """
        Nodes ``first .. first + count - 1`` of ``level`` (the model's, without
        scenarios), each level's missing splits made in one batch per run of parents.
        """
        if level == 0:
            return self.days(first, count)
        k = BRANCHING[level - 1]
        p0 = first // k
        p1 = (first + count - 1) // k + 1
        get = self._kids[level - 1].get
        groups = [get(p) for p in range(p0, p1)]
        if None in groups:
            n = p1 - p0
            i = 0
            while i < n:
                if groups[i] is not None:
                    i += 1
                    continue
                j = i + 1
                while j < n and groups[j] is None:
                    j += 1
                groups[i:j] = self._split(level - 1, p0 + i, self.run(level - 1, p0 + i, j - i))
                i = j
        offset = first - p0 * k
        return list(chain.from_iterable(groups))[offset:offset + count]

    def base_node(self, level: int, index: int) -> Node:
        """The model's node, without scenarios."""
        if level == 0:
            return self.day(index)
        parent, position = divmod(index, BRANCHING[level - 1])
        return self.children(level - 1, parent)[position]

    def node(self, level: int, index: int) -> Node:
        if (index + 1) * LEVEL_MS[level] <= self._first_cut:
            if level == 0:
                return self.day(index)
            parent, position = divmod(index, BRANCHING[level - 1])
            return self.children(level - 1, parent)[position]
        return self._overlay_node(level, index)

    def span(self, start_ms: int, end_ms: int) -> Node:
        size = end_ms - start_ms
        level = _LEVEL_BY_MS.get(size)
        if level is not None and not start_ms % size:
            # The candle is one node of the tree (1s, 1m, 5m, 15m, 1h, 4h, 1d).
            return self.node(level, start_ms // size)
        pieces = cover(start_ms, end_ms)
        days = [i for level, i in pieces if level == 0]
        if len(days) > 1:
            # the whole days in one batch, not one model call per day (a partial
            # first 1M candle at the listing has a dozen or more)
            self.days(days[0], days[-1] + 1 - days[0])
        return aggregate([self.node(level, i) for level, i in pieces])

    # -- scenarios ----------------------------------------------------------------

    def set_segments(self, segments: list[Any], from_ms: int) -> None:
        """Replace the overlay; cached overlay nodes ending after ``from_ms`` go."""
        self.segments = list(segments)
        self._cuts = sorted({s.start_ms for s in segments} | {s.end_ms for s in segments if s.end_ms is not None})
        self._first_cut = self._cuts[0] if self._cuts else 1 << 62
        self._overlay = {
            key: node for key, node in self._overlay.items()
            if (key[1] + 1) * LEVEL_MS[key[0]] <= from_ms
        }

    def segment_at(self, t_ms: int) -> Any:
        for seg in reversed(self.segments):
            if seg.start_ms <= t_ms and (seg.end_ms is None or t_ms < seg.end_ms):
                return seg
        return None

    def _overlay_node(self, level: int, index: int) -> Node:
        key = (level, index)
        node = self._overlay.get(key)
        if node is not None:
            return node
        size = LEVEL_MS[level]
        a = index * size
        b = a + size
        if any(a < cut < b for cut in self._cuts):
            k = BRANCHING[level]
            node = aggregate([self.node(level + 1, index * k + i) for i in range(k)])
        else:
            seg = self.segment_at(a)
            if seg is None:
                node = self.base_node(level, index)
            elif level > 0 and seg.contains(a - a % LEVEL_MS[level - 1], a - a % LEVEL_MS[level - 1] + LEVEL_MS[level - 1]):
                # The parent lies in the same segment: split it like the model does.
                parent_index, position = divmod(index, BRANCHING[level - 1])
                if seg.frozen:
                    node = seg.map(self.base_node(level, index), a, b)
                else:
                    parent = self.node(level - 1, parent_index)
                    children = self.model.split(self.market, level - 1, parent_index, parent)
                    k = BRANCHING[level - 1]
                    for i, child in enumerate(children):
                        self._overlay[(level, parent_index * k + i)] = child
                    node = children[position]
            else:
                node = seg.map(self.base_node(level, index), a, b)
        self._overlay[key] = node
        return node


class CandleSource:
    """
    Candles of every configured market, any interval, any date, computed on demand.

    Closed candles are pure functions of (seed, market, interval, offset, open time).
    The candle that contains ``now_ms`` is live: the aggregate of the seconds that have
    elapsed, so REST and WebSocket show the same partial candle at the same moment and
    its final form equals the closed candle.

    The model is chosen per market: ``models`` maps a market's key (``BTC/USDT``) to a
    model factory (or its name in :data:`mockex.models.MODELS`); other markets use
    ``model_factory`` (default: :class:`mockex.models.StylizedModel`).
    """

    def __init__(
        self,
        seed: int = 0,
        model_factory: Callable[[int], ICandleModel] | str | None = None,
        cache_size: int = 32768,
        models: Mapping[str, Callable[[int], ICandleModel] | str] | None = None,
        replays: Mapping[str, Any] | None = None,
    ) -> None:
        self.seed = seed
        #: recorded series (mockex.replay.ReplaySeries) by market key: these markets
        #: are served from the recording, not from a model
        self.replays: dict[str, Any] = dict(replays or {})
        self.model = _make_model(model_factory or "stylized", seed)
        self._cache_size = cache_size
        self._trees: dict[Market, _MarketTree] = {}
        self._models: dict[str, ICandleModel] = {
            key: _make_model(factory, seed) for key, factory in (models or {}).items()
        }
        #: the latest market time anything was served for: scenarios start after it
        self._served_ms = 0
        #: scenarios set so far, per market key, in order
        self.scenarios: dict[str, list[Any]] = {}

    def set_scenario(
        self,
        market: Market,
        kind: str,
        now_ms: int,
        value: float = 0.0,
        duration_ms: int | None = None,
    ) -> Any:
        """
        Start a scenario (see :mod:`mockex.scenarios`) at the start of the second after
        the one holding ``now_ms`` or anything already served; returns the
        :class:`~mockex.scenarios.Scenario`. Raises ValueError.
        """
        from mockex.scenarios import Scenario, plan

        if market.key in self.replays:
            raise ValueError(f"{market.key} is replayed from a recording: scenarios do not apply")
        if duration_ms is not None and duration_ms < SECOND_MS:
            raise ValueError("a scenario's duration is at least one second")
        tree = self._tree(market)
        start = (max(now_ms, self._served_ms, market.listed_ms - 1) // SECOND_MS + 1) * SECOND_MS
        if duration_ms is not None:
            duration_ms = -(-duration_ms // SECOND_MS) * SECOND_MS
        scenario = Scenario(kind, start, float(value), duration_ms)

        def base_price(t_ms: int) -> int:
            return tree.base_node(LEAF, t_ms // SECOND_MS)[0]

        def base_trades(a: int, b: int) -> int:
            return sum(tree.base_node(level, i)[6] for level, i in cover(a, b))

        tree.set_segments(plan(tree.segments, scenario, base_price, base_trades), start)
        self.scenarios.setdefault(market.key, []).append(scenario)
        return scenario

    def _in_gap(self, tree: "_MarketTree", open_ms: int, end_ms: int) -> bool:
        return any(seg.gap and seg.contains(open_ms, end_ms) for seg in tree.segments)

    def model_for(self, market: Market) -> ICandleModel:
        """The model that draws ``market``'s candles."""
        return self._models.get(market.key, self.model)

    def _tree(self, market: Market) -> _MarketTree:
        tree = self._trees.get(market)
        if tree is None:
            tree = self._trees[market] = _MarketTree(market, self.model_for(market), self._cache_size)
        return tree

    def first_open(self, market: Market, interval: Interval, offset_ms: int = 0) -> int:
        """Open time of the market's first candle of ``interval``."""
        series = self.replays.get(market.key)
        if series is not None:
            return interval.floor(series.first_open_ms, offset_ms)
        return interval.floor(market.listed_ms, offset_ms)

    def candle(
        self,
        market: Market,
        interval: Interval,
        open_ms: int,
        now_ms: int,
        offset_ms: int = 0,
    ) -> Candle | None:
        """The candle opening at ``open_ms``, or None if it has not opened yet."""
        if open_ms > now_ms:
            return None
        if now_ms > self._served_ms:
            self._served_ms = now_ms
        end_ms = interval.next_open(open_ms, offset_ms)
        series = self.replays.get(market.key)
        if series is not None:
            return replay_candle(series, open_ms, end_ms, now_ms)
        tree = self._tree(market)
        if tree.segments and self._in_gap(tree, open_ms, end_ms):
            return None
        return self._candle(tree, market, open_ms, end_ms, now_ms)

    def candles(
        self,
        market: Market,
        interval: Interval,
        first_open: int,
        count: int,
        now_ms: int,
        offset_ms: int = 0,
    ) -> list[Candle]:
        """
        ``count`` consecutive candles from ``first_open``, stopping at ``now_ms`` (those
        wholly inside a scenario's gap are left out).
        """
        if now_ms > self._served_ms:
            self._served_ms = now_ms
        series = self.replays.get(market.key)
        if series is not None:
            found = []
            for open_ms in interval.opens(first_open, count, offset_ms):
                if open_ms > now_ms:
                    break
                candle = replay_candle(series, open_ms, interval.next_open(open_ms, offset_ms), now_ms)
                if candle is not None:
                    found.append(candle)
            return found
        tree = self._tree(market)
        if count > 1 and first_open < market.listed_ms and not tree.segments:
            # The listing candle is partial: it alone takes the general path.
            second = interval.next_open(first_open, offset_ms)
            if second > market.listed_ms:
                rest = self._node_candles(tree, market, interval, second, count - 1, now_ms, offset_ms)
                if rest is not None:
                    end_ms = second
                    return [self._candle(tree, market, first_open, end_ms, now_ms)] + rest
        elif count > 0:
            fast = self._node_candles(tree, market, interval, first_open, count, now_ms, offset_ms)
            if fast is not None:
                return fast
        out = []
        gaps = bool(tree.segments) and any(seg.gap for seg in tree.segments)
        for open_ms in interval.opens(first_open, count, offset_ms):
            if open_ms > now_ms:
                break
            end_ms = interval.next_open(open_ms, offset_ms)
            if gaps and self._in_gap(tree, open_ms, end_ms):
                # A gap in the data: candles wholly inside it do not exist.
                continue
            out.append(self._candle(tree, market, open_ms, end_ms, now_ms))
        return out

    def closed_nodes(
        self,
        market: Market,
        interval: Interval,
        first_open: int,
        count: int,
        now_ms: int,
        offset_ms: int = 0,
    ) -> tuple[Sequence[int], list[Node], Callable[[], int]] | None:
        """
        :meth:`candles` before they are made into :class:`Candle` s, for formatters
        that read many at once (:class:`mockex.rows.RowCache`): ``(bounds, nodes,
        trade_offset)``, the ``count + 1`` open times bounding the candles (each candle
        ends where the next opens), one node per candle (its first ten fields as
        :data:`Node`; the listing candle's from the listing on) and a function giving
        the trade index to subtract from a node's to get its first trade id (computed
        on first call: rows without trade ids need not pay for it). None unless all
        ``count`` candles are closed, before any scenario and made by a model (then
        ask :meth:`candles`).
        """
        if count <= 0 or market.key in self.replays:
            return None
        if now_ms > self._served_ms:
            self._served_ms = now_ms
        tree = self._tree(market)
        listed = market.listed_ms
        if first_open >= listed:
            run = self._node_run(tree, market, interval, first_open, count, now_ms, offset_ms)
            if run is None:
                return None
            return run[0], run[1], tree.trade_offset
        # The listing candle is partial: its node is the span from the listing (as
        # candles() makes it), the others as above.
        second = interval.next_open(first_open, offset_ms)
        if tree.segments or second <= listed or second > now_ms:
            return None
        head = tree.span(listed, second)
        if count == 1:
            return [first_open, second], [head], tree.trade_offset
        run = self._node_run(tree, market, interval, second, count - 1, now_ms, offset_ms)
        if run is None:
            return None
        return [first_open, *run[0]], [head, *run[1]], tree.trade_offset

    def _node_candles(
        self, tree: _MarketTree, market: Market, interval: Interval, first_open: int, count: int,
        now_ms: int, offset_ms: int,
    ) -> list[Candle] | None:
        """:meth:`candles` from :meth:`_node_run`; None when that does not apply."""
        run = self._node_run(tree, market, interval, first_open, count, now_ms, offset_ms)
        if run is None:
            return None
        opens, nodes = run
        before = tree.trades_before_listing
        new = tuple.__new__
        out = []
        append = out.append
        for a, b, node in zip(opens, opens[1:], nodes):
            n = node[6]
            if n:
                first = node[9] - before
                append(new(Candle, (a, b, node[0], node[1], node[2], node[3], node[4], node[5], n, node[7], node[8],
                                    first, first + n - 1, True)))
            else:
                append(new(Candle, (a, b, node[0], node[1], node[2], node[3], node[4], node[5], 0, node[7], node[8],
                                    -1, -1, True)))
        return out

    def _node_run(
        self, tree: _MarketTree, market: Market, interval: Interval, first_open: int, count: int,
        now_ms: int, offset_ms: int,
    ) -> tuple[Sequence[int], list[Node]] | None:
        """
        The ``count + 1`` bounds and the nodes of :meth:`candles` when they are all
        closed, after the listing and before any scenario: the nodes of the coarsest
        level that tiles every candle (the candle's own level for 1s..1d, 1h for 2h or
        6h) are made a level at a time, each level's splits in one batch
        (:meth:`_MarketTree.run`), and aggregated in runs; 3d, 1w and 1M candles come
        from the model's coarse nodes when it has them (``spans``). None when that does
        not apply.
        """
        if interval.months:
            opens = list(interval.opens(first_open, count + 1, offset_ms))
            end = opens[-1]
        else:
            end = first_open + count * interval.ms
            opens = None
        if first_open < market.listed_ms or end > now_ms or end > tree._first_cut:
            return None
        for level, unit in enumerate(LEVEL_MS):
            if not first_open % unit and not end % unit and (
                not (interval.ms % unit) if opens is None else all(not o % unit for o in opens)
            ):
                break
        first_index = first_open // unit
        if opens is None:
            size = interval.ms
            m = size // unit
            opens = range(first_open, end + size, size)
        else:
            m = 0
        if m == 1:
            nodes = tree.run(level, first_index, count)
        elif level == 0 and tree.model_spans is not None:
            # 3d, 1w, 1M: the model aggregates its coarse nodes (weeks, parts of weeks)
            nodes = tree.model_spans(market, [o // DAY_MS for o in opens])
        else:
            parts = tree.run(level, first_index, (end - first_open) // unit)
            if m:
                nodes = [aggregate(parts[i:i + m]) for i in range(0, len(parts), m)]
            else:
                cuts = [(o - first_open) // unit for o in opens]
                nodes = [aggregate(parts[a:b]) for a, b in zip(cuts, cuts[1:])]
        return opens, nodes

    def _candle(
        self, tree: _MarketTree, market: Market, open_ms: int, end_ms: int, now_ms: int
    ) -> Candle:
        start = max(open_ms, market.listed_ms)
        closed = end_ms <= now_ms
        stop = end_ms if closed else max(start, now_ms // SECOND_MS * SECOND_MS)
        if stop > start:
            o, h, low, c, v, q, n, tb, tq, first = tree.span(start, stop)[:10]
        else:
            # Opened less than a second ago: one tick at the open price, no trades.
            price = tree.node(LEAF, start // SECOND_MS)[0]
            o = h = low = c = price
            v = q = n = tb = tq = 0
            first = -1
        if n == 0:
            first = last = -1
        else:
            first -= tree.trades_before_listing
            last = first + n - 1
        return Candle(open_ms, end_ms, o, h, low, c, v, q, n, tb, tq, first, last, closed)


def replay_candle(series: Any, open_ms: int, end_ms: int, now_ms: int) -> Candle | None:
    """
    The candle ``[open_ms, end_ms)`` of a recorded series (mockex.replay): None if its
    bounds are not on the recording's grid (finer or misaligned intervals) or no
    recorded candle falls inside. Live: the native candles closed by ``now_ms``, and the
    open of the one in progress (revealed whole at its close).
    """
    if not (series.on_grid(open_ms) and series.on_grid(end_ms)):
        return None
    closed = end_ms <= now_ms
    if closed:
        i, j = series.index_range(open_ms, end_ms)
        if i == j:
            return None
        node = series.span(i, j)
    else:
        current = now_ms - (now_ms - series.anchor_ms) % series.native_ms
        i, j = series.index_range(open_ms, current)
        parts = [series.span(i, j)] if j > i else []
        if j < len(series.opens) and series.opens[j] == current:
            price = series.nodes[j][0]
            parts.append((price, price, price, price, 0, 0, 0, 0, 0, -1))
        if not parts:
            return None
        node = aggregate(parts)
    o, h, low, c, v, q, n, tb, tq, first = node[:10]
    if n:
        last = first + n - 1
    else:
        first = last = -1
    return Candle(open_ms, end_ms, o, h, low, c, v, q, n, tb, tq, first, last, closed)


def _make_model(factory: Callable[[int], ICandleModel] | str, seed: int) -> ICandleModel:
    if isinstance(factory, str):
        from mockex.models import model_factory

        factory = model_factory(factory)
    return factory(seed)


def window(
    interval: Interval,
    offset_ms: int,
    first_available: int,
    now_ms: int,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
    listed_ms: int | None = None,
) -> tuple[int, int]:
    """
    Which candles a ``(startTime, endTime, limit)`` query selects, as
    ``(first_open, count)``, with the semantics most venues share (Binance R4): no
    bounds, the most recent ``limit``; a start, the oldest ``limit`` opening at or after
    it; an end only, the most recent ``limit`` opening at or before it; both, from the
    start and never past the end. Only candles that have opened by ``now_ms`` and not
    before ``first_available`` exist, and none at all before ``listed_ms``.
    """
    if listed_ms is not None and now_ms < listed_ms:
        return first_available, 0
    last_available = interval.floor(now_ms, offset_ms)
    if end_ms is not None:
        last = min(last_available, interval.floor(end_ms, offset_ms))
    else:
        last = last_available
    if start_ms is not None:
        first = max(first_available, interval.ceil(start_ms, offset_ms))
        if last < first:
            return first, 0
        count = min(limit, interval.count_between(first, last, offset_ms))
        return first, count
    if last < first_available:
        return first_available, 0
    count = min(limit, interval.count_between(first_available, last, offset_ms))
    return interval.shift(last, -(count - 1), offset_ms), count

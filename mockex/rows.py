"""
Serialize once: a cache of formatted candle rows.

A closed candle never changes, so its formatted bytes (a venue's REST row or stream
payload fragment) are computed once per (format, market, interval, offset, open
time). A request for ``n`` rows then costs ``n`` dictionary hits and one join, and a
repeated request costs one hit on the joined block. Both caches are bounded (oldest
entries go first).

The live candle (the one holding ``now``) changes, but only from one market second to
the next: :meth:`CandleSource.candle` aggregates the one-second leaves up to
``now_ms // 1000``. So does a whole answer that ends with it. Both are kept for the
rest of the market second they were computed in (see :meth:`RowCache._second`):

* the live candle and its formatted rows, so that a burst of requests does not rebuild
  it from up to 59 leaves each time (docs/performance.md: 14 to 17% of the server's
  time under load before this memo);
* the joined answer (``prefix``, rows, ``suffix``: the venue's whole body), so that
  the same request again in the same second allocates nothing. A 175 KB answer is
  above glibc's mmap threshold: a fresh one per request cost the server page faults
  and returns of memory to the system (``b"".join`` was a quarter of the server's
  samples at limit=1000, where the copy alone takes a few microseconds).

:meth:`RowCache.rows` joins the venue's envelope with the rows in one pass: an
answer is copied once, not once per concatenation.
"""

from __future__ import annotations

import re
from itertools import islice
from operator import itemgetter
from typing import Any, Callable, Hashable

from mockex.intervals import SECOND_MS, Interval
from mockex.market import Candle, CandleSource, Market, Node

#: One candle's row. A formatter may also have a ``many`` attribute that formats
#: the raw form of many candles at once (see :func:`row_formatter`), which
#: :class:`RowCache` then prefers.
Formatter = Callable[[Candle], bytes]

#: Most live-candle entries kept within one market second (a burst of requests over
#: many markets, intervals and offsets); beyond it the memo starts again empty.
MAX_LIVE = 4096
#: Most bytes of whole answers kept within one market second (some 45 answers of
#: 1000 Binance rows); an answer that does not fit is not kept.
MAX_ANSWER_BYTES = 8 << 20


#: How a :func:`row_formatter` template names a candle's fields: by their
#: :class:`~mockex.market.Candle` names, read from a candle (``row``) or from the
#: loop variables of ``many`` (the bounds ``_a``, ``_b``, the node's ten fields).
_FROM_CANDLE = {name: f"c[{i}]" for i, name in enumerate(Candle._fields)}
_FROM_NODE = {
    "open_ms": "_a", "end_ms": "_b", "open": "_o", "high": "_h", "low": "_l", "close": "_c",
    "volume": "_v", "quote_volume": "_q", "trades": "_n", "taker_base": "_tb", "taker_quote": "_tq",
    "first_trade_id": "(_t - before if _n else -1)", "last_trade_id": "(_t - before + _n - 1 if _n else -1)",
    "closed": "True",
}
#: a ``%`` conversion (whose ``-`` flag writes no ``-``)
_SPEC = re.compile(r"%[#0 +\-]*[0-9]*(?:\.[0-9]+)?[a-zA-Z%]")
#: a node's first ten fields, as one tuple to unpack (a model may append more)
_TEN = itemgetter(*range(10))


def row_formatter(template: str, args: str, slow: Formatter, tables: dict[str, Any] | None = None) -> Formatter:
    """
    A :data:`Formatter` that writes ``template % (args)`` as ASCII, with ``args``
    Python expressions over a candle's fields named in braces (``"{open_ms} * 1000,
    {open} // 100, {open} % 100"``), and ``slow(candle)`` for any row with a ``-`` in
    it: ``template`` has none of its own, so the fast arithmetic (floor division,
    ``%0Nd`` padding) met a negative value it cannot write, and ``slow`` must.
    ``tables``: names ``args`` may read (see :func:`mockex.fmt.fixed_piece`).

    The formatter's ``many(bounds, nodes, trade_offset)`` writes the rows of
    :meth:`CandleSource.closed_nodes`'s answer in one comprehension, without a
    :class:`Candle` or a call per row (the same bytes as ``row``).
    """
    if "-" in _SPEC.sub("", template):
        raise ValueError("a row template cannot write '-' itself")
    pattern = template.encode("ascii")
    from_node = args.format(**_FROM_NODE)
    source = (
        "def row(c):\n"
        f"    r = _T % ({args.format(**_FROM_CANDLE)})\n"
        "    return slow(c) if b'-' in r else r\n"
        "def many(bounds, nodes, trade_offset):\n"
        # (the trade offset costs the listing day's splits: only if trade ids are written)
        + ("    before = trade_offset()\n" if "before" in from_node else "")
        + f"    rows = [_T % ({from_node})\n"
        "            for _a, _b, (_o, _h, _l, _c, _v, _q, _n, _tb, _tq, _t)\n"
        "            in zip(bounds, islice(bounds, 1, None), map(_TEN, nodes))]\n"
        "    if b'-' in b''.join(rows):\n"
        "        rows = [r if b'-' not in r else slow(candle_of(a, b, node, trade_offset()))\n"
        "                for r, a, b, node in zip(rows, bounds, islice(bounds, 1, None), nodes)]\n"
        "    return rows\n"
    )
    namespace: dict[str, Any] = {
        **(tables or {}), "_T": pattern, "_TEN": _TEN, "slow": slow, "islice": islice, "candle_of": _candle_of,
    }
    exec(source, namespace)
    row = namespace["row"]
    row.many = namespace["many"]
    return row


def _candle_of(open_ms: int, end_ms: int, node: Node, before: int) -> Candle:
    """The closed candle of a node (as :meth:`CandleSource.candles` makes it)."""
    n = node[6]
    first = node[9] - before if n else -1
    return Candle(open_ms, end_ms, *node[:6], n, node[7], node[8], first, first + n - 1 if n else -1, True)


class RowCache:
    """Formatted rows of closed candles, and joined blocks of them."""

    def __init__(self, source: CandleSource, max_rows: int = 400_000, max_blocks: int = 256) -> None:
        self.source = source
        #: rows by (format, market, interval, offset), then by open time: a lookup
        #: hashes an int, not a nested tuple
        self._rows: dict[Hashable, dict[int, bytes]] = {}
        self._row_count = 0
        self._blocks: dict[Hashable, bytes] = {}
        self._max_rows = max_rows
        self._max_blocks = max_blocks
        #: the market second the memos below hold (see _second)
        self._second_held = -1
        #: (market, interval, offset, open) -> (scenarios set on the market when
        #: computed, the live candle or None, its rows by format key)
        self._live: dict[Hashable, tuple[int, Candle | None, dict[Hashable, bytes]]] = {}
        #: a request's arguments -> (scenarios set on the market, the answer)
        self._answers: dict[Hashable, tuple[int, bytes]] = {}
        self._answer_bytes = 0

    def rows(
        self,
        market: Market,
        interval: Interval,
        offset_ms: int,
        first_open: int,
        count: int,
        now_ms: int,
        fmt_key: Hashable,
        fmt: Formatter,
        separator: bytes = b",",
        newest_first: bool = False,
        prefix: bytes = b"",
        suffix: bytes = b"",
    ) -> bytes:
        """
        ``count`` candles from ``first_open`` formatted by ``fmt`` and joined by
        ``separator``, in chronological order, or newest first if ``newest_first``
        (KuCoin, Bybit, OKX, Coinbase list candles that way), between ``prefix`` and
        ``suffix`` (a venue's envelope, e.g. ``b"["`` and ``b"]"``).

        ``fmt_key`` names ``fmt``: the same key must always mean the same bytes for the
        same candle (rows are cached under it).
        """
        if count <= 0:
            return prefix + suffix
        last_open = interval.shift(first_open, count - 1, offset_ms)
        last_end = interval.next_open(last_open, offset_ms)
        generation = self._second(market, now_ms, first_open, last_end)
        if generation is not None:
            answer_key = (fmt_key, market, interval, offset_ms, first_open, count, separator, newest_first,
                          prefix, suffix)
            held = self._answers.get(answer_key)
            if held is not None and held[0] == generation:
                return held[1]
        last_closed = last_end <= now_ms
        closed_count = count if last_closed else count - 1
        block = b""
        if closed_count:
            block = self._closed_block(
                market, interval, offset_ms, first_open, closed_count, now_ms, fmt_key, fmt, separator,
                newest_first,
            )
        live = b""
        if not last_closed:
            live = self._live_row(market, interval, offset_ms, last_open, now_ms, fmt_key, fmt, generation)
        # One join for the whole answer: the block can be 175 KB, and every ``+`` on it
        # would copy it into a fresh allocation.
        if not live:
            parts = [prefix, block, suffix]
        elif not block:
            parts = [prefix, live, suffix]
        elif newest_first:
            parts = [prefix, live, separator, block, suffix]
        else:
            parts = [prefix, block, separator, live, suffix]
        answer = b"".join(parts)
        if generation is not None and self._answer_bytes + len(answer) <= MAX_ANSWER_BYTES:
            self._answers[answer_key] = (generation, answer)
            self._answer_bytes += len(answer)
        return answer

    def _second(self, market: Market, now_ms: int, first_open: int, end_ms: int) -> int | None:
        """
        Whether candles from ``first_open`` to ``end_ms`` can be kept for the rest of
        the market second of ``now_ms``: the number of scenarios set on ``market`` so
        far (entries made with another number are stale), or None if they cannot be.
        Empties the memos when the second changes.

        Why a second is safe: :meth:`CandleSource._candle` reads ``now_ms`` only as
        ``now_ms // 1000 * 1000`` (the one-second leaves elapsed) and to decide whether
        a candle has opened or closed, which cannot change within a second when the
        candles' bounds are whole seconds (checked here). What else could change a
        candle is a scenario: :meth:`CandleSource.set_scenario` starts one at the next
        second, so it cannot alter the current one, but entries also remember how many
        scenarios their market had and are recomputed when that changes. Replayed
        markets (recordings, whose grid need not be in seconds) and bounds off the
        second are not kept. ``CandleSource.candle`` records the latest time served
        (scenarios start after it); a memo hit skips that, which is harmless: the
        hit's second was recorded by the call that filled the entry.
        """
        source = self.source
        if first_open % SECOND_MS or end_ms % SECOND_MS or market.key in source.replays:
            return None
        second = now_ms // SECOND_MS
        if second != self._second_held or len(self._live) >= MAX_LIVE:
            self._live.clear()
            self._answers.clear()
            self._answer_bytes = 0
            self._second_held = second
        scenarios = source.scenarios.get(market.key)
        return len(scenarios) if scenarios else 0

    def _live_row(
        self,
        market: Market,
        interval: Interval,
        offset_ms: int,
        open_ms: int,
        now_ms: int,
        fmt_key: Hashable,
        fmt: Formatter,
        generation: int | None,
    ) -> bytes:
        """
        The formatted candle opening at ``open_ms`` and still open at ``now_ms`` (b""
        if there is none), from the memo of this market second unless ``generation``
        is None (see :meth:`_second`).
        """
        source = self.source
        if generation is None:
            candle = source.candle(market, interval, open_ms, now_ms, offset_ms)
            return b"" if candle is None else fmt(candle)
        memo = self._live
        key = (market, interval, offset_ms, open_ms)
        entry = memo.get(key)
        if entry is None or entry[0] != generation:
            entry = memo[key] = (generation, source.candle(market, interval, open_ms, now_ms, offset_ms), {})
        candle, formatted = entry[1], entry[2]
        if candle is None:
            return b""
        row = formatted.get(fmt_key)
        if row is None:
            row = formatted[fmt_key] = fmt(candle)
        return row

    def _closed_block(
        self,
        market: Market,
        interval: Interval,
        offset_ms: int,
        first_open: int,
        count: int,
        now_ms: int,
        fmt_key: Hashable,
        fmt: Formatter,
        separator: bytes,
        newest_first: bool = False,
    ) -> bytes:
        block_key = (fmt_key, market, interval, offset_ms, first_open, count, separator, newest_first)
        block = self._blocks.get(block_key)
        if block is not None:
            return block
        base = (fmt_key, market, interval, offset_ms)
        rows = self._rows.get(base)
        if rows is None:
            rows = self._rows[base] = {}
        opens = list(interval.opens(first_open, count, offset_ms))
        if rows:
            get = rows.get
            out: list[Any] = [get(open_ms) for open_ms in opens]
            # (a candle in a scenario's gap is cached as b"": it does not exist)
            runs = _runs([i for i, row in enumerate(out) if row is None])
        else:
            out = [None] * count
            runs = [(0, count)]
        if runs:
            before = len(rows)
            many = getattr(fmt, "many", None)
            # Compute the missing candles in runs of consecutive opens.
            for i, j in runs:
                n = j - i
                if many is not None:
                    raw = self.source.closed_nodes(market, interval, opens[i], n, now_ms, offset_ms)
                    if raw is not None:
                        made = many(*raw)
                        out[i:j] = made
                        rows.update(zip(opens[i:j], made))
                        continue
                candles = self.source.candles(market, interval, opens[i], n, now_ms, offset_ms)
                if len(candles) == n:
                    for k, candle in enumerate(candles, i):
                        row = fmt(candle)
                        out[k] = row
                        rows[candle.open_ms] = row
                else:
                    # Some candles do not exist (a gap): place the others by open time.
                    made_by_open = {candle.open_ms: fmt(candle) for candle in candles}
                    for k in range(i, j):
                        row = made_by_open.get(opens[k], b"")
                        out[k] = row
                        rows[opens[k]] = row
            self._row_count += len(rows) - before
            self._evict()
        if newest_first:
            out.reverse()
        block = separator.join(out) if all(out) else separator.join(row for row in out if row)
        self._blocks[block_key] = block
        if len(self._blocks) > self._max_blocks:
            del self._blocks[next(iter(self._blocks))]
        return block

    def _evict(self) -> None:
        """Drop the oldest rows (of the oldest series first) beyond ``max_rows``."""
        groups = self._rows
        while self._row_count > self._max_rows:
            key = next(iter(groups))
            rows = groups[key]
            if rows:
                del rows[next(iter(rows))]
                self._row_count -= 1
            if not rows:
                del groups[key]


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Increasing ``indices`` as runs of consecutive ones, ``(first, last + 1)``."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out

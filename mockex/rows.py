"""
Serialize once: a cache of formatted candle rows.

A closed candle never changes, so its formatted bytes (a venue's REST row or stream
payload fragment) are computed once per (format, market, interval, offset, open
time). A request for ``n`` rows then costs ``n`` dictionary hits and one join, and a
repeated request costs one hit on the joined block. Both caches are bounded (oldest
entries go first).

The live candle (the one holding ``now``) changes, but only from one market second to
the next: :meth:`CandleSource.candle` aggregates the one-second leaves up to
``now_ms // 1000``. It and its formatted rows are therefore kept for the rest of the
second they were computed in (see :meth:`RowCache._live_row`), so a burst of requests
does not rebuild it from up to 59 leaves each time (docs/performance.md: 14 to 17% of
the server's time under load before this memo).

:meth:`RowCache.rows` also joins the venue's envelope (``prefix``, ``suffix``) with the
rows in one pass: a 1000-row answer (175 KB on Binance) is copied once, not once per
concatenation.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from mockex.intervals import SECOND_MS, Interval
from mockex.market import Candle, CandleSource, Market

Formatter = Callable[[Candle], bytes]

#: Most live-candle entries kept within one market second (a burst of requests over
#: many markets, intervals and offsets); beyond it the memo starts again empty.
MAX_LIVE = 4096


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
        #: the market second the live memo holds (see _live_row)
        self._live_second = -1
        #: (market, interval, offset, open) -> (scenarios set on the market when
        #: computed, the live candle or None, its rows by format key)
        self._live: dict[Hashable, tuple[int, Candle | None, dict[Hashable, bytes]]] = {}

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
            live = self._live_row(market, interval, offset_ms, last_open, last_end, now_ms, fmt_key, fmt)
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
        return b"".join(parts)

    def _live_row(
        self,
        market: Market,
        interval: Interval,
        offset_ms: int,
        open_ms: int,
        end_ms: int,
        now_ms: int,
        fmt_key: Hashable,
        fmt: Formatter,
    ) -> bytes:
        """
        The formatted candle opening at ``open_ms`` and still open at ``now_ms`` (b""
        if there is none), from a memo that lives for one market second.

        Why a second is safe: :meth:`CandleSource._candle` reads ``now_ms`` only as
        ``now_ms // 1000 * 1000`` (the one-second leaves elapsed) and to decide whether
        the candle has opened or closed, which cannot change within a second when its
        bounds are whole seconds (checked below). What else could change the candle is
        a scenario: :meth:`CandleSource.set_scenario` starts one at the next second, so
        it cannot alter the current one, but an entry also remembers how many scenarios
        its market had and is recomputed when that changes. Replayed markets
        (recordings, whose grid need not be in seconds) and candles with bounds off
        the second are not memoised. ``CandleSource.candle`` records the latest time
        served (scenarios start after it); a memo hit skips that, which is harmless:
        the hit's second was recorded by the call that filled the entry.
        """
        source = self.source
        if open_ms % SECOND_MS or end_ms % SECOND_MS or market.key in source.replays:
            candle = source.candle(market, interval, open_ms, now_ms, offset_ms)
            return b"" if candle is None else fmt(candle)
        second = now_ms // SECOND_MS
        memo = self._live
        if second != self._live_second or len(memo) >= MAX_LIVE:
            memo.clear()
            self._live_second = second
        scenarios = source.scenarios.get(market.key)
        generation = len(scenarios) if scenarios else 0
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
        get = rows.get
        out: list[Any] = [get(open_ms) for open_ms in opens] if rows else [None] * count
        # (a candle in a scenario's gap is cached as b"": it does not exist)
        missing = [i for i, row in enumerate(out) if row is None]
        if missing:
            before = len(rows)
            # Compute the missing candles in runs of consecutive opens.
            start = 0
            while start < len(missing):
                end = start
                while end + 1 < len(missing) and missing[end + 1] == missing[end] + 1:
                    end += 1
                first_i = missing[start]
                candles = self.source.candles(
                    market, interval, opens[first_i], end - start + 1, now_ms, offset_ms
                )
                if len(candles) == end - start + 1:
                    for j, candle in enumerate(candles):
                        row = fmt(candle)
                        out[first_i + j] = row
                        rows[candle.open_ms] = row
                else:
                    # Some candles do not exist (a gap): place the others by open time.
                    made = {candle.open_ms: fmt(candle) for candle in candles}
                    for i in missing[start:end + 1]:
                        row = made.get(opens[i], b"")
                        out[i] = row
                        rows[opens[i]] = row
                start = end + 1
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

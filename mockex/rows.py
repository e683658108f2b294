"""
Serialize once: a cache of formatted candle rows.

A closed candle never changes, so its formatted bytes (a venue's REST row or stream
payload fragment) are computed once per (format, market, interval, offset, open
time). A request for ``n`` rows then costs ``n`` dictionary hits and one join, and a
repeated request costs one hit on the joined block. The live candle is formatted fresh
on every request. Both caches are bounded (oldest entries go first).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from mockex.intervals import Interval
from mockex.market import Candle, CandleSource, Market

Formatter = Callable[[Candle], bytes]


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
    ) -> bytes:
        """
        ``count`` candles from ``first_open`` formatted by ``fmt`` and joined by
        ``separator``, in chronological order, or newest first if ``newest_first``
        (KuCoin, Bybit, OKX, Coinbase list candles that way).
        """
        if count <= 0:
            return b""
        last_open = interval.shift(first_open, count - 1, offset_ms)
        last_closed = interval.next_open(last_open, offset_ms) <= now_ms
        closed_count = count if last_closed else count - 1
        parts = []
        if closed_count:
            block = self._closed_block(
                market, interval, offset_ms, first_open, closed_count, now_ms, fmt_key, fmt, separator,
                newest_first,
            )
            if block:
                parts.append(block)
        if not last_closed:
            live = self.source.candle(market, interval, last_open, now_ms, offset_ms)
            if live is not None:
                parts.append(fmt(live))
        if newest_first:
            parts.reverse()
        return separator.join(parts)

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

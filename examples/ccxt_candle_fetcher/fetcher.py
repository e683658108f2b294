"""
A candle fetcher built on ccxt (asyncio): the kind of code mockex is for.

``CandleFetcher.fetch(symbol, timeframe, since, count)`` pages through ``fetch_ohlcv``
and retries transient failures (the exchange's 5xx, timeouts, resets) with a capped
exponential backoff. It knows nothing about mockex: the test points the ccxt instance at
a mock server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt

#: what the fetcher treats as transient: network errors and timeouts (ccxt's
#: NetworkError family) and the exchange's "internal error" answers (OperationFailed)
RETRYABLE = (ccxt.NetworkError, ccxt.OperationFailed)


class CandleFetcher:
    def __init__(self, exchange: Any, *, retries: int = 5, backoff_s: float = 0.05, page: int = 500) -> None:
        self.exchange = exchange
        self.retries = retries
        self.backoff_s = backoff_s
        self.page = page
        #: transient failures seen (and retried)
        self.failures: list[Exception] = []

    async def _page(self, symbol: str, timeframe: str, since: int, limit: int) -> list[list[float]]:
        for attempt in range(self.retries + 1):
            try:
                return await self.exchange.fetch_ohlcv(symbol, timeframe, since=since, limit=limit)
            except RETRYABLE as e:
                self.failures.append(e)
                if attempt == self.retries:
                    raise
                await asyncio.sleep(min(self.backoff_s * 2**attempt, 1.0))
        raise AssertionError("unreachable")

    async def fetch(self, symbol: str, timeframe: str, since: int, count: int) -> list[list[float]]:
        """``count`` consecutive candles from ``since`` (ms), oldest first."""
        step = self.exchange.parse_timeframe(timeframe) * 1000
        out: list[list[float]] = []
        while len(out) < count:
            rows = await self._page(symbol, timeframe, since, min(self.page, count - len(out)))
            if not rows:
                break
            out.extend(rows)
            since = rows[-1][0] + step
        return out[:count]

"""
pytest-asyncio tests of fetcher.py against mockex, with faults injected.

Run: ``pytest examples/ccxt_candle_fetcher`` (the mockex pytest plugin is loaded by its
entry point once mockex is installed; otherwise add ``-p mockex.pytest_plugin``).
"""

from __future__ import annotations

import pytest
import pytest_asyncio

import ccxt
from fetcher import CandleFetcher
from mockex import MockedCandleFeedServer, ccxt_exchange

SINCE = 1_780_000_000_000 - 1_780_000_000_000 % 60_000  # a minute boundary in 2026
COUNT = 1_200


@pytest_asyncio.fixture
async def exchange(mockex_server: MockedCandleFeedServer):
    """ccxt's asyncio binance, pointed at the test's server (only its URLs change)."""
    ex = ccxt_exchange(mockex_server, async_support=True, config={"timeout": 5_000})
    yield ex
    await ex.close()


def assert_contiguous(candles: list[list[float]]) -> None:
    assert [c[0] for c in candles] == list(range(SINCE, SINCE + len(candles) * 60_000, 60_000))


@pytest.mark.asyncio
async def test_clean_network(exchange) -> None:
    fetcher = CandleFetcher(exchange)
    candles = await fetcher.fetch("BTC/USDT", "1m", SINCE, COUNT)
    assert len(candles) == COUNT
    assert_contiguous(candles)
    assert fetcher.failures == []


#: Binance's transient 5xx answers that ccxt 4.5 maps to OperationFailed/RequestTimeout
#: (-1000, -1001, -1007); its 503 -1008 "busy" becomes a plain ExchangeError (see below)
TRANSIENT = ["internal", "disconnected", "timeout"]


@pytest.mark.mockex(seed=7)
@pytest.mark.asyncio
async def test_survives_errors_and_latency(exchange, mockex_server: MockedCandleFeedServer) -> None:
    """Half the requests fail with Binance's 5xx, every response is 30 ms late: same candles."""
    clean = await CandleFetcher(exchange).fetch("BTC/USDT", "1m", SINCE, COUNT)

    mockex_server.set_network_conditions(latency_ms=30)
    mockex_server.add_fault({"kind": "error", "probability": 0.5, "params": {"kinds": TRANSIENT}})
    fetcher = CandleFetcher(exchange, retries=10, page=100, backoff_s=0.005)
    candles = await fetcher.fetch("BTC/USDT", "1m", SINCE, COUNT)
    mockex_server.clear_faults()

    assert candles == clean
    assert fetcher.failures, "the faults were not injected"
    injected = [e for e in mockex_server.journal() if e["kind"] == "error"]
    assert len(injected) == len(fetcher.failures)


@pytest.mark.asyncio
async def test_busy_is_not_retried(exchange, mockex_server: MockedCandleFeedServer) -> None:
    """
    What the seed's ``error_rate`` finds: it draws from all of Binance's 5xx, and ccxt
    reports 503 -1008 ("Server is currently overloaded") as ExchangeError, which this
    fetcher does not retry. A real fetcher should decide what to do about it.
    """
    mockex_server.add_fault({"kind": "error", "params": {"kinds": ["busy"]}})
    fetcher = CandleFetcher(exchange)
    with pytest.raises(ccxt.ExchangeError, match="-1008"):
        await fetcher.fetch("BTC/USDT", "1m", SINCE, 10)
    assert fetcher.failures == []


@pytest.mark.mockex(seed=3)
@pytest.mark.asyncio
async def test_survives_resets(exchange, mockex_server: MockedCandleFeedServer) -> None:
    """Half the klines requests are reset (TCP RST): retried on a new connection."""
    mockex_server.add_fault({"kind": "reset", "probability": 0.5, "target": {"routes": ["klines"]}})
    fetcher = CandleFetcher(exchange, retries=20, backoff_s=0.005, page=2)
    candles = await fetcher.fetch("BTC/USDT", "1m", SINCE, 20)
    assert_contiguous(candles)
    assert len(candles) == 20
    assert fetcher.failures and all(isinstance(e, ccxt.NetworkError) for e in fetcher.failures)
    # More resets than failures: aiohttp (under ccxt) silently retries a GET once when a
    # reused keep-alive connection is reset, so only some resets reach the fetcher.
    resets = [e for e in mockex_server.journal() if e["kind"] == "reset"]
    assert len(resets) > len(fetcher.failures)


@pytest.mark.asyncio
async def test_gives_up(exchange, mockex_server: MockedCandleFeedServer) -> None:
    """Every request fails: the fetcher raises after its retries."""
    mockex_server.add_fault({"kind": "error", "params": {"kinds": ["internal"]}})
    fetcher = CandleFetcher(exchange, retries=2, backoff_s=0.01)
    with pytest.raises(ccxt.OperationFailed):
        await fetcher.fetch("BTC/USDT", "1m", SINCE, 10)
    assert len(fetcher.failures) == 3

"""
mockex.clients: ccxt pointed at every venue it knows, by instance and by constructor
config; the venues' SDKs.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

from mockex import MockedCandleFeedServer, ccxt_config, ccxt_exchange
from mockex.clients import CCXT_IDS, ccxt_symbol, hyperliquid_info, okx_market_api, pybit_http
from mockex.plugins import exchanges

ccxt = pytest.importorskip("ccxt")
VENUES = sorted(set(CCXT_IDS) & set(exchanges()))


@pytest.mark.parametrize("venue", VENUES)
def test_ccxt_config(venue: str, mockex_servers: Callable[..., MockedCandleFeedServer]) -> None:
    """The constructor config: load_markets and a page of candles, nothing else changed."""
    server = mockex_servers(venue)
    config = ccxt_config(server)
    exchange = getattr(ccxt, config.pop("id"))({**config, "timeout": 10_000})
    try:
        exchange.load_markets()
        symbol = ccxt_symbol(server)
        assert symbol in exchange.markets
        candles = exchange.fetch_ohlcv(symbol, "1m", limit=5)
        assert len(candles) == 5
        assert {b[0] - a[0] for a, b in zip(candles, candles[1:])} == {60_000}
    finally:
        exchange.session.close()


@pytest.mark.parametrize("venue", ["binance_spot", "okx_perpetual", "kraken_spot"])
@pytest.mark.asyncio
async def test_ccxt_pro_watch(venue: str, mockex_servers: Callable[..., MockedCandleFeedServer]) -> None:
    server = mockex_servers(venue)
    exchange = ccxt_exchange(server, pro=True, config={"timeout": 10_000})
    try:
        candles = await asyncio.wait_for(exchange.watch_ohlcv(ccxt_symbol(server), "1m"), 15)
        assert candles[-1][0] % 60_000 == 0
    finally:
        await exchange.close()


def test_unknown_venue_for_ccxt(mockex_servers: Callable[..., MockedCandleFeedServer]) -> None:
    with pytest.raises(ValueError, match="no ccxt mapping for venue 'mock'"):
        ccxt_config(mockex_servers("mock"))


@pytest.mark.mockex("bybit_spot")
def test_pybit(mockex_server: MockedCandleFeedServer) -> None:
    pytest.importorskip("pybit")
    session = pybit_http(mockex_server, timeout=10)
    rows = session.get_kline(category="spot", symbol="BTCUSDT", interval="1", limit=3)["result"]["list"]
    assert len(rows) == 3


@pytest.mark.mockex("okx_spot")
def test_python_okx(mockex_server: MockedCandleFeedServer) -> None:
    pytest.importorskip("okx")
    api = okx_market_api(mockex_server)
    with api:  # an httpx.Client: closing it closes its connection
        rows = api.get_candlesticks(instId="BTC-USDT", bar="1m", limit="3")["data"]
    assert len(rows) == 3


@pytest.mark.mockex("hyperliquid_perpetual")
def test_hyperliquid_sdk(mockex_server: MockedCandleFeedServer) -> None:
    pytest.importorskip("hyperliquid")
    info = hyperliquid_info(mockex_server, timeout=10)
    now = mockex_server.now_ms()
    rows: Any = info.candles_snapshot("BTC", "1m", now - 5 * 60_000, now)
    assert 4 <= len(rows) <= 6

"""
The pytest plugin's fixtures, in this session and (with ``pytester``) in inner sessions:
the marker, the session server across per-test loops, the factory, error attribution.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any, Callable

import pytest

from mockex import MockedCandleFeedServer

pytest_plugins = ["pytester"]


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_default_server(mockex_server: MockedCandleFeedServer, mockex_url: str, mockex_ws_url: str) -> None:
    assert mockex_server.running and mockex_server.venue == "binance_spot"
    assert mockex_url == mockex_server.url and mockex_ws_url == mockex_server.ws_url
    assert len(get(mockex_url + "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=2")) == 2


@pytest.mark.mockex(exchange="bybit_spot", pairs=[("BTC/USDT", 123.0)], seed=5)
def test_marker(mockex_server: MockedCandleFeedServer) -> None:
    assert mockex_server.venue == "bybit_spot" and mockex_server.seed == 5
    listed = get(mockex_server.url + "/v5/market/instruments-info?category=spot")["result"]["list"]
    assert [i["symbol"] for i in listed] == ["BTCUSDT"]


@pytest.mark.mockex("okx_spot", origin_ms=1_700_000_000_000, speed=60)
def test_marker_positional_and_options(mockex_server: MockedCandleFeedServer) -> None:
    assert mockex_server.venue == "okx_spot"
    assert abs(mockex_server.now_ms() - 1_700_000_000_000) < 600_000


def test_factory(mockex_servers: Callable[..., MockedCandleFeedServer]) -> None:
    a = mockex_servers("binance_spot", seed=1)
    b = mockex_servers("binance_spot", seed=2)
    c = mockex_servers("binance_spot", seed=1)
    query = "/api/v3/klines?symbol=BTCUSDT&interval=1d&limit=3&endTime=1700000000000"
    assert get(a.url + query) == get(c.url + query) != get(b.url + query)


@pytest.mark.asyncio
async def test_session_server_on_one_loop(mockex_session_server: MockedCandleFeedServer) -> None:
    _loops.append(asyncio.get_running_loop())
    rows = await asyncio.to_thread(get, mockex_session_server.url + "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1")
    assert len(rows) == 1


@pytest.mark.asyncio
async def test_session_server_on_another_loop(mockex_session_server: MockedCandleFeedServer) -> None:
    assert _loops and _loops[0] is not asyncio.get_running_loop()
    rows = await asyncio.to_thread(get, mockex_session_server.url + "/api/v3/klines?symbol=ETHUSDT&interval=1m&limit=1")
    assert len(rows) == 1


_loops: list[asyncio.AbstractEventLoop] = []


# -- inner sessions ---------------------------------------------------------------------------

INNER_ARGS = (
    "-p", "pytest_asyncio.plugin", "-p", "mockex.pytest_plugin", "-p", "no:cacheprovider",
    "-o", "asyncio_default_fixture_loop_scope=function",
)


def run_inner(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    """Run ``source`` as a test module in a new pytest process (this mockex importable)."""
    import os

    import mockex

    root = os.path.dirname(os.path.dirname(os.path.abspath(mockex.__file__)))
    path = os.environ.get("PYTHONPATH")
    pytester._monkeypatch.setenv("PYTHONPATH", root + (os.pathsep + path if path else ""))
    pytester._monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(source)
    return pytester.runpytest_subprocess(*INNER_ARGS, *args, timeout=120)


def test_error_fails_the_test_that_caused_it(pytester: pytest.Pytester) -> None:
    """
    An error logged in the reactor thread during a test fails that test (not the next
    one, and not the session server's teardown), with the server's traceback.
    """
    result = run_inner(pytester, """
        import urllib.request, urllib.error

        def break_klines(s):
            s.context.rows = None

        def test_a_causes(mockex_session_server):
            mockex_session_server.call(break_klines)
            try:
                urllib.request.urlopen(mockex_session_server.url + "/api/v3/klines?symbol=BTCUSDT&interval=1m")
            except urllib.error.HTTPError as e:
                assert e.code == 500

        def test_b_is_clean(mockex_session_server):
            assert mockex_session_server.errors == []

        def test_c_function_server(mockex_server):
            mockex_server.call(lambda s: s.reactor.callLater(0, lambda: 1 / 0) and None)
            import time
            time.sleep(0.2)
    """)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*_ test_a_causes _*",
        "*ServerError: 1 error(s) in the reactor thread*",
        "*binance_spot handler for /api/v3/klines failed*",
        "*AttributeError*",
    ])
    result.stdout.fnmatch_lines(["*_ test_c_function_server _*", "*ZeroDivisionError*"])
    result.stdout.fnmatch_lines(["FAILED*test_c_function_server*"])
    assert "test_b_is_clean" not in "".join(line for line in result.outlines if "FAILED" in line)


def test_session_options_override(pytester: pytest.Pytester) -> None:
    """conftest.py overrides ``mockex_session_options``; ini options set the defaults."""
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def mockex_session_options():
            return {"exchange": "kraken_spot", "seed": 4}
    """)
    pytester.makeini("""
        [pytest]
        mockex_exchange = okx_spot
        mockex_seed = 8
    """)
    result = run_inner(pytester, """
        def test_session(mockex_session_server):
            assert (mockex_session_server.venue, mockex_session_server.seed) == ("kraken_spot", 4)

        def test_function(mockex_server):
            assert (mockex_server.venue, mockex_server.seed) == ("okx_spot", 8)
    """)
    result.assert_outcomes(passed=2)


def test_auto_mode_async_fixture_and_sync_fixture(pytester: pytest.Pytester) -> None:
    """pytest-asyncio's auto mode, a module-scoped loop, the seed's own async fixture."""
    pytester.makeini("""
        [pytest]
        asyncio_mode = auto
    """)
    result = run_inner(pytester, """
        import pytest
        from mockex import MockedCandleFeedServer, ExchangeType

        @pytest.fixture
        async def mock_server():
            server = MockedCandleFeedServer(exchange_type=ExchangeType.BINANCE_SPOT, host="127.0.0.1", port=0)
            await server.start()
            yield server
            await server.stop()

        async def test_seed_fixture(mock_server):
            assert mock_server.running

        @pytest.mark.asyncio(loop_scope="module")
        async def test_module_loop(mockex_server):
            assert mockex_server.running

        async def test_plugin_fixture(mockex_server):
            assert mockex_server.running
    """)
    result.assert_outcomes(passed=3)


# -- ccxt ---------------------------------------------------------------------------------------

ccxt = pytest.importorskip("ccxt")


def test_ccxt_exchange_fixture(ccxt_exchange: Callable[..., Any], mockex_server: MockedCandleFeedServer) -> None:
    exchange = ccxt_exchange()
    candles = exchange.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert len(candles) == 5
    exchange.session.close()


@pytest.mark.mockex("bybit_perpetual")
@pytest.mark.asyncio
async def test_ccxt_pro_fixture(ccxt_exchange: Callable[..., Any]) -> None:
    exchange = ccxt_exchange(pro=True)
    try:
        candles = await asyncio.wait_for(exchange.watch_ohlcv("BTC/USDT:USDT", "1m"), 15)
        assert candles and candles[-1][0] % 60_000 == 0
    finally:
        await exchange.close()

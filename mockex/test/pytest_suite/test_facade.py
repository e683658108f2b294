"""
The seed's asyncio API (``MockedCandleFeedServer``) under pytest and pytest-asyncio:
per-test event loops, several servers, synchronous use, leaks, errors.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from mockex import ExchangeType, MockedCandleFeedServer, ServerError, VenueNotInstalled
from mockex.plugins import exchanges
from mockex.server import MockServer

INSTALLED = set(exchanges())

#: a path every venue answers with 200 (its server time, or the candles it needs)
PROBES: dict[str, tuple[str, str, bytes | None]] = {
    "binance_spot": ("GET", "/api/v3/time", None),
    "binance_perpetual": ("GET", "/fapi/v1/time", None),
    "bybit_spot": ("GET", "/v5/market/time", None),
    "bybit_perpetual": ("GET", "/v5/market/time", None),
    "okx_spot": ("GET", "/api/v5/public/time", None),
    "okx_perpetual": ("GET", "/api/v5/public/time", None),
    "kucoin_spot": ("GET", "/api/v1/timestamp", None),
    "gate_io_spot": ("GET", "/api/v4/spot/time", None),
    "kraken_spot": ("GET", "/0/public/Time", None),
    "hyperliquid_spot": ("POST", "/info", b'{"type": "spotMeta"}'),
    "hyperliquid_perpetual": ("POST", "/info", b'{"type": "meta"}'),
    "coinbase_advanced_trade": ("GET", "/api/v3/brokerage/time", None),
    "mock": ("GET", "/api/v1/time", None),
    "kucoin_perpetual": ("GET", "/api/v1/timestamp", None),
    "gate_io_perpetual": ("GET", "/api/v4/spot/time", None),
    "mexc_spot": ("GET", "/api/v3/time", None),
    "mexc_perpetual": ("GET", "/api/v1/contract/ping", None),
    "ascend_ex_spot": ("GET", "/api/pro/v1/barhist/info", None),
}


def fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def afetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    return await asyncio.to_thread(fetch, url, method, body)


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


# -- the seed document, as written ----------------------------------------------------------


@pytest.mark.asyncio
async def test_seed_example() -> None:
    """The seed's example (with port 0): start with pairs, url, network conditions, stop."""
    server = MockedCandleFeedServer(exchange_type=ExchangeType.BINANCE_SPOT, host="127.0.0.1", port=0)
    custom_pairs = [("BTCUSDT", "1m", 50000.0), ("ETHUSDT", "1m", 3000.0)]
    await server.start(trading_pairs=custom_pairs)
    assert server.host == "127.0.0.1" and server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.ws_url == f"ws://127.0.0.1:{server.port}/ws"

    status, body = await afetch(f"{server.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3")
    assert status == 200 and len(json.loads(body)) == 3
    status, body = await afetch(f"{server.url}/api/v3/exchangeInfo")
    assert [s["symbol"] for s in json.loads(body)["symbols"]] == ["BTCUSDT", "ETHUSDT"]

    server.set_network_conditions(latency_ms=0, packet_loss_rate=0.0, error_rate=1.0)
    status, body = await afetch(f"{server.url}/api/v3/klines?symbol=BTCUSDT&interval=1m")
    assert status in (500, 503) and json.loads(body)["code"] < 0
    server.set_network_conditions(latency_ms=0, packet_loss_rate=0.0, error_rate=0.0)
    status, _ = await afetch(f"{server.url}/api/v3/klines?symbol=BTCUSDT&interval=1m")
    assert status == 200
    assert [e["kind"] for e in server.journal()] == ["error"]

    await server.stop()
    assert refused(server.port)
    assert not server.running


@pytest.mark.asyncio
async def test_seed_fixture_style() -> None:
    """The seed's async fixture pattern: default pairs, ``async with`` as well."""
    async with MockedCandleFeedServer(exchange_type=ExchangeType.OKX_SPOT, host="127.0.0.1", port=0) as server:
        status, body = await afetch(f"{server.url}/api/v5/market/candles?instId=BTC-USDT&bar=1m&limit=2")
        assert status == 200 and len(json.loads(body)["data"]) == 2


def test_exchange_type_values() -> None:
    """Every value the seed's users write exists, and is the venue's plugin name."""
    assert {e.name for e in ExchangeType} == {
        "BINANCE_SPOT", "BINANCE_PERPETUAL", "BYBIT_SPOT", "BYBIT_PERPETUAL", "OKX_SPOT",
        "OKX_PERPETUAL", "KUCOIN_SPOT", "KUCOIN_PERPETUAL", "GATE_IO_SPOT", "GATE_IO_PERPETUAL",
        "KRAKEN_SPOT", "MEXC_SPOT", "MEXC_PERPETUAL", "HYPERLIQUID_SPOT", "HYPERLIQUID_PERPETUAL",
        "COINBASE_ADVANCED_TRADE", "ASCEND_EX_SPOT", "MOCK",
    }
    for member in ExchangeType:
        assert member.value == member.name.lower() == member.venue == str(member)
        assert ExchangeType(member.value) is member


@pytest.mark.parametrize("member", list(ExchangeType), ids=lambda m: m.value)
def test_every_exchange_type(member: ExchangeType) -> None:
    """An installed venue starts and answers; a missing one says which venue is missing."""
    server = MockedCandleFeedServer(member, port=0)
    if member.value not in INSTALLED:
        with pytest.raises(VenueNotInstalled) as caught:
            server.start_sync()
        assert f"ExchangeType.{member.name}" in str(caught.value)
        assert repr(member.value) in str(caught.value)
        assert "binance_spot" in str(caught.value)  # lists what is installed
        assert server.reactor_thread is None
        return
    with server:
        method, path, body = PROBES[member.value]
        status, _ = fetch(server.url + path, method, body)
        assert status == 200


def test_every_installed_venue_has_a_probe() -> None:
    assert {e.value for e in ExchangeType} & INSTALLED <= set(PROBES)


def test_third_party_name() -> None:
    """A plain string names any installed venue; an unknown one is VenueNotInstalled."""
    with MockedCandleFeedServer("mock", port=0) as server:
        assert fetch(server.url + "/api/v1/time")[0] == 200
    with pytest.raises(VenueNotInstalled, match="venue 'nope'"):
        MockedCandleFeedServer("nope", port=0).start_sync()


# -- event loops and threads -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_several_servers_concurrently() -> None:
    """Three venues started together on one loop, each on its own port and thread."""
    servers = [
        MockedCandleFeedServer(venue, port=0, seed=3)
        for venue in (ExchangeType.BINANCE_SPOT, ExchangeType.BYBIT_SPOT, ExchangeType.KRAKEN_SPOT)
    ]
    await asyncio.gather(*(s.start() for s in servers))
    assert len({s.port for s in servers}) == 3
    assert len({s.reactor_thread.ident for s in servers}) == 3  # type: ignore[union-attr]
    results = await asyncio.gather(*(afetch(s.url + PROBES[s.venue][1]) for s in servers))
    assert [status for status, _ in results] == [200, 200, 200]
    await asyncio.gather(*(s.stop() for s in servers))
    assert all(refused(s.port) for s in servers)


_handover: dict[str, Any] = {}


@pytest.mark.hands_over
@pytest.mark.asyncio
async def test_loop_one_starts() -> None:
    """Started on this test's event loop..."""
    server = MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0)
    await server.start()
    _handover["server"] = server
    _handover["loop"] = asyncio.get_running_loop()


@pytest.mark.asyncio
async def test_loop_two_serves_and_stops() -> None:
    """...served and stopped on the next test's loop (pytest-asyncio: a new loop per test)."""
    server = _handover.pop("server", None)
    if server is None:
        pytest.skip("runs after test_loop_one_starts")
    assert asyncio.get_running_loop() is not _handover.pop("loop")
    status, _ = await afetch(server.url + "/api/v3/time")
    assert status == 200
    await server.stop()


def test_sync_context_manager_in_threads() -> None:
    """Plain threads, no event loop anywhere: ``with`` starts and stops."""
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(venue: ExchangeType) -> None:
        try:
            with MockedCandleFeedServer(venue, port=0, trading_pairs=[("BTC/USDT", 50000.0)]) as server:
                method, path, body = PROBES[venue.value]
                results.append(fetch(server.url + path, method, body)[0])
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(v,)) for v in (ExchangeType.BINANCE_SPOT, ExchangeType.OKX_SPOT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and results == [200, 200]


def test_sync_start_stop_in_a_loop() -> None:
    """Many servers in a row leave nothing behind (checked by the no_leaks fixture)."""
    ports = []
    for i in range(5):
        server = MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0, seed=i).start_sync()
        ports.append(server.port)
        server.stop_sync()
        server.stop_sync()  # twice: a no-op
    assert all(refused(p) for p in ports)


@pytest.mark.asyncio
async def test_websocket_clients_are_closed_on_stop() -> None:
    """A connected WebSocket client gets 1001 when the server stops; no thread or fd stays."""
    websockets = pytest.importorskip("websockets")
    server = await MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0).start()
    async with websockets.connect(server.ws_url + "/btcusdt@kline_1m") as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["e"] == "kline"
        await server.stop()
        with pytest.raises(websockets.ConnectionClosed) as caught:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001


# -- configuration ----------------------------------------------------------------------------


def test_network_conditions_before_start() -> None:
    """Set before start: applied at start."""
    server = MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0)
    server.set_network_conditions(error_rate=1.0)
    with server:
        status, _ = fetch(server.url + "/api/v3/klines?symbol=BTCUSDT&interval=1m")
        assert status >= 500
        assert server.call(lambda s: s.faults.network_conditions()["error_rate"]) == 1.0


def test_bad_rates() -> None:
    server = MockedCandleFeedServer(port=0)
    with pytest.raises(ValueError, match="error_rate"):
        server.set_network_conditions(error_rate=1.5)


def test_server_options_pass_through() -> None:
    """seed, origin_ms, speed, options and the scenario control reach MockServer."""
    origin = 1_700_000_000_000
    with MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0, seed=9, origin_ms=origin, speed=60) as a, \
            MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0, seed=9, origin_ms=origin, speed=60) as b:
        assert abs(a.now_ms() - origin) < 120_000
        query = f"/api/v3/klines?symbol=BTCUSDT&interval=1h&endTime={origin - 3_600_000}&limit=5"
        assert fetch(a.url + query) == fetch(b.url + query)  # same seed, same bytes
        a.scenario("BTCUSDT", "freeze", duration=60)
        faults = a.call(lambda s: s.faults)
        assert faults is not None


def test_set_rate_limits() -> None:
    """The seed's call: forwarded to MockServer.set_rate_limits, or a clear NotImplementedError."""
    server = MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0)
    if not hasattr(MockServer, "set_rate_limits"):
        with pytest.raises(NotImplementedError, match="rate limit"):
            server.set_rate_limits(rest_limit=120, rest_period_ms=60000, ws_limit=5, ws_burst=10)
        return
    with server:  # pragma: no cover - once the rate limiter is merged
        server.set_rate_limits(rest_limit=2, rest_period_ms=60000, ws_limit=5, ws_burst=10)
        statuses = [fetch(server.url + "/api/v3/time")[0] for _ in range(4)]
        assert 429 in statuses


# -- failures -----------------------------------------------------------------------------------


def test_port_in_use() -> None:
    """A port already bound: start raises the listening error; no thread stays behind."""
    with MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0) as first:
        second = MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=first.port)
        with pytest.raises(Exception, match="Couldn't listen|in use"):
            second.start_sync()
        assert second.reactor_thread is None and not second.running


@pytest.mark.asyncio
async def test_bad_pairs_async() -> None:
    with pytest.raises(ValueError, match="no trading pairs"):
        await MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0).start(trading_pairs=[])


def test_call_raises_in_the_caller() -> None:
    """An exception in a function run in the reactor thread is raised by call()."""
    with MockedCandleFeedServer(port=0) as server:
        with pytest.raises(ZeroDivisionError):
            server.call(lambda s: 1 / 0)
        assert server.call(lambda s: s.port) == server.port


def test_logged_error_surfaces_at_check_and_stop() -> None:
    """
    An error raised later in the reactor thread (a timer's callback) is logged there;
    the next call or check() raises it in the caller's thread, and so does stop().
    """
    server = MockedCandleFeedServer(port=0).start_sync()

    def boom() -> None:
        raise RuntimeError("boom in the reactor thread")

    server.call(lambda s: s.reactor.callLater(0, boom) and None)
    deadline = 50
    while not server.errors and deadline:
        threading.Event().wait(0.02)
        deadline -= 1
    with pytest.raises(ServerError, match="boom in the reactor thread") as caught:
        server.call(lambda s: None)
    assert "RuntimeError" in caught.value.errors[0]
    server.check()  # reported once

    server.call(lambda s: s.reactor.callLater(0, boom) and None)
    with pytest.raises(ServerError, match="boom"):
        server.stop_sync()
    assert not server.running


def test_handler_error_surfaces() -> None:
    """A venue handler that raises is answered with the venue's 500, and reported."""
    server = MockedCandleFeedServer(ExchangeType.BINANCE_SPOT, port=0).start_sync()
    try:
        def break_klines(s: MockServer) -> None:
            s.context.rows = None  # the klines handler now fails with AttributeError

        server.call(break_klines)
        status, body = fetch(server.url + "/api/v3/klines?symbol=BTCUSDT&interval=1m")
        assert status == 500 and json.loads(body)["code"] == -1000
    finally:
        with pytest.raises(ServerError, match="AttributeError"):
            server.stop_sync()


def test_leftover_timer_is_an_error() -> None:
    """A timer still pending once the server has stopped is reported by stop()."""
    server = MockedCandleFeedServer(port=0).start_sync()
    server.call(lambda s: s.reactor.callLater(3600, lambda: None) and None)
    with pytest.raises(ServerError, match="timer still pending"):
        server.stop_sync()


def test_use_before_start() -> None:
    server = MockedCandleFeedServer(port=0)
    with pytest.raises(RuntimeError, match="start it first"):
        server.url
    server.stop_sync()  # never started: a no-op
    with pytest.raises(RuntimeError, match="starts once"):
        server.start_sync()

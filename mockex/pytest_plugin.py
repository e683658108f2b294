"""
The mockex pytest plugin (entry point ``pytest11: mockex``; or ``-p mockex.pytest_plugin``).

Fixtures:

``mockex_server``
    A started :class:`~mockex.MockedCandleFeedServer` per test, on a free port of
    127.0.0.1, stopped after the test. Configured by the ``mockex`` marker::

        @pytest.mark.mockex(exchange="okx_spot", pairs=[("BTC-USDT", 50000.0)], seed=7)
        def test_okx(mockex_server): ...

    (any other keyword goes to the server: ``speed``, ``origin_ms``, ``options``,
    ``model``, ``faults``...). Without a marker: ``binance_spot``, the venue's
    default pairs, seed 0, or what the ``mockex_exchange``/``mockex_seed`` ini options say.
``mockex_session_server``
    One server for the whole session; its configuration is the
    ``mockex_session_options`` fixture (override it in ``conftest.py``).
``mockex_url``, ``mockex_ws_url``
    ``mockex_server``'s URLs.
``mockex_servers``
    A factory for more servers in one test: ``mockex_servers("bybit_spot", seed=3)``;
    every server it started is stopped after the test.
``ccxt_exchange``
    A factory of ccxt instances pointed at ``mockex_server`` (or at the server given):
    ``ccxt_exchange()``, ``ccxt_exchange(pro=True)``, ``ccxt_exchange(server=other)``.
    Asynchronous instances it made and the test did not close are closed after it.

The fixtures are synchronous: the servers run in their own reactor threads, so the same
fixtures serve plain tests, pytest-asyncio tests in any mode and with any loop scope,
and a session server is shared by tests that each run on their own event loop.

Errors logged in a server's reactor thread during a test (a venue handler that raised,
an unhandled Deferred failure) fail that test with :class:`~mockex.ServerError`.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable, Iterator

import pytest

from mockex.facade import MockedCandleFeedServer, ServerError, live_servers


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mockex_exchange", "mockex: the default venue of the mockex fixtures", default="binance_spot")
    parser.addini("mockex_seed", "mockex: the default seed of the mockex fixtures", default="0")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockex(exchange=..., pairs=..., seed=..., **options): configure the mockex_server fixture",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test if a live server's reactor thread logged errors while it ran."""
    __tracebackhide__ = True
    result = yield
    names: list[str] = []
    errors: list[str] = []
    for server in live_servers():
        thread = server.reactor_thread
        taken = thread.take_errors() if thread is not None else []
        if taken:
            names.append(f"{server.venue} at {server.url}")
            errors.extend(taken)
    if errors:
        raise ServerError(", ".join(names) + " (during this test)", errors)
    return result


def _defaults(config: pytest.Config) -> dict[str, Any]:
    return {"exchange": config.getini("mockex_exchange"), "seed": int(config.getini("mockex_seed"))}


def _make(exchange: Any, *, pairs: Any = None, **options: Any) -> MockedCandleFeedServer:
    options.setdefault("port", 0)
    server = MockedCandleFeedServer(exchange, trading_pairs=pairs, **options)
    return server.start_sync()


@pytest.fixture
def mockex_server(request: pytest.FixtureRequest) -> Iterator[MockedCandleFeedServer]:
    """A started server per test (see the ``mockex`` marker)."""
    options = _defaults(request.config)
    marker = request.node.get_closest_marker("mockex")
    if marker is not None:
        if marker.args:
            options["exchange"] = marker.args[0]
        options.update(marker.kwargs)
    server = _make(options.pop("exchange"), **options)
    try:
        yield server
    finally:
        server.stop_sync()


@pytest.fixture
def mockex_url(mockex_server: MockedCandleFeedServer) -> str:
    return mockex_server.url


@pytest.fixture
def mockex_ws_url(mockex_server: MockedCandleFeedServer) -> str:
    return mockex_server.ws_url


@pytest.fixture(scope="session")
def mockex_session_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """The session server's configuration (override in conftest.py)."""
    return _defaults(pytestconfig)


@pytest.fixture(scope="session")
def mockex_session_server(mockex_session_options: dict[str, Any]) -> Iterator[MockedCandleFeedServer]:
    """One started server for the whole session."""
    options = dict(mockex_session_options)
    server = _make(options.pop("exchange", "binance_spot"), **options)
    try:
        yield server
    finally:
        server.stop_sync()


@pytest.fixture
def mockex_servers(request: pytest.FixtureRequest) -> Iterator[Callable[..., MockedCandleFeedServer]]:
    """A factory of started servers, all stopped after the test."""
    made: list[MockedCandleFeedServer] = []
    defaults = _defaults(request.config)

    def make(exchange: Any = None, **options: Any) -> MockedCandleFeedServer:
        options.setdefault("seed", defaults["seed"])
        server = _make(exchange or defaults["exchange"], **options)
        made.append(server)
        return server

    try:
        yield make
    finally:
        errors: list[BaseException] = []
        for server in reversed(made):
            try:
                server.stop_sync()
            except Exception as e:  # stop them all, then report
                errors.append(e)
        if errors:
            raise errors[0]


@pytest.fixture
def ccxt_exchange(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """A factory of ccxt instances pointed at ``mockex_server`` or a given server."""
    from mockex.clients import ccxt_exchange as make_exchange

    made: list[Any] = []

    def make(server: Any = None, *, pro: bool = False, async_support: bool = False, **config: Any) -> Any:
        if server is None:
            server = request.getfixturevalue("mockex_server")
        exchange = make_exchange(server, pro=pro, async_support=async_support, config=config)
        made.append(exchange)
        return exchange

    yield make
    for exchange in made:
        close = getattr(exchange, "close", None)
        if close is not None and inspect.iscoroutinefunction(close):
            _close_async(exchange)


def _close_async(exchange: Any) -> None:
    """Close an async ccxt instance the test left open (its loop may be gone)."""
    session = getattr(exchange, "session", None)
    clients = getattr(exchange, "clients", None) or {}
    if session is None and not clients:
        return
    try:
        asyncio.run(exchange.close())
    except Exception:  # its sessions belong to a closed loop: nothing more to do
        pass

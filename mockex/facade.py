"""
The seed document's API for asyncio and plain Python: :class:`MockedCandleFeedServer`.

::

    from mockex import ExchangeType, MockedCandleFeedServer

    server = MockedCandleFeedServer(exchange_type=ExchangeType.BINANCE_SPOT, port=0)
    await server.start(trading_pairs=[("BTCUSDT", "1m", 50000.0)])
    server.url                                  # http://127.0.0.1:PORT
    server.set_network_conditions(latency_ms=200, error_rate=0.1)
    await server.stop()

    with MockedCandleFeedServer(ExchangeType.OKX_SPOT, port=0) as server:   # no event loop
        ...

How it runs: every server gets its **own private reactor in its own daemon thread**
(:class:`ReactorThread`). The reactor is a fresh instance of the platform's reactor
class; it is never installed as ``twisted.internet.reactor``, never registered as the
I/O thread, and never handles signals. The user's code talks to it only through
``reactor.callFromThread`` and :class:`concurrent.futures.Future`; asyncio awaits those
futures with :func:`asyncio.wrap_future`, so nothing is bound to an event loop: a
server started on one loop (a session fixture) is stopped on another (pytest-asyncio's
per-test loops), or from a thread with no loop at all. ``stop()`` stops the reactor,
joins the thread and closes the reactor's own file descriptors, so a stopped server
leaves no thread, port, timer or descriptor behind.

Why not one process-wide reactor thread, or the running asyncio loop:

* The global reactor may already be someone else's (trial runs it in the main thread;
  a user may have installed the asyncio reactor). A private reactor cannot clash with
  either, and ``MockServer`` takes its reactor as an argument anyway.
* An asyncio-reactor integration binds the server to the loop that started it; with
  pytest-asyncio's per-test loops, a server outliving one test (a session fixture)
  would be served by a closed loop.
* One thread per server makes errors attributable: anything logged as an error in a
  server's reactor thread (a venue handler that raised, an unhandled ``Deferred``
  failure) belongs to that server, and is raised by its ``stop()`` (and by the pytest
  plugin at the end of the test that caused it) as :class:`ServerError`. It also makes
  leaks checkable: a timer still pending when the server has stopped is an error too.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import enum
import threading
import weakref
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from mockex.plugins import UnknownExchange, exchanges

T = TypeVar("T")

#: Seconds a synchronous call, start or stop waits for the reactor thread by default.
DEFAULT_TIMEOUT = 30.0


class ExchangeType(str, enum.Enum):
    """
    The venues as the seed document names them. The value is the venue's plugin name
    (``twistd mockex --exchange <value>``); a plain string names any installed venue,
    third-party ones included.
    """

    BINANCE_SPOT = "binance_spot"
    BINANCE_PERPETUAL = "binance_perpetual"
    BYBIT_SPOT = "bybit_spot"
    BYBIT_PERPETUAL = "bybit_perpetual"
    OKX_SPOT = "okx_spot"
    OKX_PERPETUAL = "okx_perpetual"
    KUCOIN_SPOT = "kucoin_spot"
    KUCOIN_PERPETUAL = "kucoin_perpetual"
    GATE_IO_SPOT = "gate_io_spot"
    GATE_IO_PERPETUAL = "gate_io_perpetual"
    KRAKEN_SPOT = "kraken_spot"
    MEXC_SPOT = "mexc_spot"
    MEXC_PERPETUAL = "mexc_perpetual"
    HYPERLIQUID_SPOT = "hyperliquid_spot"
    HYPERLIQUID_PERPETUAL = "hyperliquid_perpetual"
    COINBASE_ADVANCED_TRADE = "coinbase_advanced_trade"
    ASCEND_EX_SPOT = "ascend_ex_spot"
    MOCK = "mock"

    @property
    def venue(self) -> str:
        """The venue's plugin name."""
        return self.value

    def __str__(self) -> str:
        return self.value


class VenueNotInstalled(UnknownExchange):
    """The venue an :class:`ExchangeType` (or name) maps to is not installed."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(name, available)
        member = _member_of(name)
        what = f"ExchangeType.{member.name} needs the venue {name!r}" if member else f"venue {name!r}"
        self.args = (
            f"{what}, which is not installed in this mockex "
            f"(installed: {', '.join(available) or '(none)'})",
        )


class ServerError(Exception):
    """
    Errors logged in a server's reactor thread (or timers it left behind), raised in
    the caller's thread. ``errors`` holds one formatted report per error.
    """

    def __init__(self, name: str, errors: list[str]) -> None:
        self.errors = list(errors)
        head = f"{len(errors)} error(s) in the reactor thread of mockex server {name}:"
        super().__init__("\n\n".join([head, *errors]))


def _member_of(name: str) -> ExchangeType | None:
    try:
        return ExchangeType(name)
    except ValueError:
        return None


def venue_name(exchange: ExchangeType | str) -> str:
    """The plugin name of ``exchange`` (an :class:`ExchangeType` or a name)."""
    return exchange.value if isinstance(exchange, ExchangeType) else str(exchange)


# -- the reactor thread -----------------------------------------------------------------


def _new_reactor() -> Any:
    """A fresh, uninstalled reactor of the best kind for this platform."""
    try:
        from twisted.internet.epollreactor import EPollReactor as Reactor
    except ImportError:  # pragma: no cover - not Linux
        try:
            from twisted.internet.pollreactor import PollReactor as Reactor  # type: ignore[assignment]
        except ImportError:
            from twisted.internet.selectreactor import SelectReactor as Reactor  # type: ignore[assignment]
    reactor = Reactor()
    # Not the process's I/O thread: that is whoever runs the global reactor, if anyone.
    reactor._registerAsIOThread = False
    return reactor


class _ErrorRouter:
    """
    One observer on Twisted's global log publisher, installed on first use: an error
    event emitted in a reactor thread is handed to that thread's :class:`ReactorThread`.
    Observers run in the emitting thread, so the thread identifies the server.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: dict[int, ReactorThread] = {}
        self._installed = False

    def register(self, ident: int, owner: "ReactorThread") -> None:
        with self._lock:
            self._threads[ident] = owner
            if not self._installed:
                globalLogPublisher.addObserver(self)
                self._installed = True

    def unregister(self, ident: int) -> None:
        with self._lock:
            self._threads.pop(ident, None)

    def __call__(self, event: Mapping[str, Any]) -> None:
        owner = self._threads.get(threading.get_ident())
        if owner is None:
            return
        failure = event.get("log_failure")
        level = event.get("log_level")
        if failure is None and level not in (LogLevel.error, LogLevel.critical):
            return
        try:
            text = formatEvent(dict(event))
        except Exception:  # pragma: no cover - formatEvent does not raise, but be safe
            text = repr(event)
        if isinstance(failure, Failure):
            text = f"{text}\n{failure.getTraceback()}"
        owner.record(text)


_router = _ErrorRouter()


class ReactorThread:
    """
    A private reactor running in a daemon thread, and the way in: :meth:`submit` runs
    a function in the reactor thread and returns a :class:`concurrent.futures.Future`
    of its result (a ``Deferred`` result is waited for).
    """

    def __init__(self, name: str = "mockex-reactor") -> None:
        self.reactor = _new_reactor()
        self.name = name
        #: formatted errors logged in this thread, not yet raised
        self.errors: list[str] = []
        self._lock = threading.Lock()
        #: held while writing to the reactor's waker (callFromThread) or closing it
        self._call_lock = threading.Lock()
        #: resolves once the thread has finished (reactor stopped, descriptors closed)
        self.finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stop_requested = False
        self._thread.start()

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        ident = threading.get_ident()
        _router.register(ident, self)
        try:
            self.reactor.run(installSignalHandlers=False)
        except BaseException as e:  # pragma: no cover - the reactor does not raise
            self.record(f"the reactor raised {e!r}")
        finally:
            with self._call_lock:
                # From here on nobody may write to the waker: it is about to be closed.
                self._stop_requested = True
            try:
                self._close_descriptors()
            finally:
                _router.unregister(ident)
                self.finished.set_result(None)

    def _close_descriptors(self) -> None:
        """What a stopped reactor keeps open: its waker(s), and the poller."""
        reactor = self.reactor
        for reader in list(getattr(reactor, "_internalReaders", ())):
            try:
                reactor.removeReader(reader)
            finally:
                reader.connectionLost(None)
        if hasattr(reactor, "_internalReaders"):
            reactor._internalReaders.clear()
        for selectable in reactor.removeAll():
            self.record(f"connection still open when the reactor stopped: {selectable!r}")
            selectable.connectionLost(Failure(ConnectionError("mockex reactor stopped")))
        poller = getattr(reactor, "_poller", None)
        if poller is not None and hasattr(poller, "close"):
            poller.close()

    def record(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def take_errors(self) -> list[str]:
        """The errors recorded since the last call."""
        with self._lock:
            out, self.errors = self.errors, []
        return out

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> "concurrent.futures.Future[Any]":
        """Run ``fn(*args, **kwargs)`` in the reactor thread; a Future of its result."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            d = maybeDeferred(fn, *args, **kwargs)

            def done(result: Any) -> None:
                future.set_result(result)

            def failed(failure: Failure) -> None:
                future.set_exception(failure.value)

            d.addCallbacks(done, failed)

        with self._call_lock:
            if self._stop_requested:
                future.set_exception(RuntimeError(f"{self.name}: the reactor thread has stopped"))
            else:
                self.reactor.callFromThread(run)
        return future

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = DEFAULT_TIMEOUT,
             **kwargs: Any) -> Any:
        """:meth:`submit` and wait (from any thread but this one)."""
        if threading.get_ident() == self.ident:
            raise RuntimeError(
                f"{self.name}: a blocking call from the reactor thread itself would deadlock"
            )
        return self.submit(fn, *args, **kwargs).result(timeout)

    def stop(self) -> "concurrent.futures.Future[None]":
        """Stop the reactor (once); resolves when the thread has finished."""
        with self._call_lock:
            if not self._stop_requested:
                self._stop_requested = True
                self.reactor.callFromThread(self.reactor.stop)
        return self.finished

    def stop_here(self) -> None:
        """Stop the reactor from within its own thread."""
        with self._call_lock:
            self._stop_requested = True
        self.reactor.stop()

    def join(self, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.stop().result(timeout)
        self._thread.join(timeout)


# -- the facade -------------------------------------------------------------------------

#: every started, not yet stopped server, for the pytest plugin and interpreter exit
_live: "weakref.WeakSet[MockedCandleFeedServer]" = weakref.WeakSet()
_live_lock = threading.Lock()

_UNSET: Any = object()


def live_servers() -> list["MockedCandleFeedServer"]:
    """Every server started and not yet stopped in this process."""
    with _live_lock:
        return list(_live)


class MockedCandleFeedServer:
    """
    A mock venue, started and stopped from asyncio (``await start()``/``await stop()``),
    from plain code (:meth:`start_sync`/:meth:`stop_sync`, or ``with``), or ``async
    with``. See the module docstring for how it runs.

    ``exchange_type``: an :class:`ExchangeType` or any installed venue's name.
    ``port=0`` takes a free port (the seed's default is 8080; tests should use 0).
    The keyword-only arguments are :class:`mockex.server.MockServer`'s: ``seed``,
    ``speed``, ``origin_ms`` (market time at start), ``options`` (the venue's
    switches), ``model``, ``models``, ``faults``, ``control_token``, ``scenario_dir``.
    ``trading_pairs`` given here are used when :meth:`start` is not given any.
    ``timeout``: seconds any call waits for the reactor thread.
    """

    def __init__(
        self,
        exchange_type: ExchangeType | str = ExchangeType.BINANCE_SPOT,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        trading_pairs: Iterable[Sequence[Any]] | None = None,
        seed: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
        **server_options: Any,
    ) -> None:
        self.exchange_type = exchange_type
        self.venue = venue_name(exchange_type)
        self.host = host
        self.port = port
        self.seed = seed
        self.timeout = timeout
        self.trading_pairs = None if trading_pairs is None else list(trading_pairs)
        self._server_options = dict(server_options)
        self._thread: ReactorThread | None = None
        self._server: Any = None
        self._pending: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._state = "new"  # new -> starting -> running -> stopped
        self._url = ""
        self._ws_url = ""

    def __repr__(self) -> str:
        where = f" {self._url}" if self._url else ""
        return f"<MockedCandleFeedServer {self.venue} {self._state}{where}>"

    # -- addresses ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST base URL, e.g. ``http://127.0.0.1:8080`` (after start)."""
        self._require_started("url")
        return self._url

    @property
    def ws_url(self) -> str:
        """The venue's WebSocket URL, e.g. ``ws://127.0.0.1:8080/ws`` (after start)."""
        self._require_started("ws_url")
        return self._ws_url

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def reactor_thread(self) -> ReactorThread | None:
        """The server's reactor thread (None before start and after stop)."""
        return self._thread

    @property
    def mock_server(self) -> Any:
        """
        The underlying :class:`mockex.server.MockServer`. It lives in the reactor
        thread: touch it only through :meth:`call`.
        """
        self._require_started("mock_server")
        return self._server

    def _require_started(self, what: str) -> None:
        if self._state != "running":
            raise RuntimeError(f"{what}: the server is {self._state}; start it first")

    # -- life cycle -----------------------------------------------------------------

    def _begin_start(self, trading_pairs: Iterable[Sequence[Any]] | None) -> "concurrent.futures.Future[Any]":
        if self._state != "new":
            raise RuntimeError(f"start(): the server is {self._state} (a server starts once)")
        available = exchanges()
        if self.venue not in available:
            raise VenueNotInstalled(self.venue, list(available))
        pairs = list(trading_pairs) if trading_pairs is not None else self.trading_pairs
        self._state = "starting"
        self._thread = ReactorThread(name=f"mockex-{self.venue}")
        pending, self._pending = self._pending, []

        def start_in_reactor() -> Deferred[Any]:
            from mockex.server import MockServer

            server = MockServer(
                self.venue, host=self.host, port=self.port, seed=self.seed, pairs=pairs,
                reactor=self._thread.reactor, **self._server_options,  # type: ignore[union-attr]
            )
            self._server = server

            def configure(_: Any) -> Any:
                for fn, args, kwargs in pending:
                    fn(server, *args, **kwargs)
                return server

            return server.start().addCallback(configure)

        return self._thread.submit(start_in_reactor)

    def _finish_start(self, server: Any) -> "MockedCandleFeedServer":
        self.port = server.port
        self._url = server.url
        self._ws_url = server.ws_url
        self._state = "running"
        with _live_lock:
            _live.add(self)
        return self

    async def start(self, trading_pairs: Iterable[Sequence[Any]] | None = None) -> "MockedCandleFeedServer":
        """
        Start serving ``trading_pairs`` (``(symbol, interval, price)`` or ``(symbol,
        price)``; None: those given to the constructor, else the venue's defaults).
        Returns the server once the port is bound. Raises :class:`VenueNotInstalled`,
        the listening error (a port in use), or ValueError for bad pairs.
        """
        future = self._begin_start(trading_pairs)
        try:
            server = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except BaseException:
            await self._abandon_async()
            raise
        return self._finish_start(server)

    def start_sync(self, trading_pairs: Iterable[Sequence[Any]] | None = None) -> "MockedCandleFeedServer":
        """:meth:`start`, blocking (for scripts, threads and synchronous fixtures)."""
        future = self._begin_start(trading_pairs)
        try:
            server = future.result(self.timeout)
        except BaseException:
            self._abandon_sync()
            raise
        return self._finish_start(server)

    def _abandon_sync(self) -> None:
        thread, self._thread = self._thread, None
        self._state = "stopped"
        if thread is not None:
            thread.join(self.timeout)

    async def _abandon_async(self) -> None:
        thread, self._thread = self._thread, None
        self._state = "stopped"
        if thread is not None:
            await asyncio.wrap_future(thread.stop())
            thread.join(self.timeout)

    def _stop_in_reactor(self) -> Deferred[Any]:
        server = self._server
        thread = self._thread
        assert thread is not None

        reactor = thread.reactor

        def check_timers() -> None:
            left = [c for c in reactor.getDelayedCalls() if c.active()]
            for call in left:
                thread.record(f"timer still pending after the server stopped: {call!r}")
                call.cancel()
            thread.stop_here()

        def stopped(_: Any) -> Deferred[None]:
            # MockServer.stop() fires from inside the last connection's connectionLost
            # (ConnectionLayer hears of it before the protocol does): look at the
            # timers once that call has returned, in the next reactor turn.
            later: Deferred[None] = Deferred()
            reactor.callLater(0, lambda: later.callback(None))
            return later.addCallback(lambda _: check_timers())

        def stop_anyway(failure: Failure) -> Failure:
            thread.stop_here()
            return failure

        d: Deferred[Any] = maybeDeferred(server.stop) if server is not None else maybeDeferred(lambda: None)
        return d.addCallbacks(stopped, stop_anyway)

    def _begin_stop(self) -> "tuple[ReactorThread, concurrent.futures.Future[Any]] | None":
        if self._state in ("new", "stopped"):
            self._state = "stopped"
            return None
        thread = self._thread
        assert thread is not None
        self._state = "stopped"
        with _live_lock:
            _live.discard(self)
        return thread, thread.submit(self._stop_in_reactor)

    def _finish_stop(self, thread: ReactorThread, error: BaseException | None) -> None:
        thread.stop()
        thread.join(self.timeout)
        self._thread = None
        self._server = None
        if error is not None:
            raise error
        self.check()
        errors = thread.take_errors()
        if errors:
            raise ServerError(self._url or self.venue, errors)

    async def stop(self) -> None:
        """
        Stop serving (WebSocket clients get a 1001 close), stop the reactor and join its
        thread. Raises :class:`ServerError` if errors were logged in the reactor thread
        and not yet reported. Stopping twice, or a server never started, is a no-op.
        """
        begun = self._begin_stop()
        if begun is None:
            return
        thread, future = begun
        error: BaseException | None = None
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
            await asyncio.wait_for(asyncio.wrap_future(thread.finished), self.timeout)
        except Exception as e:
            error = e
        self._finish_stop(thread, error)

    def stop_sync(self) -> None:
        """:meth:`stop`, blocking."""
        begun = self._begin_stop()
        if begun is None:
            return
        thread, future = begun
        error: BaseException | None = None
        try:
            future.result(self.timeout)
        except Exception as e:
            error = e
        self._finish_stop(thread, error)

    def __enter__(self) -> "MockedCandleFeedServer":
        return self.start_sync()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop_sync()

    async def __aenter__(self) -> "MockedCandleFeedServer":
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

    # -- errors -----------------------------------------------------------------------

    @property
    def errors(self) -> list[str]:
        """Errors logged in the reactor thread and not yet raised (a copy)."""
        thread = self._thread
        return list(thread.errors) if thread is not None else []

    def check(self) -> None:
        """Raise :class:`ServerError` with the errors logged since the last check."""
        thread = self._thread
        if thread is None:
            return
        errors = thread.take_errors()
        if errors:
            raise ServerError(self._url or self.venue, errors)

    # -- calls into the reactor thread ---------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """
        ``fn(mock_server, *args, **kwargs)`` in the reactor thread; its result (a
        Deferred is waited for). Blocks up to ``timeout`` seconds; first raises any
        error the reactor thread logged (:meth:`check`).
        """
        self._require_started("call()")
        self.check()
        assert self._thread is not None
        return self._thread.call(fn, self._server, *args, timeout=self.timeout, **kwargs)

    async def acall(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """:meth:`call`, awaited instead of blocking."""
        self._require_started("acall()")
        self.check()
        assert self._thread is not None
        future = self._thread.submit(fn, self._server, *args, **kwargs)
        return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)

    def _configure(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call now if running; before start, remember it for start()."""
        if self._state == "new":
            self._pending.append((fn, args, kwargs))
            return None
        return self.call(fn, *args, **kwargs)

    # -- the seed document's controls --------------------------------------------------

    def set_network_conditions(
        self,
        latency_ms: float = 0.0,
        packet_loss_rate: float = 0.0,
        error_rate: float = 0.0,
        *,
        jitter_ms: float = 0.0,
    ) -> None:
        """
        Latency on every response and frame, loss (WebSocket frames dropped, REST
        requests stalled or reset), the venue's 5xx errors; all zero: normal again.
        Before :meth:`start`, applied at start. See docs/faults.md.
        """
        _check_rate("packet_loss_rate", packet_loss_rate)
        _check_rate("error_rate", error_rate)
        self._configure(
            lambda s: s.set_network_conditions(latency_ms, packet_loss_rate, error_rate, jitter_ms=jitter_ms)
        )

    def set_rate_limits(
        self,
        rest_limit: int | None = _UNSET,
        rest_period_ms: int | None = _UNSET,
        ws_limit: int | None = _UNSET,
        ws_burst: int | None = _UNSET,
        **knobs: Any,
    ) -> Any:
        """
        The seed's rate limits: ``rest_limit`` requests (or weight) per
        ``rest_period_ms``, ``ws_limit`` messages per second with bursts of
        ``ws_burst``; other knobs of the rate limiter by keyword; None lifts a limit.
        Raises NotImplementedError while this mockex has no rate limiter.
        """
        from mockex.server import MockServer

        if not hasattr(MockServer, "set_rate_limits"):
            raise NotImplementedError(
                "set_rate_limits(): this mockex has no rate limiter yet "
                "(MockServer.set_rate_limits is added by the rate-limits work)"
            )
        given = dict(rest_limit=rest_limit, rest_period_ms=rest_period_ms, ws_limit=ws_limit, ws_burst=ws_burst)
        values = {k: v for k, v in given.items() if v is not _UNSET}
        values.update(knobs)
        return self._configure(lambda s: s.set_rate_limits(**values))

    # -- more controls ------------------------------------------------------------------

    def scenario(self, symbol: str, kind: str, value: float = 0.0, duration: float | None = None) -> None:
        """A market scenario (``shock``, ``trend``, ``volatility``, ``freeze``, ``gap``); see docs/models.md."""
        def start(server: Any) -> None:
            server.scenario(symbol, kind, value, duration)

        self._configure(start)

    def add_fault(self, rule: Mapping[str, Any]) -> str:
        """Add a fault rule (docs/faults.md); returns its id."""
        return self.call(lambda s: s.faults.add(dict(rule)).id)

    def clear_faults(self) -> None:
        """Remove every fault rule and the network conditions' effects."""
        def clear(server: Any) -> None:
            server.faults.clear()
            server.set_network_conditions()

        self.call(clear)

    def journal(self) -> list[dict[str, Any]]:
        """The injected faults so far (docs/faults.md, "Journal")."""
        return self.call(lambda s: [e.to_dict() for e in s.faults.journal_entries()])

    def now_ms(self) -> int:
        """The server's market time, epoch milliseconds."""
        return self.call(lambda s: s.clock.now_ms())


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, not {value!r}")


@atexit.register
def _stop_all_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    """Servers left running: stop them before the daemon threads are killed."""
    for server in live_servers():
        try:
            server.timeout = min(server.timeout, 5.0)
            server.stop_sync()
        except Exception:
            pass

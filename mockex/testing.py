"""
In-memory mockex for trial tests (as ``treq.testing`` serves treq users).

:class:`MemoryServer` runs a real :class:`~mockex.server.MockServer` (real Site, real
Klein app, real Autobahn protocols, real fault layer) on a ``MemoryReactorClock``:
REST requests go through ``StubTreq``, WebSocket clients are real Autobahn client
protocols connected with ``twisted.test.iosim``. Nothing touches a socket or the
global reactor; time moves only when the test says so::

    server = MemoryServer("binance_spot", now_ms=1_700_000_000_000)
    status, headers, body = server.get("/api/v3/klines", symbol="BTCUSDT", interval="1m")
    ws = server.connect("/ws/btcusdt@kline_1m")
    server.advance(2)
    ws.json()   # the kline events pushed so far
    server.advance_candles(3)   # to the third 1m boundary from now: three candles close
    server.stop(); server.assert_clean()

``server.http(...)`` sends a request over a raw in-memory connection through the real
``ConnectionLayer`` (and so through the transport-level fault machinery, which
``StubTreq`` requests bypass); ``server.faults`` is the server's fault controller.

Requests and connections come from ``127.0.0.1`` unless ``client="10.0.0.7"`` says
otherwise, so one test can play several clients (the rate limiter tells clients
apart by IP, and optionally by a header: ``server.set_rate_limits(client_header=...)``).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Mapping
from urllib.parse import urlencode

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.test import iosim
from twisted.web.resource import IResource, Resource
from treq.testing import StubTreq

from mockex.server import MockServer
from mockex.ws import _ReactorTimer

#: 2026-11-25 00:00:00 UTC: a default "now" for tests.
DEFAULT_NOW_MS = 1_795_564_800_000


class Response:
    """A finished in-memory response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __iter__(self) -> Any:
        return iter((self.status, self.headers, self.body))

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:200]!r}>"


class WsClient(WebSocketClientProtocol):
    """An Autobahn client that records what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[bytes] = []
        #: for each message in ``messages``, whether it came as a binary frame
        self.binary: list[bool] = []
        self.pings: list[bytes] = []
        self.pongs: list[bytes] = []
        self.opened = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.lost = False
        self.auto_pong = True

    def onOpen(self) -> None:
        self.opened = True

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.messages.append(payload)
        self.binary.append(isBinary)

    def onPing(self, payload: bytes) -> None:
        self.pings.append(payload)
        if self.auto_pong:
            self.sendPong(payload)

    def onPong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.close_code = code
        self.close_reason = reason
        self.lost = True

    def send_json(self, value: Any) -> None:
        self.sendMessage(json.dumps(value).encode())

    def send_text(self, text: str | bytes) -> None:
        self.sendMessage(text.encode() if isinstance(text, str) else text)

    def json(self) -> list[Any]:
        return [json.loads(m) for m in self.messages]

    def take(self) -> list[Any]:
        """The messages received since the last take, parsed."""
        out = self.json()
        self.messages.clear()
        self.binary.clear()
        return out

    def take_raw(self) -> list[tuple[bytes, bool]]:
        """The messages received since the last take, as (payload, is binary)."""
        out = list(zip(self.messages, self.binary))
        self.messages.clear()
        self.binary.clear()
        return out

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (pump the server to complete it)."""
        self.sendClose(code, reason)


class RawClient(Protocol):
    """A client that records every byte it receives, and when."""

    def __init__(self, clock: MemoryReactorClock) -> None:
        self.clock = clock
        self.data = b""
        #: (reactor seconds, bytes) of every read
        self.arrivals: list[tuple[float, bytes]] = []
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self.arrivals.append((self.clock.seconds(), data))

    def connectionLost(self, reason: Any) -> None:
        self.lost = True


class HttpResult:
    """What a raw client got: the parsed response if it is complete, else None fields."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.raw = client.data
        self.lost = client.lost
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.complete = False
        head, sep, rest = self.raw.partition(b"\r\n\r\n")
        if not sep:
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return
        self.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        length = int(self.headers.get("content-length", "-1"))
        self.body = rest if length < 0 else rest[:length]
        self.complete = length >= 0 and len(rest) >= length

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<HttpResult {self.status} complete={self.complete} lost={self.lost} {self.raw[:120]!r}>"


class _AsClient(Resource):
    """The server's root resource, seen from the client address of the next request."""

    isLeaf = True

    def __init__(self, wrapped: IResource) -> None:
        super().__init__()
        self.wrapped = wrapped
        self.client = "127.0.0.1"

    def render(self, request: Any) -> Any:
        request.client = IPv4Address("TCP", self.client, 31337)
        return self.wrapped.render(request)


def _requests_adapter(server: "MemoryServer") -> Any:
    """A ``requests`` transport adapter that answers through ``server.request``."""
    from urllib.parse import urlsplit

    import requests
    from requests.adapters import BaseAdapter
    from requests.structures import CaseInsensitiveDict

    class Adapter(BaseAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            parts = urlsplit(request.url)
            body = request.body.encode() if isinstance(request.body, str) else request.body
            # StubTreq sets Content-Length from the body; a second one is a 400.
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            answer = server.request(
                request.method, parts.path + ("?" + parts.query if parts.query else ""), None, headers, body
            )
            response = requests.Response()
            response.status_code = answer.status
            response.headers = CaseInsensitiveDict(answer.headers)
            response._content = answer.body
            response.url = request.url
            response.request = request
            try:
                response.reason = HTTPStatus(answer.status).phrase
            except ValueError:
                response.reason = ""
            response.encoding = "utf-8"
            return response

        def close(self) -> None:
            pass

    return Adapter()


class MemoryServer:
    """A :class:`MockServer` on a memory reactor, with request and WebSocket helpers."""

    def __init__(
        self,
        exchange: Any = "binance_spot",
        *,
        now_ms: int = DEFAULT_NOW_MS,
        seed: int = 0,
        pairs: Any = None,
        options: Mapping[str, str] | None = None,
        speed: float = 1.0,
        **server_options: Any,
    ) -> None:
        self.clock = MemoryReactorClock()
        self.clock.advance(now_ms / 1000.0)
        self.server = MockServer(
            exchange, port=0, seed=seed, pairs=pairs, reactor=self.clock, options=options, speed=speed,
            **server_options,
        )
        self._root = _AsClient(self.server.resource())
        self.treq = StubTreq(self._root)
        self._pumps: list[iosim.IOPump] = []

    # -- time ---------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.server.clock.now_ms()

    def advance(self, seconds: float, step: float = 0.5) -> None:
        """Move time forward, pumping every connection at least every ``step``."""
        remaining = seconds
        while remaining > 1e-9:
            dt = min(step, remaining)
            self.clock.advance(dt)
            remaining -= dt
            self.flush()
        self.flush()

    def advance_to(self, epoch_ms: int, step: float = 0.5) -> None:
        """Move market time forward to ``epoch_ms`` (never backwards)."""
        now = self.now_ms()
        if epoch_ms < now:
            raise ValueError(f"advance_to({epoch_ms}): market time is already {now}")
        self.advance((epoch_ms - now) / (1000.0 * self.server.clock.speed), step)
        # the reactor's float seconds may land a hair short of the boundary
        while self.now_ms() < epoch_ms:
            self.advance(0.001 / self.server.clock.speed, step)

    def advance_candles(self, n: int = 1, interval: str = "1m", step: float = 0.5) -> int:
        """
        Move market time to the ``n``-th ``interval`` boundary from now (Binance's interval
        names: ``1s``, ``1m``, ``5m``, ``1h``, ``1d``, ``1w``, ``1M``...), so that
        exactly ``n`` candles of that interval close, each pushed to its streams as
        it closes. Returns the open time of the candle that is live afterwards.
        """
        from mockex.intervals import CANONICAL

        if n < 0:
            raise ValueError(f"advance_candles: n must be >= 0, not {n}")
        try:
            length = CANONICAL[interval]
        except KeyError:
            raise ValueError(f"unknown interval {interval!r} (known: {', '.join(CANONICAL)})") from None
        target = length.shift(length.floor(self.now_ms()), n)
        if n:
            self.advance_to(target, step)
        return target if n else length.floor(self.now_ms())

    def run_until(self, predicate: Any, timeout: float = 60.0, step: float = 0.5) -> None:
        """Advance time ``step`` by ``step`` until ``predicate()`` is true; fail after ``timeout`` s."""
        waited = 0.0
        self.flush()
        while not predicate():
            if waited >= timeout:
                raise AssertionError(f"run_until: still false after {timeout} s of reactor time")
            self.advance(step, step)
            waited += step

    def flush(self) -> None:
        for _ in range(50):
            moved = False
            for pump in list(self._pumps):
                moved = pump.pump(advanceClock=False) or moved
            if not moved:
                break
        self.clock.advance(0)

    # -- REST -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        client: str = "127.0.0.1",
    ) -> Response:
        """A request from ``client`` (an IP address), answered in memory."""
        self._root.client = client
        url = "http://127.0.0.1" + path
        if params:
            url += "?" + urlencode(params if isinstance(params, list) else list(params.items()))
        d = self.treq.request(
            method, url, headers={k: [v] for k, v in (headers or {}).items()}, data=body
        )
        self.treq.flush()
        response = _result(d)
        content = _result(response.content())
        flat = {
            k.decode().lower(): v[0].decode()
            for k, v in response.headers.getAllRawHeaders()
        }
        return Response(response.code, flat, content)

    def get(
        self, path: str, headers: Mapping[str, str] | None = None, client: str = "127.0.0.1", **params: Any
    ) -> Response:
        return self.request("GET", path, params, headers, client=client)

    def get_json(self, path: str, **params: Any) -> Any:
        """GET ``path`` and parse the body; fails unless the status is 200."""
        response = self.get(path, **params)
        if response.status != 200:
            raise AssertionError(f"GET {path} {params}: {response!r}")
        return response.json()

    def post(
        self,
        path: str,
        json_body: Any = None,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Response:
        """POST ``json_body`` (as JSON) or raw ``body`` to ``path``."""
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        return self.request("POST", path, params, headers, body)

    # -- clients ----------------------------------------------------------------------

    #: The base URL in-memory clients are pointed at; nothing resolves it, the
    #: requests adapter of :meth:`ccxt` answers it.
    url = "http://mockex.memory"
    ws_url = "ws://mockex.memory/ws"
    host = "mockex.memory"
    port = 80

    def ccxt(self, config: Mapping[str, Any] | None = None) -> Any:
        """
        A synchronous ccxt instance of this venue (:func:`mockex.clients.ccxt_exchange`)
        whose requests are answered in memory and whose clock is the server's: ccxt's
        own request building, parsing and error mapping, deterministically, with no
        socket. ccxt's rate limiter is off unless ``config`` turns it on (it would
        sleep in real time)::

            server = MemoryServer("kucoin_spot")
            exchange = server.ccxt()
            exchange.fetch_ohlcv("BTC/USDT", "1m", limit=5)
        """
        from mockex.clients import ccxt_exchange

        exchange = ccxt_exchange(self, config={"enableRateLimit": False, **(config or {})})
        exchange.session.mount(self.url, _requests_adapter(self))
        exchange.milliseconds = self.now_ms
        exchange.seconds = lambda: self.now_ms() // 1000
        return exchange

    def set_network_conditions(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`mockex.server.MockServer.set_network_conditions`."""
        self.server.set_network_conditions(*args, **kwargs)

    @property
    def venue(self) -> Any:
        return self.server.venue

    @property
    def faults(self) -> Any:
        """The server's :class:`~mockex.faults.FaultController`."""
        return self.server.faults

    def open_raw(self, host: str = "127.0.0.1") -> tuple[RawClient, Any]:
        """A raw client connected through the server's ConnectionLayer: (client, pump)."""
        address = IPv4Address("TCP", host, 50000)
        local = IPv4Address("TCP", "127.0.0.1", 8080)
        client, server, pump = iosim.connectedServerAndClient(
            lambda: self.server.factory.buildProtocol(address), lambda: RawClient(self.clock),
            serverTransportFactory=lambda p: iosim.FakeTransport(p, True, local, address),
            clock=self.clock,
        )
        self._pumps.append(pump)
        self.flush()
        return client, pump

    def http(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        wait: float = 0.0,
        host: str = "127.0.0.1",
    ) -> HttpResult:
        """
        One request on a new raw connection (``Connection: close``); time moves on by
        ``wait`` seconds before the result is read.
        """
        client, _pump = self.open_raw(host)
        target = path + ("?" + urlencode(list(params.items())) if params else "")
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        client.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.flush()
        if wait:
            self.advance(wait, step=min(0.5, wait))
        return HttpResult(client)

    # -- WebSocket ----------------------------------------------------------------------

    def connect(
        self,
        path: str,
        open: bool = True,
        client: str = "127.0.0.1",
        headers: Mapping[str, str] | None = None,
        protocol: Any = WsClient,
    ) -> Any:
        """
        A WebSocket client from ``client`` (an IP address), with extra handshake
        ``headers``, connected to ``path`` (and opened, unless told not to: a refused
        upgrade leaves ``opened`` False and ``lost`` True). ``protocol``: your own
        Autobahn ``WebSocketClientProtocol`` subclass, to test a client's protocol
        against the server (it is returned, connected).
        """
        factory = WebSocketClientFactory(
            f"ws://127.0.0.1{path}", reactor=self.clock, headers=dict(headers or {})
        )
        factory._batched_timer = _ReactorTimer(self.clock)
        factory.setProtocolOptions(
            openHandshakeTimeout=0, closeHandshakeTimeout=0, serverConnectionDropTimeout=0
        )
        factory.protocol = protocol

        def make_client() -> WsClient:
            return factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))

        peer = IPv4Address("TCP", client, 50000)

        def make_server() -> Any:
            return self.server.factory.buildProtocol(peer)

        def server_transport(protocol: Any) -> iosim.FakeTransport:
            return iosim.FakeTransport(protocol, isServer=True, peerAddress=peer)

        ws, _server, pump = iosim.connectedServerAndClient(
            make_server, make_client, serverTransportFactory=server_transport, clock=self.clock
        )
        self._pumps.append(pump)
        self.flush()
        if open and not getattr(ws, "opened", ws.state == ws.STATE_OPEN):
            raise AssertionError(f"WebSocket handshake to {path} did not complete")
        return ws

    def stop(self) -> Any:
        """Stop the server and pump until every connection is closed."""
        d = self.server.stop()
        for _ in range(20):
            self.advance(0.5)
        return d

    def assert_clean(self) -> None:
        """After :meth:`stop`: fail if a timer is still pending on the memory reactor."""
        left = [c for c in self.clock.getDelayedCalls() if c.active()]
        if left:
            raise AssertionError(f"timers left after stop: {left!r}")

    def __enter__(self) -> "MemoryServer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
        if exc_info[0] is None:
            self.assert_clean()


def _result(d: Any) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    if not results:
        raise AssertionError("in-memory request did not finish")
    result = results[0]
    if hasattr(result, "raiseException"):
        result.raiseException()
    return result

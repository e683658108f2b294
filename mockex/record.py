"""
Record mode: sit in front of a real venue, pass its traffic through, write the klines.

:class:`RecordingProxy` is a web resource that forwards every REST request to an
upstream base URL (through an injected treq-style HTTP client, by default
``treq.client.HTTPClient(Agent(reactor))`` on the injected reactor) and answers with the
upstream's status, content type and body. A WebSocket upgrade is answered by an Autobahn
server protocol that opens the same path on the upstream WebSocket URL (an Autobahn
client on the injected reactor) and relays messages both ways.

What passes through is recorded by a :class:`KlineRecorder` in the replay format
(mockex.replay: Binance's 12-column kline CSV, ms timestamps), one file per symbol and
interval, ``DIR/SYMBOL-INTERVAL.csv``, closed klines only, each open time once.

One mechanism per concern: the venue plugin knows its formats and provides
:class:`~mockex.interfaces.IKlineRecording` (REST answers and stream messages as
:class:`~mockex.interfaces.RecordedCandle` values); this module knows proxying, which
candles are closed, de-duplication, files and path safety. The shared rules:

* a REST klines answer: every row but the newest (per symbol and interval), which may
  still be open (it is recorded when a later answer or the stream shows it closed);
* a stream candle marked closed (Binance ``x``, OKX and Bybit ``confirm``, Gate ``w``...)
  is recorded; one marked open is not;
* a stream candle whose venue does not say (``closed is None``) is recorded when a
  later open time arrives for the same symbol and interval: its last update before it.

Files are named by the symbol as ``--replay SYMBOL=PATH`` of the same venue takes it
(``venue.symbol(venue.market_for(s))``, ``/`` and ``@`` written as ``_``) and mockex's canonical
interval name (``1m``, ``1h``, ``1d``, ``1w``, ``1M``), whatever the venue calls it.
A venue that does not provide the interface is passed through unrecorded.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.python import log
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from mockex.interfaces import IKlineRecording, RecordedCandle
from mockex.intervals import CANONICAL, Interval
from mockex.ws import _ReactorTimer

_SYMBOL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_INTERVAL = re.compile(r"^[0-9]{1,3}[smhdwM]$")
_DECIMAL = re.compile(r"^[0-9]{1,40}(\.[0-9]{1,40})?$")
_CANONICAL_NAMES: dict[Interval, str] = {interval: name for name, interval in CANONICAL.items()}
#: request headers not forwarded upstream (hop-by-hop, or set by the client)
_DROP = {b"host", b"connection", b"content-length", b"transfer-encoding", b"upgrade",
         b"keep-alive", b"proxy-connection", b"accept-encoding"}
#: open times mockex.replay.to_ms reads back as milliseconds (smaller ones are taken
#: for seconds, larger ones for microseconds)
_MIN_MS, _MAX_MS = 10**11, 10**14 - 1


def _default_venue() -> Any:
    from mockex.venues.binance import binance_spot

    return binance_spot


class KlineRecorder:
    """Closed klines of one venue, de-duplicated, appended to ``DIR/SYMBOL-INTERVAL.csv``."""

    def __init__(self, directory: str, venue: Any = None) -> None:
        if not os.path.isdir(directory):
            raise ValueError(f"record directory {directory!r} does not exist")
        self.directory = directory
        #: the venue plugin whose formats are read (default: Binance spot)
        self.venue = _default_venue() if venue is None else venue
        self._parser: Any = IKlineRecording(self.venue, None)
        self._seen: dict[tuple[str, str], set[int]] = {}
        self._names: dict[str, str | None] = {}
        #: stream candles whose closure the venue does not show: the last update of the
        #: newest open time, per (venue symbol, venue interval)
        self._pending: dict[tuple[str, str], RecordedCandle] = {}
        #: klines written, per (file symbol, file interval)
        self.written: dict[tuple[str, str], int] = {}

    @property
    def records(self) -> bool:
        """Whether the venue provides :class:`IKlineRecording` (else nothing is written)."""
        return self._parser is not None

    def path(self, symbol: str, interval: str) -> str:
        return os.path.join(self.directory, f"{symbol}-{interval}.csv")

    # -- names ----------------------------------------------------------------------

    def file_symbol(self, venue_symbol: str) -> str | None:
        """The symbol ``--replay`` of this venue takes, as a file name part (None: unsafe)."""
        name = self._names.get(venue_symbol, "")
        if name != "":
            return name
        try:
            replay = str(self.venue.symbol(self.venue.market_for(venue_symbol, 1.0)))
        except Exception:  # noqa: BLE001 - a venue refusing the spelling: keep it as sent
            replay = venue_symbol
        name = replay.replace("/", "_").replace("@", "_")
        result = name if _SYMBOL.match(name) else None
        if len(self._names) < 10_000:
            self._names[venue_symbol] = result
        return result

    def interval_of(self, venue_interval: str) -> tuple[Interval, str] | None:
        """The interval and its canonical file name (None: not one of the venue's)."""
        try:
            interval = self.venue.intervals.get(venue_interval)
        except TypeError:
            return None
        name = _CANONICAL_NAMES.get(interval) if interval is not None else None
        if name is None or not _INTERVAL.match(name):
            return None
        return interval, name

    def _seen_for(self, symbol: str, interval: str) -> set[int] | None:
        if not (_SYMBOL.match(symbol) and _INTERVAL.match(interval)):
            return None  # never a file name from unexpected characters
        key = (symbol, interval)
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = set()
            path = self.path(symbol, interval)
            if os.path.isfile(path):  # resume a recording: keep its open times
                with open(path, encoding="ascii") as f:
                    for line in f:
                        head = line.split(",", 1)[0].strip()
                        if head.isdigit():
                            seen.add(int(head))
        return seen

    # -- writing --------------------------------------------------------------------

    def record(self, candle: RecordedCandle) -> bool:
        """Write one closed candle; False if already written or not recordable."""
        symbol = self.file_symbol(candle.symbol)
        found = self.interval_of(candle.interval)
        if symbol is None or found is None:
            return False
        interval, interval_name = found
        open_ms = candle.open_ms
        if not (isinstance(open_ms, int) and _MIN_MS <= open_ms <= _MAX_MS) or interval.floor(open_ms) != open_ms:
            return False
        numbers = [candle.open, candle.high, candle.low, candle.close, candle.volume]
        optional = [candle.quote_volume, candle.taker_base, candle.taker_quote]
        if not all(isinstance(x, str) and _DECIMAL.match(x) for x in numbers):
            return False
        if not all(x is None or (isinstance(x, str) and _DECIMAL.match(x)) for x in optional):
            return False
        trades = candle.trades
        if trades is not None and not (isinstance(trades, int) and 0 <= trades < 10**15):
            return False
        seen = self._seen_for(symbol, interval_name)
        if seen is None or open_ms in seen:
            return False
        close_ms = interval.next_open(open_ms) - 1
        # The replay format's neutral values for what the venue does not show: an empty
        # quote volume (replayed as volume x close), 0 trades, 0 taker volumes.
        fields = [
            str(open_ms), *numbers, str(close_ms), candle.quote_volume or "",
            str(trades or 0), candle.taker_base or "0", candle.taker_quote or "0", "0",
        ]
        with open(self.path(symbol, interval_name), "a", encoding="ascii") as f:
            f.write(",".join(fields) + "\n")
        seen.add(open_ms)
        key = (symbol, interval_name)
        self.written[key] = self.written.get(key, 0) + 1
        return True

    # -- the shared rules -----------------------------------------------------------

    def rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> int:
        """A 200 REST answer: every row but the newest of each series. Returns how many were new."""
        if self._parser is None:
            return 0
        candles = self._parser.recorded_rest_klines(path, args, body, answer)
        newest: dict[tuple[str, str], int] = {}
        for c in candles:
            key = (c.symbol, c.interval)
            newest[key] = max(newest.get(key, c.open_ms), c.open_ms)
        return sum(
            self.record(c) for c in candles
            if c.open_ms != newest[(c.symbol, c.interval)] and c.closed is not False
        )

    def stream_message(self, payload: bytes, binary: bool = False) -> int:
        """A stream message: records the closed candles it shows (or implies). Returns
        how many were new."""
        if self._parser is None:
            return 0
        written = 0
        for c in self._parser.recorded_stream_klines(payload, binary):
            if c.closed is True:
                written += self.record(c)
            elif c.closed is None:
                key = (c.symbol, c.interval)
                before = self._pending.get(key)
                if before is not None and c.open_ms > before.open_ms:
                    written += self.record(before)  # a later open time: it has closed
                if before is None or c.open_ms >= before.open_ms:
                    if before is None and len(self._pending) >= 10_000:
                        continue
                    self._pending[key] = c
        return written


class RecordingProxy(Resource):
    """Pass-through of REST and WebSocket traffic to an upstream venue, recording klines."""

    isLeaf = True

    def __init__(
        self,
        reactor: Any,
        upstream: str,
        recorder: KlineRecorder,
        ws_upstream: str | None = None,
        http: Any = None,
        ws_connect: Callable[[str, Any], Deferred[Any]] | None = None,
    ) -> None:
        super().__init__()
        self.reactor = reactor
        self.upstream = upstream.rstrip("/")
        self.ws_upstream = ws_upstream.rstrip("/") if ws_upstream else None
        self.recorder = recorder
        if http is None:
            from treq.client import HTTPClient
            from twisted.web.client import Agent

            http = HTTPClient(Agent(reactor))
        self.http = http
        self.ws_connect = ws_connect or self._connect_ws
        factory = WebSocketServerFactory(reactor=reactor)
        factory._batched_timer = _ReactorTimer(reactor)
        factory.protocol = _RelayServer
        factory.proxy = self  # type: ignore[attr-defined]
        self.ws_resource = WebSocketResource(factory)

    def render(self, request: Any) -> Any:
        if (request.getHeader(b"upgrade") or b"").lower() == b"websocket":
            if self.ws_upstream is None:
                request.setResponseCode(404)
                return b'{"error":"no WebSocket upstream configured (--record-ws)"}'
            return self.ws_resource.render(request)
        uri = request.uri.decode("latin-1")
        headers = {
            name: values for name, values in request.requestHeaders.getAllRawHeaders()
            if name.lower() not in _DROP
        }
        body = request.content.read() if request.content is not None else b""
        d = self.http.request(
            request.method.decode("ascii"), self.upstream + uri, headers=headers, data=body or None
        )
        d.addCallback(self._answer, request, uri, body)
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _answer(self, response: Any, request: Any, uri: str, body: bytes = b"") -> Deferred[None]:
        def got(content: bytes) -> None:
            request.setResponseCode(response.code)
            for name in (b"content-type", b"retry-after"):
                values = response.headers.getRawHeaders(name)
                if values:
                    request.setHeader(name, values[0])
            for name, values in response.headers.getAllRawHeaders():
                if name.lower().startswith(b"x-mbx-"):
                    request.setHeader(name, values[0])
            if response.code == 200:
                self._record_rest(uri, body, content)
            request.write(content)
            request.finish()

        return response.content().addCallback(got)

    def _record_rest(self, uri: str, body: bytes, content: bytes) -> None:
        parts = urlsplit(uri)
        args = parse_qs(parts.query, keep_blank_values=True)
        try:
            self.recorder.rest_klines(parts.path, args, body, content)
        except (KeyError, TypeError, ValueError, OSError) as e:
            log.msg(f"mockex record: cannot record {uri}: {e!r}")

    def _failed(self, failure: Any, request: Any) -> None:
        log.msg(f"mockex record: upstream failed: {failure.value!r}")
        request.setResponseCode(502)
        request.setHeader(b"content-type", b"application/json")
        request.write(b'{"error":"upstream unreachable"}')
        request.finish()

    def _connect_ws(self, url: str, factory: Any) -> Deferred[Any]:
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        endpoint: Any = HostnameEndpoint(self.reactor, parts.hostname, port)
        if secure:
            from twisted.internet.ssl import optionsForClientTLS

            endpoint = wrapClientTLS(optionsForClientTLS(parts.hostname), endpoint)
        return endpoint.connect(factory)


class _RelayClient(WebSocketClientProtocol):
    """The upstream side of a relayed WebSocket."""

    relay: "_RelayServer"

    def onOpen(self) -> None:
        self.relay.upstream_open(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.relay.from_upstream(payload, isBinary)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.relay.upstream_closed(code, reason)


class _RelayServer(WebSocketServerProtocol):
    """The client side of a relayed WebSocket: opens the same path upstream."""

    def onConnect(self, request: Any) -> None:
        self._queue: list[tuple[bytes, bool]] = []
        self._upstream: _RelayClient | None = None
        self._closed = False
        proxy: RecordingProxy = self.factory.proxy
        path = request.path + ("?" + "&".join(
            f"{k}={v}" for k, vs in request.params.items() for v in vs) if request.params else "")
        url = proxy.ws_upstream + path  # type: ignore[operator]
        factory = WebSocketClientFactory(url, reactor=proxy.reactor)
        factory._batched_timer = _ReactorTimer(proxy.reactor)
        factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0)
        relay = self

        class Client(_RelayClient):
            pass

        Client.relay = relay
        factory.protocol = Client
        d = proxy.ws_connect(url, factory)
        d.addErrback(lambda f: self.upstream_closed(1011, f"upstream unreachable: {f.value!r}"))

    def upstream_open(self, client: _RelayClient) -> None:
        self._upstream = client
        for payload, binary in self._queue:
            client.sendMessage(payload, binary)
        self._queue.clear()

    def from_upstream(self, payload: bytes, binary: bool) -> None:
        try:
            self.factory.proxy.recorder.stream_message(payload, binary)
        except (KeyError, TypeError, ValueError, OSError) as e:
            log.msg(f"mockex record: cannot record a stream message: {e!r}")
        if not self._closed:
            self.sendMessage(payload, binary)

    def upstream_closed(self, code: int | None, reason: str | None) -> None:
        if not self._closed:
            self._closed = True
            self.sendClose(1000, (reason or f"upstream closed ({code})")[:100])

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self._upstream is not None:
            self._upstream.sendMessage(payload, isBinary)
        else:
            self._queue.append((payload, isBinary))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self._closed = True
        upstream = getattr(self, "_upstream", None)
        if upstream is not None:
            upstream.sendClose(1000)

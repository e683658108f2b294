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
interval, ``DIR/SYMBOL-INTERVAL.csv``, closed klines only, each open time once:

* REST ``.../klines`` answers (Binance spot ``/api/v3/klines`` and ``uiKlines``,
  USDⓈ-M ``/fapi/v1/klines``): every row but the newest, which may still be open (it is
  recorded when a later answer or the stream shows it closed);
* stream ``kline`` events (raw or combined) with ``"x": true``.

Klines of other venues' formats pass through unrecorded.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable
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

from mockex.ws import _ReactorTimer

_SYMBOL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_INTERVAL = re.compile(r"^[0-9]{1,3}[smhdwM]$")
_KLINE_PATHS = ("/api/v3/klines", "/api/v3/uiKlines", "/fapi/v1/klines")
#: request headers not forwarded upstream (hop-by-hop, or set by the client)
_DROP = {b"host", b"connection", b"content-length", b"transfer-encoding", b"upgrade",
         b"keep-alive", b"proxy-connection", b"accept-encoding"}


class KlineRecorder:
    """Closed klines, de-duplicated, appended to ``DIR/SYMBOL-INTERVAL.csv``."""

    def __init__(self, directory: str) -> None:
        if not os.path.isdir(directory):
            raise ValueError(f"record directory {directory!r} does not exist")
        self.directory = directory
        self._seen: dict[tuple[str, str], set[int]] = {}
        #: klines written, per (symbol, interval)
        self.written: dict[tuple[str, str], int] = {}

    def path(self, symbol: str, interval: str) -> str:
        return os.path.join(self.directory, f"{symbol}-{interval}.csv")

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

    def record(self, symbol: str, interval: str, fields: list[Any]) -> bool:
        """One closed kline in Binance's REST row order; False if already written."""
        seen = self._seen_for(symbol, interval)
        if seen is None or len(fields) < 11:
            return False
        open_ms = int(fields[0])
        if open_ms in seen:
            return False
        line = ",".join(str(x) for x in fields[:11]) + ",0\n"
        with open(self.path(symbol, interval), "a", encoding="ascii") as f:
            f.write(line)
        seen.add(open_ms)
        key = (symbol, interval)
        self.written[key] = self.written.get(key, 0) + 1
        return True

    def rest_klines(self, symbol: str, interval: str, rows: Any) -> int:
        """A REST klines answer: every row but the newest. Returns how many were new."""
        if not isinstance(rows, list) or len(rows) < 2:
            return 0
        newest = max(range(len(rows)), key=lambda i: rows[i][0])
        return sum(
            self.record(symbol, interval, row) for i, row in enumerate(rows)
            if i != newest and isinstance(row, list)
        )

    def stream_message(self, payload: bytes) -> bool:
        """A stream message: records a closed ``kline`` event (raw or combined)."""
        try:
            message = json.loads(payload)
        except ValueError:
            return False
        if isinstance(message, dict) and isinstance(message.get("data"), dict):
            message = message["data"]
        if not isinstance(message, dict) or message.get("e") != "kline":
            return False
        k = message.get("k")
        if not isinstance(k, dict) or k.get("x") is not True:
            return False
        row = [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"], k["V"], k["Q"]]
        return self.record(str(k.get("s", message.get("s"))), str(k["i"]), row)


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
        d.addCallback(self._answer, request, uri)
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _answer(self, response: Any, request: Any, uri: str) -> Deferred[None]:
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
                self._record_rest(uri, content)
            request.write(content)
            request.finish()

        return response.content().addCallback(got)

    def _record_rest(self, uri: str, content: bytes) -> None:
        parts = urlsplit(uri)
        if parts.path not in _KLINE_PATHS:
            return
        query = parse_qs(parts.query)
        symbol = query.get("symbol", [""])[0]
        interval = query.get("interval", [""])[0]
        try:
            rows = json.loads(content)
        except ValueError:
            return
        try:
            self.recorder.rest_klines(symbol, interval, rows)
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
        if not binary:
            try:
                self.factory.proxy.recorder.stream_message(payload)
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

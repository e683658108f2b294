"""
MockServer's life cycle over real loopback sockets: start on a free port, serve REST and
WebSocket on the same port, stop cleanly (WebSockets closed with 1001, idle keep-alive
HTTP connections closed, no timer left: trial's dirty-reactor check is the judge).
"""

from __future__ import annotations

import json
from typing import Any

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.trial.unittest import TestCase

from mockex.server import MockServer


class _Client(WebSocketClientProtocol):
    def onOpen(self) -> None:
        self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.messages.append(json.loads(payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.closed.called:
            self.factory.closed.callback(code)


class _Idle(Protocol):
    def __init__(self) -> None:
        self.lost: Deferred[None] = Deferred()
        self.data = b""

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any) -> None:
        self.lost.callback(None)


class LifeCycleTests(TestCase):
    timeout = 30

    @inlineCallbacks
    def test_start_serve_stop(self) -> Any:
        server = MockServer("binance_spot", port=0, seed=1, reactor=reactor)
        started = yield server.start()
        self.assertIs(started, server)
        self.assertNotEqual(server.port, 0)
        self.assertEqual(server.url, f"http://127.0.0.1:{server.port}")
        self.assertEqual(server.ws_url, f"ws://127.0.0.1:{server.port}/ws")

        factory = WebSocketClientFactory(server.ws_url + "/btcusdt@kline_1m", reactor=reactor)
        factory.protocol = _Client
        factory.opened, factory.closed, factory.messages = Deferred(), Deferred(), []
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.port)
        yield endpoint.connect(factory)
        client = yield factory.opened
        client.sendMessage(b'{"method":"LIST_SUBSCRIPTIONS","id":7}')

        idle = _Idle()
        http = yield TCP4ClientEndpoint(reactor, "127.0.0.1", server.port).connect(_ProtoFactory(idle))
        http.transport.write(b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n")

        # Let both answer before stopping.
        for _ in range(100):
            if factory.messages and b"\r\n\r\n{}" in idle.data:
                break
            yield _sleep(0.02)
        self.assertEqual(factory.messages[0], {"result": ["btcusdt@kline_1m"], "id": 7})
        self.assertIn(b"200 OK", idle.data)

        yield server.stop()
        code = yield factory.closed
        self.assertEqual(code, 1001)
        yield idle.lost


class _ProtoFactory:
    """A one-shot factory for an already built protocol."""

    def __init__(self, proto: Protocol) -> None:
        self.proto = proto

    def buildProtocol(self, addr: Any) -> Protocol:
        return self.proto

    def doStart(self) -> None:
        pass

    def doStop(self) -> None:
        pass

    def startedConnecting(self, connector: Any) -> None:
        pass


def _sleep(seconds: float) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d

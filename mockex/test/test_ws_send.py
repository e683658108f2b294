"""
StreamProtocol's direct send (``_send_now``) over real loopback sockets: frames handed
straight to the socket arrive whole and in order, and when the kernel cannot take a
frame (a client that stopped reading, a tiny send buffer) the rest queues in Twisted's
buffer and later frames queue behind it: the client receives exactly what the server
delivered, byte for byte, in order. (In memory tests the transport is not a TCP
socket, so they always take the usual path.)
"""

from __future__ import annotations

import json
import socket
from typing import Any

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.trial.unittest import TestCase

from mockex.server import MockServer
from mockex.ws import StreamProtocol


class _Client(WebSocketClientProtocol):
    def onOpen(self) -> None:
        self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.messages.append(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.closed.called:
            self.factory.closed.callback(code)


def _sleep(seconds: float) -> Deferred[None]:
    d: Deferred[None] = Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


class _Recorder:
    """Wraps one server connection: what it delivered, and how often the usual path ran."""

    def __init__(self, proto: StreamProtocol) -> None:
        self.delivered: list[bytes] = []
        self.usual = 0
        self.batches = 0
        deliver, deliver_many, send_prepared = proto.deliver, proto.deliver_many, proto.sendPreparedMessage

        def recording_deliver(prepared: Any, topic: Any = None, update: Any = None) -> None:
            if proto.state == StreamProtocol.STATE_OPEN:
                self.delivered.append(prepared.payload)
            deliver(prepared, topic, update)

        def recording_deliver_many(items: Any) -> None:
            # the items it falls back to deliver one by one are recorded there
            if proto.state == StreamProtocol.STATE_OPEN:
                self.batches += 1
                proto.deliver = deliver  # type: ignore[method-assign]
                try:
                    self.delivered.extend(prepared.payload for prepared, _, _ in items)
                    deliver_many(items)
                finally:
                    proto.deliver = recording_deliver  # type: ignore[method-assign]

        def counting_send(prepared: Any) -> None:
            self.usual += 1
            send_prepared(prepared)

        proto.deliver = recording_deliver  # type: ignore[method-assign]
        proto.deliver_many = recording_deliver_many  # type: ignore[method-assign]
        proto.sendPreparedMessage = counting_send  # type: ignore[method-assign]


class DirectSendTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def _connect(self, server: MockServer, path: str) -> Any:
        factory = WebSocketClientFactory(server.ws_url + path, reactor=reactor)
        factory.protocol = _Client
        factory.opened, factory.closed, factory.messages = Deferred(), Deferred(), []
        yield TCP4ClientEndpoint(reactor, "127.0.0.1", server.port).connect(factory)
        client = yield factory.opened
        return client, factory

    @inlineCallbacks
    def _server(self) -> Any:
        # 1000x: a kline tick every 2 ms of real time
        server = MockServer("binance_spot", port=0, seed=1, reactor=reactor, speed=1000, limits=None)
        yield server.start()
        return server

    @inlineCallbacks
    def test_frames_whole_and_in_order(self) -> Any:
        """Clients that keep up: frames go straight to the socket, each arrives whole."""
        server = yield self._server()
        client, factory = yield self._connect(server, "/btcusdt@kline_1m")
        [proto] = list(server.ws_factory.live)
        recorder = _Recorder(proto)
        client.sendMessage(b'{"method":"LIST_SUBSCRIPTIONS","id":1}')
        for _ in range(500):  # some 40 ticks, among them a candle's close (every 60 ms)
            if len(recorder.delivered) >= 40 and recorder.batches:
                break
            yield _sleep(0.01)
        yield server.stop()
        self.assertEqual((yield factory.closed), 1001)
        self.assertGreaterEqual(len(recorder.delivered), 40)
        self.assertEqual(factory.messages[-len(recorder.delivered):], recorder.delivered)
        self.assertLess(recorder.usual, len(recorder.delivered))  # the direct path ran
        events = [json.loads(m) for m in factory.messages if b'"kline"' in m]
        keys = [(e["E"], e["k"]["t"]) for e in events]
        self.assertEqual(keys, sorted(set(keys)))
        # a candle's close: the closed candle, then the next one, in the same tick
        closes = [i for i, e in enumerate(events[:-1]) if e["k"]["x"]]
        self.assertTrue(closes)
        self.assertGreater(recorder.batches, 0)
        for i in closes:
            self.assertEqual((events[i + 1]["E"], events[i + 1]["k"]["t"]), (events[i]["E"], events[i]["k"]["T"] + 1))

    @inlineCallbacks
    def test_full_socket_then_catch_up(self) -> Any:
        """A client stops reading: the kernel's buffers fill, frames queue in Twisted's
        buffer (the usual path), and when it reads again it gets every frame the
        server delivered, whole and in order."""
        server = yield self._server()
        client, factory = yield self._connect(server, "/btcusdt@kline_1m/ethusdt@kline_1s")
        [proto] = list(server.ws_factory.live)
        # A small send buffer on the server side: once the client's receive window
        # (some 100 KB) is full, a few frames fill it.
        server_socket = proto.transport.transport.socket
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        recorder = _Recorder(proto)
        client.transport.pauseProducing()
        yield _sleep(0.6)
        self.assertGreater(recorder.usual, 0)  # the socket was full: Twisted buffered
        # A large buffer again, so that the backlog drains quickly (through a 4 KB
        # buffer it would not outpace 1,500 frames a second).
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        client.transport.resumeProducing()
        for _ in range(300):
            yield _sleep(0.01)
            if not proto.transport.transport.dataBuffer and not proto.transport.transport._tempDataBuffer:
                break  # the backlog is out
        usual = recorder.usual
        yield _sleep(0.2)
        self.assertLess(recorder.usual - usual, 50)  # caught up: the direct path again
        yield server.stop()
        self.assertEqual((yield factory.closed), 1001)
        delivered = recorder.delivered
        self.assertGreater(len(delivered), 100)
        self.assertLess(recorder.usual, len(delivered))
        self.assertEqual(factory.messages[-len(delivered):], delivered)
        for message in factory.messages:
            self.assertEqual(json.loads(message)["e"], "kline")

    @inlineCallbacks
    def test_fault_layer_still_shapes(self) -> Any:
        """A byte-level fault armed on the connection (here a stall) is never bypassed."""
        server = yield self._server()
        client, factory = yield self._connect(server, "/btcusdt@kline_1m")
        [proto] = list(server.ws_factory.live)
        for _ in range(300):
            if len(factory.messages) >= 5:
                break
            yield _sleep(0.01)
        self.assertGreaterEqual(len(factory.messages), 5)
        proto.transport.stall()  # the FaultWrapper: swallow every write from now on
        yield _sleep(0.05)
        seen = len(factory.messages)
        yield _sleep(0.2)  # some 100 more ticks
        self.assertEqual(len(factory.messages), seen)
        yield server.stop()  # a stalled connection is aborted after the grace period
        yield factory.closed

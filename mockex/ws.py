"""
The WebSocket side: an Autobahn server protocol that hosts a venue's session.

The protocol is shared machinery: it performs the handshake, runs the venue's
keep-alive (server pings, dropping silent clients), and implements
:class:`~mockex.interfaces.IStreamLink` for the venue's session. Every outgoing message
goes through :meth:`StreamProtocol.deliver`, the single message-level send path (where
message faults are applied). All timers run on the injected reactor: Autobahn's own
handshake and close timers are bound to it too (:func:`reactor_timer`), never to
``txaio``'s global loop.
"""

from __future__ import annotations

from typing import Any, Callable

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from mockex.interfaces import (
    Handshake,
    IExchange,
    IStreamLink,
    IStreamSession,
    ITopic,
    IVenueContext,
    VenueError,
)
from mockex.ratelimit import NO_LIMITS, MessageWindow, RateLimiter
from mockex.streams import StreamHub

log = Logger()

#: Close codes (RFC 6455).
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


class _ReactorTimer:
    """Autobahn's ``IBatchedTimer`` on an injected reactor (one call per timer)."""

    def __init__(self, reactor: IReactorTime) -> None:
        self._reactor = reactor

    def call_later(self, delay: float, func: Callable[..., Any], *args: Any, **kw: Any) -> IDelayedCall:
        return self._reactor.callLater(delay, func, *args, **kw)


@implementer(IStreamLink)
class StreamProtocol(WebSocketServerProtocol):
    """One WebSocket connection."""

    factory: "StreamFactory"
    session: IStreamSession | None = None
    #: the rate limiter's name for this connection's client, once counted as open
    _client_key: str | None = None
    _over_rate = False
    _keepalive: LoopingCall | None = None

    # -- Autobahn callbacks -------------------------------------------------

    def onConnect(self, request: Any) -> None:
        handshake = Handshake(
            path=request.path,
            params=request.params,
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        limiter = self.factory.limiter
        peer = self.transport.getPeer() if self.transport is not None else None
        self._pending_key = limiter.client_key(getattr(peer, "host", ""), handshake.headers)
        refusal = limiter.ws_attempt(self._pending_key)
        if refusal is not None:
            raise ConnectionDeny(*refusal)
        self._messages = MessageWindow()
        try:
            self.session = self.factory.venue.open_session(handshake, self.factory.context)
        except VenueError as e:
            raise ConnectionDeny(e.response.status, e.response.body.decode("utf-8", "replace"))
        self._topics: dict[ITopic, None] = {}
        self._keepalive: LoopingCall | None = None

    def onOpen(self) -> None:
        factory = self.factory
        factory.live.add(self)
        self._client_key = self._pending_key
        factory.limiter.ws_opened(self._client_key)
        keepalive = factory.venue.keepalive
        if keepalive.ping_interval > 0:
            self._last_heard = factory.reactor.seconds()
            self._keepalive = LoopingCall(self._ping)
            self._keepalive.clock = factory.reactor
            self._keepalive.start(keepalive.ping_interval, now=False)
        assert self.session is not None
        self._guard(self.session.opened, self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.session is not None and self._admit():
            self._guard(self.session.received, payload, isBinary)

    def onPing(self, payload: bytes) -> None:
        if self._admit():
            super().onPing(payload)

    def onPong(self, payload: bytes) -> None:
        if self._admit():
            self._last_heard = self.factory.reactor.seconds()

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        factory = self.factory
        factory.live.discard(self)
        if self._client_key is not None:
            factory.limiter.ws_closed(self._client_key)
            self._client_key = None
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None
        for topic in list(getattr(self, "_topics", ())):
            factory.hub.unsubscribe(self, topic)
        if self.session is not None:
            self._topics.clear()

    # -- limits -----------------------------------------------------------------

    def _admit(self) -> bool:
        """
        Count an incoming message (text, binary, ping or pong) against the venue's
        message rate; over it, close the connection (once) and drop the message.
        """
        if self._over_rate:
            return False
        limiter = self.factory.limiter
        if limiter.admit_message(self._messages):
            return True
        self._over_rate = True
        ws = limiter.limits.ws
        log.info("closing {peer}: over {n} messages per {ms} ms", peer=self.peer,
                 n=ws.messages, ms=ws.message_window_ms)
        self.close(ws.close_code, ws.close_reason)
        return False

    @property
    def max_streams(self) -> int | None:
        return self.factory.limiter.max_streams

    # -- keep-alive -----------------------------------------------------------

    def _ping(self) -> None:
        keepalive = self.factory.venue.keepalive
        if self.factory.reactor.seconds() - self._last_heard >= keepalive.pong_timeout > 0:
            log.info("closing {peer}: no pong for {t} s", peer=self.peer, t=keepalive.pong_timeout)
            self.dropConnection(abort=True)
            return
        assert self.session is not None
        payload = self.session.ping_payload()
        if payload is not None:
            self.sendPing(payload)

    # -- IStreamLink ------------------------------------------------------------

    def now_ms(self) -> int:
        return self.factory.hub.clock.now_ms()

    @property
    def topics(self) -> list[ITopic]:
        return list(self._topics)

    def send(self, payload: bytes) -> None:
        self.deliver(self.factory.prepareMessage(payload))

    def subscribe(self, topic: ITopic) -> None:
        if topic not in self._topics:
            self._topics[topic] = None
            self.factory.hub.subscribe(self, topic)

    def unsubscribe(self, topic: ITopic) -> None:
        if self._topics.pop(topic, 0) is None:
            self.factory.hub.unsubscribe(self, topic)

    def close(self, code: int, reason: str = "") -> None:
        """
        Send a close frame with any code. (Autobahn's ``sendClose`` admits only 1000
        and 3000-4999 from applications; a venue closes with 1001, 1008, 1011.)
        """
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8")[:123] or None)

    # -- the one message-level send path ---------------------------------------

    def deliver(self, prepared: Any) -> None:
        """Send a prepared message, unless the connection is no longer open."""
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendPreparedMessage(prepared)

    def _guard(self, f: Callable[..., None], *args: Any) -> None:
        """Run venue code; a venue bug closes this connection (1011), never the server."""
        try:
            f(*args)
        except Exception:
            log.failure("venue session failed; closing {peer} with 1011", peer=self.peer)
            self.close(INTERNAL_ERROR, "internal error")


class StreamFactory(WebSocketServerFactory):
    """The WebSocket factory of one server: its venue, hub and live connections."""

    protocol = StreamProtocol

    def __init__(
        self,
        venue: IExchange,
        context: IVenueContext,
        hub: StreamHub,
        reactor: IReactorTime,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(reactor=reactor)
        self.venue = venue
        self.context = context
        self.hub = hub
        #: connection attempts, concurrent connections and message rates
        self.limiter = limiter or RateLimiter(venue, NO_LIMITS, lambda: 0)
        self.live: set[StreamProtocol] = set()
        self._batched_timer = _ReactorTimer(reactor)
        # The venue's keep-alive is ours (on the injected reactor), not Autobahn's.
        self.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=10, closeHandshakeTimeout=2)

    def close_all(self, code: int = GOING_AWAY, reason: str = "server stopping") -> None:
        for proto in list(self.live):
            proto.close(code, reason)

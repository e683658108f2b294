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
from twisted.internet.tcp import Connection
from twisted.logger import Logger
from zope.interface import implementer

from mockex.interfaces import (
    CandleUpdate,
    Handshake,
    IAppPingSession,
    IExchange,
    IStreamLink,
    IShutdownNoticeSession,
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
    # Set per connection in onConnect; class defaults cover a plain GET of a stream
    # path, which never reaches onConnect but still closes.
    _topics: dict[ITopic, None] = {}
    _keepalive: LoopingCall | None = None
    #: the connection's serial (see ConnectionLayer), for fault targeting and the journal
    serial: int = 0
    #: fault state: a reordered frame held back, the lifetime timer, edge faults applied
    held: Any = None
    _held_call: IDelayedCall | None = None
    lifetime_call: IDelayedCall | None = None
    _close_call: IDelayedCall | None = None
    opened_at: float = 0.0
    _faults: Any = None
    #: True while frame faults are installed (kept up to date by the controller)
    frame_faults: bool = False
    _inbound_calls: "set[IDelayedCall]" = frozenset()  # type: ignore[assignment]
    _app_keepalive: LoopingCall | None = None
    _idle: IDelayedCall | None = None
    _last_activity: float = 0.0
    #: the rate limiter's name for this connection's client, once counted as open
    _client_key: str | None = None
    _over_rate = False
    #: when the connection last became (or opened) without subscriptions; None: it has some
    _bare_since: float | None = None
    _bare: IDelayedCall | None = None

    # -- Autobahn callbacks -------------------------------------------------

    def onConnect(self, request: Any) -> None:
        handshake = Handshake(
            path=request.path,
            params=request.params,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=(self.http_request_uri or "").partition("?")[2],
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
        self.serial = getattr(self.transport, "connection_serial", 0)
        self._faults = self.factory.faults
        self.edges_applied: set[tuple[str, int]] = set()

    def onOpen(self) -> None:
        factory = self.factory
        factory.live.add(self)
        self._client_key = self._pending_key
        factory.limiter.ws_opened(self._client_key)
        keepalive = factory.venue.keepalive
        self._last_heard = self._last_activity = factory.reactor.seconds()
        if keepalive.ping_interval > 0:
            self._keepalive = LoopingCall(self._ping)
            self._keepalive.clock = factory.reactor
            self._keepalive.start(keepalive.ping_interval, now=False)
        if keepalive.app_ping_interval > 0:
            self._app_keepalive = LoopingCall(self._app_ping)
            self._app_keepalive.clock = factory.reactor
            self._app_keepalive.start(keepalive.app_ping_interval, now=False)
        if keepalive.idle_timeout > 0:
            self._idle = factory.reactor.callLater(keepalive.idle_timeout, self._check_idle)
        self._start_bare()
        assert self.session is not None
        if self._faults is not None:
            self._faults.ws_registered(self)
        self._guard(self.session.opened, self)
        if self._faults is not None:
            self._faults.ws_opened(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.session is None:
            return
        faults = self._faults
        if faults is not None and faults.inbound_messages:
            delay = faults.drop_inbound(self)
            if delay is None:
                return
            if delay > 0:
                if not self._inbound_calls:
                    self._inbound_calls = set()
                call = self.factory.reactor.callLater(delay, self._received_later, payload, isBinary)
                self._inbound_calls.add(call)
                return
        self._receive(payload, isBinary)

    def _received_later(self, payload: bytes, isBinary: bool) -> None:
        self._inbound_calls = {c for c in self._inbound_calls if c.active()}
        if self.state == WebSocketServerProtocol.STATE_OPEN and self.session is not None:
            self._receive(payload, isBinary)

    def _receive(self, payload: bytes, isBinary: bool) -> None:
        """A message that reached the server (the fault layer let it through): it counts
        against the venue's message rate, then the session gets it."""
        if not self._admit():
            return
        self._heard_message()
        assert self.session is not None
        self._guard(self.session.received, payload, isBinary)

    def _heard_message(self) -> None:
        """A client message reached the session: activity for the idle timeout, and a
        sign of life for venues whose keep-alive counts any message."""
        now = self.factory.reactor.seconds()
        self._last_activity = now
        if self._keepalive is not None and self.factory.venue.keepalive.any_message:
            self._last_heard = now

    def onPing(self, payload: bytes) -> None:
        if not self._admit():
            return
        faults = self._faults
        if faults is not None and faults.pong_rules and not faults.answer_ping(self):
            return
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
        faults = getattr(self, "_faults", None)
        if faults is not None:
            faults.ws_closed(self)
        self.cancel_lifetime()
        for name in ("_held_call", "_close_call"):
            call = getattr(self, name)
            if call is not None and call.active():
                call.cancel()
            setattr(self, name, None)
        self.held = None
        for call in self._inbound_calls:
            if call.active():
                call.cancel()
        self._inbound_calls = frozenset()  # type: ignore[assignment]
        for loop in (self._keepalive, self._app_keepalive):
            if loop is not None and loop.running:
                loop.stop()
        self._keepalive = self._app_keepalive = None
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._idle = None
        if self._bare is not None and self._bare.active():
            self._bare.cancel()
        self._bare = None
        self._bare_since = None
        for topic in list(self._topics):
            factory.hub.unsubscribe(self, topic)
        if self.session is not None:
            self._topics = {}

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

    def _app_ping(self) -> None:
        """An application-level ping (a message the session renders), on the same rules."""
        keepalive = self.factory.venue.keepalive
        if self.factory.reactor.seconds() - self._last_heard >= keepalive.pong_timeout > 0:
            log.info("closing {peer}: no pong message for {t} s", peer=self.peer, t=keepalive.pong_timeout)
            self.dropConnection(abort=True)
            return
        session = IAppPingSession(self.session)
        payload = session.app_ping_payload(self.now_ms())
        if payload is not None:
            self.send(payload)

    def _check_idle(self) -> None:
        self._idle = None
        timeout = self.factory.venue.keepalive.idle_timeout
        quiet = self.factory.reactor.seconds() - self._last_activity
        if quiet >= timeout:
            log.info("closing {peer}: no message for {t} s", peer=self.peer, t=timeout)
            self.dropConnection(abort=True)
            return
        self._idle = self.factory.reactor.callLater(timeout - quiet, self._check_idle)

    def _start_bare(self) -> None:
        """The connection has no subscription (now): start Keepalive.unsubscribed_timeout."""
        timeout = self.factory.venue.keepalive.unsubscribed_timeout
        if timeout <= 0:
            return
        self._bare_since = self.factory.reactor.seconds()
        if self._bare is None or not self._bare.active():
            self._bare = self.factory.reactor.callLater(timeout, self._check_bare)

    def _check_bare(self) -> None:
        self._bare = None
        if self._bare_since is None or self.state != WebSocketServerProtocol.STATE_OPEN:
            return
        timeout = self.factory.venue.keepalive.unsubscribed_timeout
        bare = self.factory.reactor.seconds() - self._bare_since
        if bare >= timeout:
            log.info("closing {peer}: no subscription for {t} s", peer=self.peer, t=timeout)
            self.dropConnection(abort=True)
            return
        self._bare = self.factory.reactor.callLater(timeout - bare, self._check_bare)

    # -- IStreamLink ------------------------------------------------------------

    def now_ms(self) -> int:
        return self.factory.hub.clock.now_ms()

    def heard(self) -> None:
        self._last_heard = self.factory.reactor.seconds()

    @property
    def topics(self) -> list[ITopic]:
        return list(self._topics)

    def send(self, payload: bytes, binary: bool = False) -> None:
        self.deliver(self.factory.prepareMessage(payload, isBinary=binary))

    def subscribe(self, topic: ITopic) -> None:
        if topic not in self._topics:
            self._topics[topic] = None
            self._bare_since = None
            self.factory.hub.subscribe(self, topic)

    def unsubscribe(self, topic: ITopic) -> None:
        if self._topics.pop(topic, 0) is None:
            self.factory.hub.unsubscribe(self, topic)
            if not self._topics:
                self._start_bare()

    def close(self, code: int, reason: str = "") -> None:
        """
        Send a close frame with any code. (Autobahn's ``sendClose`` admits only 1000
        and 3000-4999 from applications; a venue closes with 1001, 1008, 1011.)
        """
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8")[:123] or None)

    # -- the one message-level send path ---------------------------------------

    def deliver(self, prepared: Any, topic: ITopic | None = None, update: CandleUpdate | None = None) -> None:
        """
        Send a prepared message, unless the connection is no longer open. ``topic`` and
        ``update`` say what it carries (None for a venue's reply), for message faults.
        """
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            if self._idle is not None:
                self._last_activity = self.factory.reactor.seconds()
            if self.frame_faults:
                self._faults.deliver(self, prepared, topic, update)
            elif not self._send_now((prepared,)):
                self.sendPreparedMessage(prepared)

    def deliver_many(self, items: Any) -> None:
        """
        ``deliver`` each ``(prepared, topic, update)`` of ``items`` in order; without
        frame faults, in one write (one ``send``) when :meth:`_send_now` can take them.
        """
        if self.state != WebSocketServerProtocol.STATE_OPEN:
            return
        if not self.frame_faults and self._send_now([prepared for prepared, _, _ in items]):
            if self._idle is not None:
                self._last_activity = self.factory.reactor.seconds()
            return
        for prepared, topic, update in items:
            self.deliver(prepared, topic, update)

    def _send_now(self, prepared_messages: Any) -> bool:
        """
        Hand prepared frames straight to the socket (in one ``send``) when nothing is
        waiting before them; False (nothing done) when the usual path must take them.

        Why: Twisted's ``write`` only buffers, registers the socket for writing
        (``epoll_ctl``), and sends on the next reactor turn, after which it unregisters
        it (``epoll_ctl`` again). For one frame to 10,000 subscribers that is 20,000
        ``epoll_ctl`` calls, 10,000 write events out of ``epoll_wait`` and their
        dispatch, beside the 10,000 ``send`` calls that do the work: a py-spy profile
        of such a fan-out (docs/performance.md) had 34% of the server's time in
        ``send``, 39% in ``epoll_wait`` and 12% in ``epoll_ctl``. Sending now, when the
        connection's buffers are empty, leaves only the ``send``: the last of 10,000
        deliveries came in about half the time.

        Same bytes, same order: it only applies when no byte is waiting anywhere on
        the way (Autobahn's send queue, the fault layer's queue or shaping, Twisted's
        buffers), so everything written before has already reached the kernel. What
        the kernel does not take at once (a full socket buffer) goes to Twisted's
        buffer as any write would, and later frames queue behind it. Only a plain TCP
        connection qualifies (not TLS, not an in-memory test transport), without
        per-message compression or octet logging.
        """
        if self.send_queue or self.logOctets or (
            self._perMessageCompress is not None and not all(p.doNotCompress for p in prepared_messages)
        ):
            return False
        layer = self.transport
        # A fault layer with anything armed (delays, budgets, stalls...) shapes writes.
        if layer is None or not getattr(layer, "_plain", True):
            return False
        tcp = getattr(layer, "transport", None)
        if not isinstance(tcp, Connection):
            return False
        try:
            # Twisted's own (private) buffer state: if a Twisted release renames it,
            # every frame takes the usual path rather than the connection breaking.
            busy = (
                tcp.TLS or not tcp.connected or tcp.disconnecting or tcp._writeDisconnected
                or tcp._tempDataBuffer or len(tcp.dataBuffer) != tcp.offset
            )
        except AttributeError:
            return False
        if busy:
            return False
        if len(prepared_messages) == 1:
            data = prepared_messages[0].payloadHybi
        else:
            data = b"".join(p.payloadHybi for p in prepared_messages)
        try:
            sent = tcp.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False  # the usual path meets the same error and closes the connection
        if sent < len(data):
            tcp.write(data[sent:])
        # What Autobahn's sendData counts for every frame it writes.
        self.trafficStats.outgoingOctetsWireLevel += len(data)
        return True

    # -- fault machinery hooks (see mockex.faults) -------------------------------

    def send_prepared(self, prepared: Any, delay: float) -> None:
        """Send now, or ``delay`` seconds from now, keeping this connection's order."""
        if self.state != WebSocketServerProtocol.STATE_OPEN:
            return
        if delay > 0 and hasattr(self.transport, "delay_next"):
            self.transport.delay_next(delay)
            try:
                self.sendPreparedMessage(prepared)
            finally:
                self.transport.delay_next(0.0)
        else:
            self.sendPreparedMessage(prepared)

    def hold(self, prepared: Any, max_seconds: float, delay: float) -> None:
        """Hold a frame back until the next one is sent (or ``max_seconds`` pass)."""
        self.held = (prepared, delay)
        self._held_call = self.factory.reactor.callLater(max_seconds, self.release_held)

    def release_held(self) -> None:
        held, self.held = self.held, None
        call, self._held_call = self._held_call, None
        if call is not None and call.active():
            call.cancel()
        if held is not None:
            self.send_prepared(*held)

    def cancel_lifetime(self) -> None:
        call, self.lifetime_call = self.lifetime_call, None
        if call is not None and call.active():
            call.cancel()

    def close_later(self, seconds: float) -> None:
        """Close with 1001 (going away) after ``seconds``."""
        if self._close_call is None:
            self._close_call = self.factory.reactor.callLater(seconds, self._close_now)

    def _close_now(self) -> None:
        self._close_call = None
        self.close(GOING_AWAY, "server shutting down")

    def shutdown_notice(self) -> bytes | None:
        """The venue's shutdown notice for this connection, if it has one."""
        if not IShutdownNoticeSession.providedBy(self.session):
            return None
        try:
            return self.session.shutdown_notice(self.now_ms())  # type: ignore[union-attr]
        except Exception:
            log.failure("venue shutdown_notice failed")
            return None

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
        faults: Any = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(reactor=reactor)
        #: the server's FaultController, or None when built without faults
        self.faults = faults
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

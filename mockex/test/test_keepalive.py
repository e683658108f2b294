"""
The shared keep-alive machinery (mockex.ws): application-level server pings
(``Keepalive.app_ping_interval``, :class:`IAppPingSession`, ``IStreamLink.heard``) and the
idle timeout, exercised with a minimal venue built on the generic ``mock`` venue.
"""

from __future__ import annotations

from typing import Any

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from mockex.interfaces import IAppPingSession, IExchange, Keepalive
from mockex.testing import MemoryServer
from mockex.venues.mock import MockSession, MockVenue


@implementer(IAppPingSession)
class PingingSession(MockSession):
    """Sends ``{"m":"ping"}``; ``{"op":"pong"}`` from the client counts as a pong."""

    def app_ping_payload(self, now_ms: int) -> bytes | None:
        return b'{"m":"ping","ts":%d}' % now_ms

    def received(self, payload: bytes, is_binary: bool) -> None:
        if payload == b'{"op":"pong"}':
            assert self.link is not None
            self.link.heard()
            return
        super().received(payload, is_binary)


@implementer(IExchange)
class PingingVenue(MockVenue):
    name = "pinging"
    keepalive = Keepalive(pong_timeout=45.0, app_ping_interval=15.0)

    def open_session(self, handshake: Any, context: Any) -> PingingSession:
        return PingingSession(context)


@implementer(IExchange)
class IdleVenue(MockVenue):
    name = "idle"
    keepalive = Keepalive(idle_timeout=60.0)


class AppPingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer(PingingVenue())
        self.ws = self.server.connect("/ws")

    def test_interface(self) -> None:
        self.assertTrue(verifyObject(IAppPingSession, PingingSession(self.server.server.context)))

    def test_pings_every_interval(self) -> None:
        self.server.advance(31, step=1)
        pings = [m for m in self.ws.take() if m.get("m") == "ping"]
        self.assertEqual([p["ts"] for p in pings],
                         [self.server.now_ms() - 31_000 + s * 1000 for s in (15, 30)])
        self.assertEqual(self.ws.pings, [])  # no WebSocket-level ping frames

    def test_pong_message_keeps_the_connection(self) -> None:
        for _ in range(6):
            self.server.advance(15, step=1)
            self.ws.send_text('{"op":"pong"}')
            self.server.flush()
        self.assertFalse(self.ws.lost)

    def test_silent_client_dropped(self) -> None:
        self.server.advance(44, step=1)
        self.assertFalse(self.ws.lost)
        self.server.advance(20, step=1)
        self.assertTrue(self.ws.lost)

    def test_stop_leaves_no_timer(self) -> None:
        self.server.stop()
        self.assertEqual([c for c in self.server.clock.getDelayedCalls() if c.active()], [])


class IdleTests(SynchronousTestCase):
    def test_any_message_resets(self) -> None:
        server = MemoryServer(IdleVenue())
        ws = server.connect("/ws")
        for _ in range(3):
            server.advance(50, step=5)
            ws.send_json({"op": "ping"})
            server.flush()
        self.assertFalse(ws.lost)
        server.advance(61, step=5)
        self.assertTrue(ws.lost)

    def test_default_keepalive_unchanged(self) -> None:
        self.assertEqual(evolve(Keepalive()), Keepalive(0.0, 0.0, 0.0, 0.0))

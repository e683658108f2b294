"""
The byte-level layer between every connection and its protocol.

The whole :class:`~twisted.web.server.Site` is wrapped in :class:`ConnectionLayer`, a
:class:`~twisted.protocols.policies.WrappingFactory`. After a WebSocket upgrade,
Autobahn re-points the wrapper at the WebSocket protocol, so one wrapper sees every
byte of REST and WebSocket traffic alike. It is where transport-level behaviour lives
(tracking and closing connections now; delayed writes, truncation and resets are
layered here by the fault machinery).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from typing import Callable

from twisted.internet.interfaces import IProtocol, IProtocolFactory
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory


class ConnectionLayer(WrappingFactory):
    """Wraps a server factory and keeps every live connection it made."""

    noisy = False
    protocol = ProtocolWrapper

    def __init__(self, wrapped: IProtocolFactory) -> None:
        super().__init__(wrapped)
        self._idle_waiters: list[Deferred[None]] = []

    @property
    def connections(self) -> list[ProtocolWrapper]:
        return list(self.protocols)

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        super().unregisterProtocol(p)
        if not self.protocols:
            waiters, self._idle_waiters = self._idle_waiters, []
            for d in waiters:
                d.callback(None)

    def when_idle(self, close: Callable[[IProtocol], bool] | None = None) -> "Deferred[None]":
        """
        Fires once no connection is left. First closes (after they flush) the
        connections whose protocol ``close`` selects.
        """
        if close is not None:
            for wrapper in list(self.protocols):
                if close(wrapper.wrappedProtocol) and wrapper.transport:
                    wrapper.transport.loseConnection()
        if not self.protocols:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._idle_waiters.append(d)
        return d

    def abort_all(self) -> None:
        """Abort every connection still open (the server is going away)."""
        for wrapper in list(self.protocols):
            transport = wrapper.transport
            if transport is not None:
                transport.abortConnection()

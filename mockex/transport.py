"""
The byte-level layer between every connection and its protocol.

The whole :class:`~twisted.web.server.Site` is wrapped in :class:`ConnectionLayer`, a
:class:`~twisted.protocols.policies.WrappingFactory`. After a WebSocket upgrade,
Autobahn re-points the wrapper at the WebSocket protocol, so one wrapper sees every
byte of REST and WebSocket traffic alike. It is where transport-level behaviour lives:
tracking and closing connections, numbering them, and (given a fault controller)
:class:`mockex.faults.FaultWrapper`'s delayed writes, truncation, stalls and resets.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from typing import Callable

from twisted.internet.interfaces import IProtocol, IProtocolFactory
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory


class ConnectionLayer(WrappingFactory):
    """
    Wraps a server factory and keeps every live connection it made. With a
    ``controller`` (a :class:`mockex.faults.FaultController`) every connection is a
    :class:`mockex.faults.FaultWrapper`; without one, a plain ``ProtocolWrapper``.
    """

    noisy = False
    protocol = ProtocolWrapper

    def __init__(self, wrapped: IProtocolFactory, controller: Any = None) -> None:
        super().__init__(wrapped)
        self._idle_waiters: list[Deferred[None]] = []
        self.controller = controller
        self._serial = 0
        if controller is not None:
            from mockex.faults import FaultWrapper

            self.protocol = FaultWrapper

    def next_serial(self) -> int:
        """Connection serials count from 1, in order of accept."""
        self._serial += 1
        return self._serial

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

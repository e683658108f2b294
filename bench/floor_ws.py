"""
The WebSocket fan-out floor: a bare Autobahn (Twisted, epoll) server that, every
``--period`` seconds on the wall-clock grid, prepares one message the size and shape
of a Binance kline event and sends it to every open connection. No venue session,
no hub, no candle: what Autobahn and Twisted cost to fan a frame out.

    python bench/floor_ws.py --port 8082 --period 2 --max-seconds 60

Any path is accepted. The process stops by itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from twisted.internet import epollreactor

epollreactor.install()

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol  # noqa: E402
from twisted.internet import reactor  # noqa: E402

#: A kline event as mockex renders it, with the event time left open.
TEMPLATE = (
    '{{"e":"kline","E":{E},"s":"BTCUSDT","k":{{"t":1795609920000,"T":1795609979999,"s":"BTCUSDT",'
    '"i":"1m","f":7223105312,"L":7223109222,"o":"90366.99000000","c":"90330.87000000",'
    '"h":"90366.99000000","l":"90279.23000000","v":"44.10221000","n":3911,"x":false,'
    '"q":"3979462.39454435","V":"20.22785000","Q":"1825213.83439691","B":"0"}}}}'
)


class Proto(WebSocketServerProtocol):
    def onOpen(self) -> None:
        self.factory.live.add(self)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.factory.live.discard(self)


class Factory(WebSocketServerFactory):
    protocol = Proto

    def __init__(self, url: str, period: float) -> None:
        super().__init__(url)
        self.live: set[Proto] = set()
        self.period = period
        self.setProtocolOptions(autoPingInterval=0, openHandshakeTimeout=10, closeHandshakeTimeout=2)

    def schedule(self) -> None:
        now = time.time()
        due = (int(now / self.period) + 1) * self.period
        reactor.callLater(due - now, self.tick, due)

    def tick(self, due: float) -> None:
        # The event time is when the tick runs, as mockex's hub stamps it
        # (``max(due, now)``): the probe measures latency from it.
        payload = TEMPLATE.format(E=int(max(due, time.time()) * 1000)).encode()
        prepared = self.prepareMessage(payload)
        for proto in list(self.live):
            if proto.state == WebSocketServerProtocol.STATE_OPEN:
                proto.sendPreparedMessage(prepared)
        self.schedule()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--period", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop by itself after this")
    args = parser.parse_args(argv)
    # 10,000 connections need more open files than a default soft limit of 1024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
    factory = Factory(f"ws://{args.host}:{args.port}", args.period)
    reactor.listenTCP(args.port, factory, interface=args.host, backlog=50)
    factory.schedule()
    reactor.callLater(args.max_seconds, reactor.stop)
    print(f"floor_ws listening on {args.host}:{args.port}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

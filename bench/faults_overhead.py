"""
What the idle fault layer costs: a server built with it (no rule installed) against
one built without it (``MockServer(faults=False)``).

REST: the server runs in a child process on 127.0.0.1 (an ephemeral port); the parent
drives it with keep-alive HTTP/1.1 connections from several threads for a fixed time
and counts responses. Runs alternate (plain, faults, plain, faults, ...) so drift in
machine load hits both alike; the best run of each is reported.

REST in process: the same stack fed raw requests on a StringTransport, server CPU
only (the steadier figure on a small machine).

WebSocket fan-out: in process, on a memory reactor: N real StreamProtocols (through the
real ConnectionLayer, on iosim transports) subscribed to one topic; the hub's broadcast
of one prepared frame to all of them is timed, faults vs. plain.

    python bench/faults_overhead.py [--seconds 3] [--rounds 3] [--clients 4] [--subscribers 500]

Bounded in time: about rounds * 2 * seconds for REST plus a few seconds for fan-out.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PATH = "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=100"


def serve(mode: str) -> None:
    """Child process: serve on an ephemeral port, print it, run until stdin closes."""
    sys.path.insert(0, ROOT)
    from twisted.internet import reactor

    from mockex.server import MockServer

    server = MockServer("binance_spot", port=0, seed=1, reactor=reactor, faults=(mode == "faults"))

    def started(s: MockServer) -> None:
        print(s.port, flush=True)

    server.start().addCallback(started)
    threading.Thread(target=lambda: (sys.stdin.read(), reactor.callFromThread(reactor.stop)), daemon=True).start()
    reactor.run()


def drive(port: int, seconds: float, clients: int) -> float:
    """Requests per second over ``seconds`` with ``clients`` keep-alive connections."""
    counts = [0] * clients
    deadline = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while time.monotonic() < deadline:
            conn.request("GET", PATH)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            n += 1
        conn.close()
        counts[i] = n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def rest(seconds: float, rounds: int, clients: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"plain": [], "faults": []}
    for _ in range(rounds):
        for mode in ("plain", "faults"):
            child = subprocess.Popen(
                [sys.executable, __file__, "--serve", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            try:
                port = int(child.stdout.readline())  # type: ignore[union-attr]
                drive(port, 0.5, clients)  # warm up (caches, first-call imports)
                results[mode].append(drive(port, seconds, clients))
            finally:
                child.stdin.close()  # type: ignore[union-attr]
                child.wait(timeout=10)
    return results


def rest_in_process(requests: int, rounds: int) -> dict[str, float]:
    """
    Server CPU per request, in process: the real ConnectionLayer + Site + Klein app,
    fed raw keep-alive requests on a StringTransport (no client, no socket noise).
    """
    sys.path.insert(0, ROOT)
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import MemoryReactorClock, StringTransport

    from mockex.server import MockServer

    raw = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    out: dict[str, float] = {}
    for _ in range(rounds):
        for mode in ("plain", "faults"):
            clock = MemoryReactorClock()
            clock.advance(1_795_564_800)
            server = MockServer("binance_spot", port=0, seed=1, reactor=clock, faults=(mode == "faults"))
            proto = server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
            transport = StringTransport()
            proto.makeConnection(transport)
            for _ in range(50):
                proto.dataReceived(raw)
            transport.clear()
            start = time.perf_counter()
            for _ in range(requests):
                proto.dataReceived(raw)
            elapsed = time.perf_counter() - start
            assert transport.value().count(b"HTTP/1.1 200 OK") == requests
            out[mode] = min(out.get(mode, float("inf")), elapsed / requests)
            proto.connectionLost(None)
    return out


def fanout(subscribers: int, repeats: int) -> dict[str, float]:
    """Seconds per broadcast of one frame to ``subscribers`` connections."""
    sys.path.insert(0, ROOT)
    from mockex.interfaces import CandleUpdate
    from mockex.ratelimit import NO_LIMITS
    from mockex.testing import MemoryServer

    out = {}
    for mode in ("plain", "faults", "plain", "faults"):
        # No limits: Binance allows 300 connection attempts per 5 minutes per IP.
        m = MemoryServer(seed=1, faults=(mode == "faults"), limits=NO_LIMITS)
        clients = [m.connect("/ws/btcusdt@kline_1m") for _ in range(subscribers)]
        hub = m.server.hub
        state = next(iter(hub._feeds.values()))
        feed = state.feed
        now = m.now_ms()
        candle = m.server.source.candle(feed.market, feed.interval, feed.interval.floor(now, 0), now, 0)
        update = CandleUpdate(feed, candle, now)
        transports = [w.transport for w in m.server.factory.protocols]
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            hub._broadcast(state, update)
            best = min(best, time.perf_counter() - start)
            for t in transports:
                t.stream = []  # drop what iosim buffered
        out[mode] = min(out.get(mode, float("inf")), best)
        del clients
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", choices=("plain", "faults"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--subscribers", type=int, default=500)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    r = rest(args.seconds, args.rounds, args.clients)
    plain, faults = max(r["plain"]), max(r["faults"])
    print(f"REST  {PATH}")
    print(f"  without fault layer: {plain:8.0f} req/s  (runs: {', '.join(f'{x:.0f}' for x in r['plain'])})")
    print(f"  with idle faults:    {faults:8.0f} req/s  (runs: {', '.join(f'{x:.0f}' for x in r['faults'])})")
    print(f"  ratio faults/plain:  {faults / plain:8.3f}")
    q = rest_in_process(2000, args.rounds)
    print("REST in process: server CPU per request (best of rounds, 2000 requests each)")
    print(f"  without fault layer: {q['plain'] * 1e6:8.1f} us  ({1 / q['plain']:.0f} req/s)")
    print(f"  with idle faults:    {q['faults'] * 1e6:8.1f} us  ({1 / q['faults']:.0f} req/s)")
    print(f"  ratio (throughput) faults/plain: {q['plain'] / q['faults']:.3f}")
    f = fanout(args.subscribers, 200)
    print(f"WebSocket fan-out: one frame to {args.subscribers} subscribers (best of 200)")
    print(f"  without fault layer: {f['plain'] * 1e6:8.0f} us  ({args.subscribers / f['plain']:.0f} frames/s)")
    print(f"  with idle faults:    {f['faults'] * 1e6:8.0f} us  ({args.subscribers / f['faults']:.0f} frames/s)")
    print(f"  ratio (throughput) faults/plain: {f['plain'] / f['faults']:.3f}")


if __name__ == "__main__":
    main()

"""
WebSocket fan-out probe: N clients on one stream in one process, recording when each
client receives each update.

    python bench/ws_clients.py ws://127.0.0.1:8080/ws/btcusdt@kline_1m -n 10000 --updates 3
    python bench/ws_clients.py ws://127.0.0.1:8080/ws/btcusdt@kline_1m -n 1000 --hold 30

The client is deliberately lean, because on a 2-core machine it shares the CPUs with
the server it measures: plain non-blocking sockets on one ``select.epoll`` loop (no
asyncio, no WebSocket library), an RFC 6455 handshake, unmasked server frames parsed
by hand, pongs answered. Clients connect at most ``--concurrency`` at a time (a
Twisted listener's backlog is 50).

When a frame arrived is read from the kernel, not from the client: every socket has
``SO_TIMESTAMPNS`` set, and ``recvmsg`` returns the time the data reached the socket
(CLOCK_REALTIME; socket(7)). So a client that reads late does not make the server
look slow, as long as it drains its sockets before they fill (a kline frame is about
400 bytes every 2 s). The time the client read each frame is kept too: the difference
between the two is the client's own lag, reported as ``read_lag_ms``.

An update is one tick of the stream, identified by its ``"E"`` (event time); at a
candle's close a tick carries two events (the closed candle, then the new one), told
apart by their ``"t"`` (candle open). Once every client is open, the next
``--updates`` ticks are followed. For each, the result gives the ``latency`` from the
tick's event time (the server's market clock, which at ``--speed 1`` is the wall clock
of this same machine) to its last delivery to the last client, and the ``spread``
from its first delivery to its last. One JSON line is printed at the end.

``--hold S``: connect, print ``{"ready": ...}``, keep the connections open and idle
(answering pings, reading and discarding frames) for ``S`` seconds, then exit: for
measuring the server's memory per connection.

The process gives up (and says so) after ``--timeout`` seconds; it raises its own
soft limit on open files up to the hard limit when ``-n`` needs it.
"""

from __future__ import annotations

import argparse
import base64
import errno
import json
import os
import resource
import select
import socket
import struct
import sys
import time
from typing import Any
from urllib.parse import urlsplit

#: socket(7): SO_TIMESTAMPNS (SCM_TIMESTAMPNS in the ancillary data); Python's socket
#: module does not name it. 35 on every Linux architecture but a few (parisc, sparc).
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
_ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size)

CONNECTING, HANDSHAKE, OPEN, CLOSED = range(4)


def event_key(data: bytes) -> tuple[int, int] | None:
    """``(E, k.t)`` of a kline event, read without a JSON parse."""
    at = data.find(b'"E":')
    if at < 0:
        return None
    t_at = data.find(b'"t":', at)
    try:
        event = int(data[at + 4 : data.find(b",", at)])
        opened = int(data[t_at + 4 : data.find(b",", t_at)]) if t_at >= 0 else 0
    except ValueError:
        return None
    return event, opened


def masked_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A client frame (clients must mask, RFC 6455 5.3); small payloads only."""
    assert len(payload) < 126
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


class Client:
    __slots__ = ("sock", "state", "buf")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.state = CONNECTING
        self.buf = b""


class Probe:
    """N connections on one epoll loop."""

    def __init__(self, url: str, n: int, concurrency: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.request = (
            f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.n = n
        self.concurrency = concurrency
        self.epoll = select.epoll()
        self.clients: dict[int, Client] = {}
        self.started = 0
        self.opened = 0
        self.in_flight = 0
        self.failures: list[str] = []
        self.failed = 0
        self.closed_by_server = 0
        #: (E, t) -> kernel arrival times (epoch s); the same -> read times (epoch s)
        self.arrivals: dict[tuple[int, int], list[float]] = {}
        self.reads: dict[tuple[int, int], list[float]] = {}
        self.frames = 0

    # -- connections ------------------------------------------------------------------

    def _start_one(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.started += 1
        self.in_flight += 1
        err = sock.connect_ex((self.host, self.port))
        if err not in (0, errno.EINPROGRESS):
            self._fail(sock, f"connect: {os.strerror(err)}")
            return
        self.clients[sock.fileno()] = Client(sock)
        self.epoll.register(sock.fileno(), select.EPOLLOUT)

    def _fail(self, sock: socket.socket, why: str) -> None:
        self.failed += 1
        self.in_flight -= 1
        if len(self.failures) < 5:
            self.failures.append(why)
        self.clients.pop(sock.fileno(), None)
        try:
            self.epoll.unregister(sock.fileno())
        except (OSError, ValueError):
            pass
        sock.close()

    def _writable(self, client: Client) -> None:
        sock = client.sock
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._fail(sock, f"connect: {os.strerror(err)}")
            return
        sock.send(self.request)  # 200 bytes into an empty buffer: sent whole
        client.state = HANDSHAKE
        self.epoll.modify(sock.fileno(), select.EPOLLIN)

    # -- reading ----------------------------------------------------------------------

    def _readable(self, client: Client) -> None:
        sock = client.sock
        try:
            data, ancillary, _, _ = sock.recvmsg(65536, _ANC_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            data, ancillary = b"", []
            if client.state != OPEN:
                self._fail(sock, f"recv: {e}")
                return
        read_at = time.time()
        if not data:
            if client.state == OPEN:
                self.closed_by_server += 1
                client.state = CLOSED
                self.epoll.unregister(sock.fileno())
            else:
                self._fail(sock, "closed during the handshake")
            return
        arrived = read_at
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack_from(value)
                arrived = sec + nsec * 1e-9
        buf = client.buf + data if client.buf else data
        if client.state == HANDSHAKE:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                client.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(sock, f"handshake answered {bytes(buf[:40])!r}")
                return
            buf = buf[end + 4 :]
            client.state = OPEN
            self.opened += 1
            self.in_flight -= 1
        client.buf = self._frames(client, buf, arrived, read_at)

    def _frames(self, client: Client, buf: bytes, arrived: float, read_at: float) -> bytes:
        """Consume the whole frames in ``buf``; return what is left of it."""
        at = 0
        size = len(buf)
        while size - at >= 2:
            opcode = buf[at] & 0x0F
            length = buf[at + 1] & 0x7F
            head = 2
            if length == 126:
                if size - at < 4:
                    break
                length = int.from_bytes(buf[at + 2 : at + 4], "big")
                head = 4
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(buf[at + 2 : at + 10], "big")
                head = 10
            end = at + head + length
            if end > size:
                break
            if opcode in (0, 1, 2):
                self.frames += 1
                key = event_key(buf[at + head : min(end, at + head + 120)])
                if key is not None:
                    times = self.arrivals.get(key)
                    if times is None:
                        times = self.arrivals[key] = []
                        self.reads[key] = []
                    times.append(arrived)
                    self.reads[key].append(read_at)
            elif opcode == 9:  # ping: pong with its payload
                client.sock.send(masked_frame(0xA, bytes(buf[at + head : end])))
            elif opcode == 8:
                client.state = CLOSED
                self.closed_by_server += 1
                self.epoll.unregister(client.sock.fileno())
                return b""
            at = end
        return buf[at:] if at < size else b""

    # -- the loop ---------------------------------------------------------------------

    def poll(self, timeout: float) -> None:
        while self.started < self.n and self.in_flight < self.concurrency:
            self._start_one()
        for fd, events in self.epoll.poll(timeout):
            client = self.clients.get(fd)
            if client is None:
                continue
            if client.state == CONNECTING:
                if events & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
                    self._writable(client)
            elif client.state != CLOSED:
                self._readable(client)

    def connect_all(self, deadline: float) -> bool:
        """Open every connection (True), or give up at ``deadline`` (perf_counter)."""
        while self.opened + self.failed < self.n:
            if time.perf_counter() >= deadline:
                return False
            self.poll(0.05)
        return self.failed == 0

    def close(self) -> None:
        for client in self.clients.values():
            try:
                # RST, not FIN: no TIME_WAIT left behind on either side
                client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.sock.close()
            except OSError:
                pass
        self.clients.clear()
        self.epoll.close()


def run_fanout(probe: Probe, updates: int, timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    deadline = t0 + timeout
    all_open = probe.connect_all(deadline)
    connect_s = time.perf_counter() - t0 if all_open else None
    ready_at = time.time()

    def complete_ticks() -> list[int]:
        """Event times of the ticks begun after everyone was open, all delivered."""
        by_tick: dict[int, list[tuple[int, int]]] = {}
        for key, times in probe.arrivals.items():
            if min(times) >= ready_at:
                by_tick.setdefault(key[0], []).append(key)
        # a tick is complete once all its events reached every client, and no later
        # event of it can come: the next tick has begun, or a second event is in
        last = max(by_tick, default=None)
        return [e for e, keys in sorted(by_tick.items())
                if all(len(probe.arrivals[k]) >= probe.n for k in keys) and (e != last or len(keys) > 1)]

    ticks: list[int] = []
    while all_open and time.perf_counter() < deadline:
        probe.poll(0.05)
        ticks = complete_ticks()
        if len(ticks) >= updates:
            break
    rows = []
    for event_ms in ticks[:updates]:
        keys = sorted(k for k in probe.arrivals if k[0] == event_ms)
        arrived = [t for k in keys for t in probe.arrivals[k]]
        reads = [t for k in keys for t in probe.reads[k]]
        first, last = min(arrived), max(arrived)
        event_s = event_ms / 1000.0
        rows.append({
            "E": event_ms,
            "events": len(keys),
            "clients": min(len(probe.arrivals[k]) for k in keys),
            # from the tick's event time to its last delivery (kernel time)
            "latency_ms": (last - event_s) * 1000.0,
            "first_ms": (first - event_s) * 1000.0,
            "spread_ms": (last - first) * 1000.0,
            # the same as seen by the client reading its sockets
            "read_latency_ms": (max(reads) - event_s) * 1000.0,
            "read_lag_ms": max(r - a for r, a in zip(reads, arrived)) * 1000.0,
        })
    return {
        "connect_s": connect_s,
        "timed_out": len(rows) < updates,
        "updates": rows,
        "ready_at": ready_at,
    }


def run_hold(probe: Probe, hold: float, timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    all_open = probe.connect_all(t0 + timeout)
    connect_s = time.perf_counter() - t0 if all_open else None
    print(json.dumps({"ready": all_open, "opened": probe.opened, "connect_s": connect_s}), flush=True)
    end = time.perf_counter() + hold
    while time.perf_counter() < end:
        probe.poll(0.1)
    return {"connect_s": connect_s, "timed_out": not all_open, "updates": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="WebSocket fan-out probe")
    parser.add_argument("url")
    parser.add_argument("-n", type=int, default=100, help="clients")
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=40, help="handshakes in flight")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after (s)")
    parser.add_argument("--hold", type=float, help="only connect, and hold the connections idle this long")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.n + 64
    if soft != resource.RLIM_INFINITY and soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            print(f"-n {args.n} needs {need} open files; the hard limit is {hard} (raise it: ulimit -Hn)",
                  file=sys.stderr)
            return 2
        resource.setrlimit(resource.RLIMIT_NOFILE, (need if hard == resource.RLIM_INFINITY else hard, hard))
    probe = Probe(args.url, args.n, args.concurrency)
    try:
        if args.hold is not None:
            result = run_hold(probe, args.hold, args.timeout)
        else:
            result = run_fanout(probe, args.updates, args.timeout)
    finally:
        opened = probe.opened
        probe.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update({
        "url": args.url,
        "n": args.n,
        "opened": opened,
        "failed": probe.failed,
        "failures": probe.failures,
        "closed_by_server": probe.closed_by_server,
        "frames": probe.frames,
        "client_cpu_s": usage.ru_utime + usage.ru_stime,
    })
    print(json.dumps(result), flush=True)
    return 0 if not result["timed_out"] and not probe.failed else 1


if __name__ == "__main__":
    sys.exit(main())

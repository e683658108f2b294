"""
A small HTTP/1.1 keep-alive load generator: the fallback when ``wrk`` is missing.

    python bench/loadgen.py http://127.0.0.1:8080/api/v3/time -c 32 -d 10

``c`` connections each send one GET, wait for the whole response (Content-Length
framing) and send the next, on one asyncio loop in one process. It prints a summary
in wrk's words (``Requests/sec:``), so the suite reads either the same way.

It is pure Python: on one core it tops out at a few ten thousand small requests per
second, well above what a Twisted server answers, but its own cost shows in the
figures more than wrk's does. Prefer wrk (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from urllib.parse import urlsplit


class _Conn(asyncio.Protocol):
    def __init__(self, request: bytes, stats: dict[str, int], stop_at: float) -> None:
        self.request = request
        self.stats = stats
        self.stop_at = stop_at
        self.buf = bytearray()
        self.need: int | None = None
        self.transport: asyncio.Transport | None = None
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need is None:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buf[:end]).lower()
                status_ok = head.startswith(b"http/1.1 2")
                if not status_ok:
                    self.stats["non2xx"] += 1
                pos = head.find(b"content-length:")
                if pos < 0:
                    self.stats["errors"] += 1
                    self.transport.close()  # type: ignore[union-attr]
                    return
                eol = head.find(b"\r\n", pos)
                length = int(head[pos + 15 : eol if eol > 0 else len(head)])
                self.need = end + 4 + length
            if len(self.buf) < self.need:
                return
            del self.buf[: self.need]
            self.stats["bytes"] += self.need
            self.need = None
            self.stats["requests"] += 1
            if time.perf_counter() >= self.stop_at:
                self.transport.close()  # type: ignore[union-attr]
                return
            self.transport.write(self.request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run(url: str, connections: int, duration: float) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + ("?" + parts.query if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    stats = {"requests": 0, "non2xx": 0, "errors": 0, "bytes": 0}
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    stop_at = start + duration
    conns = []
    for _ in range(connections):
        try:
            _, proto = await loop.create_connection(lambda: _Conn(request, stats, stop_at), host, port)
            conns.append(proto)
        except OSError:
            stats["errors"] += 1
    try:
        await asyncio.wait_for(
            asyncio.gather(*(c.done for c in conns)), timeout=duration + 5.0
        )
    except asyncio.TimeoutError:
        stats["errors"] += 1
        for c in conns:
            if c.transport is not None:
                c.transport.abort()
    elapsed = time.perf_counter() - start
    return {**stats, "elapsed": elapsed, "rps": stats["requests"] / elapsed if elapsed else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HTTP keep-alive load generator (wrk fallback)")
    parser.add_argument("url")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="seconds")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.url, args.connections, args.duration))
    print(f"Running {args.duration:g}s test @ {args.url} (bench/loadgen.py, {args.connections} connections)")
    print(f"  {result['requests']} requests in {result['elapsed']:.2f}s")
    if result["non2xx"]:
        print(f"  Non-2xx or 3xx responses: {result['non2xx']}")
    if result["errors"]:
        print(f"  Socket errors: {result['errors']}")
    print(f"Requests/sec: {result['rps']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

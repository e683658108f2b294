"""
WebSocket fan-out probe: N clients on one stream, in one process (asyncio),
recording when each client receives each update.

    python bench/ws_clients.py ws://127.0.0.1:8080/ws/btcusdt@kline_1m -n 1000 --updates 3

Two clients: ``--client raw`` (default), a minimal RFC 6455 client on an asyncio
Protocol (handshake, unmasked server frames, pong), stamping arrivals in
``data_received`` so that the probe's own cost per message stays small; and
``--client websockets``, the ``websockets`` library (more Python per message:
at N=1000 its own cost shows in the spread).

Clients connect at most ``--concurrency`` at a time (a listen backlog is 50 on
Twisted). Once all are open, the next ``--updates`` updates (told apart by their
``"E"`` event time and ``"t"`` candle open) are followed: for each, the spread is the time from its first
delivery to its last across clients. The result is printed as one JSON line. The
process gives up (and says so) after ``--timeout`` seconds.

The client's own per-message cost is part of the spread: run the same probe against
``bench/floor_ws.py`` (a bare Autobahn broadcaster) for the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import struct
import sys
import time
from urllib.parse import urlsplit


def event_key(message: str | bytes) -> tuple[int, int] | None:
    """
    ``(E, k.t)`` of a kline event (event time, candle open), read without a JSON
    parse: at a candle's close one tick carries two events with the same ``E``
    (the closed candle and the new one).
    """
    data = message.encode() if isinstance(message, str) else message
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


class RawClient(asyncio.Protocol):
    """A minimal WebSocket client: one handshake, then text frames in, pongs out."""

    def __init__(self, host: str, target: str, on_message) -> None:  # type: ignore[no-untyped-def]
        self.request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.on_message = on_message
        self.buf = bytearray()
        self.upgraded = False
        self.opened = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the handshake: {exc}"))

    def _send(self, opcode: int, payload: bytes = b"") -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:12])
            del buf[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(f"handshake answered {status!r}"))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            self.opened.set_result(None)
        while len(buf) >= 2:
            opcode = buf[0] & 0x0F
            length = buf[1] & 0x7F
            at = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = struct.unpack_from("!H", buf, 2)[0]
                at = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = struct.unpack_from("!Q", buf, 2)[0]
                at = 10
            if len(buf) < at + length:
                return
            payload = bytes(buf[at : at + length])
            del buf[: at + length]
            if opcode in (1, 2, 0):
                self.on_message(now, payload)
            elif opcode == 9:
                self._send(0xA, payload)
            elif opcode == 8:
                self.transport.close()  # type: ignore[union-attr]
                return

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def probe(url: str, n: int, updates: int, concurrency: int, timeout: float, kind: str) -> dict:
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    ready = asyncio.Event()
    # (event time, candle open) -> arrival times (perf_counter)
    arrivals: dict[tuple[int, int], list[float]] = {}
    ready_at: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    opened = 0
    failures: list[str] = []
    sockets = []
    stop = asyncio.Event()

    def record(now: float, message: bytes) -> None:
        key = event_key(message)
        if key is not None:
            arrivals.setdefault(key, []).append(now)

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + ("?" + parts.query if parts.query else "")

    async def raw_client(i: int) -> None:
        nonlocal opened
        async with gate:
            try:
                _, proto = await loop.create_connection(
                    lambda: RawClient(f"{host}:{port}", target, record), host, port
                )
                sockets.append(proto)
                await asyncio.wait_for(proto.opened, 20)
            except Exception as e:  # noqa: BLE001 - reported
                failures.append(f"{type(e).__name__}: {e}")
                return
        opened += 1
        if opened == n:
            ready_at.append(time.perf_counter())
            ready.set()

    async def client(i: int) -> None:
        nonlocal opened
        from websockets.asyncio.client import connect

        async with gate:
            try:
                ws = await connect(url, compression=None, open_timeout=20, max_queue=None,
                                   ping_interval=None)
            except Exception as e:  # noqa: BLE001 - reported
                failures.append(f"{type(e).__name__}: {e}")
                return
        sockets.append(ws)
        ws.abort = ws.transport.abort
        opened += 1
        if opened == n:
            ready_at.append(time.perf_counter())
            ready.set()
        try:
            async for message in ws:
                record(time.perf_counter(), message)
        except Exception:  # noqa: BLE001 - closed under us at the end
            pass

    make = raw_client if kind == "raw" else client
    tasks = [asyncio.ensure_future(make(i)) for i in range(n)]

    async def watch() -> None:
        await ready.wait()
        while True:
            # An update is complete when every client has it; stop after `updates`
            # complete updates that started after everyone was connected.
            started_after = [k for k, ts in arrivals.items() if min(ts) >= ready_at[0]]
            complete = [k for k in started_after if len(arrivals[k]) >= n]
            if len(complete) >= updates:
                return
            await asyncio.sleep(0.05)

    timed_out = False
    try:
        await asyncio.wait_for(watch(), timeout=timeout)
    except asyncio.TimeoutError:
        timed_out = True
    connect_s = (ready_at[0] - t0) if ready_at else None
    for ws in list(sockets):
        try:
            ws.abort()
        except Exception:  # noqa: BLE001
            pass
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    rows = []
    base = ready_at[0] if ready_at else t0
    for key in sorted(arrivals):
        ts = arrivals[key]
        if min(ts) < base or len(ts) < n:
            continue
        first, last = min(ts), max(ts)
        spread = last - first
        rows.append({
            "E": key[0],
            "t": key[1],
            "clients": len(ts),
            "spread_ms": spread * 1000.0,
            "msgs_per_s": (len(ts) / spread) if spread > 0 else None,
        })
    rows = rows[:updates]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "url": url,
        "client": kind,
        "n": n,
        "opened": opened,
        "failures": failures[:5],
        "failed": len(failures),
        "connect_s": connect_s,
        "timed_out": timed_out,
        "updates": rows,
        "client_cpu_s": usage.ru_utime + usage.ru_stime,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="WebSocket fan-out probe")
    parser.add_argument("url")
    parser.add_argument("-n", type=int, default=100, help="clients")
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=40, help="connects in flight")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after (s)")
    parser.add_argument("--client", choices=("raw", "websockets"), default="raw")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.n + 256), hard))
    result = asyncio.run(probe(args.url, args.n, args.updates, args.concurrency, args.timeout, args.client))
    print(json.dumps(result), flush=True)
    return 0 if not result["timed_out"] and not result["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())

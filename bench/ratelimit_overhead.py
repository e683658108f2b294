#!/usr/bin/env python
"""
What does rate limiting cost? REST throughput of ``twistd mockex`` with limiting on
(limits far too high to trigger: every request is counted, headers are written)
against limiting off.

    python bench/ratelimit_overhead.py                 # 60 s per setting, as in docs
    python bench/ratelimit_overhead.py --duration 10   # quicker

Each setting runs for ``--duration`` seconds in total, split into ``--rounds``
alternating segments (off, on, off, on...) so drift of the machine hits both alike.
Every segment starts a fresh server (a twistd subprocess on 127.0.0.1, a free port) and
drives it with ``wrk`` when installed, else with a small asyncio keep-alive client.
Everything is bounded in time and every subprocess is killed on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TWISTD = "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
HUGE = str(10**12)
SETTINGS = {
    "off": ["--rate-limits", "off"],
    "on": ["--rate-limits", "on", "--rest-weight-limit", HUGE, "--raw-request-limit", HUGE],
}
PATHS = {
    "ping": "/api/v3/ping",
    "klines": "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=100",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    argv = [sys.executable, "-c", TWISTD, "-n", "--pidfile=", "mockex",
            "--listen", f"tcp:{port}:interface=127.0.0.1", *extra]
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("server did not start within 20 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def run_wrk(url: str, seconds: float, connections: int) -> tuple[int, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{bad.group(1)} responses were not 200: the limit triggered?")
    return total, elapsed


async def _client(port: int, path: str, stop_at: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    try:
        while time.monotonic() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"not 200: {head[:60]!r}")
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            counts[0] += 1
    finally:
        writer.close()


def run_python(port: int, path: str, seconds: float, connections: int) -> tuple[int, float]:
    counts = [0]

    async def main() -> float:
        start = time.monotonic()
        stop_at = start + seconds
        await asyncio.wait_for(
            asyncio.gather(*(_client(port, path, stop_at, counts) for _ in range(connections))),
            timeout=seconds + 30,
        )
        return time.monotonic() - start

    elapsed = asyncio.run(main())
    return counts[0], elapsed


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def segment(
    setting: str, path: str, seconds: float, connections: int, use_wrk: bool
) -> tuple[int, float, float | None]:
    """(requests, seconds, server CPU seconds) of one run against a fresh server."""
    port = free_port()
    proc = start_server(port, SETTINGS[setting])
    try:
        before = cpu_seconds(proc.pid)
        if use_wrk:
            count, elapsed = run_wrk(f"http://127.0.0.1:{port}{path}", seconds, connections)
        else:
            count, elapsed = run_python(port, path, seconds, connections)
        after = cpu_seconds(proc.pid)
        cpu = None if before is None or after is None else after - before
        return count, elapsed, cpu
    finally:
        stop_server(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per setting (default 60)")
    parser.add_argument("--rounds", type=int, default=6, help="alternating segments per setting")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--endpoint", choices=sorted(PATHS), default="ping",
                        help="ping (cheapest: the limiter's share is largest) or klines")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args(argv)
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    path = PATHS[args.endpoint]
    per_segment = args.duration / args.rounds
    totals = {"off": [0, 0.0, 0.0], "on": [0, 0.0, 0.0]}
    pairs = []
    print(f"{args.endpoint}: {args.duration:g} s per setting in {args.rounds} rounds, "
          f"{args.connections} keep-alive connections, load by {'wrk' if use_wrk else 'asyncio client'}")
    for round_ in range(args.rounds):
        rates = {}
        for setting in ("off", "on"):
            count, elapsed, cpu = segment(setting, path, per_segment, args.connections, use_wrk)
            totals[setting][0] += count
            totals[setting][1] += elapsed
            totals[setting][2] += cpu or 0.0
            rates[setting] = count / elapsed
            cpu_text = f", {cpu / count * 1e6:6.1f} us CPU/request" if cpu else ""
            print(f"  round {round_ + 1} {setting:3}: {rates[setting]:8.0f} requests/s{cpu_text}")
        pairs.append(rates["on"] / rates["off"])
    rate = {k: v[0] / v[1] for k, v in totals.items()}
    ratio = rate["on"] / rate["off"]
    pairs.sort()
    median = pairs[len(pairs) // 2] if len(pairs) % 2 else (pairs[len(pairs) // 2 - 1] + pairs[len(pairs) // 2]) / 2
    print(f"limiting off: {rate['off']:.0f} requests/s")
    print(f"limiting on:  {rate['on']:.0f} requests/s")
    print(f"on / off: {ratio:.3f} ({(ratio - 1) * 100:+.1f}%); median of the rounds' ratios {median:.3f}")
    if all(v[2] for v in totals.values()):
        cpu = {k: v[2] / v[0] * 1e6 for k, v in totals.items()}
        print(f"server CPU per request: off {cpu['off']:.1f} us, on {cpu['on']:.1f} us "
              f"({(cpu['on'] / cpu['off'] - 1) * 100:+.1f}%)")
    return 0 if ratio >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())

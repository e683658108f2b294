"""
mockex performance suite: one command, one table, every figure beside its floor.

    python bench/run.py [--quick] [--duration S] [--only SECTION,...] [--json FILE]
                        [--snapshot | --src DIR] [--max-wait S] [--loadgen python]

Sections (each measured against a floor, or its other arm, taken in the same run):

rest      Requests/s with 32 keep-alive connections (``wrk -t1 -c32``: the load
          generator takes one core, the server the other) against ``twistd -n mockex``
          for ``/api/v3/klines`` (1m, limit 1, 100, 500, 1000) and ``/api/v3/time``.
          Floor: ``bench/floor_klein.py``, a bare Klein app on the same epoll reactor
          answering the same URLs with the bytes mockex answered. 2 s warm-up before
          each measured run. Without wrk, ``bench/loadgen.py`` (pure Python) stands in.
candles   Milliseconds to serve 1000 candles (1m, 1h, 1d) ending now, a day, a year
          and eight years back, in process (``mockex.testing.MemoryServer``), cold (a
          fresh server) and warm (the same request again). Floor: ``/api/v3/time``
          through the same in-memory path.
startup   Seconds from launching ``twistd -n mockex`` to its first answer on
          ``/api/v3/time`` (polled every 10 ms), median of 5. Floor: the same for
          ``bench/floor_klein.py``.
ws        WebSocket fan-out: 100, 1000 and 10,000 clients (``bench/ws_clients.py``, one
          lean epoll process reading kernel receive timestamps) on
          ``btcusdt@kline_1m`` of a ``--speed 1`` server, 5 ticks: latency from a
          tick's event time to its last delivery, deliveries/s, and the server's CPU
          time for the tick (``/proc/PID/schedstat``). Floor: ``bench/floor_ws.py``, a
          bare Autobahn broadcaster of a same-sized prepared frame.
wsmem     Memory per idle WebSocket connection: server RSS before and after 1000 and
          10,000 connected clients subscribed to one stream, divided by N (a fresh
          server each). Floor: the same for ``bench/floor_ws.py``.
faults    The fault layer on with nothing triggered against ``--no-faults``: REST
          req/s and server CPU per request on ``/api/v3/time`` and klines limit=100
          (both servers up, alternating runs), and in process (bench/faults_overhead.py)
          a request and a fan-out.
ratelimit The rate limiter on with limits of 10^12 (every request counted and given its
          headers, none refused) against ``--rate-limits off``, as above.

mockex runs with ``--rate-limits off`` (except the limiter's own arm) when the tree has
rate limits (a load test would otherwise measure 429 answers). ``--snapshot`` measures
the committed HEAD (a ``git archive`` in a temporary directory) instead of a working
tree that may be changing under the run.

On a shared machine: before each measurement the suite waits (``--max-wait``) for
other processes to go idle, it measures how much CPU other processes used during
each REST run (machine busy time minus the server's and wrk's), repeats a disturbed
run up to twice, keeps the least disturbed and flags it (†) in the table.

Only 127.0.0.1 is used. Every server and client runs under ``timeout`` (it stops by
itself) in its own process group, and every group this script started is killed when
it ends, whatever happens (exception, SIGTERM, Ctrl-C). Children get the soft limit on
open files raised to the hard limit (10,000 connections need it).
"""

from __future__ import annotations

import argparse
import atexit
import bisect
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
#: The mockex source tree under test (``--src``; default: this checkout).
SRC = ROOT
PYTHON = sys.executable
TWISTD = str(Path(PYTHON).parent / "twistd") if (Path(PYTHON).parent / "twistd").exists() else (
    shutil.which("twistd") or "twistd"
)
KLINE_LIMITS = (1, 100, 500, 1000)
CONNECTIONS = 32
WARMUP_S = 2.0
WS_CLIENTS = (100, 1000, 10000)
#: ticks followed per fan-out run (--quick: 3)
WS_UPDATES = 5
WSMEM_CLIENTS = (1000, 10000)
#: the fault layer and the rate limiter: endpoints and rounds per arm (--quick: 1)
OVERHEAD_PATHS = ("/api/v3/time", "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=100")
OVERHEAD_ROUNDS = 2
#: subscribers of the in-process fan-out of bench/faults_overhead.py
FANOUT_SUBSCRIBERS = 1000
SECTIONS = ("rest", "candles", "startup", "ws", "wsmem", "faults", "ratelimit")

# Targets (docs/performance.md).
TARGET_KLINES_1000_RPS = 2000.0
TARGET_KLINES_1000_RATIO = 0.7
TARGET_TIME_RPS = 6000.0
TARGET_STARTUP_S = 1.5
#: one kline update delivered to all 10,000 subscribers of one stream within this
TARGET_WS_10K_MS = 250.0
#: memory per idle WebSocket connection, KiB
TARGET_WS_KB = 40.0
#: "flat": the slowest distance within this factor of the fastest (per 1000 candles)
TARGET_FLAT_FACTOR = 1.25


# ---------------------------------------------------------------------------
# Processes: every one in its own group, every group killed at the end.


class Processes:
    """The subprocesses this run started (each a process-group leader)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.timeout_bin = shutil.which("timeout")

    def start(self, argv: Sequence[str], log: Path, max_seconds: float | None = None) -> subprocess.Popen[bytes]:
        """Start ``argv`` in a new session; under ``timeout`` if ``max_seconds``."""
        cmd = list(argv)
        if max_seconds is not None and self.timeout_bin:
            cmd = [self.timeout_bin, "-s", "TERM", "-k", "3", f"{max_seconds:.0f}", *cmd]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
        env["PYTHONUNBUFFERED"] = "1"
        out = open(log, "ab")
        try:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=str(SRC), env=env, start_new_session=True, preexec_fn=_raise_nofile,
            )
        finally:
            out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
        """SIGTERM the process's group, then SIGKILL it if still there."""
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # The leader may be gone while a child (twistd under timeout) lingers.
        _signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc, grace=2.0)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


PROCS = Processes()
atexit.register(PROCS.stop_all)


def _on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------------
# Helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(port: int, path: str, proc: subprocess.Popen[bytes], deadline_s: float,
               poll_s: float = 0.010) -> float:
    """Poll ``path`` every ``poll_s`` until a 200; the perf_counter time of it."""
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            status, _ = http_get(port, path, timeout=1.0)
            if status == 200:
                return time.perf_counter()
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(poll_s)
    raise RuntimeError(f"no answer on 127.0.0.1:{port}{path} within {deadline_s} s")


_SERVER_OPTIONS: list[str] | None = None


def server_options() -> list[str]:
    """
    Options every measured mockex runs with: ``--rate-limits off`` where the tree has
    rate limits (a load test exceeds Binance's 6000 weight a minute in a second, and
    429s would be measured instead of candles).
    """
    global _SERVER_OPTIONS
    if _SERVER_OPTIONS is None:
        env = dict(os.environ, PYTHONPATH=str(SRC))
        try:
            help_text = subprocess.run([TWISTD, "mockex", "--help"], capture_output=True, text=True,
                                       timeout=60, env=env, cwd=str(SRC)).stdout
        except (OSError, subprocess.SubprocessError):
            help_text = ""
        _SERVER_OPTIONS = ["--rate-limits", "off"] if "--rate-limits" in help_text else []
    return _SERVER_OPTIONS


def mockex_argv(port: int, *extra: str) -> list[str]:
    return [TWISTD, "-n", "--pidfile=", "mockex", "--exchange", "binance_spot",
            "--listen", f"tcp:{port}:interface=127.0.0.1", *server_options(), *extra]


def _server_pid(proc: subprocess.Popen[bytes]) -> int:
    """The server's own pid: the child of ``timeout`` if it wraps it."""
    if not PROCS.timeout_bin:
        return proc.pid
    for _ in range(100):
        try:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.01)
    return proc.pid


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_int(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:,.0f}"


def fmt_ms(value: float | None, places: int = 1) -> str:
    return "-" if value is None or value != value else f"{value:,.{places}f}"


# ---------------------------------------------------------------------------
# rest


class LoadGenerator:
    def __init__(self, force_python: bool = False) -> None:
        self.wrk = None if force_python else shutil.which("wrk")
        self.missing = self.wrk is None and not force_python
        self.name = ("wrk -t1 -c32" if self.wrk else
                     f"bench/loadgen.py -c32 ({'wrk missing' if self.missing else '--loadgen python'})")

    def run(self, url: str, duration: float, log: Path) -> dict[str, Any]:
        if self.wrk:
            duration = float(max(1, round(duration)))  # wrk takes whole seconds
            cmd = [self.wrk, "-t1", f"-c{CONNECTIONS}", f"-d{duration:.0f}s", "--timeout", "5s", "--latency", url]
        else:
            cmd = [PYTHON, str(BENCH / "loadgen.py"), url, "-c", str(CONNECTIONS), "-d", f"{duration:g}"]
        before = _children_cpu()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, cwd=str(ROOT))
        cpu = _children_cpu() - before
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n{out.stdout}{out.stderr}\n")
        text = out.stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        if out.returncode != 0 or m is None:
            raise RuntimeError(f"load generator failed ({out.returncode}): {text[-500:]} {out.stderr[-500:]}")
        result: dict[str, Any] = {"rps": float(m.group(1)), "loadgen_cpu": cpu / duration}
        m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
        result["non2xx"] = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors:(.*)", text)
        result["socket_errors"] = m.group(1).strip() if m else ""
        for pct in ("50", "99"):
            m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
            if m:
                scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
                result[f"p{pct}_ms"] = float(m.group(1)) * scale
        return result


#: A REST run during which other processes used more than this many CPUs is repeated
#: (at most RETRIES times; the least disturbed run is kept and its figure reported).
FOREIGN_LIMIT = 0.15
RETRIES = 2


def _measured_run(loadgen: LoadGenerator, url: str, duration: float, log: Path, server_pid: int) -> dict[str, Any]:
    cpu0 = _cpu_seconds(server_pid)
    machine0 = _cpu_totals()
    result = loadgen.run(url, duration, log)
    machine1 = _cpu_totals()
    cpu1 = _cpu_seconds(server_pid)
    busy = _busy_cpus(machine0, machine1)
    server = (cpu1 - cpu0) / duration if cpu0 is not None and cpu1 is not None else 0.0
    result["server_cpu"] = server
    # Server CPU time per request: what a busy machine inflates least (a saturated
    # server's req/s is about 1e6 / this on an idle core).
    result["cpu_us_per_req"] = server / result["rps"] * 1e6 if result["rps"] else None
    # Everything else the machine did: what is neither the server nor the load generator.
    result["foreign_cpu"] = max(0.0, busy - server - result["loadgen_cpu"])
    return result


def bench_rest(duration: float, tmp: Path, loadgen: LoadGenerator) -> dict[str, Any]:
    targets = [("/api/v3/time", "time")] + [
        (f"/api/v3/klines?symbol=BTCUSDT&interval=1m&limit={n}", f"klines:{n}") for n in KLINE_LIMITS
    ]
    budget = len(targets) * 2 * (WARMUP_S + (1 + RETRIES) * (duration + MAX_WAIT_S) + 5) + 60
    log = tmp / "rest.log"
    m_port = free_port()
    mockex = PROCS.start(mockex_argv(m_port), tmp / "mockex-rest.log", max_seconds=budget)
    floor = None
    try:
        wait_ready(m_port, "/api/v3/time", mockex, 30.0)
        # The floor answers with the bytes mockex answers.
        bodies: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for path, key in targets:
            status, body = http_get(m_port, path)
            if status != 200:
                raise RuntimeError(f"mockex answered {status} to {path}")
            bodies[key] = body.decode("latin-1")
            sizes[key] = len(body)
        bodies_file = tmp / "bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        f_port = free_port()
        floor = PROCS.start(
            [PYTHON, str(BENCH / "floor_klein.py"), "--port", str(f_port), "--bodies", str(bodies_file),
             "--max-seconds", f"{budget:.0f}"],
            tmp / "floor-rest.log", max_seconds=budget + 5,
        )
        wait_ready(f_port, "/api/v3/time", floor, 30.0)
        for path, key in targets:
            status, body = http_get(f_port, path)
            if status != 200 or abs(len(body) - sizes[key]) > 0:
                raise RuntimeError(f"floor answered {status}, {len(body)} bytes to {path}")
        pids = {"mockex": _server_pid(mockex), "floor": _server_pid(floor)}
        ports = {"mockex": m_port, "floor": f_port}
        rows = []
        for path, key in targets:
            row: dict[str, Any] = {"key": key, "path": path, "bytes": sizes[key]}
            for name in ("mockex", "floor"):
                url = f"http://127.0.0.1:{ports[name]}{path}"
                print(f"  {name:6} {path} ...", file=sys.stderr, flush=True)
                loadgen.run(url, WARMUP_S, log)
                best: dict[str, Any] | None = None
                for attempt in range(1 + RETRIES):
                    wait_quiet()
                    result = _measured_run(loadgen, url, duration, log, pids[name])
                    if best is None or result["foreign_cpu"] < best["foreign_cpu"]:
                        best = result
                    best["attempts"] = attempt + 1
                    if result["foreign_cpu"] <= FOREIGN_LIMIT:
                        break
                    print(f"    other processes used {result['foreign_cpu']:.2f} CPUs during the run; "
                          "measuring again", file=sys.stderr)
                row[name] = best
            row["ratio"] = row["mockex"]["rps"] / row["floor"]["rps"] if row["floor"]["rps"] else None
            rows.append(row)
        return {"loadgen": loadgen.name, "duration_s": duration, "rows": rows}
    finally:
        if floor is not None:
            PROCS.stop(floor)
        PROCS.stop(mockex)


# ---------------------------------------------------------------------------
# startup


def bench_startup(tmp: Path, runs: int = 5) -> dict[str, Any]:
    results: dict[str, list[float]] = {"mockex": [], "floor": []}
    for i in range(runs):
        for name in ("mockex", "floor"):
            port = free_port()
            if name == "mockex":
                argv = mockex_argv(port)
            else:
                argv = [PYTHON, str(BENCH / "floor_klein.py"), "--port", str(port), "--max-seconds", "30"]
            wait_quiet()
            t0 = time.perf_counter()
            proc = PROCS.start(argv, tmp / f"startup-{name}.log", max_seconds=30)
            try:
                t1 = wait_ready(port, "/api/v3/time", proc, 20.0)
                results[name].append(t1 - t0)
            finally:
                PROCS.stop(proc)
    return {
        "runs": runs,
        "mockex_s": median(results["mockex"]),
        "floor_s": median(results["floor"]),
        "mockex_all_s": [round(x, 3) for x in results["mockex"]],
        "floor_all_s": [round(x, 3) for x in results["floor"]],
    }


# ---------------------------------------------------------------------------
# ws


def _raise_nofile() -> None:
    """In a child before exec: soft limit on open files up to the hard one (10,000
    WebSocket connections need more than a usual soft limit of 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


class CpuSampler(threading.Thread):
    """
    On-CPU time of one thread, sampled every ``period`` seconds against the wall clock:
    ``/proc/PID/schedstat``'s first field, nanoseconds on the CPU (``sched`` accounting;
    the 10 ms clock ticks of ``/proc/PID/stat`` are too coarse for a fan-out of a few
    milliseconds). The servers run the reactor in their main thread, whose id is the
    process id. Reading the file costs the sampler some 20 µs each time.
    """

    def __init__(self, pid: int, period: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/schedstat"
        self.period = period
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def read(self) -> int | None:
        try:
            with open(self.path) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def run(self) -> None:
        while not self._halt.is_set():
            value = self.read()
            if value is not None:
                self.samples.append((time.time(), value))
            self._halt.wait(self.period)

    def stop(self) -> None:
        self._halt.set()
        self.join(2.0)

    def cpu_between(self, start: float, end: float) -> float | None:
        """CPU seconds from the last sample at or before ``start`` to the first at or
        after ``end`` (a window at most one period wider on each side)."""
        times = [t for t, _ in self.samples]
        i = bisect.bisect_right(times, start) - 1
        j = bisect.bisect_left(times, end)
        if i < 0 or j >= len(times):
            return None
        return (self.samples[j][1] - self.samples[i][1]) / 1e9


def _probe_json(log: Path) -> dict[str, Any]:
    lines = log.read_text().strip().splitlines() if log.exists() else []
    for line in reversed(lines):
        if line.startswith("{") and '"url"' in line:
            return json.loads(line)
    return {"error": lines[-5:]}


def _ws_servers(tmp: Path, budget: float, tag: str) -> dict[str, tuple[subprocess.Popen[bytes], int]]:
    """A ``--speed 1`` mockex and the bare Autobahn floor, each on a free port."""
    m_port, f_port = free_port(), free_port()
    mockex = PROCS.start(mockex_argv(m_port, "--speed", "1"), tmp / f"mockex-{tag}.log", max_seconds=budget)
    floor = PROCS.start(
        [PYTHON, str(BENCH / "floor_ws.py"), "--port", str(f_port), "--period", "2",
         "--max-seconds", f"{budget:.0f}"],
        tmp / f"floor-{tag}.log", max_seconds=budget + 5,
    )
    wait_ready(m_port, "/api/v3/time", mockex, 30.0)
    _wait_port(f_port, floor, 30.0)
    return {"mockex": (mockex, m_port), "floor": (floor, f_port)}


def bench_ws(tmp: Path, clients: Sequence[int], updates: int) -> dict[str, Any]:
    """
    Fan-out: for each N, N clients (``bench/ws_clients.py``, one process) on
    ``btcusdt@kline_1m``; ``updates`` ticks after all are open. Per tick: latency from
    its event time to the last delivery (kernel receive timestamps), first delivery,
    spread, and the server's CPU time from the event to the last delivery.
    """
    budget = sum(60 + n * 0.004 + updates * 2 + MAX_WAIT_S for n in clients) * 2 + 60
    servers = _ws_servers(tmp, budget, "ws")
    try:
        rows = []
        for n in clients:
            row: dict[str, Any] = {"n": n}
            for name in ("mockex", "floor"):
                proc, port = servers[name]
                print(f"  {name:6} ws x{n} ...", file=sys.stderr, flush=True)
                wait_quiet()
                timeout = 30.0 + n * 0.004 + (updates + 1) * 2.0
                log = tmp / f"ws-{name}-{n}.out"
                sampler = CpuSampler(_server_pid(proc))
                sampler.start()
                machine0, t0 = _cpu_totals(), time.perf_counter()
                probe = PROCS.start(
                    [PYTHON, str(BENCH / "ws_clients.py"), f"ws://127.0.0.1:{port}/ws/btcusdt@kline_1m",
                     "-n", str(n), "--updates", str(updates), "--timeout", f"{timeout:.0f}"],
                    log, max_seconds=timeout + 30,
                )
                try:
                    probe.wait(timeout + 40)
                finally:
                    PROCS.stop(probe)
                    sampler.stop()
                machine1, elapsed = _cpu_totals(), time.perf_counter() - t0
                result = _probe_json(log)
                # What the rest of the machine used meanwhile: busy time minus the
                # server's and the client's (the sampler's own is counted as other).
                server_s = ((sampler.samples[-1][1] - sampler.samples[0][1]) / 1e9
                            if len(sampler.samples) > 1 else 0.0)
                result["foreign_cpu"] = max(0.0, _busy_cpus(machine0, machine1)
                                            - (server_s + result.get("client_cpu_s", 0.0)) / elapsed)
                ticks = result.get("updates", [])
                for tick in ticks:
                    start = tick["E"] / 1000.0
                    cpu = sampler.cpu_between(start - 0.001, start + tick["latency_ms"] / 1000.0 + 0.001)
                    tick["server_cpu_ms"] = None if cpu is None else cpu * 1000.0
                    tick["messages"] = n * tick["events"]
                latencies = [t["latency_ms"] for t in ticks]
                result["latency_ms"] = median(latencies) if ticks else None
                result["latency_max_ms"] = max(latencies) if ticks else None
                result["first_ms"] = median([t["first_ms"] for t in ticks]) if ticks else None
                result["spread_ms"] = median([t["spread_ms"] for t in ticks]) if ticks else None
                # deliveries per second while a tick goes out (a candle's close is two messages)
                result["msgs_per_s"] = median([t["messages"] / (t["latency_ms"] / 1000.0) for t in ticks
                                               if t["latency_ms"] > 0]) if ticks else None
                cpus = [t["server_cpu_ms"] for t in ticks if t.get("server_cpu_ms") is not None]
                result["server_cpu_ms"] = median(cpus) if cpus else None
                result["cpu_us_per_msg"] = median([t["server_cpu_ms"] * 1000.0 / t["messages"] for t in ticks
                                                   if t.get("server_cpu_ms") is not None]) if cpus else None
                result["read_lag_ms"] = max((t["read_lag_ms"] for t in ticks), default=None)
                result["delivered"] = len(ticks) == updates and all(t["clients"] == n for t in ticks)
                row[name] = result
            rows.append(row)
        return {"updates": updates, "rows": rows}
    finally:
        for proc, _ in servers.values():
            PROCS.stop(proc)


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def bench_wsmem(tmp: Path, clients: Sequence[int]) -> dict[str, Any]:
    """
    Memory per idle WebSocket connection: the server's RSS before and after N clients
    connected and subscribed to ``btcusdt@kline_1m`` (a kline frame every 2 s, nothing
    sent by the clients but pongs), divided by N. A fresh server for every N (freed
    memory stays in a process's heap, and would hide the next N's growth), warmed up
    with 20 connections first (imports and caches that the first connection fills).
    """
    rows = []
    for n in clients:
        row: dict[str, Any] = {"n": n}
        for name in ("mockex", "floor"):
            print(f"  {name:6} ws memory x{n} ...", file=sys.stderr, flush=True)
            hold = 20.0 + n * 0.003
            servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
            try:
                port = free_port()
                if name == "mockex":
                    server = PROCS.start(mockex_argv(port, "--speed", "1"), tmp / f"mockex-mem-{n}.log",
                                         max_seconds=hold + 120)
                    wait_ready(port, "/api/v3/time", server, 30.0)
                else:
                    server = PROCS.start(
                        [PYTHON, str(BENCH / "floor_ws.py"), "--port", str(port), "--period", "2",
                         "--max-seconds", f"{hold + 115:.0f}"],
                        tmp / f"floor-mem-{n}.log", max_seconds=hold + 120,
                    )
                    _wait_port(port, server, 30.0)
                servers[name] = (server, port)
                pid = _server_pid(server)
                url = f"ws://127.0.0.1:{port}/ws/btcusdt@kline_1m"
                warm = PROCS.start([PYTHON, str(BENCH / "ws_clients.py"), url, "-n", "20", "--hold", "2.5"],
                                   tmp / f"wsmem-warm-{name}-{n}.out", max_seconds=60)
                warm.wait(60)
                PROCS.stop(warm)
                wait_quiet()
                time.sleep(1.0)
                before = median([_rss_kb(pid) or 0 for _ in range(3) if time.sleep(0.2) is None])
                log = tmp / f"wsmem-{name}-{n}.out"
                probe = PROCS.start([PYTHON, str(BENCH / "ws_clients.py"), url, "-n", str(n),
                                     "--hold", f"{hold:.0f}", "--timeout", f"{hold:.0f}"],
                                    log, max_seconds=hold + 30)
                try:
                    ready = None
                    end = time.perf_counter() + hold
                    while time.perf_counter() < end and probe.poll() is None:
                        text = log.read_text() if log.exists() else ""
                        if '"ready"' in text:
                            ready = json.loads(text[text.index('{"ready"'):].splitlines()[0])
                            break
                        time.sleep(0.1)
                    if not ready or not ready.get("ready"):
                        raise RuntimeError(f"{name}: {n} clients did not all connect ({ready})")
                    # at least one kline frame to everyone, then RSS over the next 2 s
                    time.sleep(2.5)
                    samples = []
                    for _ in range(5):
                        samples.append(_rss_kb(pid) or 0)
                        time.sleep(0.4)
                    after = median(samples)
                finally:
                    PROCS.stop(probe)
                row[name] = {
                    "rss_before_kb": before,
                    "rss_after_kb": after,
                    "kb_per_conn": (after - before) / n,
                    "connect_s": ready.get("connect_s"),
                }
            finally:
                for proc, _ in servers.values():
                    PROCS.stop(proc)
        rows.append(row)
    return {"rows": rows}


# ---------------------------------------------------------------------------
# faults, ratelimit: a layer on with nothing triggered, against off

HUGE = str(10**12)


def _mockex_plain_argv(port: int, *options: str) -> list[str]:
    return [TWISTD, "-n", "--pidfile=", "mockex", "--exchange", "binance_spot",
            "--listen", f"tcp:{port}:interface=127.0.0.1", *options]


def _overhead_settings(kind: str) -> list[tuple[str, list[str]]]:
    """(name, twistd options) of the off and on arms of ``kind``."""
    if kind == "faults":
        # faults on, idle: the default build; off: --no-faults (MockServer(faults=False))
        return [("off", ["--rate-limits", "off", "--no-faults"]), ("on, idle", ["--rate-limits", "off"])]
    # limits so high that every request is counted and gets its headers, none refused
    return [("off", ["--rate-limits", "off"]),
            ("on, 10^12 limits", ["--rate-limits", "on", "--rest-weight-limit", HUGE,
                                  "--raw-request-limit", HUGE])]


def _twistd_help() -> str:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    try:
        return subprocess.run([TWISTD, "mockex", "--help"], capture_output=True, text=True,
                              timeout=60, env=env, cwd=str(SRC)).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def bench_overhead(kind: str, duration: float, rounds: int, tmp: Path, loadgen: LoadGenerator) -> dict[str, Any]:
    """
    REST req/s and server CPU per request with ``kind``'s layer off and on (nothing
    triggered), both servers up at once, the arms alternating (off, on, on, off, ...)
    so that drift in the machine's load hits both alike; the median of ``rounds`` runs
    per arm. For the fault layer, also its in-process costs (bench/faults_overhead.py).
    """
    settings = _overhead_settings(kind)
    help_text = _twistd_help()
    for _, options in settings:
        for option in options:
            if option.startswith("--") and option not in help_text:
                raise RuntimeError(f"this tree's twistd mockex has no {option}")
    budget = len(OVERHEAD_PATHS) * rounds * 2 * (WARMUP_S + (1 + RETRIES) * (duration + MAX_WAIT_S) + 5) + 60
    procs: list[tuple[str, subprocess.Popen[bytes], int]] = []
    log = tmp / f"{kind}.log"
    try:
        for name, options in settings:
            port = free_port()
            proc = PROCS.start(_mockex_plain_argv(port, *options), tmp / f"{kind}-{len(procs)}.log",
                               max_seconds=budget)
            procs.append((name, proc, port))
        for _, proc, port in procs:
            wait_ready(port, "/api/v3/time", proc, 30.0)
        rows = []
        for path in OVERHEAD_PATHS:
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in procs}
            for name, proc, port in procs:
                loadgen.run(f"http://127.0.0.1:{port}{path}", WARMUP_S, log)
            for r in range(rounds):
                order = procs if r % 2 == 0 else procs[::-1]
                for name, proc, port in order:
                    print(f"  {kind} {name:16} {path} ...", file=sys.stderr, flush=True)
                    # as in the rest section: a disturbed run is repeated, the least
                    # disturbed kept
                    best: dict[str, Any] | None = None
                    for _ in range(1 + RETRIES):
                        wait_quiet()
                        result = _measured_run(loadgen, f"http://127.0.0.1:{port}{path}", duration, log,
                                               _server_pid(proc))
                        if best is None or result["foreign_cpu"] < best["foreign_cpu"]:
                            best = result
                        if result["foreign_cpu"] <= FOREIGN_LIMIT:
                            break
                        print(f"    other processes used {result['foreign_cpu']:.2f} CPUs during the run; "
                              "measuring again", file=sys.stderr)
                    runs[name].append(best)
            row: dict[str, Any] = {"path": path}
            for name, _, _ in procs:
                arm = runs[name]
                row[name] = {
                    "rps": median([x["rps"] for x in arm]),
                    "rps_all": [round(x["rps"]) for x in arm],
                    "cpu_us_per_req": median([x["cpu_us_per_req"] for x in arm if x.get("cpu_us_per_req")]),
                    "foreign_cpu": max(x["foreign_cpu"] for x in arm),
                    "non2xx": sum(x.get("non2xx") or 0 for x in arm),
                }
            off, on = row[procs[0][0]], row[procs[1][0]]
            row["ratio"] = on["rps"] / off["rps"] if off["rps"] else None
            row["cpu_ratio"] = off["cpu_us_per_req"] / on["cpu_us_per_req"] if on["cpu_us_per_req"] else None
            rows.append(row)
    finally:
        for _, proc, _ in procs:
            PROCS.stop(proc)
    out: dict[str, Any] = {"arms": [name for name, _ in settings], "rounds": rounds, "duration_s": duration,
                           "rows": rows}
    if kind == "faults":
        faults_overhead = _import_bench("faults_overhead")
        print("  faults in process (REST on a StringTransport, fan-out on a memory reactor) ...",
              file=sys.stderr, flush=True)
        wait_quiet()
        try:
            out["in_process_rest_s"] = faults_overhead.rest_in_process(2000, 3)
            out["in_process_fanout_s"] = faults_overhead.fanout(FANOUT_SUBSCRIBERS, 100)
        except Exception as e:  # noqa: BLE001 - the REST figures stand without it
            out["in_process_error"] = f"{type(e).__name__}: {e}"
            print(f"  in-process part failed: {out['in_process_error']}", file=sys.stderr)
    return out


def _import_bench(name: str) -> Any:
    """A bench/ module, run in this process against the tree under test (SRC)."""
    for path in (str(BENCH), str(SRC)):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    import mockex  # noqa: PLC0415 - in-process by design

    if not Path(mockex.__file__).resolve().is_relative_to(SRC.resolve()):
        raise RuntimeError(f"mockex imported from {mockex.__file__}, not from {SRC}")
    return __import__(name)


def _wait_port(port: int, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
    end = time.perf_counter() + deadline_s
    while time.perf_counter() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


# ---------------------------------------------------------------------------
# candles


def bench_candles(runs: int) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    sys.path.insert(0, str(SRC))
    import candles  # noqa: PLC0415 - in-process by design

    return candles.measure(runs=runs, warm_runs=runs, before_round=lambda: wait_quiet(min(MAX_WAIT_S, 10.0)))


# ---------------------------------------------------------------------------
# report


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    rest = results.get("rest")
    if rest:
        add(f"REST throughput: {rest['loadgen']}, {rest['duration_s']:g} s per run after {WARMUP_S:g} s warm-up")
        add("")
        add("| endpoint | body B | mockex req/s | floor req/s | mockex/floor | server CPU µs/req mockex / floor "
            "| mockex/floor by CPU | mockex p50 / p99 ms | other CPUs (mockex / floor run) | target | |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
        notes: list[str] = []
        for row in rest["rows"]:
            m, f = row["mockex"], row["floor"]
            disturbed = max(m["foreign_cpu"], f["foreign_cpu"]) > FOREIGN_LIMIT
            cpu_ratio = (f["cpu_us_per_req"] / m["cpu_us_per_req"]
                         if m.get("cpu_us_per_req") and f.get("cpu_us_per_req") else None)
            row["cpu_ratio"] = cpu_ratio
            # Judged on the measured req/s; a disturbed run's verdict is flagged (the CPU
            # columns help to read it, but a busy SMT sibling inflates CPU time too).
            rps, ratio = m["rps"], row["ratio"]
            how = " (disturbed run)" if disturbed else ""
            if row["key"] == "time":
                name, target, ok = "/api/v3/time", ">= 6,000 req/s", rps >= TARGET_TIME_RPS
            else:
                n = row["key"].split(":")[1]
                name = f"klines 1m limit={n}"
                if n == "1000":
                    target = ">= 2,000 req/s and >= 0.7 x floor"
                    ok = rps >= TARGET_KLINES_1000_RPS and (ratio or 0) >= TARGET_KLINES_1000_RATIO
                else:
                    target, ok = "", None
            lat = f"{fmt_ms(m.get('p50_ms'))} / {fmt_ms(m.get('p99_ms'))}"
            other = f"{m['foreign_cpu']:.2f} / {f['foreign_cpu']:.2f}"
            errors = ""
            for who in ("mockex", "floor"):
                r = row[who]
                if r["foreign_cpu"] > FOREIGN_LIMIT:
                    notes.append(f"{name}, {who}: other processes used {r['foreign_cpu']:.2f} CPUs during "
                                 f"the least disturbed of {r['attempts']} runs")
                    errors = errors or " †"
                if r.get("non2xx") or r.get("socket_errors"):
                    notes.append(f"{name}, {who}: non-2xx {r.get('non2xx')}, socket errors "
                                 f"{r.get('socket_errors') or 0}")
                    errors += " ‡"
            add(f"| {name}{errors} | {row['bytes']:,} | {fmt_int(m['rps'])} | {fmt_int(f['rps'])} | "
                f"{row['ratio']:.2f} | {fmt_int(m.get('cpu_us_per_req'))} / {fmt_int(f.get('cpu_us_per_req'))} | "
                f"{fmt_ms(cpu_ratio, 2)} | {lat} | {other} | {target} | {verdict(ok)}{how if ok is not None else ''} |")
        if notes:
            add("")
            for note in notes:
                add(f"- {note}")
        add("")
    cand = results.get("candles")
    if cand:
        add(f"1000 candles in process (MemoryServer), ms, median; floor = /api/v3/time on the same path: "
            f"{cand['floor_ms']:.2f} ms")
        add("")
        add("| interval | ending | candles | cold ms | cold CPU ms | warm ms | cold CPU / fastest | target | |")
        add("|---|---|---:|---:|---:|---:|---:|---|---|")
        by_interval: dict[str, list[dict[str, Any]]] = {}
        for row in cand["rows"]:
            by_interval.setdefault(row["interval"], []).append(row)
        for interval, rows in by_interval.items():
            # Flatness over the distances that have all 1000 candles (eight years back,
            # 1d reaches past the listing: fewer candles exist, shown but not judged),
            # on CPU time (which other processes on the machine do not inflate).
            full = [r for r in rows if r["count"] >= 1000]
            fastest = min((r["cold_cpu_ms"] for r in full), default=float("nan"))
            flat = bool(full) and max(r["cold_cpu_ms"] for r in full) / fastest <= TARGET_FLAT_FACTOR
            for r in rows:
                ending = "now" if r["distance"] == "now" else f"{r['distance']} ago"
                if r["count"] >= 1000:
                    rel, judged = f"{r['cold_cpu_ms'] / fastest:.2f}", verdict(flat)
                else:
                    rel, judged = "n/a", f"n/a (listing: {r['count']} exist)"
                add(f"| {interval} | {ending} | {r['count']} | {r['cold_ms']:.1f} | {r['cold_cpu_ms']:.1f} | "
                    f"{r['warm_ms']:.2f} | {rel} | flat (<= {TARGET_FLAT_FACTOR}x) | {judged} |")
        add("")
    st = results.get("startup")
    if st:
        add(f"Start-up: launch to first 200 on /api/v3/time, polled every 10 ms, median of {st['runs']}")
        add("")
        add("| server | median s | runs s | target | |")
        add("|---|---:|---|---|---|")
        add(f"| twistd -n mockex | {st['mockex_s']:.3f} | {', '.join(f'{x:.3f}' for x in st['mockex_all_s'])} | "
            f"< {TARGET_STARTUP_S} s | {verdict(st['mockex_s'] < TARGET_STARTUP_S)} |")
        add(f"| floor (bench/floor_klein.py) | {st['floor_s']:.3f} | "
            f"{', '.join(f'{x:.3f}' for x in st['floor_all_s'])} | | |")
        add("")
    ws = results.get("ws")
    if ws:
        add(f"WebSocket fan-out: N clients on btcusdt@kline_1m of a --speed 1 server, {ws['updates']} ticks each; "
            "latency = the tick's event time to its last delivery (kernel receive time), median (worst) over "
            "the ticks; msgs/s = deliveries / latency; server CPU = the server's on-CPU time from the "
            "event to the last delivery")
        add("")
        add("| clients | server | latency ms | first delivery ms | spread ms | msgs/s | server CPU ms | "
            "CPU µs/msg | client read lag ms | all delivered | connect s | other CPUs | target | |")
        add("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
        for row in ws["rows"]:
            for name in ("mockex", "floor"):
                r = row[name]
                worst = f" ({fmt_ms(r.get('latency_max_ms'))})" if r.get("latency_max_ms") is not None else ""
                target, ok = "", None
                if name == "mockex" and row["n"] == 10000:
                    target = f"<= {TARGET_WS_10K_MS:.0f} ms"
                    ok = r.get("latency_ms") is not None and r["delivered"] and r["latency_ms"] <= TARGET_WS_10K_MS
                label = "mockex" if name == "mockex" else "floor (bench/floor_ws.py)"
                add(f"| {row['n']:,} | {label} | {fmt_ms(r.get('latency_ms'))}{worst} | {fmt_ms(r.get('first_ms'))} | "
                    f"{fmt_ms(r.get('spread_ms'))} | {fmt_int(r.get('msgs_per_s'))} | {fmt_ms(r.get('server_cpu_ms'))} | "
                    f"{fmt_ms(r.get('cpu_us_per_msg'))} | {fmt_ms(r.get('read_lag_ms'))} | "
                    f"{'yes' if r.get('delivered') else 'NO'} | {fmt_ms(r.get('connect_s'), 2)} | "
                    f"{fmt_ms(r.get('foreign_cpu'), 2)} | {target} | "
                    f"{verdict(ok) if target else ''} |")
        add("")
    mem = results.get("wsmem")
    if mem:
        add("Memory per idle WebSocket connection: server RSS before and after N clients connected and "
            "subscribed to btcusdt@kline_1m (one frame every 2 s, nothing sent but pongs), / N; "
            "KiB = 1024 bytes")
        add("")
        add("| clients | server | RSS before MiB | RSS after MiB | KiB per connection | target | |")
        add("|---:|---|---:|---:|---:|---|---|")
        for row in mem["rows"]:
            for name in ("mockex", "floor"):
                r = row.get(name)
                if not r:
                    continue
                target = f"<= {TARGET_WS_KB:.0f} KiB" if name == "mockex" else ""
                ok = r["kb_per_conn"] <= TARGET_WS_KB
                label = "mockex" if name == "mockex" else "floor (bench/floor_ws.py)"
                add(f"| {row['n']:,} | {label} | {r['rss_before_kb'] / 1024:.1f} | {r['rss_after_kb'] / 1024:.1f} | "
                    f"{r['kb_per_conn']:.1f} | {target} | {verdict(ok) if target else ''} |")
        add("")
    for kind, title in (("faults", "Fault layer, on with nothing triggered, against off (--no-faults)"),
                        ("ratelimit", "Rate limiter, on with limits of 10^12 (every request counted, "
                                      "headers written, none refused), against --rate-limits off")):
        over = results.get(kind)
        if not over:
            continue
        off, on = over["arms"]
        add(f"{title}: REST, {over['rounds']} alternating run(s) per arm of {over['duration_s']:g} s, median")
        add("")
        add(f"| endpoint | {off} req/s | {on} req/s | on/off | server CPU µs/req {off} / {on} | "
            "on/off by CPU | other CPUs (max) |")
        add("|---|---:|---:|---:|---:|---:|---:|")
        for row in over["rows"]:
            a, b = row[off], row[on]
            bad = " ‡" if a["non2xx"] or b["non2xx"] else ""
            add(f"| {row['path']}{bad} | {fmt_int(a['rps'])} | {fmt_int(b['rps'])} | {fmt_ms(row['ratio'], 3)} | "
                f"{fmt_ms(a['cpu_us_per_req'])} / {fmt_ms(b['cpu_us_per_req'])} | {fmt_ms(row['cpu_ratio'], 3)} | "
                f"{max(a['foreign_cpu'], b['foreign_cpu']):.2f} |")
        if any(row[off]["non2xx"] or row[on]["non2xx"] for row in over["rows"]):
            add("")
            add("- ‡ some answers were not 2xx")
        if "in_process_error" in over:
            add("")
            add(f"In process (bench/faults_overhead.py): failed, {over['in_process_error']}")
        if "in_process_rest_s" in over:
            rest_ip, fan = over["in_process_rest_s"], over["in_process_fanout_s"]
            add("")
            add(f"In process (bench/faults_overhead.py; server CPU only, best of rounds): a klines limit=100 "
                f"request {rest_ip['plain'] * 1e6:.1f} µs without the layer, {rest_ip['faults'] * 1e6:.1f} µs "
                f"with it idle ({rest_ip['plain'] / rest_ip['faults']:.3f} of the throughput); one frame to "
                f"{FANOUT_SUBSCRIBERS:,} subscribers {fan['plain'] * 1e3:.2f} ms without, {fan['faults'] * 1e3:.2f} ms "
                f"with ({fan['plain'] / fan['faults']:.3f}).")
        add("")
    return "\n".join(lines)


def render_targets(results: dict[str, Any]) -> str:
    """The issue's targets, each with its figure from this run."""
    lines = ["Against the targets", "", "| target | this run | |", "|---|---|---|"]
    add = lines.append
    rest = results.get("rest")
    if rest:
        for row in rest["rows"]:
            if row["key"] == "klines:1000":
                add(f"| klines limit=1000 >= {TARGET_KLINES_1000_RATIO} of the bare-Klein floor | "
                    f"{row['ratio']:.2f} ({fmt_int(row['mockex']['rps'])} / {fmt_int(row['floor']['rps'])} req/s) | "
                    f"{verdict((row['ratio'] or 0) >= TARGET_KLINES_1000_RATIO)} |")
    ws = results.get("ws")
    if ws:
        for row in ws["rows"]:
            if row["n"] == 10000:
                r = row["mockex"]
                ok = r.get("latency_ms") is not None and r["delivered"] and r["latency_ms"] <= TARGET_WS_10K_MS
                add(f"| an update delivered to all 10,000 subscribers within {TARGET_WS_10K_MS:.0f} ms | "
                    f"{fmt_ms(r.get('latency_ms'))} ms median, {fmt_ms(r.get('latency_max_ms'))} ms worst of "
                    f"{ws['updates']} ticks (floor {fmt_ms(row['floor'].get('latency_ms'))} ms) | {verdict(ok)} |")
    mem = results.get("wsmem")
    if mem:
        worst = max((row["mockex"]["kb_per_conn"] for row in mem["rows"] if row.get("mockex")), default=None)
        if worst is not None:
            shown = ", ".join(f"{row['mockex']['kb_per_conn']:.1f} at {row['n']:,}" for row in mem["rows"])
            add(f"| <= {TARGET_WS_KB:.0f} KiB per idle WebSocket connection | {shown} KiB | "
                f"{verdict(worst <= TARGET_WS_KB)} |")
    cand = results.get("candles")
    if cand:
        flat = True
        spans = []
        by_interval: dict[str, list[dict[str, Any]]] = {}
        for row in cand["rows"]:
            if row["count"] >= 1000:
                by_interval.setdefault(row["interval"], []).append(row)
        for interval, rows in by_interval.items():
            lo, hi = min(r["cold_cpu_ms"] for r in rows), max(r["cold_cpu_ms"] for r in rows)
            flat = flat and hi / lo <= TARGET_FLAT_FACTOR
            spans.append(f"{interval} {lo:.1f} to {hi:.1f} ms")
        add(f"| 1000 candles flat in the distance (<= {TARGET_FLAT_FACTOR}x) | {'; '.join(spans)} (cold CPU) | "
            f"{verdict(flat)} |")
    st = results.get("startup")
    if st:
        add(f"| start-up < {TARGET_STARTUP_S} s | {st['mockex_s']:.2f} s (floor {st['floor_s']:.2f} s) | "
            f"{verdict(st['mockex_s'] < TARGET_STARTUP_S)} |")
    return "\n".join(lines) + "\n" if len(lines) > 4 else ""


def make_snapshot() -> tuple[Path, str]:
    """The committed HEAD of this checkout in a temporary directory (removed at exit)."""
    snapshot_dir = Path(tempfile.mkdtemp(prefix="mockex-head-"))
    atexit.register(shutil.rmtree, snapshot_dir, True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(snapshot_dir)], input=archive.stdout, check=True)
    return snapshot_dir, commit


def describe_tree(src: Path) -> str:
    """``<commit> (clean)`` or ``<commit> + changes to a, b`` of the tree measured."""
    try:
        commit = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "mockex", "twisted"],
                                capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return f"{src} (not a git checkout)"
    if not commit:
        return f"{src} (not a git checkout)"
    changed = [line[3:] for line in status if line[:2].strip() and not line.startswith("??")]
    return f"{src} @ {commit}" + (f" + uncommitted changes to {', '.join(changed)}" if changed else " (clean)")


def _cpu_totals() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _busy_cpus(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total * (os.cpu_count() or 1) if total > 0 else 0.0


#: How long to wait for other processes to quiet down before each measurement
#: (``--max-wait``); 0 disables waiting.
MAX_WAIT_S = 30.0


def wait_quiet(max_s: float | None = None, limit: float = 0.15, window_s: float = 0.5, needed: int = 2) -> float:
    """
    Wait (at most ``max_s``) until the machine has been idle (below ``limit`` CPUs busy)
    for ``needed`` consecutive windows: the servers this suite keeps open idle at
    nothing, so what is busy is someone else. Returns the load of the last window.
    """
    max_s = MAX_WAIT_S if max_s is None else max_s
    end = time.perf_counter() + max_s
    quiet = 0
    load = 0.0
    announced = False
    while True:
        load = background_load(window_s)
        quiet = quiet + 1 if load < limit else 0
        if quiet >= needed or time.perf_counter() >= end:
            return load
        if not announced and quiet == 0:
            print(f"    waiting (up to {max_s:.0f} s) for other processes to quiet down "
                  f"({load:.2f} CPUs busy)", file=sys.stderr)
            announced = True


def background_load(seconds: float = 1.0) -> float:
    """CPUs' worth of busy time on the machine over ``seconds`` (0.0 to nproc)."""
    try:
        before = _cpu_totals()
        time.sleep(seconds)
        return _busy_cpus(before, _cpu_totals())
    except (OSError, ValueError, IndexError):
        return 0.0


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "tree": describe_tree(SRC),
        "nproc": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    global SRC, MAX_WAIT_S
    parser = argparse.ArgumentParser(description="mockex performance suite")
    parser.add_argument("--quick", action="store_true",
                        help="5 s REST runs, 3 repeats, 3 fan-out ticks, 1 overhead round (default 10 s, 5, 5, 2)")
    parser.add_argument("--duration", type=float, help="seconds per measured REST run")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections: {','.join(SECTIONS)}")
    parser.add_argument("--loadgen", choices=("auto", "python"), default="auto",
                        help="auto: wrk if installed, else bench/loadgen.py")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--max-wait", type=float, default=MAX_WAIT_S,
                        help="seconds to wait for other processes to go idle before each "
                             "measurement (0: do not wait)")
    parser.add_argument("--src", help="mockex source tree to measure (default: this checkout)")
    parser.add_argument("--snapshot", action="store_true",
                        help="measure the committed HEAD of this checkout (git archive into a "
                             "temporary directory), not the working tree")
    args = parser.parse_args(argv)
    duration = args.duration or (5.0 if args.quick else 10.0)
    repeats = 3 if args.quick else 5
    ws_updates = 3 if args.quick else WS_UPDATES
    overhead_rounds = 1 if args.quick else OVERHEAD_ROUNDS
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    MAX_WAIT_S = max(0.0, args.max_wait)
    snapshot_dir = None
    if args.snapshot:
        snapshot_dir, commit = make_snapshot()
        SRC = snapshot_dir
    elif args.src:
        SRC = Path(args.src).resolve()
        if not (SRC / "mockex" / "server.py").exists():
            parser.error(f"--src {SRC}: no mockex/server.py there")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    loadgen = LoadGenerator(force_python=args.loadgen == "python")
    if {"rest", "faults", "ratelimit"} & set(sections) and loadgen.missing:
        print("wrk not found: install it with `apt-get update && apt-get install -y wrk` "
              "(Debian/Ubuntu); using bench/loadgen.py, a pure-Python stand-in whose own "
              "cost shows in the figures.", file=sys.stderr)

    info = machine()
    if snapshot_dir is not None:
        info["tree"] = f"{ROOT} @ {commit} (committed HEAD, measured from a git archive snapshot)"
    results: dict[str, Any] = {"machine": info, "command": " ".join([Path(PYTHON).name, *sys.argv])}
    info["server"] = " ".join(["twistd -n mockex --exchange binance_spot", *server_options()])
    print(f"# {info['nproc']} x {info['cpu']}, Python {info['python']}", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="mockex-bench-"))
    started = time.perf_counter()
    failures: list[str] = []
    try:
        for section in sections:
            print(f"[{section}]", file=sys.stderr, flush=True)
            load = wait_quiet()
            results.setdefault("background_load", {})[section] = round(load, 2)
            if load > 0.15:
                print(f"  warning: the machine is busy before this section ({load:.2f} CPUs in use "
                      "by other processes); figures may be low", file=sys.stderr)
            try:
                if section == "rest":
                    results["rest"] = bench_rest(duration, tmp, loadgen)
                elif section == "candles":
                    results["candles"] = bench_candles(repeats)
                elif section == "startup":
                    results["startup"] = bench_startup(tmp, runs=5)
                elif section == "ws":
                    results["ws"] = bench_ws(tmp, WS_CLIENTS, ws_updates)
                elif section == "wsmem":
                    results["wsmem"] = bench_wsmem(tmp, WSMEM_CLIENTS)
                elif section in ("faults", "ratelimit"):
                    results[section] = bench_overhead(section, duration, overhead_rounds, tmp, loadgen)
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                failures.append(f"{section}: {type(e).__name__}: {e}")
                print(f"  {section} failed: {e} (logs in {tmp})", file=sys.stderr)
    finally:
        PROCS.stop_all()
    results["elapsed_s"] = time.perf_counter() - started
    print()
    print(f"mockex bench: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, "
          f"{results['elapsed_s']:.0f} s")
    print(f"tree: {info['tree']}")
    print(f"server: {info['server']}")
    busy = {k: v for k, v in results.get("background_load", {}).items() if v > 0.15}
    if busy:
        print("WARNING: other processes were using CPU at the start of: "
              + ", ".join(f"{k} {v:.2f} CPUs" for k, v in busy.items()) + " (figures may be low)")
    print()
    print(render(results))
    print(render_targets(results))
    for failure in failures:
        print(f"FAILED {failure}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True) if not failures else None
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        PROCS.stop_all()
        print("interrupted; every server this run started has been stopped", file=sys.stderr)
        sys.exit(130)

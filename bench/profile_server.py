"""
Where a mockex server spends its time under load.

    python bench/profile_server.py [--path URL_PATH] [--duration S] [--tool py-spy|cprofile] [--top N]

Starts ``twistd -n mockex`` (py-spy) or an in-process MockServer on the epoll reactor
under cProfile (cprofile) on a free 127.0.0.1 port, warms it up for 2 s with
``wrk -t1 -c32`` (or bench/loadgen.py), then loads it for ``--duration`` seconds while
profiling, and prints the top functions by self time and by inclusive time, plus the
share of each package (twisted, klein, werkzeug, mockex, ...).

py-spy samples the running server from outside (``pip install py-spy``); its figures
are shares of on-CPU samples (idle samples are dropped). cProfile adds call counts at
the cost of slowing the server (about a quarter of its throughput at limit=1000). Every process started here stops by
itself and is killed at the end.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (bench/run.py: process management, helpers)

DEFAULT_PATH = "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000"

#: The child of ``--tool cprofile``: a MockServer on epoll, profiled, for S seconds.
CPROFILE_CHILD = r"""
import cProfile, sys
from twisted.internet import epollreactor
epollreactor.install()
from twisted.internet import reactor
from mockex.server import MockServer
port, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
server = MockServer("binance_spot", "127.0.0.1", port, reactor=reactor)
if hasattr(server, "set_rate_limits"):
    server.set_rate_limits(enabled=False)  # as the suite runs twistd: --rate-limits off
server.start()
profiler = cProfile.Profile()
def begin():
    profiler.enable()
def end():
    profiler.disable()
    profiler.dump_stats(out)
    reactor.stop()
reactor.callLater(float(sys.argv[4]), begin)
reactor.callLater(float(sys.argv[4]) + seconds, end)
reactor.run()
"""


def _package(frame_file: str) -> str:
    f = frame_file
    for name in ("mockex", "klein", "werkzeug", "autobahn", "zope", "attr", "treq", "txaio"):
        if f.startswith(name + "/") or f"/{name}/" in f:
            return name
    if f.startswith("twisted/") or "/twisted/" in f:
        part = f.split("twisted/", 1)[1].split("/")
        return "twisted." + part[0] if len(part) > 1 else "twisted"
    return "python (stdlib)"


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


def summarize_pyspy(raw: Path, top: int) -> str:
    self_counts: collections.Counter[str] = collections.Counter()
    line_counts: collections.Counter[str] = collections.Counter()
    incl_counts: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        names = []
        for frame in stack.split(";"):
            m = _FRAME.match(frame)
            names.append((m.group("func"), m.group("file")) if m else (frame, ""))
        leaf_func, leaf_file = names[-1]
        self_counts[f"{leaf_func} ({leaf_file})"] += count
        line_counts[stack.split(";")[-1]] += count
        packages[_package(leaf_file)] += count
        for key in {f"{f} ({p})" for f, p in names}:
            incl_counts[key] += count
    if not total:
        return "no samples"
    out = [f"{total} on-CPU samples", "", "self time by package:"]
    for name, count in packages.most_common():
        out.append(f"  {count / total * 100:5.1f}%  {name}")
    out += ["", f"top {top} functions by self time:"]
    for name, count in self_counts.most_common(top):
        out.append(f"  {count / total * 100:5.1f}%  {name}")
    out += ["", f"top {min(top, 15)} lines by self time:"]
    for name, count in line_counts.most_common(min(top, 15)):
        out.append(f"  {count / total * 100:5.1f}%  {name}")
    out += ["", f"top {top} functions by inclusive time (below the reactor loop):"]
    shown = 0
    for name, count in incl_counts.most_common():
        if count / total > 0.985:  # the reactor loop and its callers: everything
            continue
        out.append(f"  {count / total * 100:5.1f}%  {name}")
        shown += 1
        if shown >= top:
            break
    return "\n".join(out)


def summarize_cprofile(stats_file: Path, top: int) -> str:
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(str(stats_file), stream=buf)
    stats.strip_dirs()
    buf.write("by self time (tottime):\n")
    stats.sort_stats("tottime").print_stats(top)
    buf.write("by inclusive time (cumtime):\n")
    stats.sort_stats("cumulative").print_stats(top + 15)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="profile a mockex server under load")
    parser.add_argument("--path", default=DEFAULT_PATH, help="URL path to load (default: klines limit=1000)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--tool", choices=("py-spy", "cprofile"), default="py-spy")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep", help="directory to keep the raw profile in")
    parser.add_argument("--snapshot", action="store_true",
                        help="profile the committed HEAD (git archive), not the working tree")
    parser.add_argument("--src", help="mockex source tree to profile (default: this checkout)")
    args = parser.parse_args(argv)
    if args.snapshot:
        run.SRC, commit = run.make_snapshot()
        print(f"profiling committed HEAD {commit}")
    elif args.src:
        run.SRC = Path(args.src).resolve()

    loadgen = run.LoadGenerator()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="mockex-profile-"))
    tmp.mkdir(parents=True, exist_ok=True)
    port = run.free_port()
    url = f"http://127.0.0.1:{port}{args.path}"
    budget = args.duration + 40
    try:
        if args.tool == "py-spy":
            pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            if not Path(pyspy).exists() and not shutil.which("py-spy"):
                print("py-spy not found: pip install py-spy (or use --tool cprofile)", file=sys.stderr)
                return 2
            server = run.PROCS.start(run.mockex_argv(port), tmp / "server.log", max_seconds=budget)
            run.wait_ready(port, "/api/v3/time", server, 30.0)
            pid = run._server_pid(server)
            loadgen.run(url, run.WARMUP_S, tmp / "load.log")
            raw = tmp / "pyspy.txt"
            load = subprocess.Popen(
                [sys.executable, "-c",
                 "import sys, run; g = run.LoadGenerator(); "
                 "r = g.run(sys.argv[1], float(sys.argv[2]), run.Path(sys.argv[3])); print(r['rps'])",
                 url, str(args.duration + 2), str(tmp / "load.log")],
                cwd=str(Path(__file__).resolve().parent), stdout=subprocess.PIPE, text=True,
                start_new_session=True,
            )
            run.PROCS.procs.append(load)  # type: ignore[arg-type]
            time.sleep(1.0)
            subprocess.run(
                [pyspy, "record", "-p", str(pid), "-d", f"{args.duration:g}", "-r", str(args.rate),
                 "-f", "raw", "-o", str(raw)],
                check=True, timeout=args.duration + 30, capture_output=True,
            )
            rps = load.communicate(timeout=args.duration + 30)[0].strip()
            print(f"{args.path}: {rps} req/s while sampled at {args.rate} Hz (py-spy pauses the server)")
            print(summarize_pyspy(raw, args.top))
        else:
            stats = tmp / "server.prof"
            warm = run.WARMUP_S + 1.0
            server = run.PROCS.start(
                [sys.executable, "-c", CPROFILE_CHILD, str(port), f"{args.duration:g}", str(stats), f"{warm:g}"],
                tmp / "server.log", max_seconds=budget,
            )
            run.wait_ready(port, "/api/v3/time", server, 30.0)
            result = loadgen.run(url, warm + args.duration + 0.5, tmp / "load.log")
            server.wait(30)
            print(f"{args.path}: {result['rps']:.0f} req/s under cProfile")
            print(summarize_cprofile(stats, args.top))
    finally:
        run.PROCS.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

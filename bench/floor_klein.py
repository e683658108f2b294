"""
The REST floor: a bare Klein app on the same reactor as ``twistd mockex`` (epoll),
answering the benchmark's URLs with fixed bodies.

It does what any Klein app must do for a request (Twisted's HTTP parsing, Site,
Klein/werkzeug routing, two headers, writing the body) and nothing mockex does
(no parameter checks, no candle lookup, no formatting, no ConnectionLayer wrapper).
Access logging is off, as in mockex's ``_QuietSite``.

    python bench/floor_klein.py --port 8081 --bodies bodies.json --max-seconds 60

``bodies.json`` maps ``"time"`` and ``"klines:<limit>"`` to the body to serve
(latin-1 text); the suite fills it with the bytes mockex answered, so both servers
write the same number of bytes. The process stops by itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import json
import sys

from twisted.internet import epollreactor

epollreactor.install()

from klein import Klein  # noqa: E402
from twisted.internet import reactor  # noqa: E402
from twisted.web.server import Site  # noqa: E402

JSON = b"application/json;charset=UTF-8"


class QuietSite(Site):
    """No access-log line per request (as mockex.server._QuietSite)."""

    def log(self, request: object) -> None:
        pass


def make_app(bodies: dict[str, bytes]) -> Klein:
    app = Klein()
    klines = {
        key.split(":", 1)[1].encode(): body for key, body in bodies.items() if key.startswith("klines:")
    }
    default = klines.get(b"500", next(iter(klines.values()), b"[]"))
    time_body = bodies.get("time", b'{"serverTime":1795609992394}')
    empty = {}

    @app.route("/api/v3/klines", methods=["GET"])
    def get_klines(request):  # type: ignore[no-untyped-def]
        limit = (request.args or empty).get(b"limit")
        body = klines.get(limit[0], default) if limit else default
        request.setHeader(b"content-type", JSON)
        request.setHeader(b"content-length", b"%d" % len(body))
        return body

    @app.route("/api/v3/time", methods=["GET"])
    def get_time(request):  # type: ignore[no-untyped-def]
        request.setHeader(b"content-type", JSON)
        request.setHeader(b"content-length", b"%d" % len(time_body))
        return time_body

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--bodies", help="JSON file: {'time': ..., 'klines:<limit>': ...}")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop by itself after this")
    args = parser.parse_args(argv)
    bodies: dict[str, bytes] = {}
    if args.bodies:
        with open(args.bodies, encoding="latin-1") as f:
            bodies = {k: v.encode("latin-1") for k, v in json.load(f).items()}
    site = QuietSite(make_app(bodies).resource())
    reactor.listenTCP(args.port, site, interface=args.host)
    reactor.callLater(args.max_seconds, reactor.stop)
    print(f"floor_klein listening on {args.host}:{args.port} ({type(reactor).__name__})", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

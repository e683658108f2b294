"""
HTTP control of the rate limiter, under ``/__mockex__/`` (next to the fault controls).

    GET  /__mockex__/rate-limits          the limits enforced now (JSON)
    POST /__mockex__/rate-limits          {"rest_limit": 120, "ws_limit": 5, ...}: change
                                          them (knobs of mockex.ratelimit.adjust; null
                                          lifts a limit); answers the new limits
    POST /__mockex__/rate-limits/reset    forget every client's counters and bans

The whole module is one hook, :func:`install`, called once by ``MockServer``; it
touches nothing else, so it merges with any other control module as one more call.
Requests here are not rate limited and carry no limit headers.
"""

from __future__ import annotations

import json
from typing import Any

from klein import Klein

from mockex.ratelimit import KNOBS, describe

PATH = "/__mockex__/rate-limits"


def _answer(request: Any, status: int, value: Any) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(value, separators=(",", ":")).encode()


def install(app: Klein, server: Any) -> None:
    """Add the rate-limit control routes for ``server`` (a MockServer) to ``app``."""

    @app.route(PATH, methods=["GET"], endpoint="mockex.rate-limits.get")
    def show(request: Any) -> bytes:
        return _answer(request, 200, describe(server.limits))

    @app.route(PATH, methods=["POST", "PUT"], endpoint="mockex.rate-limits.set")
    def change(request: Any) -> bytes:
        try:
            knobs = json.loads(request.content.read() or b"{}")
        except ValueError:
            return _answer(request, 400, {"error": "the body is not JSON"})
        if not isinstance(knobs, dict):
            return _answer(request, 400, {"error": "the body is a JSON object of knobs"})
        unknown = sorted(set(knobs) - set(KNOBS))
        if unknown:
            return _answer(request, 400, {"error": f"unknown knobs {unknown}; known: {list(KNOBS)}"})
        try:
            limits = server.set_rate_limits(**knobs)
        except (TypeError, ValueError) as e:
            return _answer(request, 400, {"error": str(e)})
        return _answer(request, 200, describe(limits))

    @app.route(PATH + "/reset", methods=["POST"], endpoint="mockex.rate-limits.reset")
    def reset(request: Any) -> bytes:
        server.reset_rate_limits()
        return _answer(request, 200, describe(server.limits))

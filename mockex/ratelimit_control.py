"""
HTTP control of the rate limiter: an extension of the control API (``/__mockex__/``,
loopback callers only unless a token is configured; see mockex.control).

    GET  /__mockex__/rate-limits          the limits enforced now (JSON)
    POST /__mockex__/rate-limits          {"rest_limit": 120, "ws_limit": 5, ...}: change
                                          them (knobs of mockex.ratelimit.adjust; null
                                          lifts a limit); answers the new limits
    POST /__mockex__/rate-limits/reset    forget every client's counters and bans

Requests here are not rate limited and carry no limit headers.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from mockex.interfaces import RestResponse
from mockex.ratelimit import KNOBS, describe

NAME = "rate-limits"


def _answer(status: int, value: Any) -> RestResponse:
    return RestResponse(status, json.dumps(value, separators=(",", ":")).encode(), content_type="application/json")


def extension(server: Any) -> Callable[[str, Sequence[str], Any], RestResponse]:
    """The ``rate-limits`` handler of the control API for ``server`` (a MockServer)."""

    def handle(method: str, rest: Sequence[str], body: Any) -> RestResponse:
        if list(rest) == ["reset"]:
            if method != "POST":
                return _answer(405, {"error": "POST to reset"})
            server.reset_rate_limits()
            return _answer(200, describe(server.limits))
        if rest:
            return _answer(404, {"error": "unknown control path"})
        if method == "GET":
            return _answer(200, describe(server.limits))
        if method not in ("POST", "PUT"):
            return _answer(405, {"error": "GET, or POST the knobs"})
        knobs = body if body is not None else {}
        if not isinstance(knobs, dict):
            return _answer(400, {"error": "the body is a JSON object of knobs"})
        unknown = sorted(set(knobs) - set(KNOBS))
        if unknown:
            return _answer(400, {"error": f"unknown knobs {unknown}; known: {list(KNOBS)}"})
        try:
            limits = server.set_rate_limits(**knobs)
        except (TypeError, ValueError) as e:
            return _answer(400, {"error": str(e)})
        return _answer(200, describe(limits))

    return handle

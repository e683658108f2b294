"""
Rate limits and WebSocket limits: shared machinery; each venue declares its rules.

A venue declares a :class:`Limits` value as ``IExchange.limits`` (data only: windows,
per-route weights, header names, ban policy, WebSocket limits). One
:class:`RateLimiter` per server enforces it:

* REST, as an :class:`~mockex.interfaces.IRestMiddleware`: per client (IP, optionally
  a request header) it keeps one counter per window (per window and route for windows
  "per endpoint"). Windows are fixed, aligned on multiples of their length since the
  epoch as Binance's are (``the current minute``) or started by the client's first
  request (KuCoin), and may count only some routes; a request costs O(windows of its
  route) integer operations and nothing is ever re-summed. A
  request whose cost would take a window over its limit is counted and answered with
  the venue's ``RATE_LIMITED`` error and ``Retry-After``; a client that keeps sending
  after ``BanPolicy.after_rejections`` consecutive rejections is banned (the venue's
  ``BANNED`` error, ``Retry-After``), for a time that grows with every ban. Requests
  answered while banned are not counted. Every answer carries the declared
  used-weight headers.
* WebSocket, called by :mod:`mockex.ws`: connection attempts per client in fixed,
  aligned windows; concurrent connections per client; incoming messages per connection
  in a sliding window (a ring of the last N arrival times: O(1), exact); streams per
  connection (the venue's session compares, since the error frame is its own).

All time is the server's market clock (``now_ms`` is injected), so limits follow
``MarketClock``: at ``speed=1`` they are real time; ``Retry-After`` and "banned until"
agree with the venue's ``serverTime``.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Callable, Mapping

from attrs import evolve, field, frozen
from zope.interface import implementer

from mockex.interfaces import BANNED, RATE_LIMITED, IRestMiddleware, RestRequest, RestResponse, RestRoute

# ---------------------------------------------------------------------------
# Declarations (venues write these)

SECOND = "SECOND"
MINUTE = "MINUTE"
HOUR = "HOUR"
DAY = "DAY"
UNIT_MS: Mapping[str, int] = {SECOND: 1_000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000}
UNIT_LETTER: Mapping[str, str] = {SECOND: "s", MINUTE: "m", HOUR: "h", DAY: "d"}

#: What a REST window counts.
WEIGHT = "weight"  # the route's weight
REQUESTS = "requests"  # 1 per request
ORDERS = "orders"  # orders placed: mockex has no order endpoints, so never anything

#: A route's weight: a number, or a function of the request (e.g. by ``limit``).
Weight = int | Callable[[RestRequest], int]


#: What a limit header carries (the value of a ``(template, value)`` entry of
#: :attr:`RestWindow.headers`; a bare template carries :data:`USED`):
USED = "used"  # what the client used of the window, this request included (Binance)
REMAINING = "remaining"  # what is left: limit - used, at least 0 (KuCoin, Gate, Bybit)
LIMIT = "limit"  # the window's limit
RESET_MS = "reset_ms"  # milliseconds until the window rolls over (KuCoin)
#: the current time, or, once the client has used the whole window, the time it rolls
#: over; epoch milliseconds (Bybit) or seconds (Gate)
NOW_OR_RESET_MS = "now_or_reset_ms"
NOW_OR_RESET_S = "now_or_reset_s"
HEADER_VALUES = (USED, REMAINING, LIMIT, RESET_MS, NOW_OR_RESET_MS, NOW_OR_RESET_S)


def _header_specs(value: Any) -> tuple[Any, ...]:
    out = []
    for entry in value:
        if isinstance(entry, str):
            out.append(entry)
        else:
            template, kind = entry
            if kind not in HEADER_VALUES:
                raise ValueError(f"a header carries one of {HEADER_VALUES}, not {kind!r}")
            out.append((str(template), kind))
    return tuple(out)


@frozen
class RestWindow:
    """
    One REST limit: at most ``limit`` per ``interval_num`` ``interval``, per client.

    By default a window counts every route, with one counter per client, and windows
    are aligned on multiples of their length since the epoch (Binance's "current
    minute"). ``routes`` restricts it to some routes; ``per_route`` gives every route
    its own counter (OKX, Gate: "per endpoint"); ``aligned=False`` starts a window with
    the client's first request after the previous one ended (KuCoin: "starting from
    the arrival time of the user's first request").
    """

    #: the venue's name for it (Binance: ``REQUEST_WEIGHT``, ``RAW_REQUESTS``, ``ORDERS``)
    type: str
    interval: str
    interval_num: int
    limit: int
    counts: str = WEIGHT
    #: response headers that carry the client's state in this window, as templates:
    #: ``{num}`` and ``{letter}`` become e.g. ``1`` and ``m``; written exactly so. A bare
    #: template carries what was used; ``(template, value)`` one of :data:`HEADER_VALUES`
    headers: tuple[Any, ...] = field(default=(), converter=_header_specs)
    #: the routes (``RestRoute.name``, or the path) this window counts; empty: every route
    routes: tuple[str, ...] = field(default=(), converter=tuple)
    #: one counter per route (a limit "per endpoint"), not one for all of them
    per_route: bool = False
    #: aligned on the epoch (True) or started by the client's first request (False)
    aligned: bool = True

    def __attrs_post_init__(self) -> None:
        if self.interval not in UNIT_MS:
            raise ValueError(f"interval must be one of {sorted(UNIT_MS)}, not {self.interval!r}")
        if self.interval_num < 1 or self.limit < 0:
            raise ValueError("interval_num must be positive and limit not negative")
        if self.counts not in (WEIGHT, REQUESTS, ORDERS):
            raise ValueError(f"counts must be weight, requests or orders, not {self.counts!r}")

    @property
    def ms(self) -> int:
        return UNIT_MS[self.interval] * self.interval_num

    def header_specs(self) -> tuple[tuple[str, str], ...]:
        """``(name, value)`` of every header, templates filled in."""
        letter = UNIT_LETTER[self.interval]
        return tuple(
            (h.format(num=self.interval_num, letter=letter), USED) if isinstance(h, str)
            else (h[0].format(num=self.interval_num, letter=letter), h[1])
            for h in self.headers
        )

    def header_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.header_specs())

    def applies_to(self, route: str) -> bool:
        return not self.routes or route in self.routes

    def with_period(self, period_ms: int) -> "RestWindow":
        """The same window over ``period_ms`` (a whole number of seconds)."""
        interval, num = period_units(period_ms)
        return evolve(self, interval=interval, interval_num=num)


def period_units(period_ms: int) -> tuple[str, int]:
    """``60000`` as ``("MINUTE", 1)``: the largest unit that divides the period."""
    if period_ms <= 0 or period_ms % 1000:
        raise ValueError(f"a window is a positive whole number of seconds, not {period_ms} ms")
    for unit in (DAY, HOUR, MINUTE, SECOND):
        if period_ms % UNIT_MS[unit] == 0:
            return unit, period_ms // UNIT_MS[unit]
    raise AssertionError("unreachable")


@frozen
class BanPolicy:
    """
    When a client that keeps sending over the limit is banned, and for how long.

    A request that would be rejected, from a client that has had ``after_rejections``
    rejections in a row (no admitted request in between), is answered with a ban
    instead. Ban number *n* (from 0) lasts ``first_ms * factor**n``, at most
    ``max_ms``; a client with no ban for ``forgive_ms`` starts again at ``first_ms``.
    """

    after_rejections: int = 10
    first_ms: int = 120_000
    factor: int = 2
    max_ms: int = 259_200_000
    forgive_ms: int = 86_400_000

    def duration_ms(self, level: int) -> int:
        # (no float, no overflow: stop multiplying once over the cap)
        duration = self.first_ms
        for _ in range(level):
            if duration >= self.max_ms:
                break
            duration *= self.factor
        return min(duration, self.max_ms)


def _frozen_mapping(value: Mapping[str, Weight]) -> Mapping[str, Weight]:
    return MappingProxyType(dict(value))


@frozen
class RestLimits:
    """A venue's REST limits."""

    windows: tuple[RestWindow, ...] = ()
    #: route name (``RestRoute.name``, or its path) -> weight; others weigh ``default_weight``
    weights: Mapping[str, Weight] = field(factory=dict, converter=_frozen_mapping, hash=False)
    default_weight: int = 1
    ban: BanPolicy | None = None
    #: the header that tells a rejected or banned client how many seconds to wait
    retry_after: str | None = "Retry-After"


@frozen
class WsLimits:
    """A venue's WebSocket limits; None: no limit."""

    #: incoming messages (text, binary, ping, pong) ...
    messages: int | None = None
    #: ... in any window of this many ms (sliding); over it, the connection is closed
    message_window_ms: int = 1_000
    #: streams one connection may listen to (the venue's session answers beyond)
    max_streams: int | None = None
    #: upgrade requests per client ...
    connection_attempts: int | None = None
    #: ... per fixed window of this many ms, aligned like REST windows
    attempts_window_ms: int = 300_000
    #: open connections per client at once
    max_connections: int | None = None
    #: how a connection over the message rate is closed
    close_code: int = 1008
    close_reason: str = "Too many requests"
    #: HTTP status refusing an upgrade over the attempt or connection limit
    refuse_status: int = 429


def _lower_or_none(value: str | None) -> str | None:
    return value.lower() if value else None


@frozen
class Limits:
    """Everything a server enforces; a venue declares its own as ``IExchange.limits``."""

    rest: RestLimits = RestLimits()
    ws: WsLimits = WsLimits()
    #: False: nothing is counted or enforced and no limit headers are written
    enabled: bool = True
    #: a request header that, with the IP, tells clients apart; e.g. ``x-mbx-apikey``
    #: to run several independent clients on one loopback address (kept lower case)
    client_header: str | None = field(default=None, converter=_lower_or_none)


#: What a venue that declares nothing gets.
NO_LIMITS = Limits()


def venue_limits(venue: Any) -> Limits:
    """A venue's declared limits (``IExchange.limits``), or none."""
    limits = getattr(venue, "limits", None)
    return limits if isinstance(limits, Limits) else NO_LIMITS


def rate_limit_detail(limits: Limits) -> str:
    """
    The ``detail`` of a ``RATE_LIMITED`` error for the first weight (else request)
    window of ``limits``: ``"<type> <limit> <num> <INTERVAL>"``. For 429s that do not
    come from the limiter (an injected fault), so they name what the venue declares.
    """
    windows = limits.rest.windows
    for counts in (WEIGHT, REQUESTS):
        for w in windows:
            if w.counts == counts:
                return f"{w.type} {w.limit} {w.interval_num} {w.interval}"
    return "REQUEST_WEIGHT 0 1 MINUTE"


def with_retry_after(response: RestResponse, seconds: int, header: str | None = "Retry-After") -> RestResponse:
    """``response`` with a ``Retry-After``-style header (whole seconds, at least 1)."""
    if not header:
        return response
    return evolve(response, headers=response.headers + ((header, str(max(1, seconds))),))


# ---------------------------------------------------------------------------
# Run-time adjustment (MockServer.set_rate_limits, twistd options, control API)

KEEP: Any = object()

#: The knobs of :func:`adjust`, in the order the docs list them.
KNOBS = (
    "enabled", "rest_limit", "rest_period_ms", "raw_limit", "raw_period_ms", "weights",
    "ban_after", "ban_first_ms", "ban_max_ms", "ws_limit", "ws_burst", "ws_max_streams",
    "ws_connection_attempts", "ws_attempts_period_ms", "ws_max_connections", "client_header",
)


def _first(windows: tuple[RestWindow, ...], counts: str) -> int | None:
    for i, w in enumerate(windows):
        if w.counts == counts:
            return i
    return None


def adjust(
    limits: Limits,
    *,
    enabled: bool = KEEP,
    rest_limit: int = KEEP,
    rest_period_ms: int = KEEP,
    raw_limit: int = KEEP,
    raw_period_ms: int = KEEP,
    weights: Mapping[str, Weight] = KEEP,
    ban_after: int | None = KEEP,
    ban_first_ms: int = KEEP,
    ban_max_ms: int = KEEP,
    ws_limit: float | None = KEEP,
    ws_burst: int | None = KEEP,
    ws_max_streams: int | None = KEEP,
    ws_connection_attempts: int | None = KEEP,
    ws_attempts_period_ms: int = KEEP,
    ws_max_connections: int | None = KEEP,
    client_header: str | None = KEEP,
) -> Limits:
    """
    ``limits`` with some knobs changed; a knob not given keeps its value, None lifts a
    limit. ``rest_limit``/``rest_period_ms`` change the first weight window (Binance:
    REQUEST_WEIGHT), ``raw_*`` the first request-count window (RAW_REQUESTS), creating
    it if the venue has none. ``ws_limit`` messages per second with bursts of
    ``ws_burst``: at most ``ws_burst`` messages in any ``ws_burst / ws_limit`` seconds
    (Binance: 5 in any second). ``ban_after=None`` never bans.
    """
    rest, ws = limits.rest, limits.ws
    windows = list(rest.windows)

    def change(counts: str, name: str, limit: int, period: int) -> None:
        index = _first(rest.windows, counts)
        if index is None:
            if limit is KEEP:
                return
            windows.append(RestWindow(name, MINUTE, 1, int(limit), counts))
            index = len(windows) - 1
        window = windows[index]
        if limit is not KEEP:
            window = evolve(window, limit=int(limit))
        if period is not KEEP:
            window = window.with_period(int(period))
        windows[index] = window

    change(WEIGHT, "REQUEST_WEIGHT", rest_limit, rest_period_ms)
    change(REQUESTS, "RAW_REQUESTS", raw_limit, raw_period_ms)
    rest = evolve(rest, windows=tuple(windows))
    if weights is not KEEP:
        rest = evolve(rest, weights={**rest.weights, **weights})
    if ban_after is not KEEP or ban_first_ms is not KEEP or ban_max_ms is not KEEP:
        if ban_after is None:
            rest = evolve(rest, ban=None)
        else:
            ban = rest.ban or BanPolicy()
            if ban_after is not KEEP:
                ban = evolve(ban, after_rejections=int(ban_after))
            if ban_first_ms is not KEEP:
                ban = evolve(ban, first_ms=int(ban_first_ms))
            if ban_max_ms is not KEEP:
                ban = evolve(ban, max_ms=int(ban_max_ms))
            rest = evolve(rest, ban=ban)
    if ws_limit is not KEEP or ws_burst is not KEEP:
        rate = ws.messages * 1000 / ws.message_window_ms if ws.messages else None
        rate = rate if ws_limit is KEEP else ws_limit
        if rate is None or rate <= 0:
            ws = evolve(ws, messages=None)
        else:
            burst = ws_burst if ws_burst not in (KEEP, None) else max(1, round(rate))
            window_ms = max(1, round(1000 * int(burst) / float(rate)))
            ws = evolve(ws, messages=int(burst), message_window_ms=window_ms)
    if ws_max_streams is not KEEP:
        ws = evolve(ws, max_streams=ws_max_streams)
    if ws_connection_attempts is not KEEP:
        ws = evolve(ws, connection_attempts=ws_connection_attempts)
    if ws_attempts_period_ms is not KEEP:
        ws = evolve(ws, attempts_window_ms=int(ws_attempts_period_ms))
    if ws_max_connections is not KEEP:
        ws = evolve(ws, max_connections=ws_max_connections)
    out = evolve(limits, rest=rest, ws=ws)
    if enabled is not KEEP:
        out = evolve(out, enabled=bool(enabled))
    if client_header is not KEEP:
        out = evolve(out, client_header=client_header)
    return out


def describe(limits: Limits) -> dict[str, Any]:
    """A JSON-able summary of ``limits`` (the control API answers with it)."""
    rest, ws, ban = limits.rest, limits.ws, limits.rest.ban
    return {
        "enabled": limits.enabled,
        "client_header": limits.client_header,
        "rest": {
            "windows": [
                {"type": w.type, "interval": w.interval, "interval_num": w.interval_num,
                 "limit": w.limit, "counts": w.counts,
                 "headers": [{"name": name, "value": kind} for name, kind in w.header_specs()],
                 "routes": list(w.routes), "per_route": w.per_route, "aligned": w.aligned}
                for w in rest.windows
            ],
            "weights": {k: v if isinstance(v, int) else "by request" for k, v in rest.weights.items()},
            "default_weight": rest.default_weight,
            "ban": None if ban is None else {
                "after_rejections": ban.after_rejections, "first_ms": ban.first_ms,
                "factor": ban.factor, "max_ms": ban.max_ms, "forgive_ms": ban.forgive_ms,
            },
            "retry_after": rest.retry_after,
        },
        "ws": {
            "messages": ws.messages, "message_window_ms": ws.message_window_ms,
            "max_streams": ws.max_streams, "connection_attempts": ws.connection_attempts,
            "attempts_window_ms": ws.attempts_window_ms, "max_connections": ws.max_connections,
            "close_code": ws.close_code, "close_reason": ws.close_reason,
            "refuse_status": ws.refuse_status,
        },
    }


# ---------------------------------------------------------------------------
# Enforcement


class _Client:
    """One client's counters: fixed-size, whatever its traffic."""

    __slots__ = ("starts", "used", "strikes", "ban_until", "ban_level",
                 "attempt_start", "attempts", "connections")

    def __init__(self) -> None:
        # per counter ("slot"): where its window started (_NEVER: never), what was used
        self.starts: list[int] = []
        self.used: list[int] = []
        self.strikes = 0
        self.ban_until = 0
        self.ban_level = 0
        self.attempt_start = -1
        self.attempts = 0
        self.connections = 0


class MessageWindow:
    """
    Admits at most ``n`` messages in any ``window_ms``: a ring of the last ``n``
    admission times; a message is admitted if the ``n``-th last was at least
    ``window_ms`` ago. O(1) per message, exact (no bucket rounding).
    """

    __slots__ = ("_times", "_next")

    def __init__(self) -> None:
        self._times: list[int] = []
        self._next = 0

    def admit(self, now_ms: int, n: int, window_ms: int) -> bool:
        times = self._times
        if len(times) != n:
            self._times = times = [-(2**62)] * n
            self._next = 0
        i = self._next
        if now_ms - times[i] < window_ms:
            return False
        times[i] = now_ms
        self._next = i + 1 if i + 1 < n else 0
        return True


#: The start of a window that never started.
_NEVER = -(2**62)

#: When the table of clients grows past this, idle clients are dropped.
_PRUNE_AT = 4096


@implementer(IRestMiddleware)
class RateLimiter:
    """The rate limiter of one server: REST middleware and WebSocket accounting."""

    def __init__(self, venue: Any, limits: Limits, now_ms: Callable[[], int]) -> None:
        self.venue = venue
        self._now = now_ms
        self._clients: dict[str, _Client] = {}
        self._prune_at = _PRUNE_AT
        self._limits = NO_LIMITS
        self._windows: tuple[RestWindow, ...] = ()
        self._layout: list[Any] = []
        self.configure(limits)

    # -- configuration ------------------------------------------------------------

    @property
    def limits(self) -> Limits:
        return self._limits

    def configure(self, limits: Limits) -> None:
        """Enforce ``limits`` from now on. Counters survive unless the windows change."""
        windows = tuple(w for w in limits.rest.windows if w.counts != ORDERS)
        layout = [(w.ms, w.counts, w.routes, w.per_route, w.aligned) for w in windows]
        if layout != self._layout:
            # counters are per window: a new or resized window starts from zero (bans
            # stay); a changed limit keeps what was used
            for client in self._clients.values():
                client.starts = []
                client.used = []
            # a counter ("slot") per window, and per route for per-route windows
            self._shared = {i: n for n, i in enumerate(i for i, w in enumerate(windows) if not w.per_route)}
            self._route_slots: dict[tuple[int, str], int] = {}
            self._slot_sizes = [windows[i].ms for i in self._shared]
            self._layout = layout
        self._limits = limits
        self._windows = windows
        #: route -> (counters it costs, headers it gets), built on first use
        self._plans: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
        self._pending: tuple[RestRequest, _Client, int, Any] | None = None
        self._rest_on = limits.enabled and bool(windows)

    def _plan(self, route: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The counters and headers of ``route``: built once per route and configuration."""
        specs = []
        headers = []
        for i, w in enumerate(self._windows):
            if not w.applies_to(route):
                continue
            if w.per_route:
                slot = self._route_slots.get((i, route))
                if slot is None:
                    slot = self._route_slots[(i, route)] = len(self._slot_sizes)
                    self._slot_sizes.append(w.ms)
            else:
                slot = self._shared[i]
            specs.append((slot, w.ms, w.limit, w.counts == WEIGHT, w.aligned, i))
            headers.extend((slot, name, kind, w.limit, w.ms, w.aligned) for name, kind in w.header_specs())
        plan = self._plans[route] = (tuple(specs), tuple(headers))
        return plan

    def reset(self) -> None:
        """Forget every counter and ban (open connections are still counted)."""
        for key, client in list(self._clients.items()):
            fresh = _Client()
            fresh.connections = client.connections
            self._clients[key] = fresh

    # -- clients ------------------------------------------------------------------

    def client_key(self, ip: str, headers: Mapping[str, str]) -> str:
        header = self._limits.client_header
        if header:
            value = headers.get(header)
            if value:
                return f"{ip}|{value}"
        return ip

    def _client(self, key: str) -> _Client:
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= self._prune_at:
                self._prune()
            client = self._clients[key] = _Client()
        return client

    def _prune(self) -> None:
        now = self._now()
        for key, c in list(self._clients.items()):
            if c.connections or c.ban_until > now or c.strikes or c.ban_level:
                continue
            if any(s <= now < s + size for s, size in zip(c.starts, self._slot_sizes)):
                continue
            del self._clients[key]
        self._prune_at = max(_PRUNE_AT, 2 * len(self._clients))

    def used(self, key: str, route: str | None = None) -> tuple[int, ...]:
        """
        What ``key`` has used of each enforced window now (0 where it rolled over); of
        a per-route window, what it used on ``route`` (0 without a route).
        """
        client = self._clients.get(key)
        now = self._now()
        out = []
        for i, w in enumerate(self._windows):
            slot = self._route_slots.get((i, route or "")) if w.per_route else self._shared[i]
            if client is None or slot is None or slot >= len(client.used):
                out.append(0)
                continue
            s = client.starts[slot]
            out.append(client.used[slot] if s <= now < s + w.ms else 0)
        return tuple(out)

    def banned_until(self, key: str) -> int:
        client = self._clients.get(key)
        return client.ban_until if client is not None and client.ban_until > self._now() else 0

    # -- REST ---------------------------------------------------------------------

    def weight(self, route: RestRoute, request: RestRequest) -> int:
        rest = self._limits.rest
        weight = rest.weights.get(route.name or route.path, rest.default_weight)
        if not isinstance(weight, int):
            try:
                weight = int(weight(request))
            except Exception:
                weight = rest.default_weight
        return max(0, weight)

    def before(self, route: RestRoute, request: RestRequest) -> RestResponse | None:
        # The hot path: O(windows of the route) integer arithmetic, no allocation when
        # admitted (after the route's first request).
        if not self._rest_on:
            return None
        now = self._now()
        header = self._limits.client_header
        key = self.client_key(request.client, request.headers) if header else request.client
        client = self._clients.get(key)
        if client is None:
            client = self._client(key)
        name = route.name or route.path
        plan = self._plans.get(name)
        if plan is None:
            plan = self._plan(name)
        # after() runs right after the handler, for this very request: it reuses these
        self._pending = (request, client, now, plan)
        if client.ban_until > now:
            return self._banned(client, now)
        specs = plan[0]
        if not specs:
            return None
        rest = self._limits.rest
        weight = rest.weights.get(name, rest.default_weight)
        if weight.__class__ is not int:
            weight = self.weight(route, request)
        starts, used = client.starts, client.used
        if len(used) < len(self._slot_sizes):
            grow = len(self._slot_sizes) - len(used)
            starts.extend([_NEVER] * grow)
            used.extend([0] * grow)
        over = -1
        wait = 0
        for slot, size, limit, by_weight, aligned, index in specs:
            s = starts[slot]
            if s <= now < s + size:
                current = used[slot]
            else:
                current = 0
                s = now - now % size if aligned else now
            if current + (weight if by_weight else 1) > limit:
                if over < 0:
                    over = index
                wait = max(wait, s + size - now)
        ban = rest.ban
        if over >= 0 and ban is not None and client.strikes >= ban.after_rejections:
            if now - client.ban_until >= ban.forgive_ms:
                client.ban_level = 0
            client.ban_until = now + ban.duration_ms(client.ban_level)
            client.ban_level += 1
            client.strikes = 0
            return self._banned(client, now)
        for slot, size, _limit, by_weight, aligned, _index in specs:
            s = starts[slot]
            if not s <= now < s + size:
                starts[slot] = now - now % size if aligned else now
                used[slot] = 0
            used[slot] += weight if by_weight else 1
        if over < 0:
            client.strikes = 0
            return None
        client.strikes += 1
        w = self._windows[over]
        detail = f"{w.type} {w.limit} {w.interval_num} {w.interval}"
        return self._with_retry_after(self.venue.error_response(RATE_LIMITED, detail), wait)

    def _banned(self, client: _Client, now: int) -> RestResponse:
        response = self.venue.error_response(BANNED, str(client.ban_until))
        return self._with_retry_after(response, client.ban_until - now)

    def _with_retry_after(self, response: RestResponse, wait_ms: int) -> RestResponse:
        return with_retry_after(response, math.ceil(wait_ms / 1000), self._limits.rest.retry_after)

    def after(self, route: RestRoute, request: RestRequest, response: RestResponse) -> RestResponse:
        if not self._rest_on:
            return response
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] is request:
            _, client, now, plan = pending
        else:
            client = self._clients.get(self.client_key(request.client, request.headers))
            now = self._now()
            name = route.name or route.path
            plan = self._plans.get(name) or self._plan(name)
        headers = plan[1]
        if not headers:
            return response
        starts = client.starts if client is not None else ()
        used = client.used if client is not None else ()
        extra = []
        for slot, name, kind, limit, size, aligned in headers:
            s = starts[slot] if slot < len(starts) else _NEVER
            if s <= now < s + size:
                u, end = used[slot], s + size
            else:
                u, end = 0, (now - now % size if aligned else now) + size
            if kind == USED:
                value = u
            elif kind == REMAINING:
                value = limit - u if u < limit else 0
            elif kind == LIMIT:
                value = limit
            elif kind == RESET_MS:
                value = end - now
            elif kind == NOW_OR_RESET_MS:
                value = end if u >= limit else now
            else:  # NOW_OR_RESET_S
                value = -(-end // 1000) if u >= limit else now // 1000
            extra.append((name, str(value)))
        # (not attrs.evolve: this runs on every response)
        return RestResponse(response.status, response.body, response.headers + tuple(extra), response.content_type)

    # -- WebSocket ------------------------------------------------------------------

    def ws_attempt(self, key: str) -> tuple[int, str] | None:
        """
        Count an upgrade request; (status, reason) to refuse it, or None. Refused
        attempts count too (they are attempts).
        """
        limits = self._limits
        if not limits.enabled:
            return None
        ws = limits.ws
        client = self._client(key)
        if ws.connection_attempts is not None:
            now = self._now()
            start = now - now % ws.attempts_window_ms
            if client.attempt_start != start:
                client.attempt_start = start
                client.attempts = 0
            client.attempts += 1
            if client.attempts > ws.connection_attempts:
                return ws.refuse_status, "Too many connection attempts"
        if ws.max_connections is not None and client.connections >= ws.max_connections:
            return ws.refuse_status, "Too many connections"
        return None

    def ws_opened(self, key: str) -> None:
        self._client(key).connections += 1

    def ws_closed(self, key: str) -> None:
        client = self._clients.get(key)
        if client is not None and client.connections > 0:
            client.connections -= 1

    def connections(self, key: str) -> int:
        client = self._clients.get(key)
        return client.connections if client is not None else 0

    def admit_message(self, window: MessageWindow) -> bool:
        """Whether a connection's next incoming message is within the message rate."""
        limits = self._limits
        n = limits.ws.messages
        if not limits.enabled or n is None:
            return True
        return window.admit(self._now(), n, limits.ws.message_window_ms)

    @property
    def max_streams(self) -> int | None:
        limits = self._limits
        return limits.ws.max_streams if limits.enabled else None

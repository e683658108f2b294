"""
Network fault injection: one mechanism, shared by every venue.

A fault is a :class:`FaultRule` (a frozen value: kind, probability, params, a
:class:`Target` and a :class:`Schedule`) installed in the server's
:class:`FaultController` (``server.faults``). Rules are applied at three places, each
exactly once per unit of traffic:

* per **request**, by :class:`FaultMiddleware` (an ``IRestMiddleware``): forced errors in
  the venue's own format, malformed bodies, and per-response plans handed to the
  request's connection (latency, dribble, stop halfway, stall, reset);
* per **frame**, by :meth:`FaultController.deliver`, called from
  ``StreamProtocol.deliver`` (drop, duplicate, delay, reorder, withhold the closing
  candle, latency), and per **WebSocket connection** (no pong, close, shutdown notice,
  lifetime cut, reset, stall);
* per **connection**, by :class:`FaultWrapper`, the ``ProtocolWrapper`` every
  connection goes through (outage refusal at accept, close after N bytes, bandwidth,
  inbound latency; and the byte queue that carries out the delays above in order).

Every random choice is drawn from its own ``random.Random`` seeded with
``stable_seed(seed, rule id, connection serial, n)`` where ``n`` counts that rule's
decisions on that connection: the same seed and the same traffic give the same
faults, whatever the interleaving of other connections. Time comes from the injected
reactor only. With no rule installed every hook is one attribute test.

Every injected fault is appended to the :attr:`FaultController.journal`.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import struct
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from attrs import field, frozen
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from zope.interface import implementer

from mockex.ratelimit import rate_limit_detail, venue_limits, with_retry_after
from mockex.interfaces import (
    BANNED,
    BUSY,
    DISCONNECTED,
    INTERNAL,
    RATE_LIMITED,
    TIMEOUT,
    IExchange,
    IRestMiddleware,
    RestRequest,
    RestResponse,
    RestRoute,
)
from mockex.market import stable_seed

if TYPE_CHECKING:
    from mockex.ws import StreamProtocol

log = Logger()

# ---------------------------------------------------------------------------
# Kinds

LATENCY = "latency"
BANDWIDTH = "bandwidth"
DRIBBLE = "dribble"
ERROR = "error"
RATE_LIMIT = "rate_limited"
BAN = "banned"
MALFORMED = "malformed"
DROP = "drop"
RESET = "reset"
STALL = "stall"
CLOSE_AFTER = "close_after"
REFUSE = "refuse"
DUPLICATE = "duplicate"
DELAY = "delay"
REORDER = "reorder"
WITHHOLD_CLOSE = "withhold_close"
NO_PONG = "no_pong"
CLOSE = "close"
SHUTDOWN = "shutdown_notice"
LIFETIME = "lifetime"

#: kind -> {param: (type, default)}; a param of type tuple is a list of str.
PARAMS: dict[str, dict[str, tuple[type, Any]]] = {
    LATENCY: {"ms": (float, 0.0), "jitter_ms": (float, 0.0), "distribution": (str, "uniform"),
              "sigma": (float, 1.0), "max_ms": (float, 60_000.0)},
    BANDWIDTH: {"bytes_per_second": (float, 10_000.0)},
    DRIBBLE: {"chunks": (int, 10), "duration_s": (float, 5.0)},
    ERROR: {"kinds": (tuple, (INTERNAL, DISCONNECTED, TIMEOUT, BUSY))},
    RATE_LIMIT: {"retry_after_s": (int, 60)},
    BAN: {"retry_after_s": (int, 120)},
    MALFORMED: {"mode": (str, "truncated")},
    DROP: {"mode": (str, "either")},
    RESET: {},
    STALL: {"at": (str, "request")},
    CLOSE_AFTER: {"bytes": (int, 1024), "abort": (bool, False)},
    REFUSE: {},
    DUPLICATE: {},
    DELAY: {"ms": (float, 1000.0)},
    REORDER: {"max_hold_ms": (float, 1000.0)},
    WITHHOLD_CLOSE: {},
    NO_PONG: {},
    CLOSE: {"code": (int, 1001), "abort": (bool, False), "reason": (str, "")},
    SHUTDOWN: {"close_after_s": (float, -1.0)},
    LIFETIME: {"seconds": (float, 86_400.0), "code": (int, 1001), "abort": (bool, False)},
}
KINDS = tuple(PARAMS)

_CHOICES = {
    ("latency", "distribution"): ("uniform", "lognormal"),
    ("malformed", "mode"): ("truncated", "empty", "garbage", "random"),
    ("drop", "mode"): ("stall", "reset", "either"),
    ("stall", "at"): ("request", "half", "accept", "now"),
    ("error", "kinds"): (INTERNAL, DISCONNECTED, TIMEOUT, BUSY),
}

#: rules decided per REST request, before the handler / on its response
_REST_BEFORE = (ERROR, RATE_LIMIT, BAN, DROP, RESET, STALL)
_REST_AFTER = (MALFORMED, LATENCY, DRIBBLE)
#: rules decided per outgoing WebSocket frame
_FRAME = (DROP, DUPLICATE, DELAY, REORDER, WITHHOLD_CLOSE, LATENCY)
#: rules that fire on live WebSocket connections when their window opens
_EDGE = (CLOSE, SHUTDOWN, RESET, STALL)

TRAFFIC = ("all", "rest", "ws")
DIRECTIONS = ("out", "in", "both")

#: close codes a ``close`` rule may send (RFC 6455 7.4.1, and the private range)
_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


class FaultError(ValueError):
    """A fault rule or scenario that makes no sense; the message says why."""


# ---------------------------------------------------------------------------
# Values


def _strings(value: Any, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset([value])
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise FaultError(f"{what} must be a list of strings")
    return frozenset(value)


@frozen
class Target:
    """
    Which traffic a rule applies to. Every non-empty set must match (empty: any).
    ``routes`` are route names or paths (REST); ``streams`` stream names (WebSocket);
    ``symbols`` venue symbols named by a request's parameters or a stream's market;
    ``connections`` connection serials; ``traffic`` all/rest/ws; ``direction``
    out (server to client), in, or both.
    """

    routes: frozenset[str] = frozenset()
    streams: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()
    connections: frozenset[int] = frozenset()
    traffic: str = "all"
    direction: str = "out"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Target":
        d = dict(d or {})
        unknown = set(d) - {"routes", "streams", "symbols", "connections", "traffic", "direction"}
        if unknown:
            raise FaultError(f"unknown target field(s): {', '.join(sorted(unknown))}")
        conns = d.get("connections") or []
        if not isinstance(conns, (list, tuple)) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in conns
        ):
            raise FaultError("target connections must be a list of integers")
        traffic = d.get("traffic", "all")
        if traffic not in TRAFFIC:
            raise FaultError(f"target traffic must be one of {', '.join(TRAFFIC)}")
        direction = d.get("direction", "out")
        if direction not in DIRECTIONS:
            raise FaultError(f"target direction must be one of {', '.join(DIRECTIONS)}")
        return cls(
            routes=_strings(d.get("routes"), "target routes"),
            streams=_strings(d.get("streams"), "target streams"),
            symbols=frozenset(s.upper() for s in _strings(d.get("symbols"), "target symbols")),
            connections=frozenset(conns),
            traffic=traffic,
            direction=direction,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("routes", "streams", "symbols", "connections"):
            value = getattr(self, name)
            if value:
                out[name] = sorted(value)
        if self.traffic != "all":
            out["traffic"] = self.traffic
        if self.direction != "out":
            out["direction"] = self.direction
        return out

    def outbound(self) -> bool:
        return self.direction in ("out", "both")

    def inbound(self) -> bool:
        return self.direction in ("in", "both")


@frozen
class Window:
    """``duration`` seconds (None: for ever) from ``start`` seconds after installation."""

    start: float
    duration: float | None = None

    def contains(self, t: float) -> bool:
        return t >= self.start and (self.duration is None or t < self.start + self.duration)


def _seconds(value: Any, what: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise FaultError(f"{what} must be a non-negative number of seconds")
    return float(value)


@frozen
class Schedule:
    """
    When a rule is active, in seconds since it was installed: from ``start_after`` for
    ``duration`` (None: for ever); or, if ``timeline`` is given, during its windows.
    """

    start_after: float = 0.0
    duration: float | None = None
    timeline: tuple[Window, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Schedule":
        d = dict(d or {})
        unknown = set(d) - {"start_after", "duration", "timeline"}
        if unknown:
            raise FaultError(f"unknown schedule field(s): {', '.join(sorted(unknown))}")
        windows = []
        timeline = d.get("timeline") or []
        if not isinstance(timeline, list):
            raise FaultError("schedule timeline must be a list of {at, for} windows")
        for w in timeline:
            if not isinstance(w, dict) or set(w) - {"at", "for"} or "at" not in w:
                raise FaultError("a timeline window is {\"at\": seconds, \"for\": seconds}")
            windows.append(Window(_seconds(w["at"], "at"), _seconds(w.get("for"), "for", True)))  # type: ignore[arg-type]
        return cls(
            start_after=_seconds(d.get("start_after", 0), "start_after"),  # type: ignore[arg-type]
            duration=_seconds(d.get("duration"), "duration", True),
            timeline=tuple(windows),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.start_after:
            out["start_after"] = self.start_after
        if self.duration is not None:
            out["duration"] = self.duration
        if self.timeline:
            out["timeline"] = [{"at": w.start, "for": w.duration} for w in self.timeline]
        return out

    @property
    def windows(self) -> tuple[Window, ...]:
        return self.timeline or (Window(self.start_after, self.duration),)

    def window_at(self, t: float) -> int | None:
        """The index of the window containing ``t``, or None."""
        for i, w in enumerate(self.windows):
            if w.contains(t):
                return i
        return None

    def always(self) -> bool:
        return not self.timeline and self.start_after == 0 and self.duration is None


def _param(kind: str, name: str, kind_type: type, value: Any) -> Any:
    what = f"{kind} {name}"
    if kind_type is bool:
        if not isinstance(value, bool):
            raise FaultError(f"{what} must be true or false")
        return value
    if kind_type is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FaultError(f"{what} must be a non-negative integer")
        return value
    if kind_type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FaultError(f"{what} must be a number")
        if value < 0 and not (kind, name) == (SHUTDOWN, "close_after_s"):
            raise FaultError(f"{what} must not be negative")
        return float(value)
    if kind_type is str:
        if not isinstance(value, str):
            raise FaultError(f"{what} must be a string")
        choices = _CHOICES.get((kind, name))
        if choices and value not in choices:
            raise FaultError(f"{what} must be one of {', '.join(choices)}")
        return value
    values = tuple(_strings(value, what)) if not isinstance(value, (list, tuple)) else tuple(value)
    choices = _CHOICES.get((kind, name), ())
    if not values or not all(isinstance(v, str) and (not choices or v in choices) for v in values):
        raise FaultError(f"{what} must be a non-empty list of {', '.join(choices)}")
    return values


@frozen
class FaultRule:
    """One fault: what, how often, to which traffic, when."""

    kind: str
    probability: float = 1.0
    params: Mapping[str, Any] = field(factory=dict)
    target: Target = Target()
    schedule: Schedule = Schedule()
    id: str = ""

    def p(self, name: str) -> Any:
        return self.params[name]

    @classmethod
    def create(
        cls,
        kind: str,
        probability: float = 1.0,
        params: Mapping[str, Any] | None = None,
        target: Target | Mapping[str, Any] | None = None,
        schedule: Schedule | Mapping[str, Any] | None = None,
        id: str = "",
    ) -> "FaultRule":
        """A validated rule with every parameter filled in. Raises FaultError."""
        if kind not in PARAMS:
            raise FaultError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise FaultError("probability must be a number from 0 to 1")
        spec = PARAMS[kind]
        given = dict(params or {})
        unknown = set(given) - set(spec)
        if unknown:
            raise FaultError(f"unknown {kind} parameter(s): {', '.join(sorted(unknown))}")
        full = {name: _param(kind, name, t, given[name]) if name in given else default
                for name, (t, default) in spec.items()}
        if kind == CLOSE and full["code"] not in _CLOSE_CODES and not 3000 <= full["code"] <= 4999:
            raise FaultError("close code must be a valid RFC 6455 code (1000-1014 or 3000-4999)")
        if kind == LIFETIME and full["seconds"] <= 0:
            raise FaultError("lifetime seconds must be positive")
        if kind == BANDWIDTH and full["bytes_per_second"] < 1:
            raise FaultError("bandwidth bytes_per_second must be at least 1")
        if kind == DRIBBLE and full["chunks"] < 1:
            raise FaultError("dribble chunks must be at least 1")
        if not isinstance(target, Target):
            target = Target.from_dict(target)
        if not isinstance(schedule, Schedule):
            schedule = Schedule.from_dict(schedule)
        if not isinstance(id, str) or len(id) > 100:
            raise FaultError("id must be a string of at most 100 characters")
        if target.direction != "out" and kind not in (LATENCY, DROP, DELAY):
            raise FaultError(f"{kind} applies to outgoing traffic only")
        return cls(kind, float(probability), full, target, schedule, id)

    @classmethod
    def from_dict(cls, d: Any) -> "FaultRule":
        if not isinstance(d, dict):
            raise FaultError("a rule is a JSON object")
        unknown = set(d) - {"kind", "probability", "params", "target", "schedule", "id"}
        if unknown:
            raise FaultError(f"unknown rule field(s): {', '.join(sorted(unknown))}")
        if "kind" not in d:
            raise FaultError("a rule needs a kind")
        for name in ("params", "target", "schedule"):
            if d.get(name) is not None and not isinstance(d[name], dict):
                raise FaultError(f"rule {name} must be an object")
        return cls.create(
            d["kind"], d.get("probability", 1.0), d.get("params"), d.get("target"), d.get("schedule"),
            d.get("id", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()}
        return {
            "id": self.id, "kind": self.kind, "probability": self.probability, "params": params,
            "target": self.target.to_dict(), "schedule": self.schedule.to_dict(),
        }


@frozen
class FaultEvent:
    """One injected fault, as the journal records it."""

    #: reactor seconds
    time: float
    #: market clock, epoch ms
    market_ms: int
    #: connection serial (0: no connection, e.g. in-memory StubTreq requests)
    connection: int
    #: the route name or stream name it hit ("" for a whole connection)
    target: str
    kind: str
    rule: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time, "market_ms": self.market_ms, "connection": self.connection,
            "target": self.target, "kind": self.kind, "rule": self.rule, "detail": self.detail,
        }


@frozen
class _Installed:
    rule: FaultRule
    since: float


# ---------------------------------------------------------------------------
# Random draws


def _gauss(rng: random.Random) -> float:
    u1 = rng.random() or 1e-300
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * rng.random())


def latency_seconds(rule: FaultRule, rng: random.Random) -> float:
    """A latency draw: ``ms`` plus jitter (uniform in [0, jitter] or lognormal, median jitter)."""
    ms, jitter = rule.p("ms"), rule.p("jitter_ms")
    if jitter > 0:
        if rule.p("distribution") == "lognormal":
            ms += min(jitter * math.exp(rule.p("sigma") * _gauss(rng)), rule.p("max_ms"))
        else:
            ms += jitter * rng.random()
    return min(ms, rule.p("max_ms")) / 1000.0


# ---------------------------------------------------------------------------
# The controller


class FaultController:
    """
    The fault rules of one server, their journal, and the decisions.

    ``reactor`` supplies time and timers; ``seed`` all randomness; ``venue`` the error
    formats; ``now_ms`` the market clock for the journal.
    """

    def __init__(
        self,
        reactor: IReactorTime,
        seed: int,
        venue: IExchange,
        now_ms: Callable[[], int] | None = None,
        scenario_dir: str | os.PathLike[str] | None = None,
        journal_size: int = 100_000,
    ) -> None:
        self.reactor = reactor
        self.seed = seed
        self.venue = venue
        self._now_ms = now_ms or (lambda: int(reactor.seconds() * 1000))
        self.scenario_dir = Path(scenario_dir).resolve() if scenario_dir is not None else None
        self._rules: dict[str, _Installed] = {}
        self._next_id = 0
        self._counters: dict[tuple[str, int], int] = {}
        self.journal: deque[FaultEvent] = deque(maxlen=journal_size)
        self.journal_total = 0
        #: live connections by serial (FaultWrapper) and live WebSocket protocols
        self.connections: dict[int, FaultWrapper] = {}
        self.websockets: dict[Any, None] = {}
        self._edge_calls: dict[str, IDelayedCall] = {}
        self._index()

    # -- rules ------------------------------------------------------------------

    def _index(self) -> None:
        installed = list(self._rules.values())

        def pick(kinds: Sequence[str], pred: Callable[[FaultRule], bool] = lambda r: True) -> tuple[_Installed, ...]:
            return tuple(i for i in installed if i.rule.kind in kinds and pred(i.rule))

        out = lambda r: r.target.outbound() and r.target.traffic != "ws"  # noqa: E731
        self.rest_before = pick(_REST_BEFORE, lambda r: out(r) and (r.kind != STALL or r.p("at") == "request"))
        self.rest_after = pick(_REST_AFTER + (STALL,), lambda r: out(r) and (r.kind != STALL or r.p("at") == "half"))
        self.rest_active = bool(self.rest_before or self.rest_after)
        ws_out = lambda r: r.target.outbound() and r.target.traffic != "rest"  # noqa: E731
        self.frame_rules = pick(_FRAME, ws_out)
        self.inbound_messages = pick((DROP, DELAY), lambda r: r.target.inbound() and r.target.traffic != "rest")
        self.inbound_bytes = pick((LATENCY,), lambda r: r.target.inbound())
        self.bandwidth = pick((BANDWIDTH,))
        self.accept_rules = pick((REFUSE, CLOSE_AFTER, STALL), lambda r: r.kind != STALL or r.p("at") == "accept")
        self.pong_rules = pick((NO_PONG,), lambda r: r.target.traffic != "rest")
        self.lifetime_rules = pick((LIFETIME,), lambda r: r.target.traffic != "rest")
        self.edge_rules = pick(_EDGE, lambda r: r.target.traffic != "rest" and (
            r.kind not in (STALL,) or r.p("at") == "now") and not (r.kind == RESET and r.target.routes))
        #: True when anything at all is installed
        self.active = bool(installed)
        for wrapper in getattr(self, "connections", {}).values():
            wrapper._update()
        frames = bool(self.frame_rules)
        for proto in getattr(self, "websockets", {}):
            proto.frame_faults = frames

    def add(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Install a rule (replacing one with the same id); returns it with its id."""
        if not isinstance(rule, FaultRule):
            rule = FaultRule.from_dict(dict(rule))
        if not rule.id:
            self._next_id += 1
            while f"r{self._next_id}" in self._rules:
                self._next_id += 1
            rule = FaultRule(rule.kind, rule.probability, rule.params, rule.target, rule.schedule, f"r{self._next_id}")
        self._drop(rule.id)
        installed = _Installed(rule, self.reactor.seconds())
        self._rules[rule.id] = installed
        self._index()
        if rule.kind in _EDGE and any(installed is i for i in self.edge_rules):
            self._arm_edge(installed, 0)
        if rule.kind == LIFETIME:
            self._refresh_websockets()
        return rule

    def add_all(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> list[FaultRule]:
        """Validate every rule first, then install them all (or none)."""
        parsed = [r if isinstance(r, FaultRule) else FaultRule.from_dict(r) for r in rules]
        ids = [r.id for r in parsed if r.id]
        if len(ids) != len(set(ids)):
            raise FaultError("rule ids must be unique")
        return [self.add(r) for r in parsed]

    def remove(self, rule_id: str) -> bool:
        found = self._drop(rule_id)
        self._index()
        self._refresh_websockets()
        return found

    def _drop(self, rule_id: str) -> bool:
        call = self._edge_calls.pop(rule_id, None)
        if call is not None and call.active():
            call.cancel()
        self._counters = {k: v for k, v in self._counters.items() if k[0] != rule_id}
        return self._rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        """Remove every rule: traffic from now on is exactly as without faults."""
        for rule_id in list(self._rules):
            self._drop(rule_id)
        self._counters.clear()
        self._index()
        self._refresh_websockets()

    def reset(self) -> None:
        """Remove every rule and empty the journal."""
        self.clear()
        self.journal.clear()
        self.journal_total = 0

    def stop(self) -> None:
        """Cancel every timer the controller owns (the server is stopping)."""
        for call in self._edge_calls.values():
            if call.active():
                call.cancel()
        self._edge_calls.clear()

    @property
    def rules(self) -> list[FaultRule]:
        return [i.rule for i in self._rules.values()]

    def get(self, rule_id: str) -> FaultRule | None:
        i = self._rules.get(rule_id)
        return i.rule if i else None

    # -- the seed document's API ----------------------------------------------------

    def set_network_conditions(
        self,
        latency_ms: float = 0.0,
        packet_loss_rate: float = 0.0,
        error_rate: float = 0.0,
        *,
        jitter_ms: float = 0.0,
    ) -> None:
        """
        Latency on every response and frame; loss (drops WebSocket frames, and drops
        REST requests by stalling or resetting them); errors (the venue's 5xx bodies,
        one of -1000/-1001/-1007/-1008 for Binance). Zeros remove each condition.
        """
        for name, value, top in (("latency_ms", latency_ms, 600_000), ("jitter_ms", jitter_ms, 600_000),
                                 ("packet_loss_rate", packet_loss_rate, 1), ("error_rate", error_rate, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= top:
                raise FaultError(f"{name} must be a number from 0 to {top}")
        specs = (
            ("net.latency", latency_ms > 0 or jitter_ms > 0,
             lambda: FaultRule.create(LATENCY, 1.0, {"ms": latency_ms, "jitter_ms": jitter_ms}, id="net.latency")),
            ("net.loss", packet_loss_rate > 0,
             lambda: FaultRule.create(DROP, packet_loss_rate, {"mode": "either"}, id="net.loss")),
            ("net.error", error_rate > 0, lambda: FaultRule.create(ERROR, error_rate, id="net.error")),
        )
        for rule_id, wanted, make in specs:
            if wanted:
                self.add(make())
            else:
                self._drop(rule_id)
        self._index()

    def network_conditions(self) -> dict[str, float]:
        lat, loss, err = (self.get(i) for i in ("net.latency", "net.loss", "net.error"))
        return {
            "latency_ms": lat.p("ms") if lat else 0.0,
            "jitter_ms": lat.p("jitter_ms") if lat else 0.0,
            "packet_loss_rate": loss.probability if loss else 0.0,
            "error_rate": err.probability if err else 0.0,
        }

    # -- scenarios ------------------------------------------------------------------------

    def load_scenario(self, source: str | os.PathLike[str] | Mapping[str, Any], *, untrusted: bool = False) -> list[FaultRule]:
        """
        Install a scenario: a mapping, or a JSON/YAML file. ``{"seed": 7, "rules": [...],
        "timeline": [{"at": 30, "for": 10, "kind": "drop"}, ...], "network": {...},
        "replace": true}``. With ``untrusted`` (the HTTP control API) a path must name a
        file inside :attr:`scenario_dir`. Validates everything before changing anything.
        """
        if isinstance(source, Mapping):
            doc: Any = dict(source)
        else:
            doc = _read_scenario(self._scenario_path(source, untrusted))
        if not isinstance(doc, dict):
            raise FaultError("a scenario is an object with rules and/or a timeline")
        unknown = set(doc) - {"seed", "rules", "timeline", "network", "replace", "description"}
        if unknown:
            raise FaultError(f"unknown scenario field(s): {', '.join(sorted(unknown))}")
        rules: list[FaultRule] = []
        raw_rules = doc.get("rules") or []
        raw_timeline = doc.get("timeline") or []
        if not isinstance(raw_rules, list) or not isinstance(raw_timeline, list):
            raise FaultError("scenario rules and timeline are lists")
        for r in raw_rules:
            rules.append(FaultRule.from_dict(r))
        for step in raw_timeline:
            if not isinstance(step, dict) or "at" not in step:
                raise FaultError("a timeline step is {\"at\": s, \"for\": s, \"kind\": ..., ...}")
            step = dict(step)
            window = {"start_after": step.pop("at")}
            if "for" in step:
                window["duration"] = step.pop("for")
            if "schedule" in step:
                raise FaultError("a timeline step takes at/for, not a schedule")
            step["schedule"] = window
            rules.append(FaultRule.from_dict(step))
        seed = doc.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise FaultError("scenario seed must be an integer")
        network = doc.get("network")
        if network is not None:
            if not isinstance(network, dict) or set(network) - {"latency_ms", "packet_loss_rate", "error_rate", "jitter_ms"}:
                raise FaultError("scenario network takes latency_ms, jitter_ms, packet_loss_rate, error_rate")
        ids = [r.id for r in rules if r.id]
        if len(ids) != len(set(ids)):
            raise FaultError("rule ids must be unique")
        # All valid: apply.
        if doc.get("replace", True):
            self.clear()
        if seed is not None:
            self.seed = seed
        installed = [self.add(r) for r in rules]
        if network is not None:
            self.set_network_conditions(**network)
        return installed

    def _scenario_path(self, source: str | os.PathLike[str], untrusted: bool) -> Path:
        if not untrusted:
            return Path(source)
        if self.scenario_dir is None:
            raise FaultError("loading scenario files over HTTP is disabled (no scenario directory configured)")
        name = str(source)
        if not name or "\x00" in name or os.path.isabs(name):
            raise FaultError("scenario path must be a relative file name inside the scenario directory")
        path = (self.scenario_dir / name).resolve()
        if not path.is_relative_to(self.scenario_dir):
            raise FaultError("scenario path must stay inside the scenario directory")
        return path

    # -- decisions ------------------------------------------------------------------------

    def _rng(self, rule: FaultRule, serial: int) -> random.Random:
        key = (rule.id, serial)
        n = self._counters.get(key, 0)
        self._counters[key] = n + 1
        return random.Random(stable_seed(self.seed, rule.id, serial, n))

    def roll(self, installed: _Installed, serial: int) -> random.Random | None:
        """
        The rule's generator for this decision if the rule fires now on ``serial``
        (active, and its probability came up), else None.
        """
        rule = installed.rule
        if rule.target.connections and serial not in rule.target.connections:
            return None
        if not rule.schedule.always() and rule.schedule.window_at(self.reactor.seconds() - installed.since) is None:
            return None
        if rule.probability <= 0:
            return None
        rng = self._rng(rule, serial)
        if rule.probability < 1 and rng.random() >= rule.probability:
            return None
        return rng

    def record(self, rule: FaultRule, serial: int, target: str, detail: str = "", kind: str | None = None) -> None:
        self.journal_total += 1
        self.journal.append(FaultEvent(
            self.reactor.seconds(), self._now_ms(), serial, target, kind or rule.kind, rule.id, detail
        ))

    def journal_entries(self, since: int = 0) -> list[FaultEvent]:
        """Journal entries numbered ``since`` and later (numbers count from 0 for ever)."""
        first = self.journal_total - len(self.journal)
        return list(self.journal)[max(0, since - first):]

    # -- REST targeting ---------------------------------------------------------------------

    def _rest_match(self, rule: FaultRule, route: RestRoute, request: RestRequest) -> bool:
        t = rule.target
        if t.streams:
            return False
        if t.routes and route.name not in t.routes and route.path not in t.routes and request.path not in t.routes:
            return False
        if t.symbols:
            values = {v.upper() for vs in request.args.values() for v in vs}
            values.update(v.upper() for v in request.path_args.values())
            if not values & t.symbols:
                return False
        return True

    # -- connections --------------------------------------------------------------------

    def connection_made(self, wrapper: "FaultWrapper") -> None:
        """A connection was accepted: refuse it, or arm its per-connection faults."""
        self.connections[wrapper.connection_serial] = wrapper
        if not self.accept_rules:
            return
        for installed in self.accept_rules:
            rule = installed.rule
            rng = self.roll(installed, wrapper.connection_serial)
            if rng is None:
                continue
            self.record(rule, wrapper.connection_serial, "", _describe(rule))
            if rule.kind == REFUSE:
                wrapper.reset()
                return
            if rule.kind == STALL:
                wrapper.stall()
                return
            wrapper.set_budget(rule.p("bytes"), "abort" if rule.p("abort") else "close")

    def connection_lost(self, wrapper: "FaultWrapper") -> None:
        self.connections.pop(wrapper.connection_serial, None)
        serial = wrapper.connection_serial
        if self._counters:
            self._counters = {k: v for k, v in self._counters.items() if k[1] != serial}

    def bandwidth_for(self, wrapper: "FaultWrapper") -> float | None:
        """The bandwidth limit on ``wrapper`` now (bytes/s), or None."""
        best = None
        for installed in self.bandwidth:
            rule = installed.rule
            t = rule.target
            if t.connections and wrapper.connection_serial not in t.connections:
                continue
            if t.traffic != "all" and (t.traffic == "ws") != wrapper.is_websocket():
                continue
            if not rule.schedule.always() and rule.schedule.window_at(self.reactor.seconds() - installed.since) is None:
                continue
            bps = rule.p("bytes_per_second")
            best = bps if best is None else min(best, bps)
        return best

    def inbound_delay(self, wrapper: "FaultWrapper") -> float:
        """Latency for one read of inbound bytes (once per read, per rule that fires)."""
        delay = 0.0
        for installed in self.inbound_bytes:
            rule = installed.rule
            if rule.target.traffic != "all" and (rule.target.traffic == "ws") != wrapper.is_websocket():
                continue
            rng = self.roll(installed, wrapper.connection_serial)
            if rng is not None:
                d = latency_seconds(rule, rng)
                delay += d
                self.record(rule, wrapper.connection_serial, "", f"inbound {d * 1000:.1f} ms")
        return delay

    # -- WebSocket --------------------------------------------------------------------------

    def _ws_match(self, rule: FaultRule, topic: Any) -> bool:
        t = rule.target
        if t.routes:
            return False
        if t.streams or t.symbols:
            if topic is None:
                return False
            if t.streams and getattr(topic, "stream", None) not in t.streams:
                return False
            if t.symbols and self.venue.symbol(topic.feed.market).upper() not in t.symbols:
                return False
        return True

    def _ws_conn_match(self, rule: FaultRule, proto: "StreamProtocol") -> bool:
        t = rule.target
        if t.routes:
            return False
        if t.streams or t.symbols:
            return any(self._ws_match(rule, topic) for topic in proto.topics)
        return True

    def deliver(self, proto: "StreamProtocol", prepared: Any, topic: Any, update: Any) -> None:
        """Send ``prepared`` on ``proto`` with the frame faults that fire on it."""
        serial = proto.serial
        name = _topic_name(topic)
        delay = 0.0
        copies = 1
        hold = None
        for installed in self.frame_rules:
            rule = installed.rule
            kind = rule.kind
            if kind == WITHHOLD_CLOSE and (update is None or not update.candle.closed):
                continue
            if not self._ws_match(rule, topic):
                continue
            rng = self.roll(installed, serial)
            if rng is None:
                continue
            if kind in (DROP, WITHHOLD_CLOSE):
                self.record(rule, serial, name, "frame dropped" if kind == DROP else "closing event withheld")
                return
            if kind == DUPLICATE:
                copies += 1
                self.record(rule, serial, name, "frame sent twice")
            elif kind == DELAY:
                d = rule.p("ms") / 1000.0
                delay += d
                self.record(rule, serial, name, f"frame delayed {d * 1000:.1f} ms")
            elif kind == LATENCY:
                d = latency_seconds(rule, rng)
                delay += d
                self.record(rule, serial, name, f"{d * 1000:.1f} ms")
            elif kind == REORDER:
                hold = rule
        if hold is not None and proto.held is None:
            self.record(hold, serial, name, "frame held back behind the next one")
            proto.hold(prepared, hold.p("max_hold_ms") / 1000.0, delay)
            return
        for _ in range(copies):
            proto.send_prepared(prepared, delay)
        proto.release_held()

    def drop_inbound(self, proto: "StreamProtocol") -> float | None:
        """None to drop an incoming message, else the delay (seconds) to apply to it."""
        delay = 0.0
        for installed in self.inbound_messages:
            rule = installed.rule
            if rule.target.streams or rule.target.symbols or rule.target.routes:
                continue
            rng = self.roll(installed, proto.serial)
            if rng is None:
                continue
            if rule.kind == DROP:
                self.record(rule, proto.serial, "", "incoming message dropped")
                return None
            delay += rule.p("ms") / 1000.0
            self.record(rule, proto.serial, "", f"incoming message delayed {rule.p('ms'):.1f} ms")
        return delay

    def answer_ping(self, proto: "StreamProtocol") -> bool:
        for installed in self.pong_rules:
            rng = self.roll(installed, proto.serial)
            if rng is not None:
                self.record(installed.rule, proto.serial, "", "ping not answered")
                return False
        return True

    def ws_registered(self, proto: "StreamProtocol") -> None:
        """A WebSocket connection completed its handshake (before its session opens)."""
        self.websockets[proto] = None
        proto.frame_faults = bool(self.frame_rules)

    def ws_opened(self, proto: "StreamProtocol") -> None:
        self.websockets[proto] = None
        proto.opened_at = self.reactor.seconds()
        if self.lifetime_rules:
            self._schedule_lifetime(proto)
        for installed in self.edge_rules:
            index = installed.rule.schedule.window_at(self.reactor.seconds() - installed.since)
            if index is not None:
                self._edge_apply(installed, index, proto)

    def ws_closed(self, proto: "StreamProtocol") -> None:
        self.websockets.pop(proto, None)

    def _refresh_websockets(self) -> None:
        for proto in list(self.websockets):
            self._schedule_lifetime(proto)

    def _schedule_lifetime(self, proto: "StreamProtocol") -> None:
        proto.cancel_lifetime()
        best: tuple[float, _Installed] | None = None
        for installed in self.lifetime_rules:
            if installed.rule.target.connections and proto.serial not in installed.rule.target.connections:
                continue
            seconds = installed.rule.p("seconds")
            if best is None or seconds < best[0]:
                best = (seconds, installed)
        if best is None:
            return
        seconds, installed = best
        due = max(0.0, proto.opened_at + seconds - self.reactor.seconds())
        proto.lifetime_call = self.reactor.callLater(due, self._lifetime_cut, installed, proto)

    def _lifetime_cut(self, installed: _Installed, proto: "StreamProtocol") -> None:
        proto.lifetime_call = None
        rule = installed.rule
        self.record(rule, proto.serial, "", f"connection cut after {rule.p('seconds'):g} s")
        if rule.p("abort"):
            proto.dropConnection(abort=True)
        else:
            proto.close(rule.p("code"), "connection lifetime reached")

    def _arm_edge(self, installed: _Installed, after_index: int) -> None:
        """Call :meth:`_edge_fire` at the start of the next window from ``after_index``."""
        windows = installed.rule.schedule.windows
        elapsed = self.reactor.seconds() - installed.since
        for index in range(after_index, len(windows)):
            start = windows[index].start
            if start >= elapsed or windows[index].contains(elapsed):
                self._edge_calls[installed.rule.id] = self.reactor.callLater(
                    max(0.0, start - elapsed), self._edge_fire, installed, index
                )
                return

    def _edge_fire(self, installed: _Installed, index: int) -> None:
        self._edge_calls.pop(installed.rule.id, None)
        for proto in list(self.websockets):
            self._edge_apply(installed, index, proto)
        self._arm_edge(installed, index + 1)

    def _edge_apply(self, installed: _Installed, index: int, proto: "StreamProtocol") -> None:
        rule = installed.rule
        key = (rule.id, index)
        if key in proto.edges_applied or not self._ws_conn_match(rule, proto):
            return
        proto.edges_applied.add(key)
        rng = self.roll(installed, proto.serial)
        if rng is None:
            return
        kind = rule.kind
        if kind == CLOSE:
            self.record(rule, proto.serial, "", "abort (no close frame)" if rule.p("abort") else f"close {rule.p('code')}")
            if rule.p("abort"):
                proto.dropConnection(abort=True)
            else:
                proto.close(rule.p("code"), rule.p("reason"))
        elif kind == SHUTDOWN:
            notice = proto.shutdown_notice()
            if notice is None:
                return
            self.record(rule, proto.serial, "", notice.decode("utf-8", "replace"))
            proto.send_prepared(proto.factory.prepareMessage(notice), 0.0)
            after = rule.p("close_after_s")
            if after >= 0:
                proto.close_later(after)
        elif kind == RESET:
            self.record(rule, proto.serial, "", "connection reset")
            wrapper = proto.transport
            if isinstance(wrapper, FaultWrapper):
                wrapper.reset()
            else:
                proto.dropConnection(abort=True)
        elif kind == STALL:
            wrapper = proto.transport
            if isinstance(wrapper, FaultWrapper):
                self.record(rule, proto.serial, "", "connection stalled")
                wrapper.stall()


def _topic_name(topic: Any) -> str:
    if topic is None:
        return ""
    return str(getattr(topic, "stream", "") or topic.feed)


def _describe(rule: FaultRule) -> str:
    if rule.kind == CLOSE_AFTER:
        return f"close after {rule.p('bytes')} bytes" + (" (abort)" if rule.p("abort") else "")
    if rule.kind == REFUSE:
        return "connection refused (reset at accept)"
    if rule.kind == STALL:
        return "connection accepted, never answered"
    return rule.kind


def _read_scenario(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FaultError(f"cannot read scenario {path.name}: {e.__class__.__name__}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:  # pragma: no cover - PyYAML is optional
            raise FaultError("YAML scenarios need PyYAML (pip install pyyaml); use JSON") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise FaultError(f"scenario {path.name} is not valid YAML: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FaultError(f"scenario {path.name} is not valid JSON: {e}") from None


# ---------------------------------------------------------------------------
# REST


@frozen
class ResponsePlan:
    """What a connection does to the next response written on it."""

    delay: float = 0.0
    #: (chunks, seconds): release the response in that many pieces over that long
    dribble: tuple[int, float] | None = None
    #: stop after half the response and go silent
    cut_half: bool = False


def malformed_body(body: bytes, mode: str, rng: random.Random) -> tuple[bytes, str]:
    """A broken version of ``body``: truncated JSON, empty, or garbage."""
    if mode == "random":
        mode = ("truncated", "empty", "garbage")[rng.randrange(3)]
    if mode == "empty":
        return b"", mode
    if mode == "garbage":
        return bytes(rng.randrange(256) for _ in range(max(16, min(len(body), 256)))), mode
    if len(body) <= 1:
        return b"{", mode
    return body[: rng.randrange(1, len(body))], mode


@implementer(IRestMiddleware)
class FaultMiddleware:
    """The REST part of the fault machinery (decides once per request)."""

    def __init__(self, controller: FaultController) -> None:
        self.controller = controller

    def before(self, route: RestRoute, request: RestRequest) -> RestResponse | None:
        ctl = self.controller
        if not ctl.rest_before:
            return None
        serial = request.connection
        wrapper = ctl.connections.get(serial) if serial else None
        name = route.name or route.path
        for installed in ctl.rest_before:
            rule = installed.rule
            kind = rule.kind
            if kind in (DROP, RESET, STALL) and wrapper is None:
                # Connection faults need a connection (not an in-memory StubTreq request).
                continue
            if not ctl._rest_match(rule, route, request):
                continue
            rng = ctl.roll(installed, serial)
            if rng is None:
                continue
            venue = ctl.venue
            if kind == ERROR:
                kinds = rule.p("kinds")
                chosen = kinds[rng.randrange(len(kinds))]
                response = venue.error_response(chosen)
                ctl.record(rule, serial, name, f"{response.status} {chosen}")
                return response
            if kind in (RATE_LIMIT, BAN):
                retry = rule.p("retry_after_s")
                limits = venue_limits(venue)
                if kind == RATE_LIMIT:
                    response = venue.error_response(RATE_LIMITED, rate_limit_detail(limits))
                else:
                    response = venue.error_response(BANNED, str(ctl._now_ms() + retry * 1000))
                response = with_retry_after(response, retry, limits.rest.retry_after or "Retry-After")
                ctl.record(rule, serial, name, f"{response.status}")
                return response
            assert wrapper is not None
            mode = kind
            if kind == DROP:
                mode = rule.p("mode")
                if mode == "either":
                    mode = (STALL, RESET)[rng.randrange(2)]
            if mode == RESET:
                ctl.record(rule, serial, name, "request dropped: connection reset" if kind == DROP else "connection reset")
                wrapper.reset()
            else:
                ctl.record(rule, serial, name, "request dropped: never answered" if kind == DROP else "never answered")
                wrapper.stall()
            return RestResponse(200, b"")
        return None

    def after(self, route: RestRoute, request: RestRequest, response: RestResponse) -> RestResponse:
        ctl = self.controller
        if not ctl.rest_after:
            return response
        serial = request.connection
        wrapper = ctl.connections.get(serial) if serial else None
        if wrapper is not None and wrapper.silent:
            return response
        name = route.name or route.path
        delay = 0.0
        dribble = None
        cut = False
        for installed in ctl.rest_after:
            rule = installed.rule
            kind = rule.kind
            if kind != MALFORMED and wrapper is None:
                continue
            if not ctl._rest_match(rule, route, request):
                continue
            rng = ctl.roll(installed, serial)
            if rng is None:
                continue
            if kind == MALFORMED:
                body, mode = malformed_body(response.body, rule.p("mode"), rng)
                ctl.record(rule, serial, name, mode)
                status = 200 if mode == "empty" else response.status
                response = RestResponse(status, body, response.headers, response.content_type)
            elif kind == LATENCY:
                d = latency_seconds(rule, rng)
                delay += d
                ctl.record(rule, serial, name, f"{d * 1000:.1f} ms")
            elif kind == DRIBBLE:
                dribble = (rule.p("chunks"), rule.p("duration_s"))
                ctl.record(rule, serial, name, f"{dribble[0]} chunks over {dribble[1]:g} s")
            elif kind == STALL:
                cut = True
                ctl.record(rule, serial, name, "stopped halfway through the response")
        if wrapper is not None and (delay or dribble or cut):
            wrapper.arm_response(ResponsePlan(delay, dribble, cut))
        return response


# ---------------------------------------------------------------------------
# Bytes


class FaultWrapper(ProtocolWrapper):
    """
    The per-connection byte layer. With nothing armed, ``write`` is one flag test and
    a pass-through. Otherwise outgoing bytes go through an ordered queue of (due,
    bytes): a later write is never released before an earlier one.
    """

    #: this connection's number (ConnectionLayer counts from 1)
    connection_serial: int = 0

    def __init__(self, factory: Any, wrappedProtocol: Any) -> None:
        super().__init__(factory, wrappedProtocol)
        self.controller: FaultController = factory.controller
        self.reactor: IReactorTime = self.controller.reactor
        self.connection_serial = factory.next_serial()
        #: True while writes may go straight through
        self._plain = True
        self._queue: deque[tuple[float, bytes]] = deque()
        self._call: IDelayedCall | None = None
        self._next_delay = 0.0
        self._plan: ResponsePlan | None = None
        self._collecting: list[bytes] | None = None
        self._collect_call: IDelayedCall | None = None
        self._budget: int | None = None
        self._budget_action = "close"
        self._after_drain: str | None = None
        self._bw_free = 0.0
        self._in_queue: deque[tuple[float, bytes]] = deque()
        self._in_call: IDelayedCall | None = None
        #: swallowing every write (stalled, cut, or reset)
        self.silent = False
        self.dead = False

    # -- state -------------------------------------------------------------------

    def is_websocket(self) -> bool:
        from mockex.ws import StreamProtocol

        return isinstance(self.wrappedProtocol, StreamProtocol)

    def _update(self) -> None:
        plain = not (
            self._queue or self._next_delay or self._plan is not None or self._collecting is not None
            or self._budget is not None or self.silent or self._after_drain or self.controller.bandwidth
        )
        self._plain = plain
        # Idle, ``write`` *is* the transport's: no Python frame of ours per write.
        if plain and self.transport is not None:
            self.write = self.transport.write  # type: ignore[method-assign]
        else:
            self.__dict__.pop("write", None)

    def makeConnection(self, transport: Any) -> None:
        super().makeConnection(transport)
        self._update()
        self.controller.connection_made(self)

    # -- controls used by the fault machinery -------------------------------------

    def delay_next(self, seconds: float) -> None:
        """Delay the writes made until the next call (0: stop delaying)."""
        self._next_delay = seconds
        self._update()

    def arm_response(self, plan: ResponsePlan) -> None:
        """Apply ``plan`` to the next response: the writes made in the same reactor turn."""
        self._plan = plan
        self._update()

    def set_budget(self, nbytes: int, action: str = "close") -> None:
        """Send at most ``nbytes`` more, then close (or abort) the connection."""
        self._budget = nbytes
        self._budget_action = action
        self._update()

    def stall(self) -> None:
        """Go silent: never send another byte, never close (the client gives up)."""
        self.silent = True
        self._update()

    def reset(self) -> None:
        """Reset the connection now (RST where the OS allows), discarding queued bytes."""
        self.silent = self.dead = True
        self._cancel()
        self._update()
        transport = self.transport
        if transport is None:
            return
        _linger_zero(transport)
        transport.abortConnection()

    # -- transport interface seen by the wrapped protocol -------------------------------

    def write(self, data: bytes) -> None:
        if self._plain:
            self.transport.write(data)
        else:
            self._shaped_write(data)

    def writeSequence(self, data: Sequence[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.disconnecting = 1
        if self.silent and not self._after_drain:
            return  # a stalled server does not even close
        if self._queue or self._collecting is not None:
            self._after_drain = self._after_drain or "close"
            self._update()
            return
        self.transport.loseConnection()

    def abortConnection(self) -> None:
        self.disconnecting = 1
        self._cancel()
        self.transport.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        ctl = self.controller
        if self.silent:
            return  # a stalled (or reset) server reads nothing
        if not ctl.inbound_bytes and not self._in_queue:
            self.wrappedProtocol.dataReceived(data)
            return
        delay = ctl.inbound_delay(self)
        now = self.reactor.seconds()
        due = now + delay
        if self._in_queue:
            due = max(due, self._in_queue[-1][0])
        if due <= now:
            self.wrappedProtocol.dataReceived(data)
            return
        self._in_queue.append((due, data))
        self._pump_in()

    def connectionLost(self, reason: Any) -> None:
        self._cancel()
        self.controller.connection_lost(self)
        super().connectionLost(reason)

    # -- the queue ----------------------------------------------------------------------

    def _cancel(self) -> None:
        for name in ("_call", "_collect_call", "_in_call"):
            call = getattr(self, name)
            if call is not None and call.active():
                call.cancel()
            setattr(self, name, None)
        self._queue.clear()
        self._in_queue.clear()
        self._collecting = None

    def _shaped_write(self, data: bytes) -> None:
        if self.silent or self.dead:
            return
        if self._collecting is not None:
            self._collecting.append(data)
            return
        if self._plan is not None:
            plan, self._plan = self._plan, None
            self._collecting = [data]
            self._collect_call = self.reactor.callLater(0, self._release_response, plan, self.reactor.seconds())
            return
        self._enqueue(data, self._next_delay)

    def _release_response(self, plan: ResponsePlan, since: float) -> None:
        self._collect_call = None
        data = b"".join(self._collecting or ())
        self._collecting = None
        # delays count from the response's first write, not from this call
        lag = self.reactor.seconds() - since
        plan = ResponsePlan(max(0.0, plan.delay - lag), plan.dribble, plan.cut_half)
        if plan.cut_half:
            data = data[: len(data) // 2]
            self._after_drain = None  # a stalled server does not close either
            self.silent = True
        if plan.dribble is not None:
            chunks, seconds = plan.dribble
            chunks = max(1, min(chunks, len(data) or 1))
            size = -(-len(data) // chunks) if data else 0
            for i in range(chunks):
                piece = data[i * size:(i + 1) * size]
                if piece:
                    at = plan.delay + seconds * i / (chunks - 1) if chunks > 1 else plan.delay
                    self._enqueue(piece, at, pump=False)
        else:
            self._enqueue(data, plan.delay, pump=False)
        self._update()
        self._pump()

    def _enqueue(self, data: bytes, delay: float, pump: bool = True) -> None:
        if self._budget is not None:
            if len(data) >= self._budget:
                data = data[: self._budget]
                self._budget = 0
                self.silent = True
                self._after_drain = self._budget_action
            else:
                self._budget -= len(data)
        now = self.reactor.seconds()
        due = now + delay
        if self._queue:
            due = max(due, self._queue[-1][0])
        bps = self.controller.bandwidth_for(self) if self.controller.bandwidth else None
        if bps is not None and data:
            piece = max(1, int(bps / 20))  # 50 ms worth per piece
            for i in range(0, len(data), piece):
                chunk = data[i:i + piece]
                start = max(due, self._bw_free)
                due = self._bw_free = start + len(chunk) / bps
                self._queue.append((due, chunk))
        elif data:
            self._queue.append((due, data))
        self._update()
        if pump:
            self._pump()

    def _on_timer(self) -> None:
        self._call = None
        self._pump()

    def _pump(self) -> None:
        now = self.reactor.seconds()
        queue = self._queue
        transport = self.transport
        while queue and queue[0][0] <= now + 1e-9:
            _, data = queue.popleft()
            if transport is not None:
                transport.write(data)
        if queue:
            if self._call is None:
                self._call = self.reactor.callLater(max(0.0, queue[0][0] - now), self._on_timer)
        elif self._after_drain and transport is not None and self._collecting is None:
            action, self._after_drain = self._after_drain, None
            if action == "abort":
                self.dead = True
                transport.abortConnection()
            else:
                transport.loseConnection()
        self._update()

    def _on_in_timer(self) -> None:
        self._in_call = None
        self._pump_in()

    def _pump_in(self) -> None:
        now = self.reactor.seconds()
        queue = self._in_queue
        while queue and queue[0][0] <= now + 1e-9 and self.wrappedProtocol is not None:
            _, data = queue.popleft()
            self.wrappedProtocol.dataReceived(data)
        if queue and self._in_call is None:
            self._in_call = self.reactor.callLater(max(0.0, queue[0][0] - now), self._on_in_timer)


def _linger_zero(transport: Any) -> None:
    """Make the coming close a reset (RST) on a real TCP socket."""
    handle = getattr(transport, "getHandle", None)
    if handle is None:
        return
    try:
        sock = handle()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (OSError, AttributeError, TypeError):
        pass

"""
REST rate limits, in memory on a MemoryReactorClock: every boundary (the request that
reaches the limit, the first 429, escalation to 418, the window moving on), weights,
headers, clients, run-time configuration, and hypothesis properties.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from mockex.interfaces import RATE_LIMITED, RestRequest, RestResponse, RestRoute
from mockex.ratelimit import (
    LIMIT,
    MINUTE,
    NOW_OR_RESET_MS,
    NOW_OR_RESET_S,
    REMAINING,
    RESET_MS,
    USED,
    SECOND,
    WEIGHT,
    BanPolicy,
    Limits,
    MessageWindow,
    RateLimiter,
    RestLimits,
    RestWindow,
    adjust,
    period_units,
)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.binance import LIMITS, RATE_LIMITS, binance_spot

#: DEFAULT_NOW_MS is a whole minute (and a whole 5 minutes): windows start there.
assert DEFAULT_NOW_MS % 300_000 == 0

TOO_MUCH = (
    '{"code":-1003,"msg":"Too much request weight used; current limit is %d request weight per %s. '
    'Please use WebSocket Streams for live updates to avoid polling the API."}'
)
BANNED_BODY = (
    '{"code":-1003,"msg":"Way too much request weight used; IP banned until %d. '
    'Please use WebSocket Streams for live updates to avoid bans."}'
)
KLINES = {"symbol": "BTCUSDT", "interval": "1m", "limit": "1"}


def used(response: Any) -> int:
    return int(response.headers["x-mbx-used-weight-1m"])


class WeightsAndHeadersTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()

    def test_weights_and_headers_on_every_response(self) -> None:
        """
        ping and time weigh 1, exchangeInfo 20, klines and uiKlines 2; both headers
        carry the IP's weight of the current minute, on errors too (Binance counts a
        request that fails validation).
        """
        expected = 0
        for path, params, weight in [
            ("/api/v3/ping", {}, 1),
            ("/api/v3/time", {}, 1),
            ("/api/v3/exchangeInfo", {}, 20),
            ("/api/v3/klines", KLINES, 2),
            ("/api/v3/uiKlines", KLINES, 2),
            ("/api/v3/klines", {"symbol": "NOPE", "interval": "1m"}, 2),
        ]:
            response = self.m.get(path, **params)
            expected += weight
            self.assertEqual(response.headers["x-mbx-used-weight"], str(expected), path)
            self.assertEqual(response.headers["x-mbx-used-weight-1m"], str(expected), path)
        self.assertEqual(response.status, 400)

    def test_headers_lower_case_on_the_wire(self) -> None:
        """The bytes on the wire: ``x-mbx-used-weight`` as Binance writes it."""
        wire = self._raw(b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"\r\nx-mbx-used-weight: 1\r\n", wire)
        self.assertIn(b"\r\nx-mbx-used-weight-1m: 1\r\n", wire)
        self.m.server.set_rate_limits(rest_limit=1, ban_after=None)
        wire = self._raw(b"GET /api/v3/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"HTTP/1.1 429 ", wire)
        self.assertIn(b"\r\nRetry-After: 60\r\n", wire)
        self.assertIn(b"\r\nx-mbx-used-weight-1m: 2\r\n", wire)

    def _raw(self, request: bytes) -> bytes:
        protocol = self.m.server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 1))
        protocol.makeConnection(transport)
        protocol.dataReceived(request)
        self.m.flush()
        protocol.connectionLost(None)
        return transport.value()

    def test_unknown_paths_are_not_counted(self) -> None:
        self.assertEqual(self.m.get("/api/v3/nothing").status, 404)
        self.assertEqual(used(self.m.get("/api/v3/ping")), 1)

    def test_weight_by_request(self) -> None:
        """A declared weight may be a function of the request (futures: by ``limit``)."""

        def by_limit(request: RestRequest) -> int:
            limit = int(request.args.get("limit", ["500"])[0])
            return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10

        limits = adjust(LIMITS, weights={"klines": by_limit})
        m = MemoryServer(limits=limits)
        self.assertEqual(used(m.get("/api/v3/klines", **{**KLINES, "limit": "99"})), 1)
        self.assertEqual(used(m.get("/api/v3/klines", **{**KLINES, "limit": "500"})), 1 + 5)
        # a weight function that fails falls back to the default weight
        self.assertEqual(used(m.get("/api/v3/klines", **{**KLINES, "limit": "x"})), 1 + 5 + 1)


class BoundaryTests(SynchronousTestCase):
    """Binance's own numbers: REQUEST_WEIGHT 6000 per minute."""

    def setUp(self) -> None:
        self.m = MemoryServer()

    def fill(self, weight: int) -> None:
        """Use ``weight`` (a multiple of 20) with exchangeInfo."""
        for _ in range(weight // 20):
            self.assertEqual(self.m.get("/api/v3/exchangeInfo", symbol="BTCUSDT").status, 200)

    def test_limit_is_reached_then_429(self) -> None:
        self.fill(5980)
        self.m.clock.advance(59.5)
        reaching = self.m.get("/api/v3/exchangeInfo", symbol="BTCUSDT")
        self.assertEqual((reaching.status, used(reaching)), (200, 6000))
        first = self.m.get("/api/v3/ping")
        self.assertEqual(first.status, 429)
        self.assertEqual(first.body.decode(), TOO_MUCH % (6000, "1 MINUTE"))
        self.assertEqual(first.headers["retry-after"], "1")  # 0.5 s to the next minute, rounded up
        self.assertEqual(used(first), 6001)
        self.assertEqual(first.headers["content-type"], "application/json;charset=UTF-8")

    def test_window_moves_on(self) -> None:
        self.fill(6000)
        self.assertEqual(self.m.get("/api/v3/ping").status, 429)
        self.m.clock.advance(59.999)
        self.assertEqual(self.m.get("/api/v3/ping").status, 429)
        self.m.clock.advance(0.001)
        fresh = self.m.get("/api/v3/ping")
        self.assertEqual((fresh.status, used(fresh)), (200, 1))

    def test_429_retry_after_counts_down(self) -> None:
        self.fill(6000)
        for elapsed, expected in [(0, "60"), (10.2, "50"), (49.0, "1")]:
            self.m.clock.advance(elapsed)
            self.assertEqual(self.m.get("/api/v3/ping").headers["retry-after"], expected)

    def test_raw_requests_window(self) -> None:
        """RAW_REQUESTS counts requests, whatever their weight, over 5 minutes."""
        self.m.server.set_rate_limits(raw_limit=3)
        for _ in range(3):
            self.assertEqual(self.m.get("/api/v3/exchangeInfo").status, 200)
        self.m.clock.advance(70)  # a new minute: weight is fresh, raw requests are not
        over = self.m.get("/api/v3/ping")
        self.assertEqual(over.status, 429)
        self.assertEqual(over.headers["retry-after"], "230")
        self.assertEqual(
            over.json()["msg"],
            "Too many requests; current limit is 3 requests per 5 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API.",
        )
        self.assertEqual(used(over), 1)

    def test_exchange_info_advertises_what_is_enforced(self) -> None:
        info = self.m.get("/api/v3/exchangeInfo").json()
        self.assertEqual(info["rateLimits"], list(RATE_LIMITS))
        self.assertEqual(info["rateLimits"][0], {
            "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000})
        self.m.server.set_rate_limits(rest_limit=25, rest_period_ms=10_000)
        info = self.m.get("/api/v3/exchangeInfo").json()
        self.assertEqual(info["rateLimits"][0], {
            "rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 10, "limit": 25})
        # ... and that is what is enforced, with the header named after the window
        five = [self.m.get("/api/v3/ping") for _ in range(5)]
        self.assertEqual(five[-1].headers["x-mbx-used-weight-10s"], "25")  # exchangeInfo: 20
        self.assertEqual(five[-1].status, 200)
        over = self.m.get("/api/v3/ping")
        self.assertEqual(over.status, 429)
        self.assertEqual(over.body.decode(), TOO_MUCH % (25, "10 SECOND"))
        self.m.clock.advance(10)
        self.assertEqual(self.m.get("/api/v3/ping").status, 200)


class BanTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()
        self.m.server.set_rate_limits(rest_limit=2)

    def hammer(self, n: int) -> list[Any]:
        return [self.m.get("/api/v3/ping") for _ in range(n)]

    def test_escalation_to_418(self) -> None:
        """Ten 429s in a row, then 418 for 2 minutes; banned requests are not counted."""
        responses = self.hammer(2 + 10 + 1)
        self.assertEqual([r.status for r in responses], [200] * 2 + [429] * 10 + [418])
        ban = responses[-1]
        until = DEFAULT_NOW_MS + 120_000
        self.assertEqual(ban.body.decode(), BANNED_BODY % until)
        self.assertEqual(ban.headers["retry-after"], "120")
        self.assertEqual(used(ban), 12)
        self.m.clock.advance(61)
        during = self.m.get("/api/v3/ping")
        self.assertEqual((during.status, during.headers["retry-after"], used(during)), (418, "59", 0))
        self.m.clock.advance(58.999)
        self.assertEqual(self.m.get("/api/v3/ping").status, 418)
        self.m.clock.advance(0.001)
        after = self.m.get("/api/v3/ping")
        self.assertEqual((after.status, used(after)), (200, 1))

    def test_backing_off_avoids_the_ban(self) -> None:
        """A client that waits after its 429s is not banned: the strikes are in a row."""
        self.hammer(2 + 9)
        self.m.clock.advance(60)
        self.assertEqual([r.status for r in self.hammer(2 + 9)], [200] * 2 + [429] * 9)

    def test_bans_grow_to_three_days(self) -> None:
        durations = []
        for _ in range(14):
            responses = self.hammer(13)
            ban = responses[-1]
            self.assertEqual(ban.status, 418)
            seconds = int(ban.headers["retry-after"])
            durations.append(seconds)
            self.m.clock.advance(seconds)
            self.m.clock.advance(60 - self.m.clock.seconds() % 60)  # a fresh minute
        minutes = [d // 60 for d in durations]
        self.assertEqual(minutes, [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 4320, 4320])

    def test_forgiven_after_a_day(self) -> None:
        self.assertEqual(self.hammer(13)[-1].headers["retry-after"], "120")
        self.m.clock.advance(120 + 60)
        self.assertEqual(self.hammer(13)[-1].headers["retry-after"], "240")
        self.m.clock.advance(240 + 86_400)
        self.assertEqual(self.hammer(13)[-1].headers["retry-after"], "120")

    def test_ban_policy_is_configurable(self) -> None:
        self.m.server.set_rate_limits(ban_after=0, ban_first_ms=5_000)
        self.assertEqual([r.status for r in self.hammer(3)], [200, 200, 418])
        self.assertEqual(self.m.get("/api/v3/ping").headers["retry-after"], "5")
        self.m.server.set_rate_limits(ban_after=None)
        self.m.clock.advance(5)
        self.assertEqual({r.status for r in self.hammer(30)}, {429})


class ClientTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.m = MemoryServer()
        self.m.server.set_rate_limits(rest_limit=3)

    def test_clients_told_apart_by_ip(self) -> None:
        for _ in range(3):
            self.m.get("/api/v3/ping", client="10.0.0.1")
        self.assertEqual(self.m.get("/api/v3/ping", client="10.0.0.1").status, 429)
        other = self.m.get("/api/v3/ping", client="10.0.0.2")
        self.assertEqual((other.status, used(other)), (200, 1))
        self.assertEqual(used(self.m.get("/api/v3/ping")), 1)  # 127.0.0.1

    def test_clients_told_apart_by_header(self) -> None:
        self.m.server.set_rate_limits(client_header="X-MBX-APIKEY")
        a, b = {"X-MBX-APIKEY": "a"}, {"X-MBX-APIKEY": "b"}
        self.assertEqual([used(self.m.get("/api/v3/ping", headers=a)) for _ in range(3)], [1, 2, 3])
        self.assertEqual(self.m.get("/api/v3/ping", headers=a).status, 429)
        self.assertEqual(used(self.m.get("/api/v3/ping", headers=b)), 1)
        self.assertEqual(used(self.m.get("/api/v3/ping")), 1)  # no header: the IP alone

    def test_off_and_on(self) -> None:
        self.m.server.set_rate_limits(enabled=False)
        for _ in range(10):
            response = self.m.get("/api/v3/ping")
            self.assertEqual(response.status, 200)
            self.assertNotIn("x-mbx-used-weight", response.headers)
        self.m.server.set_rate_limits(enabled=True)
        self.assertEqual(used(self.m.get("/api/v3/ping")), 1)

    def test_reset(self) -> None:
        for _ in range(20):
            self.m.get("/api/v3/ping")
        self.assertEqual(self.m.get("/api/v3/ping").status, 418)
        self.m.server.reset_rate_limits()
        self.assertEqual(used(self.m.get("/api/v3/ping")), 1)

    def test_changing_a_limit_keeps_the_counters(self) -> None:
        for _ in range(3):
            self.m.get("/api/v3/ping")
        self.m.server.set_rate_limits(rest_limit=4)
        self.assertEqual(used(self.m.get("/api/v3/ping")), 4)


class ControlApiTests(SynchronousTestCase):
    def test_get_set_reset(self) -> None:
        m = MemoryServer()
        shown = m.get("/__mockex__/rate-limits").json()
        self.assertEqual(shown["rest"]["windows"][0]["limit"], 6000)
        self.assertEqual(shown["ws"]["messages"], 5)
        changed = m.request("POST", "/__mockex__/rate-limits", body=json.dumps(
            {"rest_limit": 1, "ws_max_connections": 2, "ban_after": None}).encode())
        self.assertEqual(changed.status, 200)
        self.assertEqual(changed.json()["ws"]["max_connections"], 2)
        self.assertEqual(changed.json()["rest"]["ban"], None)
        m.get("/api/v3/ping")
        self.assertEqual(m.get("/api/v3/ping").status, 429)
        self.assertEqual(m.request("POST", "/__mockex__/rate-limits/reset").status, 200)
        self.assertEqual(m.get("/api/v3/ping").status, 200)
        for body in (b"nope", b"[1]", b'{"bogus":1}', b'{"rest_period_ms":1500}'):
            self.assertEqual(m.request("POST", "/__mockex__/rate-limits", body=body).status, 400, body)


class DeclarationTests(SynchronousTestCase):
    def test_binance_declaration(self) -> None:
        self.assertIs(binance_spot.limits, LIMITS)
        weights = LIMITS.rest.weights
        self.assertEqual(
            {k: weights[k] for k in ("ping", "time", "exchangeInfo", "klines", "uiKlines")},
            {"ping": 1, "time": 1, "exchangeInfo": 20, "klines": 2, "uiKlines": 2},
        )
        routes = {r.name for r in binance_spot.rest_routes()}
        self.assertEqual(set(weights), routes, "every route has a declared weight")
        self.assertEqual(LIMITS.ws.messages, 5)
        self.assertEqual(LIMITS.ws.max_streams, 1024)
        self.assertEqual((LIMITS.ws.connection_attempts, LIMITS.ws.attempts_window_ms), (300, 300_000))

    def test_period_units(self) -> None:
        self.assertEqual(period_units(60_000), (MINUTE, 1))
        self.assertEqual(period_units(300_000), (MINUTE, 5))
        self.assertEqual(period_units(10_000), (SECOND, 10))
        self.assertEqual(period_units(86_400_000), ("DAY", 1))
        self.assertRaises(ValueError, period_units, 1500)
        self.assertRaises(ValueError, RestWindow, "X", "FORTNIGHT", 1, 1)

    def test_adjust_ws_limit_and_burst(self) -> None:
        ws = adjust(LIMITS, ws_limit=5, ws_burst=10).ws
        self.assertEqual((ws.messages, ws.message_window_ms), (10, 2000))
        ws = adjust(LIMITS, ws_limit=2).ws
        self.assertEqual((ws.messages, ws.message_window_ms), (2, 1000))
        self.assertIsNone(adjust(LIMITS, ws_limit=None).ws.messages)

    def test_ban_durations(self) -> None:
        ban = BanPolicy()
        self.assertEqual(ban.duration_ms(0), 120_000)
        self.assertEqual(ban.duration_ms(1), 240_000)
        self.assertEqual(ban.duration_ms(10**6), 259_200_000)

    def test_message_window_is_exact(self) -> None:
        window = MessageWindow()
        self.assertEqual([window.admit(t, 5, 1000) for t in (0, 0, 0, 0, 0, 999)], [True] * 5 + [False])
        self.assertEqual([window.admit(1000, 5, 1000) for _ in range(6)], [True] * 5 + [False])
        self.assertFalse(window.admit(1999, 5, 1000))
        self.assertTrue(window.admit(2000, 5, 1000))


# ---------------------------------------------------------------------------
# Properties


class _Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class _Venue:
    """Just enough venue for the limiter: its error responses."""

    def error_response(self, kind: str, detail: str = "") -> Any:
        from mockex.venues.binance import banned, rate_limited

        return rate_limited(detail) if kind == RATE_LIMITED else banned(detail)


ROUTES = [RestRoute("GET", f"/r{w}", lambda r, c: None, f"r{w}") for w in (0, 1, 2, 5, 20)]

steps = st.lists(
    st.tuples(
        st.integers(0, 4),  # route index
        st.integers(0, 2),  # client
        st.sampled_from([0, 0, 0, 1, 7, 250, 999, 1000, 4_000, 61_000]),  # ms to wait first
    ),
    min_size=1,
    max_size=120,
)


class PropertyTests(SynchronousTestCase):
    @settings(max_examples=150)
    @given(
        steps=steps,
        limit=st.integers(0, 60),
        raw=st.integers(1, 40),
        period=st.sampled_from([1_000, 2_000, 60_000]),
        ban_after=st.one_of(st.none(), st.integers(0, 4)),
    )
    def test_no_window_admits_more_than_its_limit_and_headers_equal_use(
        self, steps: list[tuple[int, int, int]], limit: int, raw: int, period: int, ban_after: int | None
    ) -> None:
        """
        For any traffic: no window admits more weight (or requests) than its limit,
        and the used-weight header always equals the weight counted in the current
        window (every request but the ones answered while banned).
        """
        windows = (
            RestWindow("REQUEST_WEIGHT", *period_units(period), limit, WEIGHT,
                       headers=("x-mbx-used-weight",)),
            RestWindow("RAW_REQUESTS", SECOND, 3, raw, "requests", headers=("x-raw",)),
        )
        ban = None if ban_after is None else BanPolicy(after_rejections=ban_after, first_ms=1_500)
        weights = {f"r{w}": w for w in (0, 1, 2, 5, 20)}
        clock = _Clock(10**12)
        limiter = RateLimiter(_Venue(), Limits(RestLimits(windows, weights, ban=ban)), clock)
        admitted: dict[tuple[int, int, int], int] = {}
        counted: dict[tuple[int, int, int], int] = {}
        for route_index, who, wait in steps:
            clock.now += wait
            route = ROUTES[route_index]
            request = RestRequest("GET", route.path, {}, {}, client=f"10.0.0.{who}")
            rejected = limiter.before(route, request)
            response = limiter.after(route, request, rejected or RestResponse(200, b"{}"))
            weight = weights[route.name]
            keys = [(who, i, clock.now - clock.now % w.ms) for i, w in enumerate(windows)]
            if rejected is None or rejected.status == 429:
                counted[keys[0]] = counted.get(keys[0], 0) + weight
                counted[keys[1]] = counted.get(keys[1], 0) + 1
            if rejected is None:
                admitted[keys[0]] = admitted.get(keys[0], 0) + weight
                admitted[keys[1]] = admitted.get(keys[1], 0) + 1
            headers = dict(response.headers)
            self.assertEqual(int(headers["x-mbx-used-weight"]), counted.get(keys[0], 0))
            self.assertEqual(int(headers["x-raw"]), counted.get(keys[1], 0))
            if rejected is not None:
                self.assertIn(rejected.status, (418, 429))
                self.assertGreaterEqual(int(headers["Retry-After"]), 1)
        for (who, i, start), total in admitted.items():
            self.assertLessEqual(total, windows[i].limit)

    @given(steps=steps, limit=st.integers(1, 30))
    def test_memory_server_headers_equal_use(self, steps: list[tuple[int, int, int]], limit: int) -> None:
        """The same through the whole server: StubTreq, Klein, the venue, the wire headers."""
        m = MemoryServer()
        m.server.set_rate_limits(rest_limit=limit, ban_after=2, ban_first_ms=3_000)
        weights = [("/api/v3/ping", 1), ("/api/v3/time", 1), ("/api/v3/exchangeInfo", 20),
                   ("/api/v3/klines", 2)]
        counted: dict[tuple[int, int], int] = {}
        admitted: dict[tuple[int, int], int] = {}
        for route_index, who, wait in steps[:40]:
            m.clock.advance(wait / 1000)
            path, weight = weights[route_index % 4]
            params = KLINES if path.endswith("klines") else {}
            response = m.get(path, client=f"10.1.0.{who}", **params)
            key = (who, m.now_ms() // 60_000)
            if response.status != 418:
                counted[key] = counted.get(key, 0) + weight
            if response.status not in (418, 429):
                admitted[key] = admitted.get(key, 0) + weight
            self.assertEqual(used(response), counted.get(key, 0))
        for total in admitted.values():
            self.assertLessEqual(total, limit)


# ---------------------------------------------------------------------------
# Generic window shapes (what venues other than Binance declare)


class WindowShapeTests(SynchronousTestCase):
    """Per-route and route-scoped windows, windows started by the first request, and
    headers that carry what is left, the limit or the reset time."""

    def limiter(self, *windows: RestWindow, weights: dict[str, int] | None = None) -> tuple[RateLimiter, _Clock]:
        clock = _Clock(1_795_564_800_000)  # a whole minute
        return RateLimiter(_Venue(), Limits(RestLimits(windows, weights or {})), clock), clock

    def call(self, limiter: RateLimiter, route: int, who: str = "10.0.0.1") -> RestResponse:
        r = ROUTES[route]
        request = RestRequest("GET", r.path, {}, {}, client=who)
        rejected = limiter.before(r, request)
        return limiter.after(r, request, rejected or RestResponse(200, b"{}"))

    def test_per_route_windows_count_each_route_apart(self) -> None:
        limiter, clock = self.limiter(RestWindow("E", SECOND, 2, 2, "requests", per_route=True,
                                                 headers=(("rem", REMAINING),)))
        self.assertEqual([self.call(limiter, 0).status for _ in range(3)], [200, 200, 429])
        # another route has its own counter
        self.assertEqual(dict(self.call(limiter, 1).headers)["rem"], "1")
        self.assertEqual(limiter.used("10.0.0.1", "r0"), (3,))
        self.assertEqual(limiter.used("10.0.0.1", "r1"), (1,))
        self.assertEqual(limiter.used("10.0.0.1"), (0,))
        clock.now += 2_000
        self.assertEqual(self.call(limiter, 0).status, 200)

    def test_route_scoped_windows(self) -> None:
        """A window that names routes counts those only; others get none of its headers."""
        limiter, _ = self.limiter(
            RestWindow("ALL", MINUTE, 1, 100, "requests", headers=("all",)),
            RestWindow("R0", SECOND, 2, 1, "requests", routes=("r0",), headers=("r0",)),
        )
        self.assertEqual(self.call(limiter, 0).status, 200)
        over = self.call(limiter, 0)
        self.assertEqual((over.status, over.headers[-1]), (429, ("r0", "2")))
        other = self.call(limiter, 1)
        self.assertEqual((other.status, dict(other.headers)), (200, {"all": "3"}))

    def test_window_started_by_the_first_request(self) -> None:
        """aligned=False: the window runs from the first request, not from the epoch."""
        limiter, clock = self.limiter(RestWindow("POOL", SECOND, 30, 6, WEIGHT, aligned=False,
                                                 headers=(("left", REMAINING), ("reset", RESET_MS),
                                                          ("limit", LIMIT))),
                                      weights={"r2": 2})
        clock.now += 12_345
        first = dict(self.call(limiter, 2).headers)
        self.assertEqual(first, {"left": "4", "reset": "30000", "limit": "6"})
        clock.now += 29_000
        self.call(limiter, 2)
        last = self.call(limiter, 2)
        self.assertEqual(dict(last.headers), {"left": "0", "reset": "1000", "limit": "6"})
        over = self.call(limiter, 2)
        self.assertEqual((over.status, dict(over.headers)["Retry-After"]), (429, "1"))
        clock.now += 1_000  # 30 s after the first request: a new window starts now
        again = dict(self.call(limiter, 2).headers)
        self.assertEqual((again["left"], again["reset"]), ("4", "30000"))

    def test_now_or_reset_headers(self) -> None:
        """The current time until the window is used up, then when it rolls over."""
        limiter, clock = self.limiter(RestWindow("E", SECOND, 10, 2, "requests", headers=(
            ("ms", NOW_OR_RESET_MS), ("s", NOW_OR_RESET_S))))
        clock.now += 2_500
        first = dict(self.call(limiter, 0).headers)
        self.assertEqual(first, {"ms": str(clock.now), "s": str(clock.now // 1000)})
        reaching = dict(self.call(limiter, 0).headers)
        end = clock.now - 2_500 + 10_000
        self.assertEqual(reaching, {"ms": str(end), "s": str(end // 1000)})

    def test_bad_header_value(self) -> None:
        with self.assertRaises(ValueError):
            RestWindow("E", SECOND, 1, 1, headers=(("x", "sometimes"),))

    @settings(max_examples=100)
    @given(steps=steps, limit=st.integers(0, 12), aligned=st.booleans(),
           period=st.sampled_from([1_000, 2_000, 10_000]))
    def test_per_route_property(self, steps: list[tuple[int, int, int]], limit: int, aligned: bool,
                                period: int) -> None:
        """
        For any traffic: no route's window admits more than its limit, and the
        remaining header is the limit less what the route counted in its window.
        """
        window = RestWindow("E", *period_units(period), limit, "requests", per_route=True,
                            aligned=aligned, headers=(("rem", REMAINING), ("used", USED)))
        limiter, clock = self.limiter(window)
        starts: dict[tuple[int, int], int] = {}
        counted: dict[tuple[int, int], int] = {}
        admitted: dict[tuple[int, int], int] = {}
        for route, who, wait in steps:
            clock.now += wait
            key = (route, who)
            start = starts.get(key)
            if start is None or not start <= clock.now < start + period:
                start = starts[key] = clock.now - clock.now % period if aligned else clock.now
                counted[key] = admitted[key] = 0
            response = self.call(limiter, route, f"10.0.0.{who}")
            counted[key] += 1
            if response.status == 200:
                admitted[key] += 1
            headers = dict(response.headers)
            self.assertEqual(int(headers["used"]), counted[key])
            self.assertEqual(int(headers["rem"]), max(0, limit - counted[key]))
            self.assertLessEqual(admitted[key], limit)

"""
Tests for the ``gate_io_spot`` venue (``mockex.venues.gate``), in memory.

Expectations: Gate's API v4 and spot WebSocket v4 docs and the captures named in the
module docstring; the unverified choices listed there are pinned too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.gate import INTERVALS

NOW_MS = DEFAULT_NOW_MS + 37_123
NOW_S = NOW_MS // 1000
_SHARED: list[MemoryServer] = []


def shared() -> MemoryServer:
    if not _SHARED:
        _SHARED.append(MemoryServer("gate_io_spot", now_ms=NOW_MS))
    return _SHARED[0]


def sticks(server: MemoryServer, **params: Any) -> Any:
    if "from_" in params:
        params["from"] = params.pop("from_")
    return server.get("/api/v4/spot/candlesticks", **params)


class GateCase(SynchronousTestCase):
    def rows(self, response: Any) -> list[list[str]]:
        self.assertEqual(response.status, 200, response.body[:300])
        self.assertEqual(response.headers["content-type"], "application/json")
        rows = response.json()
        for row in rows:
            self.assertEqual(len(row), 8)
            self.assertTrue(all(isinstance(x, str) for x in row), row)
            self.assertIn(row[7], ("true", "false"))
            close, high, low, open_ = (Decimal(x) for x in row[2:6])
            self.assertLessEqual(low, min(open_, close))
            self.assertGreaterEqual(high, max(open_, close))
        stamps = [int(r[0]) for r in rows]
        self.assertEqual(stamps, sorted(stamps))
        return rows

    def error(self, response: Any, label: str, message: str, status: int = 400) -> None:
        self.assertEqual(response.status, status, response.body)
        self.assertEqual(response.json(), {"label": label, "message": message})
        self.assertEqual(list(response.json()), ["label", "message"])


class CandlestickTests(GateCase):
    def test_defaults(self) -> None:
        """No interval: 30m; no limit: the last 100, oldest first, the live one last and not closed."""
        rows = self.rows(sticks(shared(), currency_pair="BTC_USDT"))
        self.assertEqual(len(rows), 100)
        self.assertEqual(int(rows[-1][0]), NOW_S // 1800 * 1800)
        self.assertEqual(rows[-1][7], "false")
        self.assertEqual({r[7] for r in rows[:-1]}, {"true"})
        self.assertEqual({int(b[0]) - int(a[0]) for a, b in zip(rows, rows[1:])}, {1800})

    def test_limit(self) -> None:
        self.assertEqual(len(self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", limit=1000))), 1000)
        self.error(sticks(shared(), currency_pair="BTC_USDT", limit=1001), "INVALID_PARAM_VALUE",
                   "limit must be between 1 and 1000")
        self.error(sticks(shared(), currency_pair="BTC_USDT", limit=0), "INVALID_PARAM_VALUE",
                   "limit must be between 1 and 1000")

    def test_from_to_inclusive(self) -> None:
        start = NOW_S - 3600 - NOW_S % 60
        rows = self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=start, to=start + 600))
        self.assertEqual([int(r[0]) for r in rows], list(range(start, start + 601, 60)))
        # from and to inside a candle select it.
        rows = self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=start + 30, to=start + 90))
        self.assertEqual([int(r[0]) for r in rows], [start, start + 60])

    def test_range_capped_at_1000(self) -> None:
        start = NOW_S - 5000 * 60 - NOW_S % 60
        rows = self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=start, to=NOW_S))
        self.assertEqual(len(rows), 1000)
        self.assertEqual(int(rows[0][0]), start)

    def test_from_only_and_to_with_limit(self) -> None:
        rows = self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=NOW_S - 150))
        self.assertEqual(len(rows), 3)
        rows = self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1h", to=NOW_S - 86400, limit=5))
        self.assertEqual(len(rows), 5)
        self.assertEqual(int(rows[-1][0]), (NOW_S - 86400) // 3600 * 3600)

    def test_limit_conflicts_with_from(self) -> None:
        self.error(sticks(shared(), currency_pair="BTC_USDT", from_=NOW_S - 600, limit=5), "INVALID_PARAM_VALUE",
                   "limit is conflicted with from and to")

    def test_too_long_ago(self) -> None:
        message = "Candlestick too long ago. Maximum 10000 points ago are allowed"
        self.error(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=NOW_S - 10_000 * 60 - 60),
                   "INVALID_PARAM_VALUE", message)
        self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=NOW_S - 9_999 * 60))
        self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1d", from_=1_600_000_000, to=1_600_500_000))
        server = MemoryServer("gate_io_spot", now_ms=NOW_MS, options={"gate_history_points": "0"})
        self.assertEqual(len(self.rows(sticks(server, currency_pair="BTC_USDT", interval="1m",
                                              from_=1_600_000_000))), 1000)

    def test_every_interval(self) -> None:
        for name, interval in INTERVALS.items():
            rows = self.rows(sticks(shared(), currency_pair="ETH_USDT", interval=name, limit=3))
            self.assertEqual(len(rows), 3, name)
            if not interval.months:
                self.assertEqual({(int(r[0]) * 1000 - interval.anchor_ms) % interval.ms for r in rows}, {0}, name)
        month = self.rows(sticks(shared(), currency_pair="ETH_USDT", interval="30d", limit=2))
        self.assertEqual([r[0] for r in month], ["1790812800", "1793491200"])

    def test_quote_and_base_volume(self) -> None:
        minutes = self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=1_795_000_200,
                                   to=1_795_000_200 + 14 * 60))
        five = self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="5m", from_=1_795_000_200,
                                to=1_795_000_200 + 14 * 60))
        self.assertEqual(len(five), 3)
        self.assertEqual(Decimal(five[1][6]), sum(Decimal(m[6]) for m in minutes[5:10]))
        self.assertEqual(Decimal(five[1][1]), sum(Decimal(m[1]) for m in minutes[5:10]))

    def test_errors(self) -> None:
        self.error(sticks(shared(), interval="1m"), "MISSING_REQUIRED_PARAM", "Missing required parameter: currency_pair")
        self.error(sticks(shared(), currency_pair="BTCUSDT"), "INVALID_CURRENCY_PAIR", "Invalid currency pair BTCUSDT")
        self.error(sticks(shared(), currency_pair="BTC_USDT", interval="1w"), "INVALID_PARAM_VALUE", "Invalid interval: 1w")
        self.error(sticks(shared(), currency_pair="BTC_USDT", limit="x"), "INVALID_PARAM_VALUE", "Invalid limit: x")
        self.error(sticks(shared(), currency_pair="BTC_USDT", from_=NOW_S, to=NOW_S - 60), "INVALID_PARAM_VALUE",
                   "from must be earlier than to")

    def test_future_is_empty(self) -> None:
        self.assertEqual(self.rows(sticks(shared(), currency_pair="BTC_USDT", interval="1m", from_=NOW_S + 120)), [])


class OtherEndpointTests(GateCase):
    def test_time(self) -> None:
        self.assertEqual(shared().get("/api/v4/spot/time").body, b'{"server_time":%d}' % NOW_MS)

    def test_currency_pairs(self) -> None:
        pairs = shared().get("/api/v4/spot/currency_pairs").json()
        self.assertEqual([p["id"] for p in pairs],
                         ["BTC_USDT", "ETH_USDT", "BNB_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT", "ETH_BTC"])
        btc = pairs[0]
        self.assertEqual((btc["precision"], btc["amount_precision"], btc["trade_status"]), (2, 5, "tradable"))
        self.assertEqual(shared().get("/api/v4/spot/currency_pairs/BTC_USDT").json(), btc)
        self.error(shared().get("/api/v4/spot/currency_pairs/NOPE_USDT"), "INVALID_CURRENCY_PAIR",
                   "Invalid currency pair NOPE_USDT")

    def test_currencies_and_empty_families(self) -> None:
        self.assertEqual(len(shared().get("/api/v4/spot/currencies").json()), 7)
        for path in ("/api/v4/margin/currency_pairs", "/api/v4/futures/usdt/contracts",
                     "/api/v4/futures/btc/contracts", "/api/v4/delivery/usdt/contracts", "/api/v4/options/underlyings"):
            self.assertEqual(shared().get(path).json(), [], path)

    def test_unknown_path_and_method(self) -> None:
        self.error(shared().get("/api/v4/nope"), "NOT_FOUND", "Not Found", 404)
        self.error(shared().request("POST", "/api/v4/spot/time"), "METHOD_NOT_ALLOWED", "Method Not Allowed", 405)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


class PropertyTests(GateCase):
    @given(st.fixed_dictionaries({}, optional={
        "currency_pair": st.one_of(TEXT, st.sampled_from(["BTC_USDT", "ETH_BTC"])),
        "interval": st.one_of(TEXT, st.sampled_from(list(INTERVALS))),
        "limit": st.one_of(TEXT, st.integers(-5, 2000).map(str)),
        "from": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
        "to": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
    }))
    @settings(max_examples=60)
    def test_never_5xx(self, params: dict[str, str]) -> None:
        response = shared().get("/api/v4/spot/candlesticks", **params)
        self.assertIn(response.status, (200, 400), (params, response.body[:200]))
        body = response.json()
        if response.status == 200:
            self.assertLessEqual(len(body), 1000)
        else:
            self.assertEqual(list(body), ["label", "message"])


class WsCase(GateCase):
    def setUp(self) -> None:
        self.server = MemoryServer("gate_io_spot", now_ms=DEFAULT_NOW_MS)
        self.client = self.server.connect("/ws/v4/")

    def send(self, request: Any) -> list[Any]:
        self.client.take()
        if isinstance(request, (bytes, str)):
            self.client.send_text(request)
        else:
            self.client.send_json(request)
        self.server.flush()
        return self.client.take()


class WebSocketTests(WsCase):
    def test_subscribe_ack(self) -> None:
        [ack] = self.send({"time": 1, "id": 7, "channel": "spot.candlesticks", "event": "subscribe",
                           "payload": ["1m", "BTC_USDT"]})
        self.assertEqual(list(ack), ["time", "time_ms", "id", "conn_id", "trace_id", "channel", "event", "payload",
                                     "result", "requestId"])
        self.assertEqual(ack["id"], 7)
        self.assertEqual(ack["result"], {"status": "success"})
        self.assertEqual(ack["requestId"], ack["trace_id"])
        self.assertEqual(ack["time"], ack["time_ms"] // 1000)

    def test_pushes_match_rest(self) -> None:
        self.send({"time": 1, "id": 1, "channel": "spot.candlesticks", "event": "subscribe",
                   "payload": ["1m", "BTC_USDT"]})
        self.server.advance(2)
        pushes = self.client.take()
        self.assertEqual(len(pushes), 2)
        push = pushes[-1]
        self.assertEqual(list(push), ["time", "time_ms", "channel", "event", "result"])
        self.assertEqual(push["event"], "update")
        self.assertEqual(list(push["result"]), ["t", "v", "c", "h", "l", "o", "n", "a", "w"])
        self.assertEqual(push["result"]["n"], "1m_BTC_USDT")
        self.assertIs(push["result"]["w"], False)
        row = sticks(self.server, currency_pair="BTC_USDT", interval="1m", limit=1).json()[-1]
        r = push["result"]
        self.assertEqual([r["t"], r["v"], r["c"], r["h"], r["l"], r["o"], r["a"]], row[:7])

    def test_window_closes_once(self) -> None:
        self.send({"time": 1, "id": 1, "channel": "spot.candlesticks", "event": "subscribe",
                   "payload": ["1m", "BTC_USDT"]})
        self.server.advance(61)
        closed = [p for p in self.client.take() if p["result"]["w"]]
        self.assertEqual(len(closed), 1)
        self.assertEqual(closed[0]["result"]["t"], str(DEFAULT_NOW_MS // 1000))

    def test_unsubscribe(self) -> None:
        self.send({"time": 1, "id": 1, "channel": "spot.candlesticks", "event": "subscribe",
                   "payload": ["5m", "ETH_USDT"]})
        [ack] = self.send({"time": 1, "id": 2, "channel": "spot.candlesticks", "event": "unsubscribe",
                           "payload": ["5m", "ETH_USDT"]})
        self.assertEqual((ack["event"], ack["result"]), ("unsubscribe", {"status": "success"}))
        self.server.advance(3)
        self.assertEqual(self.client.take(), [])
        self.assertEqual(self.server.server.hub.active_feeds, [])

    def test_ping(self) -> None:
        [pong] = self.send({"time": 123, "channel": "spot.ping"})
        self.assertEqual(list(pong), ["time", "time_ms", "conn_id", "trace_id", "channel", "event", "result"])
        self.assertEqual((pong["channel"], pong["event"], pong["result"]), ("spot.pong", "", None))

    def test_errors(self) -> None:
        cases = [
            (["1m", "NOPE_USDT"], 2, "unknown currency pair: NOPE_USDT"),
            (["1s", "BTC_USDT"], 2, "invalid interval: 1s"),
            (["BTC_USDT"], 2, "invalid argument"),
            ("1m", 2, "invalid argument"),
        ]
        for payload, code, message in cases:
            [answer] = self.send({"time": 1, "id": 3, "channel": "spot.candlesticks", "event": "subscribe",
                                  "payload": payload})
            self.assertEqual(answer["error"], {"code": code, "message": message})
            self.assertEqual(answer["result"], {"status": "fail"})
        [answer] = self.send({"time": 1, "id": 4, "channel": "spot.nothing", "event": "subscribe", "payload": []})
        self.assertEqual(answer["error"], {"code": 2, "message": "unknown channel spot.nothing"})
        for text in ("{bad", "[]", '{"channel": 5}'):
            [answer] = self.send(text)
            self.assertEqual(answer["error"], {"code": 1, "message": "invalid argument struct"})
        self.assertFalse(self.client.lost)

    @given(st.text(max_size=80))
    @settings(max_examples=40)
    def test_arbitrary_frames(self, text: str) -> None:
        for answer in self.send(text):
            self.assertIn("time", answer)
        self.assertFalse(self.client.lost)

    def test_no_server_pings_no_timeout(self) -> None:
        self.server.advance(120, step=5)
        self.assertEqual(self.client.pings, [])
        self.assertFalse(self.client.lost)

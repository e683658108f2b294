"""
In-memory tests of the Bybit venues (``bybit_spot``, ``bybit_perpetual``): every REST
endpoint and error, the kline streams, their acks, pings and errors. Expected values
come from Bybit's v5 docs, ccxt 4.5 and pybit, as named in mockex/venues/bybit.py.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer

MINUTE = 60_000
NOW = DEFAULT_NOW_MS + 37_123
ENVELOPE_KEYS = ["retCode", "retMsg", "result", "retExtInfo", "time"]
CODES = ["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"]


def kline(server: MemoryServer, **params: Any) -> Any:
    response = server.get("/v5/market/kline", **params)
    assert response.status == 200, response
    return response.json()


class SpotRestTests(SynchronousTestCase):
    venue = "bybit_spot"
    category = "spot"
    bad_symbol = "Not supported symbols"

    def setUp(self) -> None:
        self.server = MemoryServer(self.venue, now_ms=NOW)

    def rows(self, **params: Any) -> list[list[str]]:
        params.setdefault("category", self.category)
        params.setdefault("symbol", "BTCUSDT")
        params.setdefault("interval", "1")
        body = kline(self.server, **params)
        self.assertEqual((body["retCode"], body["retMsg"]), (0, "OK"), body)
        return body["result"]["list"]

    def error(self, **params: Any) -> tuple[int, str]:
        body = kline(self.server, **params)
        self.assertEqual(list(body), ENVELOPE_KEYS)
        self.assertEqual(body["result"], {})
        return body["retCode"], body["retMsg"]

    def test_envelope_and_rows(self) -> None:
        """The envelope keys in order; rows newest first, 7 strings, the live one first."""
        body = kline(self.server, category=self.category, symbol="BTCUSDT", interval="1", limit=3)
        self.assertEqual(list(body), ENVELOPE_KEYS)
        self.assertEqual(body["time"], NOW)
        self.assertEqual(list(body["result"]), ["symbol", "category", "list"])
        self.assertEqual((body["result"]["symbol"], body["result"]["category"]), ("BTCUSDT", self.category))
        rows = body["result"]["list"]
        self.assertEqual(len(rows), 3)
        for row in rows:
            self.assertEqual(len(row), 7)
            self.assertTrue(all(isinstance(x, str) for x in row))
            self.assertFalse(row[1].endswith("0") and "." in row[1])
        stamps = [int(r[0]) for r in rows]
        self.assertEqual(stamps, [NOW // MINUTE * MINUTE - i * MINUTE for i in range(3)])

    def test_default_and_max_limit(self) -> None:
        self.assertEqual(len(self.rows()), 200)
        self.assertEqual(len(self.rows(limit=1000)), 1000)
        self.assertEqual(len(self.rows(limit=5000)), 1000)
        self.assertEqual(len(self.rows(limit=0)), 200)

    def test_limit_switch(self) -> None:
        server = MemoryServer(self.venue, now_ms=NOW, options={"limit_out_of_range": "error"})
        body = kline(server, category=self.category, symbol="BTCUSDT", interval="1", limit=1001)
        self.assertEqual(body["retCode"], 10001)

    def test_start_only_pages_forward(self) -> None:
        """Only ``start``: the oldest ``limit`` from it (ccxt pages forward so)."""
        start = NOW - 500 * MINUTE
        rows = self.rows(start=start, limit=10)
        first = -(-start // MINUTE) * MINUTE
        self.assertEqual([int(r[0]) for r in reversed(rows)], [first + i * MINUTE for i in range(10)])

    def test_end_only(self) -> None:
        end = NOW - 500 * MINUTE
        rows = self.rows(end=end, limit=5)
        self.assertEqual(int(rows[0][0]), end // MINUTE * MINUTE)
        self.assertEqual(len(rows), 5)

    def test_both_bounds_newest(self) -> None:
        start, end = NOW - 500 * MINUTE, NOW - 100 * MINUTE
        rows = self.rows(start=start, end=end, limit=10)
        self.assertEqual(int(rows[0][0]), end // MINUTE * MINUTE)
        few = self.rows(start=end - 3 * MINUTE, end=end, limit=10)
        self.assertEqual(len(few), 3)  # opens in [start, end]
        server = MemoryServer(self.venue, now_ms=NOW, options={"both_bounds": "oldest"})
        body = kline(server, category=self.category, symbol="BTCUSDT", interval="1", start=start, end=end, limit=10)
        self.assertEqual(int(body["result"]["list"][-1][0]), -(-start // MINUTE) * MINUTE)
        self.assertEqual(self.rows(start=end, end=start), [])

    def test_every_interval(self) -> None:
        for code in CODES:
            rows = self.rows(interval=code, limit=2)
            self.assertEqual(len(rows), 2, code)
        week = self.rows(interval="W", limit=1)[0]
        # Mondays: 1970-01-05 is day 4.
        self.assertEqual((int(week[0]) // 86_400_000 - 4) % 7, 0)

    def test_consistent_with_the_stream_and_across_intervals(self) -> None:
        five = self.rows(interval="5", limit=3)[1]
        ones = [r for r in self.rows(interval="1", limit=20) if int(five[0]) <= int(r[0]) < int(five[0]) + 5 * MINUTE]
        self.assertEqual(len(ones), 5)
        ones.reverse()
        self.assertEqual(five[1], ones[0][1])
        self.assertEqual(five[4], ones[-1][4])
        self.assertEqual(float(five[2]), max(float(r[2]) for r in ones))

    def test_errors(self) -> None:
        self.assertEqual(self.error(category=self.category, symbol="NOPEUSDT", interval="1"), (10001, self.bad_symbol))
        self.assertEqual(self.error(category=self.category, symbol="BTCUSDT", interval="2"),
                         (10001, "params error: intervalTime is invalid"))
        self.assertEqual(self.error(category=self.category, symbol="BTCUSDT"),
                         (10001, "params error: intervalTime is invalid"))
        self.assertEqual(self.error(category=self.category, interval="1"),
                         (10001, "params error: symbol is required"))
        self.assertEqual(self.error(category="futures", symbol="BTCUSDT", interval="1"), (10001, "Illegal category"))
        for name in ("start", "end", "limit"):
            self.assertEqual(
                self.error(category=self.category, symbol="BTCUSDT", interval="1", **{name: "x"}),
                (10001, f"params error: {name} is invalid"),
            )

    def test_other_category_is_not_listed(self) -> None:
        other = "linear" if self.category == "spot" else "spot"
        code, _ = self.error(category=other, symbol="BTCUSDT", interval="1")
        self.assertEqual(code, 10001)

    def test_time(self) -> None:
        body = self.server.get("/v5/market/time").json()
        self.assertEqual(body["result"], {"timeSecond": str(NOW // 1000), "timeNano": str(NOW * 1_000_000)})
        self.assertEqual(body["time"], NOW)

    def test_instruments(self) -> None:
        body = self.server.get("/v5/market/instruments-info", category=self.category).json()
        self.assertEqual(body["retCode"], 0)
        entries = body["result"]["list"]
        self.assertEqual([e["symbol"] for e in entries], ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"])
        self.assertEqual(entries[0]["status"], "Trading")
        one = self.server.get("/v5/market/instruments-info", category=self.category, symbol="ETHUSDT").json()
        self.assertEqual([e["symbol"] for e in one["result"]["list"]], ["ETHUSDT"])
        for other in ("spot", "linear", "inverse", "option"):
            if other != self.category:
                empty = self.server.get("/v5/market/instruments-info", category=other).json()
                self.assertEqual(empty["result"]["list"], [])
        self.assertEqual(self.server.get("/v5/market/instruments-info").json()["retMsg"], "Illegal category")

    def test_unknown_path(self) -> None:
        self.assertEqual(self.server.get("/v5/market/nothing").status, 404)
        self.assertEqual(self.server.request("POST", "/v5/market/kline").status, 405)

    @settings(max_examples=60, suppress_health_check=[HealthCheck.differing_executors])
    @given(st.dictionaries(
        st.sampled_from(["category", "symbol", "interval", "start", "end", "limit", "x"]),
        st.one_of(st.text(max_size=25), st.integers(-10**20, 10**20).map(str)), max_size=6,
    ))
    def test_arbitrary_parameters_never_5xx(self, params: dict[str, str]) -> None:
        response = self.server.get("/v5/market/kline", **params)
        self.assertEqual(response.status, 200)
        self.assertIn("retCode", response.json())


class LinearRestTests(SpotRestTests):
    venue = "bybit_perpetual"
    category = "linear"
    bad_symbol = "Symbol Is Invalid"

    def test_category_defaults_to_linear(self) -> None:
        body = kline(self.server, symbol="BTCUSDT", interval="1", limit=1)
        self.assertEqual(body["result"]["category"], "linear")
        self.assertEqual(len(body["result"]["list"]), 1)

    def test_instrument_fields_ccxt_reads(self) -> None:
        body = self.server.get("/v5/market/instruments-info", category="linear", limit="1000").json()
        btc = body["result"]["list"][0]
        self.assertEqual(body["result"]["nextPageCursor"], "")
        self.assertEqual((btc["contractType"], btc["settleCoin"], btc["priceFilter"]["tickSize"],
                          btc["lotSizeFilter"]["qtyStep"]), ("LinearPerpetual", "USDT", "0.1", "0.001"))
        prelaunch = self.server.get("/v5/market/instruments-info", category="linear", status="PreLaunch").json()
        self.assertEqual(prelaunch["result"]["list"], [])


class StreamTests(SynchronousTestCase):
    venue = "bybit_spot"
    path = "/v5/public/spot"
    ack_msg = "subscribe"

    def setUp(self) -> None:
        self.server = MemoryServer(self.venue, now_ms=DEFAULT_NOW_MS)
        self.addCleanup(self.server.stop)

    def test_subscribe_push_close(self) -> None:
        """Ack, one push a second while open, exactly one ``confirm: true`` at the close."""
        ws = self.server.connect(self.path)
        ws.send_json({"op": "subscribe", "req_id": "7", "args": ["kline.1.BTCUSDT"]})
        self.server.advance(0.1)
        ack = ws.take()[0]
        self.assertEqual(list(ack), ["success", "ret_msg", "conn_id", "req_id", "op"])
        self.assertEqual((ack["success"], ack["ret_msg"], ack["req_id"], ack["op"]),
                         (True, self.ack_msg, "7", "subscribe"))
        self.server.advance(61)
        pushes = ws.take()
        self.assertGreaterEqual(len(pushes), 59)
        first = pushes[0]
        self.assertEqual(list(first), ["topic", "data", "ts", "type"])
        self.assertEqual((first["topic"], first["type"]), ("kline.1.BTCUSDT", "snapshot"))
        candle = first["data"][0]
        self.assertEqual(list(candle), ["start", "end", "interval", "open", "close", "high", "low", "volume",
                                        "turnover", "confirm", "timestamp"])
        self.assertEqual((candle["start"], candle["end"], candle["interval"]),
                         (DEFAULT_NOW_MS, DEFAULT_NOW_MS + MINUTE - 1, "1"))
        closes = [p["data"][0] for p in pushes if p["data"][0]["confirm"]]
        self.assertEqual(len(closes), 1)
        rest = kline(self.server, category=self.category(), symbol="BTCUSDT", interval="1",
                     start=DEFAULT_NOW_MS, limit=1)["result"]["list"][0]
        closed = closes[0]
        self.assertEqual(rest, [str(closed["start"]), closed["open"], closed["high"], closed["low"],
                                closed["close"], closed["volume"], closed["turnover"]])

    def category(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def test_unsubscribe(self) -> None:
        ws = self.server.connect(self.path)
        ws.send_json({"op": "subscribe", "req_id": "1", "args": ["kline.1.BTCUSDT"]})
        self.server.advance(3)
        ws.send_json({"op": "unsubscribe", "req_id": "2", "args": ["kline.1.BTCUSDT"]})
        self.server.advance(0.1)
        ws.take()
        self.server.advance(5)
        self.assertEqual(ws.take(), [])
        self.assertEqual(self.server.server.hub.active_feeds, [])

    def test_ping(self) -> None:
        ws = self.server.connect(self.path)
        ws.send_json({"op": "ping", "req_id": "100001"})
        ws.send_json({"op": "ping"})
        self.server.advance(0.1)
        with_id, without = ws.take()
        if self.venue == "bybit_spot":
            self.assertEqual(list(with_id), ["req_id", "op", "args", "conn_id"])
            self.assertEqual((with_id["op"], with_id["args"]), ("pong", [str(DEFAULT_NOW_MS + 100)]))
            self.assertNotIn("req_id", without)
        else:
            self.assertEqual((with_id["success"], with_id["ret_msg"], with_id["op"]), (True, "pong", "ping"))

    def test_errors(self) -> None:
        ws = self.server.connect(self.path)
        for request in (
            {"op": "subscribe", "req_id": "1", "args": ["kline.7.BTCUSDT"]},
            {"op": "subscribe", "req_id": "2", "args": ["kline.1.NOPE"]},
            {"op": "subscribe", "req_id": "3", "args": []},
            {"op": "dance", "req_id": "4"},
        ):
            ws.send_json(request)
        ws.send_text("{nope")
        ws.send_json({"op": "subscribe", "req_id": "5", "args": ["kline.1.BTCUSDT"]})
        ws.send_json({"op": "subscribe", "req_id": "6", "args": ["kline.1.BTCUSDT"]})
        self.server.advance(0.1)
        replies = [m for m in ws.take() if "success" in m]
        self.assertEqual([r["success"] for r in replies], [False, False, False, False, False, True, False])
        self.assertEqual(replies[0]["ret_msg"], "error:handler not found,topic:kline.7.BTCUSDT")
        self.assertEqual(replies[6]["ret_msg"], "error:already subscribed,topic:kline.1.BTCUSDT")
        self.assertTrue(ws.opened and not ws.lost)

    @settings(max_examples=40, suppress_health_check=[HealthCheck.differing_executors])
    @given(st.one_of(st.text(max_size=200), st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
            st.sampled_from(["op", "args", "req_id", "x"]), inner, max_size=4),
        max_leaves=10).map(lambda v: __import__("json").dumps(v))))
    def test_arbitrary_frames_keep_the_connection(self, payload: str) -> None:
        """Any text frame (valid UTF-8: anything else is a protocol error) gets an answer
        or silence, never a closed connection."""
        ws = self.server.connect(self.path)
        ws.send_text(payload)
        self.server.advance(0.1)
        self.assertFalse(ws.lost)
        ws.dropConnection()


class LinearStreamTests(StreamTests):
    venue = "bybit_perpetual"
    path = "/v5/public/linear"
    ack_msg = ""

    def test_spot_args_limit_does_not_apply(self) -> None:
        ws = self.server.connect(self.path)
        ws.send_json({"op": "subscribe", "args": [f"kline.{c}.BTCUSDT" for c in CODES]})
        self.server.advance(0.1)
        self.assertTrue(ws.take()[0]["success"])


class SpotArgsLimitTests(SynchronousTestCase):
    def test_at_most_ten_args(self) -> None:
        server = MemoryServer("bybit_spot")
        ws = server.connect("/v5/public/spot")
        ws.send_json({"op": "subscribe", "args": [f"kline.{c}.BTCUSDT" for c in CODES]})
        server.advance(0.1)
        reply = ws.take()[0]
        self.assertEqual((reply["success"], reply["ret_msg"]), (False, "error:args size >10"))
        server.stop()

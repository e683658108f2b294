"""
In-memory tests of the OKX venues (``okx_spot``, ``okx_perpetual``): candles and
history-candles with their cursors, instruments, time, every error, and the candle
channels of ``/ws/v5/business``. Expected values come from OKX's v5 docs, ccxt 4.5 and
python-okx, as named in mockex/venues/okx.py.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NOW = DEFAULT_NOW_MS + 37_123
BARS = ["1s", "1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6H", "12H", "1D", "2D", "3D", "1W", "1M", "3M",
        "6Hutc", "12Hutc", "1Dutc", "2Dutc", "3Dutc", "1Wutc", "1Mutc", "3Mutc"]
NO_INSTRUMENT = "Instrument ID, Instrument ID code, or Spread ID doesn't exist."
SUPPRESS = [HealthCheck.differing_executors]


class SpotRestTests(SynchronousTestCase):
    venue = "okx_spot"
    inst = "BTC-USDT"
    inst_type = "SPOT"

    def setUp(self) -> None:
        self.server = MemoryServer(self.venue, now_ms=NOW)
        # These tests send bursts at one instant of the market clock; OKX's per-endpoint
        # windows (candles 40, history-candles 20, ... per 2 s) are test_venue_limits'.
        self.server.server.set_rate_limits(enabled=False)

    def rows(self, path: str = "/api/v5/market/candles", **params: Any) -> list[list[str]]:
        params.setdefault("instId", self.inst)
        response = self.server.get(path, **{k: v for k, v in params.items() if v is not None})
        self.assertEqual(response.status, 200, response)
        body = response.json()
        self.assertEqual(list(body), ["code", "msg", "data"])
        self.assertEqual((body["code"], body["msg"]), ("0", ""))
        return body["data"]

    def error(self, path: str = "/api/v5/market/candles", **params: Any) -> tuple[int, str, str]:
        response = self.server.get(path, **params)
        body = response.json()
        self.assertEqual(list(body), ["code", "data", "msg"])
        self.assertEqual(body["data"], [])
        return response.status, body["code"], body["msg"]

    def test_rows(self) -> None:
        """Newest first, 9 strings, the live candle first with confirm "0"."""
        rows = self.rows(bar="1m", limit=3)
        self.assertEqual([int(r[0]) for r in rows], [NOW // MINUTE * MINUTE - i * MINUTE for i in range(3)])
        for row in rows:
            self.assertEqual(len(row), 9)
            self.assertTrue(all(isinstance(x, str) for x in row))
        self.assertEqual([r[8] for r in rows], ["0", "1", "1"])

    def test_volumes(self) -> None:
        row = self.rows(bar="1H", limit=2)[1]
        vol, vol_ccy, quote = float(row[5]), float(row[6]), float(row[7])
        if self.inst_type == "SPOT":
            self.assertEqual(vol_ccy, quote)
            self.assertLess(abs(quote / vol / float(row[4]) - 1), 0.02)
        else:
            self.assertAlmostEqual(vol, vol_ccy * 100, places=3)  # ctVal 0.01 BTC
            self.assertLess(abs(quote / vol_ccy / float(row[4]) - 1), 0.02)

    def test_default_and_max_limit(self) -> None:
        self.assertEqual(len(self.rows()), 100)
        self.assertEqual(len(self.rows(limit=300)), 300)
        self.assertEqual(len(self.rows(limit=1000)), 300)
        self.assertEqual(self.error(instId=self.inst, limit="0"), (400, "51000", "Parameter limit error"))
        server = MemoryServer(self.venue, now_ms=NOW, options={"limit_over_max": "error"})
        self.assertEqual(server.get("/api/v5/market/candles", instId=self.inst, limit="301").status, 400)

    def test_cursors(self) -> None:
        """``after``: older than; ``before``: newer than; both: the newest in between."""
        t = NOW // MINUTE * MINUTE - 50 * MINUTE
        older = self.rows(bar="1m", after=t, limit=3)
        self.assertEqual([int(r[0]) for r in older], [t - MINUTE, t - 2 * MINUTE, t - 3 * MINUTE])
        newer = self.rows(bar="1m", before=t, limit=3)
        self.assertEqual(int(newer[0][0]), NOW // MINUTE * MINUTE)
        between = self.rows(bar="1m", before=t - 10 * MINUTE, after=t, limit=100)
        self.assertEqual([int(r[0]) for r in between], [t - i * MINUTE for i in range(1, 10)])
        self.assertEqual(self.rows(bar="1m", before=t, after=t - MINUTE), [])

    def test_before_only_switch(self) -> None:
        server = MemoryServer(self.venue, now_ms=NOW, options={"before_only": "oldest"})
        t = NOW // MINUTE * MINUTE - 50 * MINUTE
        rows = server.get("/api/v5/market/candles", instId=self.inst, before=t, limit=2).json()["data"]
        self.assertEqual([int(r[0]) for r in rows], [t + 2 * MINUTE, t + MINUTE])

    def test_ccxt_since_window(self) -> None:
        """ccxt sends before=since-1, after=since+limit*duration: exactly ``limit`` rows from since."""
        since = NOW // HOUR * HOUR - 200 * HOUR
        rows = self.rows(bar="1H", before=since - 1, after=since + 100 * HOUR, limit=100)
        self.assertEqual([int(r[0]) for r in reversed(rows)], [since + i * HOUR for i in range(100)])

    def test_candles_reach_back_1440(self) -> None:
        old = NOW - 2000 * MINUTE
        self.assertEqual(self.rows(bar="1m", after=old), [])
        history = self.rows("/api/v5/market/history-candles", bar="1m", after=old, limit=300)
        self.assertEqual(len(history), 300)
        self.assertEqual(int(history[0][0]), (old - 1) // MINUTE * MINUTE)
        edge = self.rows(bar="1m", after=NOW - 1438 * MINUTE, limit=300)
        # The 1440th candle back (counting the live one) is the oldest /candles has.
        self.assertEqual([int(r[0]) for r in edge],
                         [NOW // MINUTE * MINUTE - 1438 * MINUTE, NOW // MINUTE * MINUTE - 1439 * MINUTE])

    def test_every_bar_and_time_zones(self) -> None:
        for bar in BARS:
            self.assertEqual(len(self.rows("/api/v5/market/history-candles", bar=bar, limit=2)), 2, bar)
        hk = int(self.rows(bar="1D", limit=1)[0][0])
        utc = int(self.rows(bar="1Dutc", limit=1)[0][0])
        self.assertEqual(hk % DAY, 16 * HOUR)  # 00:00 in Hong Kong
        self.assertEqual(utc % DAY, 0)
        week = int(self.rows(bar="1W", limit=1)[0][0])
        self.assertEqual(((week + 8 * HOUR) // DAY - 4) % 7, 0)  # a Monday in Hong Kong

    def test_errors(self) -> None:
        self.assertEqual(self.error(), (400, "50014", "Parameter instId can not be empty."))
        self.assertEqual(self.error(instId=self.inst, bar="1h"), (400, "51000", "Parameter bar error"))
        self.assertEqual(self.error(instId=self.inst, after="x"), (400, "51000", "Parameter after error"))
        self.assertEqual(self.error(instId=self.inst, before="1.5"), (400, "51000", "Parameter before error"))
        self.assertEqual(self.error(instId="NOPE-USDT"), (200, "51001", NO_INSTRUMENT))
        self.assertEqual(self.error("/api/v5/market/history-candles", instId="NOPE-USDT"),
                         (200, "51001", NO_INSTRUMENT))

    def test_time(self) -> None:
        body = self.server.get("/api/v5/public/time").json()
        self.assertEqual(body, {"code": "0", "msg": "", "data": [{"ts": str(NOW)}]})

    def test_instruments(self) -> None:
        data = self.rows("/api/v5/public/instruments", instType=self.inst_type, instId=None)
        self.assertEqual(data[0]["instId"], self.inst)
        self.assertEqual(list(data[0]), sorted(data[0]))
        self.assertEqual(data[0]["state"], "live")
        for other in ("SPOT", "SWAP", "FUTURES"):
            if other != self.inst_type:
                self.assertEqual(self.rows("/api/v5/public/instruments", instType=other, instId=None), [])
        self.assertEqual(self.rows("/api/v5/public/instruments", instType="OPTION", uly="BTC-USD", instId=None), [])
        self.assertEqual(self.error("/api/v5/public/instruments"), (400, "50014", "Parameter instType can not be empty."))
        self.assertEqual(self.error("/api/v5/public/instruments", instType="X"), (400, "51000", "Parameter instType error"))

    def test_unknown_path(self) -> None:
        response = self.server.get("/api/v5/market/nothing")
        self.assertEqual((response.status, response.json()["code"]), (404, "404"))

    @settings(max_examples=60, suppress_health_check=SUPPRESS)
    @given(st.dictionaries(
        st.sampled_from(["instId", "bar", "after", "before", "limit", "x"]),
        st.one_of(st.text(max_size=25), st.integers(-10**20, 10**20).map(str)), max_size=6,
    ))
    def test_arbitrary_parameters_never_5xx(self, params: dict[str, str]) -> None:
        for path in ("/api/v5/market/candles", "/api/v5/market/history-candles"):
            response = self.server.get(path, **params)
            self.assertIn(response.status, (200, 400))
            self.assertIn("code", response.json())


class SwapRestTests(SpotRestTests):
    venue = "okx_perpetual"
    inst = "BTC-USDT-SWAP"
    inst_type = "SWAP"

    def test_swap_instrument(self) -> None:
        data = self.rows("/api/v5/public/instruments", instType="SWAP", instId=None)
        btc = data[0]
        self.assertEqual((btc["instFamily"], btc["uly"], btc["ctVal"], btc["ctValCcy"], btc["settleCcy"],
                          btc["tickSz"], btc["lotSz"]), ("BTC-USDT", "BTC-USDT", "0.01", "BTC", "USDT", "0.1", "0.01"))
        xrp = [d for d in data if d["instId"] == "XRP-USDT-SWAP"][0]
        self.assertEqual(xrp["ctVal"], "100")


class StreamTests(SynchronousTestCase):
    venue = "okx_spot"
    inst = "BTC-USDT"

    def setUp(self) -> None:
        self.server = MemoryServer(self.venue, now_ms=DEFAULT_NOW_MS)
        self.addCleanup(self.server.stop)
        # Many connections at one instant; OKX's 3 connections per second per IP is
        # test_venue_limits' concern.
        self.server.server.set_rate_limits(enabled=False)

    def test_subscribe_push_close(self) -> None:
        ws = self.server.connect("/ws/v5/business")
        arg = {"channel": "candle1m", "instId": self.inst}
        ws.send_json({"id": "1512", "op": "subscribe", "args": [arg]})
        self.server.advance(0.1)
        ack = ws.take()[0]
        self.assertEqual(list(ack), ["id", "event", "arg", "connId"])
        self.assertEqual((ack["id"], ack["event"], ack["arg"]), ("1512", "subscribe", arg))
        self.server.advance(61)
        pushes = ws.take()
        self.assertGreaterEqual(len(pushes), 118)
        self.assertEqual(list(pushes[0]), ["arg", "data"])
        self.assertEqual(pushes[0]["arg"], arg)
        closes = [p["data"][0] for p in pushes if p["data"][0][8] == "1"]
        self.assertEqual(len(closes), 1)
        rest = self.server.get("/api/v5/market/candles", instId=self.inst, bar="1m",
                               before=DEFAULT_NOW_MS - 1, after=DEFAULT_NOW_MS + 1).json()["data"]
        self.assertEqual(rest, closes)

    def test_hong_kong_day(self) -> None:
        ws = self.server.connect("/ws/v5/business")
        ws.send_json({"op": "subscribe", "args": [{"channel": "candle1D", "instId": self.inst},
                                                  {"channel": "candle1Dutc", "instId": self.inst}]})
        self.server.advance(1)
        pushes = [m for m in ws.take() if "data" in m]
        opens = {p["arg"]["channel"]: int(p["data"][0][0]) for p in pushes}
        self.assertEqual(opens, {"candle1D": DEFAULT_NOW_MS - 8 * HOUR, "candle1Dutc": DEFAULT_NOW_MS})

    def test_unsubscribe(self) -> None:
        ws = self.server.connect("/ws/v5/business")
        arg = {"channel": "candle1m", "instId": self.inst}
        ws.send_json({"op": "subscribe", "args": [arg]})
        self.server.advance(2)
        ws.send_json({"op": "unsubscribe", "args": [arg]})
        self.server.advance(0.1)
        ack = ws.take()[-1]
        self.assertEqual((ack["event"], ack["arg"]), ("unsubscribe", arg))
        self.server.advance(3)
        self.assertEqual(ws.take(), [])

    def test_ping_pong(self) -> None:
        ws = self.server.connect("/ws/v5/business")
        ws.send_text("ping")
        self.server.advance(0.1)
        self.assertEqual(ws.messages, [b"pong"])

    def test_idle_connection_breaks_after_30s(self) -> None:
        idle = self.server.connect("/ws/v5/business")
        pinging = self.server.connect("/ws/v5/business")
        for _ in range(8):
            pinging.send_text("ping")
            self.server.advance(5)
        self.assertTrue(idle.lost)
        self.assertFalse(pinging.lost)

    def test_errors(self) -> None:
        ws = self.server.connect("/ws/v5/business")
        ws.send_json({"id": "1", "op": "subscribe", "args": [{"channel": "candle7m", "instId": self.inst}]})
        ws.send_json({"op": "subscribe", "args": [{"channel": "candle1m", "instId": "NOPE-USDT"}]})
        ws.send_json({"op": "subscribe", "argss": [{"channel": "candle1m", "instId": self.inst}]})
        ws.send_text("{oops")
        self.server.advance(0.1)
        replies = ws.take()
        self.assertEqual([r["code"] for r in replies], ["60018", "60018", "60012", "60012"])
        self.assertEqual(replies[0]["msg"], f"Wrong URL or channel:candle7m,instId:{self.inst} doesn't exist. "
                                            "Please use the correct URL, channel and parameters referring to API document.")
        self.assertEqual(list(replies[0]), ["id", "event", "code", "msg", "connId"])
        self.assertTrue(replies[2]["msg"].startswith("Invalid request: {"))

    def test_candles_are_not_on_public(self) -> None:
        ws = self.server.connect("/ws/v5/public")
        ws.send_json({"op": "subscribe", "args": [{"channel": "candle1m", "instId": self.inst}]})
        self.server.advance(1)
        self.assertEqual([m["code"] for m in ws.take()], ["60018"])

    @settings(max_examples=40, suppress_health_check=SUPPRESS)
    @given(st.one_of(st.text(max_size=200), st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
            st.sampled_from(["op", "args", "id", "channel", "instId"]), inner, max_size=4),
        max_leaves=10).map(json.dumps)))
    def test_arbitrary_frames_keep_the_connection(self, payload: str) -> None:
        ws = self.server.connect("/ws/v5/business")
        ws.send_text(payload)
        self.server.advance(0.1)
        self.assertFalse(ws.lost)
        ws.dropConnection()


class SwapStreamTests(StreamTests):
    venue = "okx_perpetual"
    inst = "BTC-USDT-SWAP"

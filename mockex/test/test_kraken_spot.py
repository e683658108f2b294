"""
Tests for the ``kraken_spot`` venue (``mockex.venues.kraken``), in memory. The
expectations are Kraken's REST and WebSocket v2 docs as named in the module docstring.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.kraken import INTERVALS

NOW_MS = DEFAULT_NOW_MS + 37_123
NOW_S = NOW_MS // 1000
_SHARED: list[MemoryServer] = []


def shared() -> MemoryServer:
    if not _SHARED:
        _SHARED.append(MemoryServer("kraken_spot", now_ms=NOW_MS))
        # One server for every test, its clock still: Kraken's 15 requests per 15 s per IP would
        # refuse most of them. The limits are test_venue_limits' concern.
        _SHARED[0].server.set_rate_limits(enabled=False)
    return _SHARED[0]


def ohlc(**params: Any) -> Any:
    return shared().get("/0/public/OHLC", **params)


class RestTests(SynchronousTestCase):
    def result(self, response: Any) -> Any:
        self.assertEqual(response.status, 200, response.body[:300])
        body = response.json()
        self.assertEqual(list(body), ["error", "result"])
        self.assertEqual(body["error"], [])
        return body["result"]

    def rows(self, response: Any, key: str = "XBTUSDT") -> list[list[Any]]:
        result = self.result(response)
        self.assertEqual(list(result), [key, "last"])
        rows = result[key]
        for row in rows:
            self.assertEqual(len(row), 8)
            self.assertIs(type(row[0]), int)
            self.assertIs(type(row[7]), int)
            self.assertTrue(all(isinstance(x, str) for x in row[1:7]))
            o, h, low, c = (Decimal(x) for x in row[1:5])
            self.assertLessEqual(low, min(o, c, Decimal(row[5])))
            self.assertLessEqual(Decimal(row[5]), h)
            self.assertGreaterEqual(h, max(o, c))
        return rows

    def test_latest_720(self) -> None:
        rows = self.rows(ohlc(pair="XBTUSDT"))
        self.assertEqual(len(rows), 720)
        self.assertEqual(rows[-1][0], NOW_S // 60 * 60)
        self.assertEqual(self.result(ohlc(pair="XBTUSDT"))["last"], NOW_S // 60 * 60 - 60)
        self.assertEqual({b[0] - a[0] for a, b in zip(rows, rows[1:])}, {60})

    def test_since_is_exclusive_and_old_data_unreachable(self) -> None:
        since = NOW_S // 60 * 60 - 600
        rows = self.rows(ohlc(pair="XBTUSDT", since=since))
        self.assertEqual(rows[0][0], since + 60)
        self.assertEqual(len(rows), 10)
        rows = self.rows(ohlc(pair="XBTUSDT", interval=60, since=1_600_000_000))
        self.assertEqual(len(rows), 720)

    def test_every_interval(self) -> None:
        for minutes, interval in INTERVALS.items():
            rows = self.rows(ohlc(pair="XBTUSDT", interval=minutes))
            self.assertTrue(rows, minutes)
            self.assertEqual({(r[0] * 1000 - interval.anchor_ms) % interval.ms for r in rows}, {0}, minutes)

    def test_pair_names(self) -> None:
        self.rows(ohlc(pair="XXBTZUSD"), "XXBTZUSD")
        self.rows(ohlc(pair="XBTUSD"), "XXBTZUSD")
        self.rows(ohlc(pair="XETHXXBT"), "XETHXXBT")
        self.rows(ohlc(pair="ETHXBT"), "XETHXXBT")

    def test_errors(self) -> None:
        for params, message in (({"pair": "NOPE"}, "EQuery:Unknown asset pair"),
                                ({}, "EGeneral:Invalid arguments"),
                                ({"pair": "XBTUSDT", "interval": 2}, "EGeneral:Invalid arguments"),
                                ({"pair": "XBTUSDT", "since": "x"}, "EGeneral:Invalid arguments")):
            response = ohlc(**params)
            self.assertEqual((response.status, response.json()), (200, {"error": [message]}), params)
        response = shared().get("/0/public/Nope")
        self.assertEqual((response.status, response.json()), (404, {"error": ["EGeneral:Unknown method"]}))

    def test_post_works_too(self) -> None:
        self.assertEqual(len(self.rows(shared().request("POST", "/0/public/OHLC", {"pair": "XBTUSDT"}))), 720)

    def test_time(self) -> None:
        self.assertEqual(self.result(shared().get("/0/public/Time")),
                         {"unixtime": NOW_S, "rfc1123": "Wed, 25 Nov 26 00:00:37 +0000"})

    def test_assets_and_pairs(self) -> None:
        assets = self.result(shared().get("/0/public/Assets"))
        self.assertEqual(assets["XXBT"]["altname"], "XBT")
        self.assertEqual(assets["XXDG"]["altname"], "XDG")
        pairs = self.result(shared().get("/0/public/AssetPairs"))
        self.assertEqual(list(pairs), ["XXBTZUSD", "XBTUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "XDGUSDT", "XETHXXBT"])
        self.assertEqual((pairs["XBTUSDT"]["wsname"], pairs["XBTUSDT"]["base"], pairs["XBTUSDT"]["quote"]),
                         ("XBT/USDT", "XXBT", "USDT"))
        self.assertEqual(list(self.result(shared().get("/0/public/AssetPairs", pair="XBTUSD"))), ["XXBTZUSD"])

    @given(st.fixed_dictionaries({}, optional={
        "pair": st.one_of(st.text(max_size=10), st.sampled_from(["XBTUSDT", "ETHXBT"])),
        "interval": st.one_of(st.text(max_size=6), st.sampled_from([str(m) for m in INTERVALS])),
        "since": st.one_of(st.text(max_size=12), st.integers(-10, 10**18).map(str)),
    }))
    @settings(max_examples=60)
    def test_never_5xx(self, params: dict[str, str]) -> None:
        response = ohlc(**params)
        self.assertEqual(response.status, 200, (params, response.body[:200]))
        self.assertLessEqual(len(response.json().get("result", {}).get("XBTUSDT", [])), 720)


class WsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("kraken_spot", now_ms=DEFAULT_NOW_MS + 30_000)
        self.client = self.server.connect("/v2")

    def send(self, value: Any) -> list[Any]:
        self.client.take()
        if isinstance(value, str):
            self.client.send_text(value)
        else:
            self.client.send_json(value)
        self.server.flush()
        return self.client.take()

    def test_status_greeting(self) -> None:
        [status] = self.client.json()
        self.assertEqual((status["channel"], status["type"]), ("status", "update"))
        self.assertEqual(status["data"][0]["system"], "online")

    def test_subscribe_snapshot_updates(self) -> None:
        ack, snapshot = self.send({"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["BTC/USDT"],
                                                                     "interval": 1}, "req_id": 7})
        self.assertEqual(ack["result"], {"channel": "ohlc", "interval": 1, "snapshot": True, "symbol": "BTC/USDT"})
        self.assertEqual((ack["method"], ack["success"], ack["req_id"]), ("subscribe", True, 7))
        self.assertIn("time_in", ack)
        self.assertEqual(snapshot["type"], "snapshot")
        self.server.advance(2)
        updates = self.client.take()
        self.assertEqual([u["type"] for u in updates], ["update", "update"])
        entry = updates[-1]["data"][0]
        self.assertEqual(list(entry), ["symbol", "open", "high", "low", "close", "trades", "volume", "vwap",
                                       "interval_begin", "interval", "timestamp"])
        self.assertEqual(entry["interval_begin"], "2026-11-25T00:00:00.000000000Z")
        self.assertIsInstance(entry["close"], float)
        row = self.server.get("/0/public/OHLC", pair="XBTUSDT").json()["result"]["XBTUSDT"][-1]
        self.assertEqual(Decimal(str(entry["close"])), Decimal(row[4]))
        self.assertEqual(entry["trades"], row[7])

    def test_unsubscribe_and_errors(self) -> None:
        self.send({"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["ETH/USDT"], "interval": 5,
                                                     "snapshot": False}})
        [ack] = self.send({"method": "unsubscribe", "params": {"channel": "ohlc", "symbol": ["ETH/USDT"],
                                                               "interval": 5}, "req_id": 2})
        self.assertEqual((ack["method"], ack["success"]), ("unsubscribe", True))
        self.server.advance(2)
        self.assertEqual(self.client.take(), [])
        [bad] = self.send({"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["BTC/XYZ"]}, "req_id": 3})
        self.assertEqual((bad["error"], bad["success"], bad["symbol"]), ("Currency pair not supported BTC/XYZ",
                                                                         False, "BTC/XYZ"))
        [bad] = self.send({"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["BTC/USDT"],
                                                             "interval": 2}})
        self.assertEqual(bad["error"], "Invalid interval")
        [bad] = self.send({"method": "subscribe", "params": {"channel": "nope", "symbol": ["BTC/USDT"]}})
        self.assertEqual(bad["error"], "Channel nope not supported")
        [bad] = self.send("{x")
        self.assertEqual(bad["error"], "Malformed request")
        self.assertFalse(self.client.lost)

    def test_ping(self) -> None:
        [pong] = self.send({"method": "ping", "req_id": 9})
        self.assertEqual((pong["method"], pong["req_id"]), ("pong", 9))

    @given(st.text(max_size=60))
    @settings(max_examples=30)
    def test_arbitrary_frames(self, text: str) -> None:
        self.send(text)
        self.assertFalse(self.client.lost)

"""
Tests for the ``mexc_perpetual`` venue (``mockex.venues.mexc``, the contract half), in
memory. Expectations: MEXC's futures docs and ccxt named in the module; the unverified
choices listed there are pinned too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.mexc import STREAM_INTERVALS

NOW_MS = DEFAULT_NOW_MS + 37_123
NOW_S = NOW_MS // 1000
_SHARED: list[MemoryServer] = []
COLUMNS = ["time", "open", "close", "high", "low", "vol", "amount", "realOpen", "realClose", "realHigh", "realLow"]


def shared() -> MemoryServer:
    if not _SHARED:
        server = MemoryServer("mexc_perpetual", now_ms=NOW_MS)
        # One server, frozen clock, for the whole module: MEXC's 20 requests per 2 s would
        # refuse all but the first 20. The limit itself is tested in test_venue_limits.
        server.server.set_rate_limits(enabled=False)
        _SHARED.append(server)
    return _SHARED[0]


def kline(server: MemoryServer, symbol: str = "BTC_USDT", **params: Any) -> Any:
    return server.get(f"/api/v1/contract/kline/{symbol}", **params)


class ContractCase(SynchronousTestCase):
    def columns(self, response: Any) -> dict[str, list[Any]]:
        self.assertEqual(response.status, 200, response.body[:300])
        body = response.json()
        self.assertEqual(list(body), ["success", "code", "data"])
        self.assertEqual((body["success"], body["code"]), (True, 0))
        data = body["data"]
        self.assertEqual(list(data), COLUMNS)
        self.assertEqual(len({len(v) for v in data.values()}), 1)
        for o, c, h, low in zip(data["open"], data["close"], data["high"], data["low"]):
            self.assertLessEqual(low, min(o, c))
            self.assertGreaterEqual(h, max(o, c))
        self.assertEqual(data["time"], sorted(data["time"]))
        return data

    def error(self, response: Any, code: int, message: str) -> None:
        self.assertEqual(response.status, 200)
        self.assertEqual(response.json(), {"success": False, "code": code, "message": message})


class KlineTests(ContractCase):
    def test_latest_2000_default_min1(self) -> None:
        data = self.columns(kline(shared()))
        self.assertEqual(len(data["time"]), 2000)
        self.assertEqual(data["time"][-1], NOW_S // 60 * 60)
        self.assertEqual({b - a for a, b in zip(data["time"], data["time"][1:])}, {60})

    def test_start_and_end(self) -> None:
        start = NOW_S // 60 * 60 - 3000 * 60
        data = self.columns(kline(shared(), interval="Min1", start=start, end=start + 120))
        self.assertEqual(data["time"], [start, start + 60, start + 120])
        data = self.columns(kline(shared(), interval="Min1", start=start))
        self.assertEqual((data["time"][0], len(data["time"])), (start, 2000))
        data = self.columns(kline(shared(), interval="Min1", end=start))
        self.assertEqual((data["time"][-1], len(data["time"])), (start, 2000))
        data = self.columns(kline(shared(), interval="Min1", start=start + 1, end=start + 61))
        self.assertEqual(data["time"], [start + 60])

    def test_every_interval_and_empty(self) -> None:
        for name in STREAM_INTERVALS:
            data = self.columns(kline(shared(), "ETH_USDT", interval=name, start=NOW_S - 86400 * 90))
            self.assertGreater(len(data["time"]), 0, name)
        self.assertEqual(self.columns(kline(shared(), start=NOW_S + 600))["time"], [])
        self.assertEqual(self.columns(kline(shared(), start=NOW_S, end=NOW_S - 60))["time"], [])

    def test_volume_in_contracts(self) -> None:
        start = NOW_S // 60 * 60 - 100 * 60
        data = self.columns(kline(shared(), interval="Min1", start=start, end=start))
        [detail] = [c for c in shared().get("/api/v1/contract/detail").json()["data"] if c["symbol"] == "BTC_USDT"]
        spot = MemoryServer("mexc_spot", now_ms=NOW_MS)
        [row] = spot.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", startTime=start * 1000,
                         endTime=start * 1000 + 60_000).json()
        self.assertEqual(Decimal(data["vol"][0]) * Decimal(str(detail["contractSize"])), Decimal(row[5]))
        self.assertEqual(Decimal(str(data["close"][0])), Decimal(row[4]))

    def test_errors(self) -> None:
        self.error(kline(shared(), "NOPE_USDT"), 1001, "Contract does not exist!")
        self.error(kline(shared(), interval="1m"), 600, "Param error!")
        self.error(kline(shared(), start="x"), 600, "Param error!")


class OtherEndpointTests(ContractCase):
    def test_ping_detail_and_spot_listing(self) -> None:
        self.assertEqual(shared().get("/api/v1/contract/ping").json(), {"success": True, "code": 0, "data": NOW_MS})
        detail = shared().get("/api/v1/contract/detail").json()["data"]
        self.assertEqual([c["symbol"] for c in detail],
                         ["BTC_USDT", "ETH_USDT", "BNB_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT"])
        self.assertEqual((detail[0]["contractSize"], detail[0]["priceUnit"], detail[0]["state"]), (0.00001, 0.01, 0))
        one = shared().get("/api/v1/contract/detail", symbol="ETH_USDT").json()["data"]
        self.assertEqual(one["symbol"], "ETH_USDT")
        self.error(shared().get("/api/v1/contract/detail", symbol="NOPE"), 1001, "Contract does not exist!")
        self.assertEqual(shared().get("/api/v3/exchangeInfo").json()["symbols"], [])


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


class PropertyTests(ContractCase):
    @given(st.sampled_from(["BTC_USDT", "NOPE", "x"]), st.fixed_dictionaries({}, optional={
        "interval": st.one_of(TEXT, st.sampled_from(list(STREAM_INTERVALS))),
        "start": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
        "end": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
    }))
    @settings(max_examples=50)
    def test_never_5xx(self, symbol: str, params: dict[str, str]) -> None:
        response = kline(shared(), symbol, **params)
        self.assertEqual(response.status, 200, (params, response.body[:200]))
        body = response.json()
        if body["success"]:
            self.assertLessEqual(len(body["data"]["time"]), 2000)


class WebSocketTests(ContractCase):
    def setUp(self) -> None:
        self.server = MemoryServer("mexc_perpetual", now_ms=DEFAULT_NOW_MS)
        self.client = self.server.connect("/edge")

    def send(self, request: Any) -> list[Any]:
        self.client.take()
        if isinstance(request, str):
            self.client.send_text(request)
        else:
            self.client.send_json(request)
        self.server.flush()
        return self.client.take()

    def test_sub_pushes_unsub(self) -> None:
        [ack] = self.send({"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min1"}})
        self.assertEqual((list(ack), ack["channel"], ack["data"]), (["channel", "data", "ts"], "rs.sub.kline", "success"))
        self.server.advance(2)
        pushes = self.client.take()
        self.assertEqual(len(pushes), 2)
        push = pushes[-1]
        self.assertEqual(list(push), ["channel", "data", "symbol", "ts"])
        self.assertEqual(list(push["data"]), ["a", "c", "h", "interval", "l", "o", "q", "rc", "rh", "rl", "ro",
                                              "symbol", "t"])
        self.assertEqual((push["data"]["t"], push["ts"]), (DEFAULT_NOW_MS // 1000, DEFAULT_NOW_MS + 2000))
        data = kline(self.server, interval="Min1", start=DEFAULT_NOW_MS // 1000).json()["data"]
        d = push["data"]
        self.assertEqual([d["o"], d["c"], d["h"], d["l"], d["q"]],
                         [data["open"][0], data["close"][0], data["high"][0], data["low"][0], data["vol"][0]])
        [ack] = self.send({"method": "unsub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min1"}})
        self.assertEqual(ack["channel"], "rs.unsub.kline")
        self.server.advance(2)
        self.assertEqual(self.client.take(), [])

    def test_ping_and_errors(self) -> None:
        [pong] = self.send({"method": "ping"})
        self.assertEqual((pong["channel"], pong["data"]), ("pong", DEFAULT_NOW_MS))
        [error] = self.send({"method": "sub.kline", "param": {"symbol": "NOPE_USDT", "interval": "Min1"}})
        self.assertEqual((error["channel"], error["data"]), ("rs.error", "Contract does not exist!"))
        [error] = self.send({"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "1m"}})
        self.assertEqual(error["data"], "interval is invalid")
        [error] = self.send("{bad")
        self.assertEqual(error["channel"], "rs.error")
        self.assertFalse(self.client.lost)

    @given(st.text(max_size=60))
    @settings(max_examples=30)
    def test_arbitrary_frames(self, text: str) -> None:
        for answer in self.send(text):
            self.assertIn(answer["channel"], ("rs.error", "pong"))
        self.assertFalse(self.client.lost)

    def test_silent_client_dropped(self) -> None:
        self.server.advance(50, step=5)
        self.send({"method": "ping"})
        self.server.advance(50, step=5)
        self.assertFalse(self.client.lost)
        self.server.advance(20, step=5)
        self.assertTrue(self.client.lost)

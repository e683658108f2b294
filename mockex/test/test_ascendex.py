"""
Tests for the ``ascend_ex_spot`` venue (``mockex.venues.ascendex``), in memory. The
expectations are AscendEX's API docs and ccxt 4.5.63 as named in the module docstring.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.interfaces import IAppPingSession, IExchange
from mockex.intervals import MINUTE_MS
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.ascendex import INTERVALS, AscendexSession, ascend_ex_spot

NOW_MS = DEFAULT_NOW_MS + 37_123
LAST_MINUTE = NOW_MS // MINUTE_MS * MINUTE_MS
_SHARED: list[MemoryServer] = []


def shared() -> MemoryServer:
    if not _SHARED:
        _SHARED.append(MemoryServer("ascend_ex_spot", now_ms=NOW_MS))
        # One server for every test, its clock still: AscendEX's 100 requests per second per IP would
        # refuse most of them. The limits are test_venue_limits' concern.
        _SHARED[0].server.set_rate_limits(enabled=False)
    return _SHARED[0]


def barhist(**params: Any) -> Any:
    return shared().get("/api/pro/v1/barhist", **params)


class RestTests(SynchronousTestCase):
    def data(self, response: Any) -> Any:
        self.assertEqual(response.status, 200, response.body[:300])
        body = response.json()
        self.assertEqual(list(body), ["code", "data"])
        self.assertEqual(body["code"], 0)
        return body["data"]

    def bars(self, response: Any, symbol: str = "BTC/USDT", name: str = "1") -> list[dict[str, Any]]:
        bars = self.data(response)
        for bar in bars:
            self.assertEqual(list(bar), ["m", "s", "data"])
            self.assertEqual((bar["m"], bar["s"]), ("bar", symbol))
            data = bar["data"]
            self.assertEqual(list(data), ["i", "ts", "o", "c", "h", "l", "v"])
            self.assertEqual(data["i"], name)
            self.assertIs(type(data["ts"]), int)
            self.assertTrue(all(isinstance(data[k], str) for k in "ochlv"))
            o, c, h, low = (Decimal(data[k]) for k in "ochl")
            self.assertLessEqual(low, min(o, c))
            self.assertGreaterEqual(h, max(o, c))
        stamps = [b["data"]["ts"] for b in bars]
        self.assertEqual(stamps, sorted(set(stamps)))
        return bars

    def test_default_ten_latest_oldest_first(self) -> None:
        bars = self.bars(barhist(symbol="BTC/USDT", interval="1"))
        self.assertEqual(len(bars), 10)
        self.assertEqual(bars[-1]["data"]["ts"], LAST_MINUTE)  # the bar in progress
        self.assertEqual({b["data"]["ts"] - a["data"]["ts"] for a, b in zip(bars, bars[1:])}, {MINUTE_MS})
        self.assertEqual(len(bars[0]["data"]["o"].split(".")[1]), 2)  # tick places
        self.assertEqual(len(bars[0]["data"]["v"].split(".")[1]), 5)

    def test_n_capped_at_500(self) -> None:
        self.assertEqual(len(self.bars(barhist(symbol="BTC/USDT", interval="1", n=42))), 42)
        self.assertEqual(len(self.bars(barhist(symbol="BTC/USDT", interval="1", n=5000))), 500)
        self.assertEqual(self.bars(barhist(symbol="BTC/USDT", interval="1", n=0)), [])

    def test_to_is_the_last_bar_start(self) -> None:
        to = LAST_MINUTE - 100 * MINUTE_MS
        bars = self.bars(barhist(symbol="BTC/USDT", interval="1", to=to + 59_999, n=3))
        self.assertEqual([b["data"]["ts"] for b in bars], [to - 2 * MINUTE_MS, to - MINUTE_MS, to])
        bars = self.bars(barhist(symbol="BTC/USDT", interval="1", to=NOW_MS + 10**9, n=1))
        self.assertEqual(bars[0]["data"]["ts"], LAST_MINUTE)

    def test_from_to_inclusive_and_capped_from_the_end(self) -> None:
        to = LAST_MINUTE - 1000 * MINUTE_MS
        bars = self.bars(barhist(symbol="BTC/USDT", interval="1", **{"from": to - 9 * MINUTE_MS, "to": to}))
        self.assertEqual([b["data"]["ts"] for b in bars], [to - i * MINUTE_MS for i in range(9, -1, -1)])
        bars = self.bars(barhist(symbol="BTC/USDT", interval="1", **{"from": to - 10**9, "to": to}))
        self.assertEqual(len(bars), 500)
        self.assertEqual(bars[-1]["data"]["ts"], to)  # "the server will increase from"
        bars = self.bars(barhist(symbol="BTC/USDT", interval="1", **{"from": to + MINUTE_MS, "to": to}))
        self.assertEqual(bars, [])

    def test_from_and_n_fewer_wins(self) -> None:
        to = LAST_MINUTE - 1000 * MINUTE_MS
        by_n = barhist(symbol="BTC/USDT", interval="1", n=4, **{"from": to - 50 * MINUTE_MS, "to": to})
        self.assertEqual(len(self.bars(by_n)), 4)
        by_from = barhist(symbol="BTC/USDT", interval="1", n=400, **{"from": to - 5 * MINUTE_MS, "to": to})
        self.assertEqual(len(self.bars(by_from)), 6)

    def test_ccxt_request_shape(self) -> None:
        """ccxt: from=since, to=since + limit * duration + 1: limit + 1 bars, 500 at most."""
        since = LAST_MINUTE - 2000 * MINUTE_MS
        bars = self.bars(barhist(symbol="BTC/USDT", interval="1",
                                 **{"from": since, "to": since + 100 * MINUTE_MS + 1}))
        self.assertEqual(len(bars), 101)
        self.assertEqual(bars[0]["data"]["ts"], since)

    def test_every_interval(self) -> None:
        for name, (interval, _) in INTERVALS.items():
            bars = self.bars(barhist(symbol="ETH/USDT", interval=name, n=3), "ETH/USDT", name)
            self.assertEqual(len(bars), 3, name)
            self.assertEqual(bars[-1]["data"]["ts"], interval.floor(NOW_MS), name)
        months = self.bars(barhist(symbol="ETH/USDT", interval="1m", n=2), "ETH/USDT", "1m")
        self.assertEqual(months[-1]["data"]["ts"], 1_793_491_200_000)  # 2026-11-01
        weeks = self.bars(barhist(symbol="ETH/USDT", interval="1w", n=1), "ETH/USDT", "1w")
        self.assertEqual((weeks[0]["data"]["ts"] // 86_400_000 + 3) % 7, 0)  # a Monday

    def test_same_candles_as_stream_source(self) -> None:
        bar = self.bars(barhist(symbol="BTC/USDT", interval="5", n=1), name="5")[0]["data"]
        candle = shared().server.context.source.candle(
            shared().server.context.markets["BTC/USDT"], INTERVALS["5"][0], bar["ts"], NOW_MS)
        self.assertEqual(Decimal(bar["c"]), Decimal(candle.close) / 100)

    def test_quote_volume_switch(self) -> None:
        server = MemoryServer("ascend_ex_spot", now_ms=NOW_MS, options={"bar_volume": "quote"})
        quote = server.get("/api/pro/v1/barhist", symbol="BTC/USDT", interval="1", n=2).json()["data"]
        base = self.bars(barhist(symbol="BTC/USDT", interval="1", n=2))
        self.assertEqual([b["data"]["c"] for b in quote], [b["data"]["c"] for b in base])
        ratio = Decimal(quote[0]["data"]["v"]) / Decimal(base[0]["data"]["v"])
        self.assertTrue(Decimal(base[0]["data"]["l"]) * Decimal("0.9") < ratio < Decimal(base[0]["data"]["h"]) * 2)

    def test_errors(self) -> None:
        cases = (
            ({"interval": "1"}, 100004, "Missing required parameter: symbol", "INVALID_REQUEST_DATA"),
            ({"symbol": "BTC/USDT"}, 100004, "Missing required parameter: interval", "INVALID_REQUEST_DATA"),
            ({"symbol": "BTC/USDT", "interval": "2"}, 100004, "Invalid interval: 2", "INVALID_REQUEST_DATA"),
            ({"symbol": "BTC/USDT", "interval": "1", "n": "x"}, 100013,
             "Invalid number format for parameter: n", "INVALID_NUM_FORMAT"),
            ({"symbol": "BTC/USDT", "interval": "1", "to": "1.5"}, 100013,
             "Invalid number format for parameter: to", "INVALID_NUM_FORMAT"),
            ({"symbol": "BTC/USDT", "interval": "1", "n": "-1"}, 100006,
             "n must be a non-negative integer", "INVALID_ARGUMENT"),
            ({"symbol": "BTC/XYZ", "interval": "1"}, 100008, "Symbol does not exist: BTC/XYZ", "SYMBOL_ERROR"),
            ({"symbol": "BTCUSDT", "interval": "1"}, 100008, "Symbol does not exist: BTCUSDT", "SYMBOL_ERROR"),
        )
        for params, code, message, reason in cases:
            response = barhist(**params)
            self.assertEqual((response.status, response.json()),
                             (200, {"code": code, "message": message, "reason": reason}), params)
        response = shared().get("/api/pro/v1/exchange-info")
        self.assertEqual(response.json()["code"], 100004)
        response = shared().get("/api/pro/v1/nope")
        self.assertEqual((response.status, response.json()["reason"]), (404, "INVALID_HTTP_INPUT"))
        response = shared().request("POST", "/api/pro/v1/barhist")
        self.assertEqual(response.status, 405)

    def test_barhist_info(self) -> None:
        info = self.data(shared().get("/api/pro/v1/barhist/info"))
        self.assertEqual([i["name"] for i in info], ["1", "5", "15", "30", "60", "120", "240", "360", "720",
                                                     "1d", "1w", "1m"])
        self.assertEqual(info[-1], {"name": "1m", "intervalInMillis": 2_592_000_000})

    def test_exchange_info(self) -> None:
        data = self.data(shared().get("/api/pro/v1/exchange-info", requestTime=NOW_MS - 25))
        self.assertEqual(data, {"requestTimeEcho": NOW_MS - 25, "requestReceiveAt": NOW_MS, "latency": 25})

    def test_products_and_assets(self) -> None:
        products = self.data(shared().get("/api/pro/v1/products"))
        self.assertEqual([p["symbol"] for p in products],
                         ["BTC/USDT", "ETH/USDT", "BNB/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT", "ETH/BTC"])
        self.assertEqual((products[0]["tickSize"], products[0]["lotSize"], products[0]["status"]),
                         ("0.01", "0.00001", "Normal"))
        cash = self.data(shared().get("/api/pro/v1/cash/products"))
        self.assertEqual((cash[4]["priceScale"], cash[4]["qtyScale"], cash[4]["tickSize"]), (4, 1, "0.0001"))
        self.assertEqual(self.data(shared().get("/api/pro/v2/futures/contract")), [])
        assets = self.data(shared().get("/api/pro/v2/assets"))
        self.assertEqual([a["assetCode"] for a in assets], ["BTC", "USDT", "ETH", "BNB", "SOL", "XRP", "DOGE"])
        self.assertEqual(list(assets[0]["blockChain"][0]),
                         ["chainName", "withdrawFee", "allowDeposit", "allowWithdraw", "minDepositAmt",
                          "minWithdrawal", "numConfirmations"])
        self.assertEqual(len(self.data(shared().get("/api/pro/v1/assets"))), 7)

    @given(st.fixed_dictionaries({}, optional={
        "symbol": st.one_of(st.text(max_size=10), st.sampled_from(["BTC/USDT", "ETH/BTC"])),
        "interval": st.one_of(st.text(max_size=4), st.sampled_from(list(INTERVALS))),
        "from": st.one_of(st.text(max_size=12), st.integers(-10**19, 10**19).map(str)),
        "to": st.one_of(st.text(max_size=12), st.integers(-10**19, 10**19).map(str)),
        "n": st.one_of(st.text(max_size=6), st.integers(-10, 10**6).map(str)),
    }))
    @settings(max_examples=80)
    def test_never_5xx(self, params: dict[str, str]) -> None:
        response = barhist(**params)
        self.assertEqual(response.status, 200, (params, response.body[:200]))
        self.assertLessEqual(len(response.json().get("data", [])), 500)


class WsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer("ascend_ex_spot", now_ms=DEFAULT_NOW_MS + 30_000)
        self.client = self.server.connect("/api/pro/v2/stream")
        self.server.flush()

    def send(self, value: Any) -> list[Any]:
        self.client.take()
        if isinstance(value, str):
            self.client.send_text(value)
        else:
            self.client.send_json(value)
        self.server.flush()
        return self.client.take()

    def test_interfaces(self) -> None:
        self.assertTrue(verifyObject(IExchange, ascend_ex_spot))
        self.assertTrue(verifyObject(IAppPingSession, AscendexSession(self.server.server.context)))

    def test_connected_greeting(self) -> None:
        self.assertEqual(self.client.json(), [{"m": "connected", "type": "unauth"}])

    def test_paths(self) -> None:
        for path in ("/api/pro/v1/stream", "/0/api/pro/v1/stream", "/7/api/pro/v2/stream"):
            client = self.server.connect(path)
            self.server.flush()
            self.assertEqual(client.json(), [{"m": "connected", "type": "unauth"}], path)
        self.assertRaises(AssertionError, self.server.connect, "/x/api/pro/v2/stream")

    def test_subscribe_and_bars(self) -> None:
        [ack] = self.send({"op": "sub", "id": "abc123", "ch": "bar:1:BTC/USDT"})
        self.assertEqual(ack, {"m": "sub", "id": "abc123", "ch": "bar:1:BTC/USDT", "code": 0})
        self.server.advance(3)
        bars = [m for m in self.client.take() if m.get("m") == "bar"]
        self.assertGreaterEqual(len(bars), 2)
        bar = bars[-1]
        self.assertEqual(list(bar), ["m", "s", "data"])
        self.assertEqual(list(bar["data"]), ["i", "ts", "o", "c", "h", "l", "v"])
        self.assertEqual(bar["data"]["ts"], (DEFAULT_NOW_MS + 30_000) // MINUTE_MS * MINUTE_MS)
        row = self.server.get("/api/pro/v1/barhist", symbol="BTC/USDT", interval="1", n=1).json()["data"][0]
        self.assertEqual(row, bar)

    def test_closing_bar_pushed_once(self) -> None:
        self.send({"op": "sub", "ch": "bar:1:ETH/USDT"})
        self.server.advance(40)
        bars = [m["data"] for m in self.client.take() if m.get("m") == "bar"]
        first = (DEFAULT_NOW_MS + 30_000) // MINUTE_MS * MINUTE_MS
        closing = [b for b in bars if b["ts"] == first]
        row = self.server.get("/api/pro/v1/barhist", symbol="ETH/USDT", interval="1", n=2).json()["data"][0]
        self.assertEqual(closing[-1], row["data"])
        self.assertTrue(any(b["ts"] == first + MINUTE_MS for b in bars))

    def test_ack_without_id_and_unsubscribe_wildcards(self) -> None:
        [ack] = self.send({"op": "sub", "ch": "bar:1:BTC/USDT,ETH/USDT"})
        self.assertEqual(ack, {"m": "sub", "ch": "bar:1:BTC/USDT,ETH/USDT", "code": 0})
        self.send({"op": "sub", "ch": "bar:5:BTC/USDT"})
        self.server.advance(2)
        self.assertEqual({(m["s"], m["data"]["i"]) for m in self.client.take() if m.get("m") == "bar"},
                         {("BTC/USDT", "1"), ("ETH/USDT", "1"), ("BTC/USDT", "5")})
        [ack] = self.send({"op": "unsub", "id": "u", "ch": "bar:*:BTC/USDT"})
        self.assertEqual(ack, {"m": "unsub", "id": "u", "ch": "bar:*:BTC/USDT", "code": 0})
        self.server.advance(2)
        self.assertEqual({m["s"] for m in self.client.take() if m.get("m") == "bar"}, {"ETH/USDT"})
        self.send({"op": "unsub", "ch": "bar"})
        self.server.advance(2)
        self.assertEqual([m for m in self.client.take() if m.get("m") == "bar"], [])

    def test_silent_channels(self) -> None:
        [ack] = self.send({"op": "sub", "id": "d", "ch": "depth:BTC/USDT"})
        self.assertEqual(ack["code"], 0)
        self.server.advance(2)
        self.assertEqual([m for m in self.client.take() if m.get("m") != "ping"], [])

    def test_errors(self) -> None:
        error = {"m": "error", "code": 100005, "reason": "INVALID_WS_REQUEST_DATA"}
        for request, info in (
            ({"op": "sub", "id": "e", "ch": "bar:1:BTC/XYZ"}, "Invalid symbol: BTC/XYZ"),
            ({"op": "sub", "id": "e", "ch": "bar:2:BTC/USDT"}, "Invalid channel: bar:2:BTC/USDT"),
            ({"op": "sub", "id": "e", "ch": "nope:BTC/USDT"}, "Invalid channel: nope:BTC/USDT"),
            ({"op": "sub", "id": "e"}, "Missing required parameter: ch"),
            ({"op": "req", "id": "e", "action": "trade-snapshot"}, "Invalid request action: trade-snapshot"),
            ({"op": "dance", "id": "e"}, "Invalid op: dance"),
        ):
            [answer] = self.send(request)
            self.assertEqual(answer, {"m": "error", "id": "e", "code": 100005,
                                      "reason": "INVALID_WS_REQUEST_DATA", "info": info})
        [answer] = self.send("{nope")
        self.assertEqual({k: answer[k] for k in error}, error)
        [answer] = self.send({"op": "auth", "id": "a", "t": 1, "key": "k", "sig": "s"})
        self.assertEqual((answer["m"], answer["id"], answer["code"]), ("auth", "a", 200006))
        self.assertFalse(self.client.lost)

    def test_client_ping(self) -> None:
        [pong] = self.send({"op": "ping"})
        self.assertEqual(pong, {"m": "pong", "code": 0, "ts": self.server.now_ms(), "hp": 3})

    def test_server_pings_and_missing_pongs(self) -> None:
        self.server.advance(31, step=1)
        self.assertEqual([m for m in self.client.take() if m.get("m") == "ping"],
                         [{"m": "ping", "hp": 3}, {"m": "ping", "hp": 2}])
        self.assertEqual(self.client.pings, [])
        self.assertFalse(self.client.lost)
        self.server.advance(15, step=1)
        self.assertTrue(self.client.lost)

    def test_pongs_keep_the_session(self) -> None:
        for _ in range(8):
            self.server.advance(15, step=1)
            pings = [m for m in self.client.take() if m.get("m") == "ping"]
            self.assertEqual(pings, [{"m": "ping", "hp": 3}])
            self.client.send_json({"op": "pong", "hp": 3})
            self.server.flush()
        self.assertFalse(self.client.lost)

    def test_client_pings_quiet_the_server(self) -> None:
        for _ in range(6):
            self.send({"op": "ping"})
            self.server.advance(14, step=1)
            self.assertEqual([m for m in self.client.take() if m.get("m") == "ping"], [])
        self.assertFalse(self.client.lost)

    @given(st.one_of(st.text(max_size=60), st.dictionaries(
        st.sampled_from(["op", "id", "ch", "action"]),
        st.one_of(st.text(max_size=20), st.integers(), st.none(), st.booleans(),
                  st.sampled_from(["sub", "unsub", "ping", "pong", "req", "bar:1:BTC/USDT", "bar:*", "bar"])))))
    @settings(max_examples=60)
    def test_arbitrary_frames(self, value: Any) -> None:
        self.send(value)
        self.assertFalse(self.client.lost)

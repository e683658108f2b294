"""
Tests for the ``mexc_spot`` venue (``mockex.venues.mexc``), in memory.

Expectations: MEXC's spot v3 docs and the captures named in the module docstring; the
unverified choices listed there are pinned too. Protobuf pushes are decoded with the
module's own reader and, when ``protobuf`` is installed, with ccxt's generated classes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues import mexc_pb
from mockex.venues.mexc import INTERVALS, STREAM_INTERVALS

NOW_MS = DEFAULT_NOW_MS + 37_123
MINUTE = 60_000
_SHARED: list[MemoryServer] = []


def shared() -> MemoryServer:
    if not _SHARED:
        _SHARED.append(MemoryServer("mexc_spot", now_ms=NOW_MS))
    return _SHARED[0]


def klines(server: MemoryServer, **params: Any) -> Any:
    return server.get("/api/v3/klines", **params)


class MexcCase(SynchronousTestCase):
    def rows(self, response: Any) -> list[list[Any]]:
        self.assertEqual(response.status, 200, response.body[:300])
        self.assertEqual(response.headers["content-type"], "application/json")
        rows = response.json()
        for row in rows:
            self.assertEqual(len(row), 8)
            self.assertIsInstance(row[0], int)
            self.assertIsInstance(row[6], int)
            self.assertTrue(all(isinstance(row[i], str) for i in (1, 2, 3, 4, 5, 7)), row)
            self.assertFalse(any(row[i].endswith("0") and "." in row[i] for i in (1, 2, 3, 4)), row)
            open_, high, low, close = (Decimal(x) for x in row[1:5])
            self.assertLessEqual(low, min(open_, close))
            self.assertGreaterEqual(high, max(open_, close))
        stamps = [r[0] for r in rows]
        self.assertEqual(stamps, sorted(stamps))
        return rows

    def error(self, response: Any, code: int, msg: str, status: int = 400) -> None:
        self.assertEqual(response.status, status, response.body)
        self.assertEqual(response.body.decode(), f'{{"msg":"{msg}","code":{code},"_extend":null}}')


class KlineTests(MexcCase):
    def test_defaults(self) -> None:
        """No bounds: the latest 500, the live one last; close time = the next open."""
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m"))
        self.assertEqual(len(rows), 500)
        self.assertEqual(rows[-1][0], NOW_MS // MINUTE * MINUTE)
        self.assertEqual({r[6] - r[0] for r in rows}, {MINUTE})
        self.assertEqual({b[0] - a[0] for a, b in zip(rows, rows[1:])}, {MINUTE})

    def test_limit(self) -> None:
        self.assertEqual(len(self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=7))), 7)
        self.assertEqual(len(self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=1000))), 500)
        self.assertEqual(len(self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=0))), 500)
        server = MemoryServer("mexc_spot", now_ms=NOW_MS, options={"mexc_klines_max": "1000"})
        self.assertEqual(len(self.rows(klines(server, symbol="BTCUSDT", interval="1m", limit=1000))), 1000)

    def test_start_end_window(self) -> None:
        """ccxt's request: startTime inclusive, endTime exclusive (since + 500 candles)."""
        start = NOW_MS // MINUTE * MINUTE - 3000 * MINUTE
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, endTime=start + 500 * MINUTE))
        self.assertEqual([r[0] for r in rows], [start + i * MINUTE for i in range(500)])
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start + 1,
                                endTime=start + 3 * MINUTE + 1))
        self.assertEqual([r[0] for r in rows], [start + MINUTE, start + 2 * MINUTE, start + 3 * MINUTE])
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, endTime=start + 900 * MINUTE,
                                limit=10))
        self.assertEqual(rows[0][0], start)
        self.assertEqual(len(rows), 10)

    def test_start_alone(self) -> None:
        """startTime without endTime: the latest candles (capture); switchable."""
        start = NOW_MS - 3000 * MINUTE
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, limit=2))
        self.assertEqual(rows[-1][0], NOW_MS // MINUTE * MINUTE)
        server = MemoryServer("mexc_spot", now_ms=NOW_MS, options={"mexc_start_alone": "from"})
        rows = self.rows(klines(server, symbol="BTCUSDT", interval="1m", startTime=start, limit=2))
        self.assertEqual(rows[0][0], -(-start // MINUTE) * MINUTE)

    def test_end_alone_and_empty(self) -> None:
        end = NOW_MS // MINUTE * MINUTE - 100 * MINUTE
        rows = self.rows(klines(shared(), symbol="ETHUSDT", interval="5m", endTime=end, limit=3))
        self.assertEqual(rows[-1][0], (end - 1) // (5 * MINUTE) * 5 * MINUTE)
        self.assertEqual(self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=NOW_MS + 10 * MINUTE,
                                          endTime=NOW_MS + 20 * MINUTE)), [])
        self.assertEqual(self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=NOW_MS,
                                          endTime=NOW_MS - MINUTE)), [])

    def test_every_interval(self) -> None:
        for name, interval in INTERVALS.items():
            rows = self.rows(klines(shared(), symbol="ETHUSDT", interval=name, limit=3))
            self.assertEqual(len(rows), 3, name)
            self.assertEqual({r[6] > r[0] for r in rows}, {True})
            if not interval.months:
                self.assertEqual({(r[0] - interval.anchor_ms) % interval.ms for r in rows}, {0}, name)

    def test_volumes_aggregate(self) -> None:
        start = 1_795_000_200_000
        minutes = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, endTime=start + 15 * MINUTE))
        fives = self.rows(klines(shared(), symbol="BTCUSDT", interval="5m", startTime=start, endTime=start + 15 * MINUTE))
        self.assertEqual(len(fives), 3)
        self.assertEqual(Decimal(fives[1][5]), sum(Decimal(m[5]) for m in minutes[5:10]))
        self.assertEqual(Decimal(fives[1][7]), sum(Decimal(m[7]) for m in minutes[5:10]))

    def test_errors(self) -> None:
        self.error(klines(shared(), symbol="BTCUSDT", interval="1h"), -1121, "Invalid interval.")
        self.error(klines(shared(), symbol="BTCUSDT"), -1121, "Invalid interval.")
        self.error(klines(shared(), symbol="NOPEUSDT", interval="1m"), -1121, "Invalid symbol.")
        self.error(klines(shared(), interval="1m"), -1121, "Invalid symbol.")
        self.error(klines(shared(), symbol="BTCUSDT", interval="1m", limit="x"), 700008,
                   "Illegal characters found in parameter 'limit'")
        self.error(klines(shared(), symbol="BTCUSDT", interval="1m", startTime="-5"), 700008,
                   "Illegal characters found in parameter 'startTime'")


class OtherEndpointTests(MexcCase):
    def test_time_and_ping(self) -> None:
        self.assertEqual(shared().get("/api/v3/time").body, b'{"serverTime":%d}' % NOW_MS)
        self.assertEqual(shared().get("/api/v3/ping").body, b"{}")

    def test_exchange_info(self) -> None:
        info = shared().get("/api/v3/exchangeInfo").json()
        self.assertEqual(list(info), ["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"])
        self.assertEqual([s["symbol"] for s in info["symbols"]],
                         ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ETHBTC"])
        btc = info["symbols"][0]
        self.assertEqual((btc["status"], btc["quoteAssetPrecision"], btc["baseAssetPrecision"]), ("1", 2, 5))
        one = shared().get("/api/v3/exchangeInfo", symbol="ETHBTC").json()["symbols"]
        self.assertEqual([s["symbol"] for s in one], ["ETHBTC"])
        two = shared().get("/api/v3/exchangeInfo", symbols="ETHBTC,BTCUSDT").json()["symbols"]
        self.assertEqual([s["symbol"] for s in two], ["ETHBTC", "BTCUSDT"])
        self.error(shared().get("/api/v3/exchangeInfo", symbol="NOPE"), -1121, "Invalid symbol.")

    def test_default_symbols_and_contracts(self) -> None:
        self.assertEqual(shared().get("/api/v3/defaultSymbols").json()["data"][:2], ["BTCUSDT", "ETHUSDT"])
        self.assertEqual(shared().get("/api/v1/contract/detail").json(), {"success": True, "code": 0, "data": []})

    def test_unknown_path_and_method(self) -> None:
        response = shared().get("/api/v3/nope")
        self.assertEqual((response.status, response.json()), (404, {"msg": "Not Found", "code": 404}))
        response = shared().request("POST", "/api/v3/time")
        self.assertEqual(response.status, 405)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


class PropertyTests(MexcCase):
    @given(st.fixed_dictionaries({}, optional={
        "symbol": st.one_of(TEXT, st.sampled_from(["BTCUSDT", "ETHBTC"])),
        "interval": st.one_of(TEXT, st.sampled_from(list(INTERVALS))),
        "limit": st.one_of(TEXT, st.integers(-5, 2000).map(str)),
        "startTime": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
        "endTime": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
    }))
    @settings(max_examples=60)
    def test_never_5xx(self, params: dict[str, str]) -> None:
        response = shared().get("/api/v3/klines", **params)
        self.assertIn(response.status, (200, 400), (params, response.body[:200]))
        body = response.json()
        if response.status == 200:
            self.assertLessEqual(len(body), 500)
        else:
            self.assertEqual(list(body), ["msg", "code", "_extend"])


def decode_push(data: bytes) -> dict[str, Any]:
    """A kline push as a dict of the wrapper's and the kline's fields (by name)."""
    names = {1: "channel", 3: "symbol", 4: "symbolId", 5: "createTime", 6: "sendTime"}
    kline_names = {1: "interval", 2: "windowStart", 3: "openingPrice", 4: "closingPrice", 5: "highestPrice",
                   6: "lowestPrice", 7: "volume", 8: "amount", 9: "windowEnd"}
    out: dict[str, Any] = {}
    for number, value in mexc_pb.decode(data):
        if number == 308:
            assert isinstance(value, bytes)
            kline = {}
            for n, v in mexc_pb.decode(value):
                kline[kline_names[n]] = v.decode() if isinstance(v, bytes) else v
            out["publicSpotKline"] = kline
        else:
            out[names[number]] = value.decode() if isinstance(value, bytes) else value
    return out


class WsCase(MexcCase):
    def setUp(self) -> None:
        self.server = MemoryServer("mexc_spot", now_ms=DEFAULT_NOW_MS)
        self.client = self.server.connect("/ws")

    def send(self, request: Any) -> list[Any]:
        self.client.take_raw()
        if isinstance(request, (bytes, str)):
            self.client.send_text(request)
        else:
            self.client.send_json(request)
        self.server.flush()
        return self.client.take()


CHANNEL = "spot@public.kline.v3.api.pb@BTCUSDT@Min1"


class WebSocketTests(WsCase):
    def test_subscribe_ack_and_binary_pushes(self) -> None:
        [ack] = self.send({"method": "SUBSCRIPTION", "params": [CHANNEL], "id": 3})
        self.assertEqual(ack, {"id": 3, "code": 0, "msg": CHANNEL})
        self.server.advance(2)
        pushes = self.client.take_raw()
        self.assertEqual(len(pushes), 2)
        self.assertEqual({binary for _, binary in pushes}, {True})
        push = decode_push(pushes[-1][0])
        self.assertEqual(list(push), ["channel", "symbol", "symbolId", "createTime", "publicSpotKline"])
        self.assertEqual((push["channel"], push["symbol"], push["symbolId"]),
                         (CHANNEL, "BTCUSDT", "2fb942154ef44a4ab2ef98c8afb6a4a7"))
        self.assertEqual(push["createTime"], DEFAULT_NOW_MS + 2000)
        kline = push["publicSpotKline"]
        self.assertEqual(kline["interval"], "Min1")
        self.assertEqual((kline["windowStart"], kline["windowEnd"]), (DEFAULT_NOW_MS // 1000, DEFAULT_NOW_MS // 1000 + 60))
        row = klines(self.server, symbol="BTCUSDT", interval="1m", limit=1).json()[-1]
        self.assertEqual([kline["openingPrice"], kline["highestPrice"], kline["lowestPrice"], kline["closingPrice"],
                          kline["volume"], kline["amount"]], [row[1], row[2], row[3], row[4], row[5], row[7]])

    def test_ccxt_decoder_reads_pushes(self) -> None:
        """ccxt's own generated protobuf classes parse the push (needs ``protobuf``)."""
        try:
            from google.protobuf.json_format import MessageToDict

            from ccxt.protobuf.mexc import PushDataV3ApiWrapper_pb2
        except ImportError:
            raise SkipTest("protobuf (and ccxt) are needed to decode with ccxt's classes")
        self.send({"method": "SUBSCRIPTION", "params": [CHANNEL]})
        self.server.advance(1)
        [(data, _)] = self.client.take_raw()
        message = PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper()
        message.ParseFromString(data)
        self.assertEqual(message.SerializeToString(), data)  # the same bytes, the same field order
        decoded = MessageToDict(message)
        self.assertEqual(decoded["channel"], CHANNEL)
        self.assertEqual(decoded["publicSpotKline"]["windowStart"], str(DEFAULT_NOW_MS // 1000))

    def test_window_closes(self) -> None:
        self.send({"method": "SUBSCRIPTION", "params": [CHANNEL]})
        self.server.advance(61)
        starts = [decode_push(m)["publicSpotKline"]["windowStart"] for m, _ in self.client.take_raw()]
        self.assertEqual(starts.count(DEFAULT_NOW_MS // 1000), 60)
        self.assertEqual(starts[-1], DEFAULT_NOW_MS // 1000 + 60)

    def test_unsubscribe(self) -> None:
        self.send({"method": "SUBSCRIPTION", "params": [CHANNEL, "spot@public.kline.v3.api.pb@ETHUSDT@Hour4"]})
        [ack] = self.send({"method": "UNSUBSCRIPTION", "params": [CHANNEL], "id": 9})
        self.assertEqual(ack, {"id": 9, "code": 0, "msg": CHANNEL})
        self.server.advance(1)
        channels = {decode_push(m)["channel"] for m, _ in self.client.take_raw()}
        self.assertEqual(channels, {"spot@public.kline.v3.api.pb@ETHUSDT@Hour4"})

    def test_several_channels_one_answer(self) -> None:
        channels = [f"spot@public.kline.v3.api.pb@BTCUSDT@{name}" for name in STREAM_INTERVALS]
        [ack] = self.send({"method": "SUBSCRIPTION", "params": channels})
        self.assertEqual(ack["msg"].split(","), channels)

    def test_ping(self) -> None:
        self.assertEqual(self.send({"method": "PING"}), [{"id": 0, "code": 0, "msg": "PONG"}])
        self.assertEqual(self.send({"method": "ping"}), [{"id": 0, "code": 0, "msg": "PONG"}])

    def test_refused_channels(self) -> None:
        for channel in ("spot@public.kline.v3.api@BTCUSDT@Min1", "spot@public.kline.v3.api.pb@NOPEUSDT@Min1",
                        "spot@public.kline.v3.api.pb@BTCUSDT@1m", "spot@public.deals.v3.api.pb@BTCUSDT"):
            [answer] = self.send({"method": "SUBSCRIPTION", "params": [channel], "id": 1})
            self.assertEqual(answer, {"id": 1, "code": 0,
                                      "msg": f"Not Subscribed successfully! [{channel}].  Reason： Blocked!"})
        self.assertFalse(self.client.lost)

    def test_stream_limit(self) -> None:
        symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT"]
        channels = [f"spot@public.kline.v3.api.pb@{s}@{i}" for s in symbols for i in STREAM_INTERVALS][:31]
        answers = self.send({"method": "SUBSCRIPTION", "params": channels})
        self.assertEqual(len(answers[0]["msg"].split(",")), 30)
        self.assertIn(channels[30], answers[1]["msg"])

    def test_json_channel_switch(self) -> None:
        server = MemoryServer("mexc_spot", now_ms=DEFAULT_NOW_MS, options={"mexc_json_streams": "served"})
        client = server.connect("/ws")
        client.send_json({"method": "SUBSCRIPTION", "params": ["spot@public.kline.v3.api@BTCUSDT@Min1"]})
        server.advance(1)
        ack, push = client.take()
        self.assertEqual(ack["msg"], "spot@public.kline.v3.api@BTCUSDT@Min1")
        self.assertEqual(list(push), ["c", "d", "s", "t"])
        self.assertEqual(list(push["d"]["k"]), ["T", "a", "c", "h", "i", "l", "o", "t", "v"])
        self.assertEqual(push["d"]["k"]["t"], DEFAULT_NOW_MS // 1000)

    def test_bad_requests(self) -> None:
        self.assertEqual(self.send("{bad"), [{"id": 0, "code": 0, "msg": "Wrong json format"}])
        self.assertEqual(self.send({"method": "SUB"}), [{"id": 0, "code": 0, "msg": "Unknown method"}])
        self.assertEqual(self.send({"method": "SUBSCRIPTION", "params": "x"}),
                         [{"id": 0, "code": 0, "msg": "Wrong params"}])
        self.assertFalse(self.client.lost)

    @given(st.text(max_size=80))
    @settings(max_examples=40)
    def test_arbitrary_frames(self, text: str) -> None:
        for answer in self.send(text):
            self.assertEqual(list(answer), ["id", "code", "msg"])
        self.assertFalse(self.client.lost)

    def test_no_subscription_dropped_after_30s(self) -> None:
        self.server.advance(29, step=1)
        self.assertFalse(self.client.lost)
        self.server.advance(2, step=1)
        self.assertTrue(self.client.lost)

    def test_unsubscribed_again_dropped(self) -> None:
        self.send({"method": "SUBSCRIPTION", "params": [CHANNEL]})
        self.server.advance(100, step=5)
        self.assertFalse(self.client.lost)
        self.send({"method": "UNSUBSCRIPTION", "params": [CHANNEL]})
        self.server.advance(25, step=5)
        self.assertFalse(self.client.lost)
        self.server.advance(10, step=5)
        self.assertTrue(self.client.lost)

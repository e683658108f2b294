"""
Tests for the ``kucoin_spot`` venue (``mockex.venues.kucoin``): REST and WebSocket,
all in memory (:class:`mockex.testing.MemoryServer`).

The expectations are KuCoin's documentation and the captures named in the module's
docstring; the choices it marks unverified are pinned here too, so that changing one
is a decision, not an accident.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer, WsClient
from mockex.venues.kucoin import INTERVALS

NOW_MS = DEFAULT_NOW_MS + 37_123
NOW_S = NOW_MS // 1000
MINUTE_S = 60
UNKNOWN_TYPE = {"msg": "This type of Candlestick is currently not provided.", "code": "400100"}
UNKNOWN_PAIR = {"msg": "Unsupported trading pair.", "code": "400100"}

_SHARED: list[MemoryServer] = []


def shared() -> MemoryServer:
    if not _SHARED:
        _SHARED.append(MemoryServer("kucoin_spot", now_ms=NOW_MS))
    return _SHARED[0]


def candles(server: MemoryServer, **params: Any) -> Any:
    return server.get("/api/v1/market/candles", **params)


class KucoinCase(SynchronousTestCase):
    def ok(self, response: Any) -> Any:
        self.assertEqual(response.status, 200, response.body[:300])
        self.assertEqual(response.headers["content-type"], "application/json")
        body = json.loads(response.body, object_pairs_hook=list)
        self.assertEqual([k for k, _ in body][:1], ["code"])
        data = response.json()
        self.assertEqual(data["code"], "200000")
        return data["data"]

    def error(self, response: Any, body: dict[str, str], status: int = 400) -> None:
        self.assertEqual(response.status, status, response.body)
        self.assertEqual(response.json(), body)

    def rows(self, response: Any) -> list[list[str]]:
        rows = self.ok(response)
        for row in rows:
            self.assertEqual(len(row), 7)
            self.assertTrue(all(isinstance(x, str) for x in row), row)
            self.assertEqual(len(row[0]), 10)
            o, c, h, low = (Decimal(x) for x in row[1:5])
            self.assertLessEqual(low, min(o, c))
            self.assertGreaterEqual(h, max(o, c))
        return rows


class CandleTests(KucoinCase):
    def test_layout_newest_first(self) -> None:
        """No bounds: the newest 1500, newest first, seconds strings, the live candle on top."""
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min"))
        self.assertEqual(len(rows), 1500)
        stamps = [int(r[0]) for r in rows]
        self.assertEqual(stamps[0], NOW_S // 60 * 60)
        self.assertEqual({a - b for a, b in zip(stamps, stamps[1:])}, {60})

    def test_plain_decimals(self) -> None:
        """KuCoin writes decimals without padding (``"67644.9"``), never a trailing zero."""
        for row in self.rows(candles(shared(), symbol="BTC-USDT", type="1hour", startAt=1_700_000_000,
                                     endAt=1_700_036_000)):
            for text in row[1:]:
                self.assertFalse("." in text and text.endswith("0"), row)

    def test_every_type(self) -> None:
        for name, interval in INTERVALS.items():
            rows = self.rows(candles(shared(), symbol="ETH-USDT", type=name, startAt=1_700_000_000,
                                     endAt=1_700_000_000 + 5 * max(interval.nominal_ms // 1000, 60)))
            self.assertTrue(rows, name)
            if not interval.months:
                for row in rows:
                    self.assertEqual((int(row[0]) * 1000 - interval.anchor_ms) % interval.ms, 0, name)

    def test_week_and_month(self) -> None:
        week = self.rows(candles(shared(), symbol="BTC-USDT", type="1week", startAt=1_700_000_000,
                                 endAt=1_702_000_000))
        # 1970-01-05 was a Monday: weeks open on Mondays.
        self.assertTrue(all((int(r[0]) - 4 * 86400) % (7 * 86400) == 0 for r in week))
        month = self.rows(candles(shared(), symbol="BTC-USDT", type="1month", startAt=1_700_000_000,
                                  endAt=1_710_000_000))
        self.assertEqual([r[0] for r in month], ["1709251200", "1706745600", "1704067200", "1701388800"])

    def test_range_is_inclusive(self) -> None:
        """Both bounds inclusive: ``startAt`` rounds up to a candle, ``endAt`` down."""
        start = 1_700_000_040
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=start, endAt=start + 600))
        self.assertEqual([int(r[0]) for r in rows], list(range(start + 600, start - 1, -60)))
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=start + 1, endAt=start + 659))
        self.assertEqual([int(rows[0][0]), int(rows[-1][0])], [start + 600, start + 60])
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=start, endAt=start))
        self.assertEqual([int(r[0]) for r in rows], [start])

    def test_ccxt_limit_window_at_every_instant(self) -> None:
        """
        ccxt's ``fetch_ohlcv(limit=5)`` window (``startAt = (now - 5 min) // 1000``,
        ``endAt = now // 1000``; it then drops rows before ``now - 5 min``) holds the
        five newest candles at every millisecond of a candle, the first second included.
        """
        server = MemoryServer("kucoin_spot", now_ms=DEFAULT_NOW_MS)
        server.server.set_rate_limits(enabled=False)  # one client, many requests, frozen clock
        for phase in (0, 1, 500, 999, 1000, 30_000, 59_999):
            server.advance_to(DEFAULT_NOW_MS + 60_000 + phase)
            now = server.now_ms()
            rows = self.rows(candles(server, symbol="BTC-USDT", type="1min",
                                     startAt=(now - 300_000) // 1000, endAt=now // 1000))
            kept = [int(r[0]) * 1000 for r in rows if int(r[0]) * 1000 >= now - 300_000]
            live = now // 60_000 * 60_000
            self.assertEqual(kept[:5], [live - i * 60_000 for i in range(5)], phase)

    def test_long_range_from_start_gives_first_1500(self) -> None:
        start = 1_700_000_040
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=start,
                                 endAt=start + 2000 * 60))
        self.assertEqual(len(rows), 1500)
        self.assertEqual([int(rows[0][0]), int(rows[-1][0])], [start + 1499 * 60, start])
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=start))
        self.assertEqual([int(rows[0][0]), int(rows[-1][0])], [start + 1499 * 60, start])

    def test_long_range_without_start_gives_newest_1500(self) -> None:
        end = 1_700_000_040
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", endAt=end))
        self.assertEqual(len(rows), 1500)
        self.assertEqual([int(rows[0][0]), int(rows[-1][0])], [end, end - 1499 * 60])

    def test_pages_join(self) -> None:
        """ccxt's ``since`` paging (``endAt = startAt + 1500 candles``): pages meet exactly."""
        start = 1_690_000_020
        first = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=start, endAt=start + 90_000))
        second = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=start + 90_000,
                                   endAt=start + 180_000))
        stamps = [int(r[0]) for r in reversed(first + second)]
        stamps.sort()
        self.assertEqual(len(stamps), 3000)
        self.assertEqual(len(set(stamps)), 3000)
        self.assertEqual({b - a for a, b in zip(stamps, stamps[1:])}, {60})
        self.assertEqual(stamps[0], start)

    def test_end_only_and_start_only(self) -> None:
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1hour", endAt=1_700_000_000))
        self.assertEqual(len(rows), 1500)
        self.assertEqual(rows[0][0], "1699999200")
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=NOW_S - 300))
        self.assertEqual(len(rows), 5)

    def test_empty_ranges(self) -> None:
        self.assertEqual(self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=1_700_000_100,
                                           endAt=1_700_000_000)), [])
        self.assertEqual(self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=NOW_S + 600)), [])
        # Before the listing (BTC-USDT: 2017-08-17 04:00 UTC) nothing exists.
        self.assertEqual(self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=1_400_000_000,
                                           endAt=1_500_000_000)), [])
        # Milliseconds where seconds belong: far in the future, so empty.
        self.assertEqual(self.rows(candles(shared(), symbol="BTC-USDT", type="1min",
                                           startAt=1_700_000_000_000)), [])

    def test_first_candle(self) -> None:
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=1, endAt=1_502_942_400 + 179))
        self.assertEqual([r[0] for r in rows], ["1502942520", "1502942460", "1502942400"])

    def test_hour_is_its_minutes(self) -> None:
        [hour] = self.rows(candles(shared(), symbol="BTC-USDT", type="1hour", startAt=1_700_002_800,
                                   endAt=1_700_002_800))
        minutes = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=1_700_002_800,
                                    endAt=1_700_006_340))[::-1]
        self.assertEqual(len(minutes), 60)
        self.assertEqual(hour[1], minutes[0][1])
        self.assertEqual(hour[2], minutes[-1][2])
        self.assertEqual(Decimal(hour[3]), max(Decimal(m[3]) for m in minutes))
        self.assertEqual(Decimal(hour[4]), min(Decimal(m[4]) for m in minutes))
        self.assertEqual(Decimal(hour[5]), sum(Decimal(m[5]) for m in minutes))

    def test_same_history_as_binance(self) -> None:
        """BTC/USDT is one market: KuCoin and Binance servers with one seed agree."""
        binance = MemoryServer("binance_spot", now_ms=NOW_MS)
        row = binance.get("/api/v3/klines", symbol="BTCUSDT", interval="1h", startTime=1_700_002_800_000,
                          limit=1).json()[0]
        [mine] = self.rows(candles(shared(), symbol="BTC-USDT", type="1hour", startAt=1_700_002_800,
                                   endAt=1_700_002_800))
        self.assertEqual([Decimal(x) for x in (row[1], row[4], row[2], row[3], row[5])],
                         [Decimal(x) for x in mine[1:6]])

    def test_unknown_type(self) -> None:
        for bad in ("1m", "1MIN", "", "2day"):
            self.error(candles(shared(), symbol="BTC-USDT", type=bad), UNKNOWN_TYPE)
        self.error(candles(shared(), symbol="BTC-USDT"), UNKNOWN_TYPE)
        self.assertEqual(list(candles(shared(), symbol="BTC-USDT").json()), ["msg", "code"])

    def test_unknown_symbol(self) -> None:
        for bad in ("BTCUSDT", "btc-usdt", "NOPE-USDT", ""):
            self.error(candles(shared(), symbol=bad, type="1min"), UNKNOWN_PAIR)
        self.error(candles(shared(), type="1min"), UNKNOWN_PAIR)

    def test_unparsable_times_count_as_absent(self) -> None:
        """kucoin-python-sdk #47: ``startAt=endAt=1609459200.0`` got the newest 1500 candles."""
        newest = self.rows(candles(shared(), symbol="BTC-USDT", type="1min"))
        for bad in ("1609459200.0", "abc", "-5", "1" * 20):
            rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=bad, endAt=bad))
            self.assertEqual(rows, newest, bad)

    def test_error_status_switch(self) -> None:
        server = MemoryServer("kucoin_spot", now_ms=NOW_MS, options={"kucoin_error_status": "200"})
        self.error(candles(server, symbol="X-Y", type="1min"), UNKNOWN_PAIR, status=200)

    def test_unread_parameters_ignored(self) -> None:
        rows = self.rows(candles(shared(), symbol="BTC-USDT", type="1min", startAt=NOW_S - 120, foo="bar"))
        self.assertEqual(len(rows), 2)


class OtherEndpointTests(KucoinCase):
    def test_timestamp(self) -> None:
        response = shared().get("/api/v1/timestamp")
        self.assertEqual(response.body, b'{"code":"200000","msg":"success","data":%d}' % NOW_MS)

    def test_status(self) -> None:
        self.assertEqual(self.ok(shared().get("/api/v1/status")), {"status": "open", "msg": ""})

    def test_symbols(self) -> None:
        data = self.ok(shared().get("/api/v2/symbols"))
        self.assertEqual([d["symbol"] for d in data],
                         ["BTC-USDT", "ETH-USDT", "BNB-USDT", "SOL-USDT", "XRP-USDT", "DOGE-USDT", "ETH-BTC"])
        btc = data[0]
        self.assertEqual(list(btc)[:17], [
            "symbol", "name", "baseCurrency", "quoteCurrency", "feeCurrency", "market", "baseMinSize",
            "quoteMinSize", "baseMaxSize", "quoteMaxSize", "baseIncrement", "quoteIncrement", "priceIncrement",
            "priceLimitRate", "minFunds", "isMarginEnabled", "enableTrading"])
        self.assertEqual((btc["priceIncrement"], btc["baseIncrement"], btc["market"]), ("0.01", "0.00001", "USDS"))
        self.assertEqual([d["symbol"] for d in self.ok(shared().get("/api/v2/symbols", market="BTC"))], ["ETH-BTC"])
        self.assertEqual(self.ok(shared().get("/api/v1/symbols")), data)

    def test_all_tickers(self) -> None:
        data = self.ok(shared().get("/api/v1/market/allTickers"))
        self.assertEqual(data["time"], NOW_MS)
        btc = data["ticker"][0]
        self.assertEqual(btc["symbol"], "BTC-USDT")
        last = self.rows(candles(shared(), symbol="BTC-USDT", type="1min"))[0]
        self.assertEqual(btc["last"], last[2])
        self.assertLessEqual(Decimal(btc["low"]), Decimal(btc["last"]))
        self.assertEqual(btc["takerFeeRate"], "0.001")

    def test_currencies(self) -> None:
        data = self.ok(shared().get("/api/v3/currencies"))
        self.assertEqual([c["currency"] for c in data], ["BTC", "USDT", "ETH", "BNB", "SOL", "XRP", "DOGE"])

    def test_contracts_active_empty(self) -> None:
        self.assertEqual(self.ok(shared().get("/api/v1/contracts/active")), [])

    def test_bullet_public(self) -> None:
        response = shared().request("POST", "/api/v1/bullet-public", headers={"Host": "localhost:9999"})
        data = self.ok(response)
        self.assertEqual(list(data), ["token", "instanceServers"])
        self.assertEqual(data["instanceServers"], [{
            "endpoint": "ws://localhost:9999/", "encrypt": False, "protocol": "websocket",
            "pingInterval": 18000, "pingTimeout": 10000,
        }])
        self.assertRegex(data["token"], r"^[A-Za-z0-9_\-]+=*\.[A-Za-z0-9+/]+=*$")

    def test_bullet_public_get_not_allowed(self) -> None:
        self.error(shared().get("/api/v1/bullet-public"), {"code": "405000", "msg": "Method Not Allowed"}, 405)

    def test_unknown_path(self) -> None:
        self.error(shared().get("/api/v1/nope"), {"code": "404000", "msg": "Url Not Found"}, 404)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
CANDLE_PARAMS = st.fixed_dictionaries({}, optional={
    "symbol": st.one_of(TEXT, st.sampled_from(["BTC-USDT", "ETH-BTC"])),
    "type": st.one_of(TEXT, st.sampled_from(list(INTERVALS))),
    "startAt": st.one_of(TEXT, st.integers(-10, 10**20).map(str)),
    "endAt": st.one_of(TEXT, st.integers(-10, 10**20).map(str)),
})


class PropertyTests(KucoinCase):
    @given(CANDLE_PARAMS)
    @settings(max_examples=60)
    def test_candles_never_5xx(self, params: dict[str, str]) -> None:
        response = candles(shared(), **params)
        self.assertIn(response.status, (200, 400), (params, response.body[:200]))
        body = response.json()
        if response.status == 200:
            self.assertEqual(body["code"], "200000")
            self.assertLessEqual(len(body["data"]), 1500)
        else:
            self.assertEqual(body["code"], "400100")

    @given(st.text(max_size=20).map(lambda t: "/api/" + quote(t, safe="/")), st.sampled_from(["GET", "POST", "PUT"]))
    @settings(max_examples=40)
    def test_any_path_never_5xx(self, path: str, method: str) -> None:
        response = shared().request(method, path)
        self.assertLess(response.status, 500, (path, response.body[:200]))


# ---------------------------------------------------------------------------
# WebSocket


class WsCase(KucoinCase):
    def setUp(self) -> None:
        self.server = MemoryServer("kucoin_spot", now_ms=DEFAULT_NOW_MS)

    def token(self) -> str:
        return self.ok(self.server.request("POST", "/api/v1/bullet-public"))["token"]

    def connect(self, connect_id: str | None = "c1", token: str | None = None) -> WsClient:
        params = {"token": self.token() if token is None else token}
        if connect_id is not None:
            params["connectId"] = connect_id
        return self.server.connect("/?" + urlencode(params))

    def subscribe(self, client: WsClient, topic: str, request_id: str = "1", kind: str = "subscribe") -> None:
        client.send_json({"id": request_id, "type": kind, "topic": topic, "privateChannel": False, "response": True})
        self.server.flush()


class HandshakeTests(WsCase):
    def test_welcome_carries_connect_id(self) -> None:
        client = self.connect("hQvf8jkno")
        self.assertEqual(client.messages, [b'{"id":"hQvf8jkno","type":"welcome"}'])

    def test_welcome_without_connect_id(self) -> None:
        client = self.connect(None)
        message = client.json()[0]
        self.assertEqual(message["type"], "welcome")
        self.assertIsInstance(message["id"], str)

    def test_bad_token(self) -> None:
        for token in ("", "nonsense", self.token()[:-6] + "AAAA==", self.token() + "x"):
            client = self.connect("c9", token=token)
            self.server.advance(0.5)
            self.assertEqual(client.json(), [{"id": "c9", "type": "error", "code": 401, "data": "token is invalid"}])
            self.assertTrue(client.lost)

    def test_token_of_another_seed(self) -> None:
        other = MemoryServer("kucoin_spot", now_ms=DEFAULT_NOW_MS, seed=1)
        token = self.ok(other.request("POST", "/api/v1/bullet-public"))["token"]
        client = self.connect("c9", token=token)
        self.assertEqual(client.json()[0]["data"], "token is invalid")

    def test_token_expires_after_a_day(self) -> None:
        token = self.token()
        self.server.advance(24 * 3600, step=3600)
        self.assertEqual(self.connect(token=token).json()[0]["type"], "welcome")
        self.server.advance(1)
        client = self.connect("c2", token=token)
        self.assertEqual(client.json(), [{"id": "c2", "type": "error", "code": 401, "data": "token is expired"}])


class SubscriptionTests(WsCase):
    def test_subscribe_ack_and_pushes(self) -> None:
        client = self.connect()
        client.take()
        self.subscribe(client, "/market/candles:BTC-USDT_1min", "42")
        self.assertEqual(client.messages, [b'{"id":"42","type":"ack"}'])
        client.take()
        self.server.advance(3)
        pushes = client.messages[:]
        self.assertEqual(len(pushes), 3)
        first = json.loads(pushes[0], object_pairs_hook=list)
        self.assertEqual([k for k, _ in first], ["topic", "type", "subject", "data"])
        message = json.loads(pushes[-1])
        self.assertEqual(message["topic"], "/market/candles:BTC-USDT_1min")
        self.assertEqual(message["subject"], "trade.candles.update")
        self.assertEqual(list(message["data"]), ["symbol", "candles", "time"])
        self.assertEqual(message["data"]["time"], (DEFAULT_NOW_MS + 3000) * 1_000_000)
        rest = self.rows(candles(self.server, symbol="BTC-USDT", type="1min"))[0]
        self.assertEqual(message["data"]["candles"], rest)

    def test_numeric_id_acked_as_string(self) -> None:
        client = self.connect()
        client.take()
        client.send_json({"id": 1545910660739, "type": "subscribe", "topic": "/market/candles:ETH-USDT_1hour",
                          "response": True})
        self.server.flush()
        self.assertEqual(client.take(), [{"id": "1545910660739", "type": "ack"}])

    def test_no_ack_without_response(self) -> None:
        client = self.connect()
        client.take()
        client.send_json({"id": "1", "type": "subscribe", "topic": "/market/candles:ETH-USDT_1hour"})
        self.server.advance(1)
        self.assertEqual(client.take()[0]["type"], "message")

    def test_several_symbols_and_unsubscribe(self) -> None:
        client = self.connect()
        self.subscribe(client, "/market/candles:BTC-USDT_1min,ETH-USDT_5min")
        client.take()
        self.server.advance(1)
        self.assertEqual(sorted(m["topic"] for m in client.take()),
                         ["/market/candles:BTC-USDT_1min", "/market/candles:ETH-USDT_5min"])
        self.subscribe(client, "/market/candles:BTC-USDT_1min", "2", "unsubscribe")
        self.assertEqual(client.take(), [{"id": "2", "type": "ack"}])
        self.server.advance(2)
        self.assertEqual({m["topic"] for m in client.take()}, {"/market/candles:ETH-USDT_5min"})

    def test_candle_close_then_next(self) -> None:
        client = self.connect()
        self.subscribe(client, "/market/candles:BTC-USDT_1min")
        client.take()
        for i in range(4):
            self.server.advance(15.25)
            client.send_json({"id": str(i), "type": "ping"})
        self.server.flush()
        opens = [m["data"]["candles"][0] for m in client.take() if m["type"] == "message"]
        boundary = str(DEFAULT_NOW_MS // 1000 + 60)
        self.assertIn(boundary, opens)
        closed = [o for o in opens if o != boundary]
        self.assertEqual(set(closed), {str(DEFAULT_NOW_MS // 1000)})

    def test_errors(self) -> None:
        client = self.connect()
        client.take()
        cases = [
            ({"id": "1", "type": "subscribe", "topic": "/market/candles:NOPE-USDT_1min", "response": True},
             {"id": "1", "type": "error", "code": 404, "data": "topic /market/candles:NOPE-USDT_1min is not found"}),
            ({"id": "2", "type": "subscribe", "topic": "/market/candles:BTC-USDT_1m", "response": True},
             {"id": "2", "type": "error", "code": 404, "data": "topic /market/candles:BTC-USDT_1m is not found"}),
            ({"id": "3", "type": "subscribe", "topic": "/market/level2:BTC-USDT", "response": True},
             {"id": "3", "type": "error", "code": 404, "data": "topic /market/level2:BTC-USDT is not found"}),
            ({"id": "4", "type": "subscribe", "response": True},
             {"id": "4", "type": "error", "code": 406, "data": "topic is required"}),
            ({"id": "5", "type": "hello"}, {"id": "5", "type": "error", "code": 415, "data": "type is not supported"}),
            ({"id": "6", "type": "subscribe", "topic": "/market/candles:BTC-USDT_1min", "privateChannel": True},
             {"id": "6", "type": "error", "code": 403, "data": "login is required"}),
        ]
        for request, answer in cases:
            client.send_json(request)
            self.server.flush()
            self.assertEqual(client.take(), [answer])
        for text in (b"{not json", b"[1]", b"\xff"[:0] + b'"x"'):
            client.send_text(text)
            self.server.flush()
            self.assertEqual(client.take(), [{"id": "c1", "type": "error", "code": 400,
                                              "data": "message is not a valid json"}])
        self.assertFalse(client.lost)
        self.assertEqual(self.server.server.hub.active_feeds, [])

    def test_binary_frame(self) -> None:
        client = self.connect()
        client.take()
        client.sendMessage(b"\xff\x00", isBinary=True)
        self.server.flush()
        self.assertEqual(client.take()[0]["code"], 400)
        self.assertFalse(client.lost)

    @given(st.text(max_size=60))
    @settings(max_examples=40)
    def test_arbitrary_frames_keep_connection(self, payload: str) -> None:
        client = self.connect()
        client.send_text(payload)
        self.server.flush()
        self.assertFalse(client.lost)
        for message in client.json()[1:]:
            self.assertIn(message["type"], ("error", "pong", "ack"))


class KeepaliveTests(WsCase):
    def test_ping_pong(self) -> None:
        client = self.connect()
        client.take()
        client.send_json({"id": "1545910590801", "type": "ping"})
        self.server.flush()
        self.assertEqual(client.messages, [b'{"id":"1545910590801","type":"pong"}'])

    def test_no_server_pings(self) -> None:
        client = self.connect()
        self.server.advance(25)
        self.assertEqual(client.pings, [])

    def test_silent_client_dropped(self) -> None:
        """Silent for pingInterval + pingTimeout (28 s): dropped by the next check (every 10 s)."""
        client = self.connect()
        self.server.advance(29)
        self.assertFalse(client.lost)
        self.server.advance(1.5)
        self.assertTrue(client.lost)

    def test_pinging_client_stays(self) -> None:
        client = self.connect()
        for i in range(10):
            self.server.advance(18)
            client.send_json({"id": str(i), "type": "ping"})
        self.server.flush()
        self.assertFalse(client.lost)

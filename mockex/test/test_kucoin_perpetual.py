"""
Tests for the ``kucoin_perpetual`` venue (``mockex.venues.kucoin_futures``), in memory.

Expectations: KuCoin's futures docs and ccxt's captures named in the module docstring;
the unverified choices listed there are pinned too. The token handshake itself is the
spot module's and is tested in ``test_kucoin_spot``; here it is exercised on the
futures host.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer, WsClient
from mockex.venues.kucoin_futures import GRANULARITIES, WS_TYPES

NOW_MS = DEFAULT_NOW_MS + 37_123
MINUTE = 60_000
_SHARED: list[MemoryServer] = []


def shared() -> MemoryServer:
    if not _SHARED:
        _SHARED.append(MemoryServer("kucoin_perpetual", now_ms=NOW_MS))
    return _SHARED[0]


def kline(server: MemoryServer, **params: Any) -> Any:
    if "from_" in params:
        params["from"] = params.pop("from_")
    return server.get("/api/v1/kline/query", **params)


class FuturesCase(SynchronousTestCase):
    def ok(self, response: Any) -> Any:
        self.assertEqual(response.status, 200, response.body[:300])
        body = response.json()
        self.assertEqual(list(body), ["code", "data"])
        self.assertEqual(body["code"], "200000")
        return body["data"]

    def rows(self, response: Any) -> list[list[Any]]:
        rows = self.ok(response)
        for row in rows:
            self.assertEqual(len(row), 6)
            self.assertIsInstance(row[0], int)
            self.assertIsInstance(row[5], int)
            _, open_, high, low, close, _ = (Decimal(str(x)) for x in row)
            self.assertLessEqual(low, min(open_, close))
            self.assertGreaterEqual(high, max(open_, close))
        stamps = [r[0] for r in rows]
        self.assertEqual(stamps, sorted(stamps))
        return rows

    def error(self, response: Any, msg: str) -> None:
        self.assertEqual(response.status, 400, response.body)
        self.assertEqual(response.json(), {"msg": msg, "code": "400100"})


class KlineTests(FuturesCase):
    def test_latest_500(self) -> None:
        rows = self.rows(kline(shared(), symbol="XBTUSDTM", granularity=1))
        self.assertEqual(len(rows), 500)
        self.assertEqual(rows[-1][0], NOW_MS // MINUTE * MINUTE)
        self.assertEqual({b[0] - a[0] for a, b in zip(rows, rows[1:])}, {MINUTE})

    def test_from_only_and_to_only(self) -> None:
        start = NOW_MS // MINUTE * MINUTE - 2000 * MINUTE
        rows = self.rows(kline(shared(), symbol="XBTUSDTM", granularity=1, from_=start))
        self.assertEqual((rows[0][0], len(rows)), (start, 500))
        rows = self.rows(kline(shared(), symbol="XBTUSDTM", granularity=1, to=start))
        self.assertEqual((rows[-1][0], len(rows)), (start - MINUTE, 500))

    def test_ccxt_window(self) -> None:
        """ccxt: from = since, to = since + 200 candles: exactly 200, and the next page joins."""
        start = NOW_MS // MINUTE * MINUTE - 2000 * MINUTE
        first = self.rows(kline(shared(), symbol="ETHUSDTM", granularity=1, from_=start, to=start + 200 * MINUTE))
        second = self.rows(kline(shared(), symbol="ETHUSDTM", granularity=1, from_=start + 200 * MINUTE,
                                 to=start + 400 * MINUTE))
        self.assertEqual([r[0] for r in first + second], [start + i * MINUTE for i in range(400)])
        unaligned = self.rows(kline(shared(), symbol="ETHUSDTM", granularity=1, from_=start + 1, to=start + 3 * MINUTE))
        self.assertEqual([r[0] for r in unaligned], [start + MINUTE, start + 2 * MINUTE])

    def test_long_range_first_500(self) -> None:
        start = NOW_MS // MINUTE * MINUTE - 2000 * MINUTE
        rows = self.rows(kline(shared(), symbol="XBTUSDTM", granularity=1, from_=start, to=NOW_MS))
        self.assertEqual((rows[0][0], len(rows)), (start, 500))

    def test_every_granularity(self) -> None:
        for name, interval in GRANULARITIES.items():
            rows = self.rows(kline(shared(), symbol="SOLUSDTM", granularity=name))
            self.assertGreater(len(rows), 0, name)
            self.assertEqual({(r[0] - interval.anchor_ms) % interval.ms for r in rows}, {0}, name)

    def test_volume_in_lots_matches_contract_size(self) -> None:
        """Lots times the multiplier is the spot venue's base volume of the same candle."""
        contract = self.ok(shared().get("/api/v1/contracts/XBTUSDTM"))
        self.assertEqual(contract["multiplier"], 0.00001)
        start = NOW_MS // MINUTE * MINUTE - 100 * MINUTE
        [row] = self.rows(kline(shared(), symbol="XBTUSDTM", granularity=1, from_=start, to=start + MINUTE))
        spot = MemoryServer("binance_spot", now_ms=NOW_MS)
        [binance] = spot.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", startTime=start, limit=1).json()
        self.assertEqual(Decimal(row[5]) * Decimal("0.00001"), Decimal(binance[5]))
        self.assertEqual(Decimal(str(row[4])), Decimal(binance[4]))

    def test_empty(self) -> None:
        self.assertEqual(self.rows(kline(shared(), symbol="XBTUSDTM", granularity=1, from_=NOW_MS + 10 * MINUTE)), [])
        self.assertEqual(self.rows(kline(shared(), symbol="XBTUSDTM", granularity=1, from_=NOW_MS, to=NOW_MS)), [])

    def test_errors(self) -> None:
        self.error(kline(shared(), symbol="XBTUSDTM", granularity=3), "granularity invalid")
        self.error(kline(shared(), symbol="XBTUSDTM"), "granularity invalid")
        self.error(kline(shared(), symbol="BTCUSDT", granularity=1), "Unsupported trading pair.")
        self.error(kline(shared(), symbol="XBTUSDTM", granularity=1, from_="x"), "from invalid")
        self.error(kline(shared(), symbol="XBTUSDTM", granularity=1, to="-1"), "to invalid")


class OtherEndpointTests(FuturesCase):
    def test_timestamp_and_status(self) -> None:
        self.assertEqual(shared().get("/api/v1/timestamp").body, b'{"code":"200000","data":%d}' % NOW_MS)
        self.assertEqual(self.ok(shared().get("/api/v1/status")), {"status": "open", "msg": ""})

    def test_contracts(self) -> None:
        contracts = self.ok(shared().get("/api/v1/contracts/active"))
        self.assertEqual([c["symbol"] for c in contracts],
                         ["XBTUSDTM", "ETHUSDTM", "BNBUSDTM", "SOLUSDTM", "XRPUSDTM", "DOGEUSDTM"])
        xbt = contracts[0]
        self.assertEqual((xbt["baseCurrency"], xbt["settleCurrency"], xbt["type"], xbt["status"], xbt["isInverse"]),
                         ("XBT", "USDT", "FFWCSX", "Open", False))
        self.assertEqual(self.ok(shared().get("/api/v1/contracts/XBTUSDTM")), xbt)
        self.error(shared().get("/api/v1/contracts/NOPE"), "Unsupported trading pair.")

    def test_bullet_public_and_unknown_path(self) -> None:
        data = self.ok(shared().request("POST", "/api/v1/bullet-public"))
        self.assertEqual(data["instanceServers"][0]["endpoint"], "ws://127.0.0.1/")
        response = shared().get("/api/v1/nope")
        self.assertEqual((response.status, response.json()), (404, {"code": "404000", "msg": "Url Not Found"}))


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


class PropertyTests(FuturesCase):
    @given(st.fixed_dictionaries({}, optional={
        "symbol": st.one_of(TEXT, st.sampled_from(["XBTUSDTM", "DOGEUSDTM"])),
        "granularity": st.one_of(TEXT, st.sampled_from(list(GRANULARITIES))),
        "from": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
        "to": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
    }))
    @settings(max_examples=60)
    def test_never_5xx(self, params: dict[str, str]) -> None:
        response = shared().get("/api/v1/kline/query", **params)
        self.assertIn(response.status, (200, 400), (params, response.body[:200]))
        if response.status == 200:
            self.assertLessEqual(len(response.json()["data"]), 500)


class WsCase(FuturesCase):
    def setUp(self) -> None:
        self.server = MemoryServer("kucoin_perpetual", now_ms=DEFAULT_NOW_MS)

    def connect(self) -> WsClient:
        token = self.ok(self.server.request("POST", "/api/v1/bullet-public"))["token"]
        client = self.server.connect("/?" + urlencode({"token": token, "connectId": "f1"}))
        self.assertEqual(client.take(), [{"id": "f1", "type": "welcome"}])
        return client

    def send(self, client: WsClient, request: dict[str, Any]) -> list[Any]:
        client.send_json(request)
        self.server.flush()
        return client.take()


class WebSocketTests(WsCase):
    def test_subscribe_ack_and_pushes(self) -> None:
        client = self.connect()
        topic = "/contractMarket/limitCandle:XBTUSDTM_1min"
        self.assertEqual(self.send(client, {"id": "7", "type": "subscribe", "topic": topic, "response": True}),
                         [{"id": "7", "type": "ack"}])
        self.server.advance(2)
        pushes = client.take()
        self.assertEqual(len(pushes), 2)
        push = pushes[-1]
        self.assertEqual(list(push), ["topic", "type", "data", "subject"])
        self.assertEqual((push["topic"], push["type"], push["subject"]), (topic, "message", "candle.stick"))
        self.assertEqual(list(push["data"]), ["symbol", "candles", "time"])
        self.assertEqual(push["data"]["time"], DEFAULT_NOW_MS + 2000)
        candles = push["data"]["candles"]
        self.assertEqual(candles[0], str(DEFAULT_NOW_MS // 1000))
        self.assertEqual(candles[5], candles[6] + ".0")
        [row] = kline(self.server, symbol="XBTUSDTM", granularity=1, from_=DEFAULT_NOW_MS).json()["data"]
        # push: open, close, high, low; row: open, high, low, close
        self.assertEqual([Decimal(x) for x in candles[1:5]], [Decimal(str(row[i])) for i in (1, 4, 2, 3)])
        self.assertEqual(int(candles[6]), row[5])

    def test_every_type_and_unsubscribe(self) -> None:
        client = self.connect()
        topic = "/contractMarket/limitCandle:" + ",".join(f"ETHUSDTM_{t}" for t in WS_TYPES)
        self.assertEqual(self.send(client, {"id": "1", "type": "subscribe", "topic": topic, "response": True}),
                         [{"id": "1", "type": "ack"}])
        self.server.advance(1)
        self.assertEqual(len(client.take()), len(WS_TYPES))
        self.send(client, {"id": "2", "type": "unsubscribe", "topic": topic, "response": True})
        self.server.advance(2)
        self.assertEqual(client.take(), [])

    def test_errors(self) -> None:
        client = self.connect()
        [answer] = self.send(client, {"id": "3", "type": "subscribe", "topic": "/market/candles:XBTUSDTM_1min"})
        self.assertEqual((answer["type"], answer["code"]), ("error", 404))
        [answer] = self.send(client, {"id": "4", "type": "subscribe",
                                      "topic": "/contractMarket/limitCandle:XBTUSDTM_3min"})
        self.assertEqual(answer["data"], "topic /contractMarket/limitCandle:XBTUSDTM_3min is not found")
        self.assertEqual(self.send(client, {"id": "5", "type": "ping"}), [{"id": "5", "type": "pong"}])
        self.assertFalse(client.lost)

"""
Tests for the Binance spot WebSocket market streams (``mockex.venues.binance``).

Everything runs in memory (:class:`mockex.testing.MemoryServer`: real Autobahn
protocols on a ``MemoryReactorClock``, connected with ``twisted.test.iosim``), so
time only moves when a test says so and no socket is opened.

The rows of ``/work/shared/reference/binance_spot.md`` (W1-W12) and the verified
facts of the research notes (Q6: error texts, invalid-stream close, silent unknown
streams, 20 s pings / 60 s pong timeout) are what these tests hold the venue to.
Tests that pin a defect found while writing them (since fixed) carry a
``# Regression:`` comment.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from mockex.testing import DEFAULT_NOW_MS, MemoryServer, WsClient

#: 2026-11-25 00:00:00 UTC, a Wednesday: minute-, hour- and day-aligned.
NOW = DEFAULT_NOW_MS
MINUTE = 60_000
DAY = 86_400_000

KLINE_KEYS = ["e", "E", "s", "k"]
CANDLE_KEYS = ["t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"]
INT_FIELDS = ("t", "T", "f", "L", "n")
DECIMAL_FIELDS = ("o", "c", "h", "l", "v", "q", "V", "Q")
EIGHT_PLACES = re.compile(r"^[0-9]+\.[0-9]{8}$")

#: REST row index of each candle field (the 12-field /api/v3/klines row).
ROW_INDEX = {"t": 0, "o": 1, "h": 2, "l": 3, "c": 4, "v": 5, "T": 6, "q": 7, "n": 8, "V": 9, "Q": 10}

VARIANTS = (
    "expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
)


def err(code: int, msg: str) -> dict[str, Any]:
    """The inner object of a WebSocket error frame."""
    return {"code": code, "msg": msg}


BAD_ID = err(2, "Invalid request: request ID must be an unsigned integer")
INVALID_STREAM = err(2, "Invalid request: invalid stream")

UUID = "9b2f6c1e-8a3d-4c5e-b7f0-1d2e3f4a5b6c"


# ---------------------------------------------------------------------------
# Helpers


def ordered(raw: bytes) -> Any:
    """Parse JSON keeping every object's keys in wire order (as lists of pairs)."""
    return json.loads(raw, object_pairs_hook=list)


def keys(pairs: list[tuple[str, Any]]) -> list[str]:
    return [k for k, _ in pairs]


def klines(client: WsClient) -> list[dict[str, Any]]:
    """The kline events a client received, unwrapped if combined."""
    out = []
    for message in client.json():
        if "stream" in message:
            message = message["data"]
        if message.get("e") == "kline":
            out.append(message)
    return out


def rest_row(server: MemoryServer, symbol: str, interval: str, open_ms: int, **extra: Any) -> list[Any]:
    """The REST kline row of ``open_ms`` as the server answers it now."""
    response = server.get(
        "/api/v3/klines", symbol=symbol, interval=interval, startTime=open_ms, limit=1, **extra
    )
    assert response.status == 200, response
    rows = json.loads(response.body)
    assert len(rows) == 1, rows
    return rows[0]


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


class WsTestCase(SynchronousTestCase):
    """A fresh in-memory Binance server per test."""

    def setUp(self) -> None:
        self.server = MemoryServer("binance_spot")
        # These tests send bursts of requests to check each reply; Binance's limit of 5
        # messages a second per connection is tested on its own in test_ws_limits.
        self.server.server.set_rate_limits(ws_limit=None)

    def connect(self, path: str) -> WsClient:
        return self.server.connect(path)

    def request(self, client: WsClient, value: Any) -> Any:
        """Send one JSON request and return the single reply, parsed."""
        client.messages.clear()
        client.send_json(value)
        self.server.flush()
        self.assertEqual(len(client.messages), 1, client.messages)
        return client.take()[0]

    def send_raw(self, client: WsClient, payload: bytes, binary: bool = False) -> list[Any]:
        client.messages.clear()
        client.sendMessage(payload, isBinary=binary)
        self.server.flush()
        return client.take()

    def assertAlive(self, client: WsClient, request_id: int = 424242) -> None:
        """The connection is open and still answers LIST_SUBSCRIPTIONS."""
        self.assertFalse(client.lost, f"connection closed with {client.close_code}")
        reply = self.request(client, {"method": "LIST_SUBSCRIPTIONS", "id": request_id})
        self.assertEqual(reply["id"], request_id)
        self.assertIsInstance(reply["result"], list)

    def ticks(self) -> list[Any]:
        """Delayed calls of the stream hub (feed timers)."""
        return [c for c in self.server.clock.getDelayedCalls() if "StreamHub._tick" in repr(c)]


# ---------------------------------------------------------------------------
# W1 / W2: paths, raw and combined payloads


class PathTests(WsTestCase):
    def test_raw_stream_bare_payloads(self) -> None:
        """``/ws/<stream>`` pushes bare kline payloads, no wrapper."""
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(6)
        messages = client.json()
        self.assertEqual(len(messages), 3)
        for message in messages:
            self.assertNotIn("stream", message)
            self.assertEqual(message["e"], "kline")
            self.assertEqual(message["s"], "BTCUSDT")
            self.assertEqual(message["k"]["i"], "1m")

    def test_several_raw_streams(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m/ethusdt@kline_1m")
        self.server.advance(2)
        messages = client.json()
        self.assertEqual(sorted(m["s"] for m in messages), ["BTCUSDT", "ETHUSDT"])
        for message in messages:
            self.assertNotIn("stream", message)
            self.assertEqual(message["E"], NOW + 2000)

    def test_combined_wrapper_exact(self) -> None:
        """``{"stream":<name>,"data":<raw payload>}``, byte for byte."""
        names = ("btcusdt@kline_1m", "ethusdt@kline_1m")
        combined = self.connect("/stream?streams=" + "/".join(names))
        raw = self.connect("/ws/" + "/".join(names))
        self.server.advance(4)
        self.assertEqual(len(combined.messages), 4)
        self.assertEqual(len(raw.messages), 4)
        for name in names:
            symbol = name.split("@")[0].upper()
            bare = [m for m in raw.messages if json.loads(m)["s"] == symbol]
            wrapped = [m for m in combined.messages if json.loads(m)["stream"] == name]
            self.assertEqual(len(bare), 2)
            self.assertEqual(wrapped, [b'{"stream":"%s","data":%s}' % (name.encode(), m) for m in bare])

    def test_bare_ws_then_subscribe(self) -> None:
        client = self.connect("/ws")
        self.server.advance(4)
        self.assertEqual(client.messages, [])
        reply = self.request(client, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        self.assertEqual(reply, {"result": None, "id": 1})
        self.server.advance(2)
        [message] = client.json()
        self.assertNotIn("stream", message)
        self.assertEqual(message["k"]["s"], "BTCUSDT")

    def test_bare_stream_then_subscribe(self) -> None:
        client = self.connect("/stream")
        self.assertEqual(
            self.request(client, {"method": "SUBSCRIBE", "params": ["ethusdt@kline_1m"], "id": 2}),
            {"result": None, "id": 2},
        )
        self.server.advance(2)
        [message] = client.json()
        self.assertEqual(message["stream"], "ethusdt@kline_1m")
        self.assertEqual(message["data"]["s"], "ETHUSDT")

    def test_ws_0_silent_until_subscribe(self) -> None:
        """ccxt.pro connects to ``/ws/0``: it opens, stays silent, then SUBSCRIBE works."""
        client = self.connect("/ws/0")
        self.server.advance(30)
        self.assertEqual(client.messages, [])
        self.assertFalse(client.lost)
        self.assertEqual(self.ticks(), [])
        reply = self.request(client, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        self.assertEqual(reply, {"result": None, "id": 1})
        self.server.advance(2)
        [message] = client.json()
        self.assertEqual(message["e"], "kline")
        self.assertNotIn("stream", message)

    def test_encoded_plus_in_query(self) -> None:
        """``%2B`` in the combined query is ``+`` (the ``@+08:00`` streams)."""
        client = self.connect("/stream?streams=btcusdt@kline_1d@%2B08:00")
        self.server.advance(2)
        [message] = client.json()
        self.assertEqual(message["stream"], "btcusdt@kline_1d@+08:00")

    def test_trailing_slash(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m/")
        self.server.advance(2)
        [message] = client.json()
        self.assertEqual(message["s"], "BTCUSDT")

    def test_trailing_slash_bare_paths(self) -> None:
        # Regression: ``/ws/`` and ``/stream/`` are refused (the Klein routes are only
        # "/ws", "/ws/<path:streams>" and "/stream") although open_session strips a
        # trailing "/" and the Binance docs speak of connecting "using /ws/" and
        # "using /stream/" (SET_PROPERTY section; wording, not a wire capture).
        # Input: connect("/ws/"), connect("/stream/?streams=btcusdt@kline_1m").
        # Actual: the upgrade is refused. Expected: they open like "/ws" and
        # "/stream?streams=btcusdt@kline_1m".
        client = self.connect("/ws/")
        self.assertEqual(self.request(client, {"method": "GET_PROPERTY", "params": ["combined"], "id": 1}),
                         {"result": False, "id": 1})
        client = self.connect("/stream/?streams=btcusdt@kline_1m")
        self.server.advance(2)
        [message] = client.json()
        self.assertEqual(message["stream"], "btcusdt@kline_1m")


# ---------------------------------------------------------------------------
# W4: payload layout and types


class PayloadTests(WsTestCase):
    def check_payload(
        self, raw: bytes, symbol: str, interval: str, interval_ms: int | None
    ) -> dict[str, Any]:
        pairs = ordered(raw)
        self.assertEqual(keys(pairs), KLINE_KEYS)
        top = dict(pairs)
        self.assertEqual(keys(top["k"]), CANDLE_KEYS)
        k = dict(top["k"])
        self.assertEqual(top["e"], "kline")
        self.assertEqual(top["s"], symbol)
        self.assertEqual(k["s"], symbol)
        self.assertEqual(k["i"], interval)
        self.assertIs(type(top["E"]), int)
        for name in INT_FIELDS:
            self.assertIs(type(k[name]), int, name)
        for name in DECIMAL_FIELDS:
            self.assertIs(type(k[name]), str, name)
            self.assertRegex(k[name], EIGHT_PLACES)
        self.assertIs(type(k["x"]), bool)
        self.assertEqual(k["B"], "0")
        if interval_ms is not None:
            self.assertEqual(k["T"], k["t"] + interval_ms - 1)
        self.assertTrue(k["t"] <= top["E"])
        o, c, h, lo = (Decimal(k[n]) for n in "ochl")
        self.assertTrue(lo <= min(o, c) <= max(o, c) <= h, k)
        self.assertTrue(Decimal(k["V"]) <= Decimal(k["v"]))
        self.assertTrue(Decimal(k["Q"]) <= Decimal(k["q"]))
        if k["n"] == 0:
            self.assertEqual((k["f"], k["L"]), (-1, -1))
        else:
            self.assertEqual(k["n"], k["L"] - k["f"] + 1)
        return {**top, "k": k}

    def test_field_order_and_types(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m/xrpusdt@kline_1m/dogeusdt@kline_1m")
        self.server.advance(64)
        self.assertEqual(len(client.messages), 96)
        symbols = set()
        for raw in client.messages:
            top = self.check_payload(raw, json.loads(raw)["s"], "1m", MINUTE)
            symbols.add(top["s"])
        self.assertEqual(symbols, {"BTCUSDT", "XRPUSDT", "DOGEUSDT"})

    def test_literal_text(self) -> None:
        """No spaces, ``x`` written as a JSON literal, integers unquoted."""
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(2)
        [raw] = client.messages
        self.assertNotIn(b" ", raw)
        self.assertIn(b'"x":false,', raw)
        self.assertTrue(raw.startswith(b'{"e":"kline","E":%d,"s":"BTCUSDT","k":{"t":%d,"T":%d,'
                                       % (NOW + 2000, NOW, NOW + MINUTE - 1)), raw)
        self.assertTrue(raw.endswith(b'"B":"0"}}'), raw)

    def test_combined_payload_layout(self) -> None:
        client = self.connect("/stream?streams=ethbtc@kline_5m")
        self.server.advance(2)
        [raw] = client.messages
        self.assertEqual(keys(ordered(raw)), ["stream", "data"])
        prefix = b'{"stream":"ethbtc@kline_5m","data":'
        self.assertTrue(raw.startswith(prefix), raw)
        self.assertTrue(raw.endswith(b"}}}"), raw)
        self.check_payload(raw[len(prefix):-1], "ETHBTC", "5m", 5 * MINUTE)


# ---------------------------------------------------------------------------
# W5: update cadence, closes, REST agreement


class CadenceTests(WsTestCase):
    def test_two_second_grid_for_1m(self) -> None:
        """Subscribed between two grid points: the first push waits for the grid."""
        self.server.advance(1.5)
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(20)
        events = [m["E"] for m in klines(client)]
        self.assertEqual(events, list(range(NOW + 2000, NOW + 20_001, 2000)))

    def test_one_second_grid_for_1s(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1s")
        self.server.advance(10)
        events = [m["E"] for m in klines(client)]
        self.assertEqual(events, list(range(NOW + 1000, NOW + 10_001, 1000)))
        for m in klines(client):
            self.assertEqual(m["k"]["T"], m["k"]["t"] + 999)

    def test_three_closes(self) -> None:
        """x=false while open, exactly one x=true per close, the next candle follows."""
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(182)
        events = klines(client)
        self.assertEqual([m["E"] for m in events], list(range(NOW + 2000, NOW + 182_001, 2000)))
        by_open: dict[int, list[dict[str, Any]]] = {}
        for m in events:
            by_open.setdefault(m["k"]["t"], []).append(m)
        self.assertEqual(sorted(by_open), [NOW + i * MINUTE for i in range(4)])
        for i in range(3):
            candles = by_open[NOW + i * MINUTE]
            closes = [m for m in candles if m["k"]["x"]]
            self.assertEqual(len(closes), 1, f"candle {i}")
            self.assertIs(candles[-1], closes[0], "the close is the candle's last push")
            self.assertGreater(closes[0]["E"], closes[0]["k"]["T"])
            for m in candles[:-1]:
                self.assertIs(m["k"]["x"], False)
                self.assertTrue(m["k"]["t"] <= m["E"] <= m["k"]["T"])
        self.assertFalse(any(m["k"]["x"] for m in by_open[NOW + 3 * MINUTE]))
        # The candle never goes backwards: volume and trade count only grow.
        for candles in by_open.values():
            volumes = [Decimal(m["k"]["v"]) for m in candles]
            self.assertEqual(volumes, sorted(volumes))
            counts = [m["k"]["n"] for m in candles]
            self.assertEqual(counts, sorted(counts))
        # Each close equals REST for that open time, asked afterwards.
        for i in range(3):
            k = by_open[NOW + i * MINUTE][-1]["k"]
            row = rest_row(self.server, "BTCUSDT", "1m", k["t"])
            for name, index in ROW_INDEX.items():
                self.assertEqual(row[index], k[name], f"candle {i} field {name}")
            self.assertEqual(row[11], "0")

    def test_live_candle_equals_rest_at_same_instant(self) -> None:
        client = self.connect("/ws/ethusdt@kline_1m")
        for _ in range(5):
            client.messages.clear()
            self.server.advance(6)
            last = klines(client)[-1]
            self.assertEqual(self.server.now_ms(), last["E"])
            k = last["k"]
            self.assertIs(k["x"], False)
            row = rest_row(self.server, "ETHUSDT", "1m", k["t"])
            for name, index in ROW_INDEX.items():
                self.assertEqual(row[index], k[name], name)

    def test_late_subscriber_gets_the_close_too(self) -> None:
        early = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(31)
        late = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(31)
        for client in (early, late):
            closes = [m for m in klines(client) if m["k"]["x"]]
            self.assertEqual([m["k"]["t"] for m in closes], [NOW])

    def test_1M_stream(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1M")
        self.server.advance(2)
        [m] = klines(client)
        self.assertEqual(m["k"]["i"], "1M")
        self.assertEqual(m["k"]["t"], utc_ms(2026, 11, 1))
        self.assertEqual(m["k"]["T"], utc_ms(2026, 12, 1) - 1)
        self.assertIs(m["k"]["x"], False)
        self.assertEqual(m["E"], NOW + 2000)
        row = rest_row(self.server, "BTCUSDT", "1M", m["k"]["t"])
        for name, index in ROW_INDEX.items():
            self.assertEqual(row[index], m["k"][name], name)

    def test_1w_stream(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1w")
        self.server.advance(2)
        [m] = klines(client)
        self.assertEqual(m["k"]["t"], utc_ms(2026, 11, 23))  # Monday
        self.assertEqual(datetime.fromtimestamp(m["k"]["t"] / 1000, timezone.utc).weekday(), 0)
        self.assertEqual(m["k"]["T"], m["k"]["t"] + 7 * DAY - 1)
        self.assertEqual(m["E"], NOW + 2000)
        row = rest_row(self.server, "BTCUSDT", "1w", m["k"]["t"])
        for name, index in ROW_INDEX.items():
            self.assertEqual(row[index], m["k"][name], name)

    def test_utc8_daily_stream(self) -> None:
        """``@+08:00`` candles open at UTC+8 midnight (16:00 UTC); times stay UTC."""
        client = self.connect("/ws")
        reply = self.request(client, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1d@+08:00"], "id": 1})
        self.assertEqual(reply, {"result": None, "id": 1})
        self.server.advance(2)
        [m] = klines(client)
        self.assertEqual(m["k"]["i"], "1d")
        self.assertEqual(m["k"]["t"], utc_ms(2026, 11, 24, 16))
        self.assertEqual(m["k"]["T"], utc_ms(2026, 11, 25, 16) - 1)
        row = rest_row(self.server, "BTCUSDT", "1d", m["k"]["t"], timeZone="8")
        for name, index in ROW_INDEX.items():
            self.assertEqual(row[index], m["k"][name], name)

    def test_same_stream_twice_pushes_once(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m")
        twice = ["btcusdt@kline_1m", "btcusdt@kline_1m"]
        self.request(client, {"method": "SUBSCRIBE", "params": twice, "id": 1})
        self.server.advance(4)
        self.assertEqual(len(klines(client)), 2)
        reply = self.request(client, {"method": "LIST_SUBSCRIPTIONS", "id": 2})
        self.assertEqual(reply["result"], ["btcusdt@kline_1m"])


# ---------------------------------------------------------------------------
# W6: SUBSCRIBE and friends


class ControlTests(WsTestCase):
    def test_subscribe_ack_ids(self) -> None:
        client = self.connect("/ws")
        for request_id, expected in (
            (1, b'{"result":null,"id":1}'),
            (1_700_000_000_000, b'{"result":null,"id":1700000000000}'),
            (UUID, b'{"result":null,"id":"' + UUID.encode() + b'"}'),
            (None, b'{"result":null,"id":null}'),
            (2**63 - 1, b'{"result":null,"id":9223372036854775807}'),
            ("", b'{"result":null,"id":""}'),
        ):
            client.messages.clear()
            client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": request_id})
            self.server.flush()
            self.assertEqual(client.messages, [expected])
        self.assertEqual(len(UUID), 36)

    def test_unsubscribe_stops_pushes(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m/ethusdt@kline_1m")
        self.server.advance(2)
        self.assertEqual(len(client.messages), 2)
        reply = self.request(client, {"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 312})
        self.assertEqual(reply, {"result": None, "id": 312})
        self.server.advance(10)
        self.assertEqual({m["s"] for m in client.json()}, {"ETHUSDT"})
        self.assertEqual(len(client.messages), 5)
        self.request(client, {"method": "UNSUBSCRIBE", "params": ["ethusdt@kline_1m"], "id": 313})
        self.assertEqual(self.ticks(), [])
        self.server.advance(10)
        self.assertEqual(client.messages, [])

    def test_unsubscribe_unknown_name_acks(self) -> None:
        client = self.connect("/ws")
        reply = self.request(client, {"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 7})
        self.assertEqual(reply, {"result": None, "id": 7})

    def test_list_subscriptions_in_order(self) -> None:
        client = self.connect("/ws/ethusdt@kline_1m")
        self.request(client, {"method": "SUBSCRIBE",
                              "params": ["xrpusdt@kline_1h", "btcusdt@kline_1m", "btcusdt@naoExisteStream"],
                              "id": 1})
        reply = self.request(client, {"method": "LIST_SUBSCRIPTIONS", "id": 3})
        self.assertEqual(reply, {"result": ["ethusdt@kline_1m", "xrpusdt@kline_1h", "btcusdt@kline_1m",
                                            "btcusdt@naoExisteStream"], "id": 3})
        self.request(client, {"method": "UNSUBSCRIBE", "params": ["xrpusdt@kline_1h"], "id": 4})
        reply = self.request(client, {"method": "LIST_SUBSCRIPTIONS", "id": UUID})
        left = ["ethusdt@kline_1m", "btcusdt@kline_1m", "btcusdt@naoExisteStream"]
        self.assertEqual(reply, {"result": left, "id": UUID})

    def test_list_subscriptions_combined_url(self) -> None:
        client = self.connect("/stream?streams=btcusdt@kline_1m/ethusdt@kline_1s")
        reply = self.request(client, {"method": "LIST_SUBSCRIPTIONS", "id": 3})
        self.assertEqual(reply, {"result": ["btcusdt@kline_1m", "ethusdt@kline_1s"], "id": 3})

    def test_get_property_defaults(self) -> None:
        raw = self.connect("/ws/btcusdt@kline_1m")
        combined = self.connect("/stream?streams=btcusdt@kline_1m")
        self.assertEqual(self.request(raw, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}),
                         {"result": False, "id": 2})
        self.assertEqual(self.request(combined, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}),
                         {"result": True, "id": 2})

    def test_set_property_combined(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(2)
        self.assertNotIn("stream", client.take()[0])
        client.messages.clear()
        client.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5})
        self.server.flush()
        self.assertEqual(client.messages, [b'{"result":null,"id":5}'])
        self.assertEqual(self.request(client, {"method": "GET_PROPERTY", "params": ["combined"], "id": 6}),
                         {"result": True, "id": 6})
        self.server.advance(4)
        messages = client.json()
        self.assertEqual(len(messages), 2)
        for message in messages:
            self.assertEqual(message["stream"], "btcusdt@kline_1m")
            self.assertEqual(message["data"]["e"], "kline")
        reply = self.request(client, {"method": "SET_PROPERTY", "params": ["combined", False], "id": 7})
        self.assertEqual(reply, {"result": None, "id": 7})
        self.assertEqual(self.request(client, {"method": "GET_PROPERTY", "params": ["combined"], "id": 8}),
                         {"result": False, "id": 8})
        self.server.advance(2)
        [message] = client.json()
        self.assertEqual(message["e"], "kline")

    def test_set_property_keeps_the_close(self) -> None:
        """
        Switching to combined just before a close must not lose the candle's x=true.
        """
        # Regression: BinanceSession._set_combined unsubscribes every topic and subscribes
        # again; when this connection was the feed's only subscriber the hub retires
        # the feed (last_open forgotten), so the close of the candle in progress is
        # never pushed. Input: /ws/btcusdt@kline_1m, advance 59 s, SET_PROPERTY
        # ["combined",true], advance 5 s. Actual: the next push (E=t0+60000) is the
        # new, empty candle t0+60000 (f=L=-1); no x=true for t0 ever arrives.
        # Expected: {"stream":"btcusdt@kline_1m","data":{..."t":t0,...,"x":true...}}.
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(59)
        self.request(client, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 1})
        self.server.advance(5)
        closes = [m["data"]["k"]["t"] for m in client.json() if m["data"]["k"]["x"]]
        self.assertEqual(closes, [NOW])

    def test_sixty_four_bit_ids(self) -> None:
        client = self.connect("/ws")
        for request_id in (0, 2**63 - 1, 12_345_678_901_234_567):
            client.messages.clear()
            client.send_text('{"method":"LIST_SUBSCRIPTIONS","id":%d}' % request_id)
            self.server.flush()
            self.assertEqual(client.messages, [b'{"result":[],"id":%d}' % request_id])
        reply = self.request(client, {"method": "LIST_SUBSCRIPTIONS", "id": 2**64})
        self.assertEqual(reply["error"], BAD_ID)


# ---------------------------------------------------------------------------
# W7: error frames


class ErrorTests(WsTestCase):
    def error(self, client: WsClient, text: str) -> dict[str, Any]:
        [reply] = self.send_raw(client, text.encode())
        self.assertIn("error", reply, reply)
        self.assertLessEqual(set(reply), {"error", "id"})
        self.assertEqual(list(reply["error"]), ["code", "msg"])
        return reply

    def test_invalid_json(self) -> None:
        client = self.connect("/ws")
        for text, line, column in (
            ("hello", 1, 1),
            ('{"method": }', 1, 12),
            ('{"method":"SUBSCRIBE","params":[,],"id":1}', 1, 33),
            ('{\n  "method": ?\n}', 2, 13),
            ("\n\n   x", 3, 4),
        ):
            reply = self.error(client, text)
            msg = f"Invalid JSON: expected value at line {line} column {column}"
            self.assertEqual(reply["error"], err(3, msg))
            self.assertIsNone(reply.get("id"))
            self.assertAlive(client)

    def test_invalid_json_exact_bytes(self) -> None:
        client = self.connect("/ws")
        client.send_text("hello")
        self.server.flush()
        self.assertEqual(
            client.messages, [b'{"error":{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}}']
        )

    def test_unknown_method(self) -> None:
        client = self.connect("/ws")
        text = '{"method":"FOO","params":["btcusdt@kline_1m"],"id":1}'
        reply = self.error(client, text)
        msg = f"Invalid request: unknown variant `FOO`, {VARIANTS} at line 1 column 15"
        self.assertEqual(reply, {"error": err(2, msg), "id": 1})
        # Method names are case-sensitive.
        reply = self.error(client, '{"method": "subscribe", "params": [], "id": 2}')
        msg = f"Invalid request: unknown variant `subscribe`, {VARIANTS} at line 1 column 22"
        self.assertEqual(reply["error"], err(2, msg))
        self.assertAlive(client)

    def test_missing_method(self) -> None:
        client = self.connect("/ws")
        reply = self.error(client, '{"params":["btcusdt@kline_1m"],"id":5}')
        msg = "Invalid request: missing field `method` at line 1 column 38"
        self.assertEqual(reply["error"], err(2, msg))
        self.assertEqual(reply.get("id"), 5)
        reply = self.error(client, "{}")
        self.assertEqual(reply["error"]["msg"], "Invalid request: missing field `method` at line 1 column 2")
        self.assertAlive(client)

    def test_bad_id_types(self) -> None:
        client = self.connect("/ws")
        for bad in ("1.5", "true", "false", '{"a":1}', "[1]", json.dumps("x" * 37), json.dumps("abc def"),
                    str(2**64)):
            for method in ("SUBSCRIBE", "LIST_SUBSCRIPTIONS"):
                text = '{"method":"%s","params":["btcusdt@kline_1m"],"id":%s}' % (method, bad)
                if method == "LIST_SUBSCRIPTIONS":
                    text = '{"method":"%s","id":%s}' % (method, bad)
                reply = self.error(client, text)
                self.assertEqual(reply["error"], BAD_ID, text)
                self.assertIsNone(reply.get("id"))
        # A rejected SUBSCRIBE subscribed nothing.
        self.assertEqual(self.ticks(), [])
        self.assertAlive(client)

    def test_missing_id(self) -> None:
        client = self.connect("/ws")
        reply = self.error(client, '{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"]}')
        self.assertEqual(reply["error"], BAD_ID)
        self.assertAlive(client)

    def test_get_property_unknown(self) -> None:
        client = self.connect("/ws")
        reply = self.error(client, '{"method":"GET_PROPERTY","params":["wrapped"],"id":9}')
        self.assertEqual(reply, {"error": {"code": 0, "msg": "Unknown property"}, "id": 9})
        reply = self.error(client, '{"method":"SET_PROPERTY","params":["wrapped",true],"id":10}')
        self.assertEqual(reply, {"error": {"code": 0, "msg": "Unknown property"}, "id": 10})
        reply = self.error(client, '{"method":"GET_PROPERTY","params":[1],"id":11}')
        msg = "Invalid request: property name must be a string"
        self.assertEqual(reply, {"error": err(2, msg), "id": 11})
        reply = self.error(client, '{"method":"GET_PROPERTY","params":["combined","x"],"id":12}')
        self.assertEqual(reply, {"error": err(2, "Invalid request: too many parameters"), "id": 12})
        self.assertAlive(client)

    def test_set_property_not_boolean(self) -> None:
        client = self.connect("/ws")
        for value in ('"true"', "1", "null", "[true]"):
            reply = self.error(client, '{"method":"SET_PROPERTY","params":["combined",%s],"id":4}' % value)
            self.assertEqual(reply, {"error": err(1, "Invalid value type: expected Boolean"), "id": 4})
        self.assertEqual(self.request(client, {"method": "GET_PROPERTY", "params": ["combined"], "id": 5}),
                         {"result": False, "id": 5})
        self.assertAlive(client)

    def test_invalid_stream_closes(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(2)
        client.messages.clear()
        client.send_json({"method": "SUBSCRIBE", "params": ["@@@lixo###"], "id": 1})
        self.server.flush()
        self.assertEqual(client.json(), [{"error": INVALID_STREAM, "id": 1}])
        self.assertTrue(client.lost)
        self.assertEqual(client.close_code, 1008)
        self.assertEqual(self.ticks(), [])
        self.server.advance(10)
        self.assertEqual(len(client.messages), 1)
        self.assertEqual(self.server.clock.getDelayedCalls(), [])

    def test_invalid_stream_among_valid_ones(self) -> None:
        client = self.connect("/ws")
        client.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m", "bad stream"], "id": 2})
        self.server.flush()
        self.assertEqual(client.json(), [{"error": INVALID_STREAM, "id": 2}])
        self.assertTrue(client.lost)
        self.assertEqual(self.ticks(), [])

    def test_well_formed_unknown_streams_ack_silently(self) -> None:
        client = self.connect("/ws")
        names = ["btcusdt@naoExisteStream", "xrpxrp@kline_1m", "BTCUSDT@kline_1m", "btcusdt@kline_1D",
                 "xrpxrp@miniTicker"]
        reply = self.request(client, {"method": "SUBSCRIBE", "params": names, "id": 99})
        self.assertEqual(reply, {"result": None, "id": 99})
        self.assertEqual(self.ticks(), [])
        self.server.advance(30)
        self.assertEqual(client.messages, [])
        reply = self.request(client, {"method": "LIST_SUBSCRIPTIONS", "id": 100})
        self.assertEqual(reply["result"], names)

    def test_unknown_stream_in_path_is_silent(self) -> None:
        client = self.connect("/ws/BTCUSDT@kline_1m")
        self.server.advance(10)
        self.assertEqual(client.messages, [])
        self.assertAlive(client)


# ---------------------------------------------------------------------------
# W8: keep-alive


class KeepaliveTests(WsTestCase):
    def test_ping_every_twenty_seconds(self) -> None:
        client = self.connect("/ws")
        self.server.advance(19.5)
        self.assertEqual(client.pings, [])
        self.server.advance(0.5)
        self.assertEqual(len(client.pings), 1)
        self.server.advance(19.5)
        self.assertEqual(len(client.pings), 1)
        self.server.advance(0.5)
        self.assertEqual(len(client.pings), 2)
        self.server.advance(60)
        self.assertEqual(len(client.pings), 5)

    def test_pong_keeps_connection_for_five_minutes(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(300)
        self.assertFalse(client.lost)
        self.assertEqual(len(client.pings), 15)
        self.assertEqual(len(klines(client)), 150)
        self.assertAlive(client)

    def test_silent_client_dropped_at_sixty_seconds(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m")
        client.auto_pong = False
        self.server.advance(59)
        self.assertFalse(client.lost)
        self.assertEqual(len(client.pings), 2)
        self.server.advance(2)
        self.assertTrue(client.lost)
        self.assertEqual(self.ticks(), [])
        self.assertEqual(self.server.clock.getDelayedCalls(), [])

    def test_late_pongs_resume(self) -> None:
        """
        The minute counts from the last pong: missing one ping is fine, a minute of
        silence is not.
        """
        client = self.connect("/ws")
        self.server.advance(21)  # ping at 20 s answered
        client.auto_pong = False
        self.server.advance(30)  # ping at 40 s unanswered
        client.auto_pong = True
        self.server.advance(60)  # pings at 60, 80, 100 s answered
        self.assertFalse(client.lost)
        self.assertEqual(len(client.pings), 5)
        client.auto_pong = False
        self.server.advance(48)  # last pong at 100 s: still open at 159 s
        self.assertFalse(client.lost)
        self.server.advance(1)  # the ping check at 160 s: 60 s of silence
        self.assertTrue(client.lost)


# ---------------------------------------------------------------------------
# W11: time unit


class TimeUnitTests(WsTestCase):
    def test_microseconds(self) -> None:
        for path in ("/ws/btcusdt@kline_1m?timeUnit=MICROSECOND",
                     "/stream?streams=btcusdt@kline_1m&timeUnit=microsecond"):
            client = self.connect(path)
            self.server.advance(2)
            [m] = klines(client)
            self.assertEqual(m["E"] % 2_000_000, 0)
            self.assertEqual(m["E"], self.server.now_ms() * 1000)
            k = m["k"]
            self.assertEqual(k["t"] % (MINUTE * 1000), 0)
            self.assertEqual(k["T"], k["t"] + MINUTE * 1000 - 1)
            row = rest_row(self.server, "BTCUSDT", "1m", k["t"] // 1000)
            self.assertEqual(k["t"], row[0] * 1000)
            self.assertEqual(k["c"], row[4])

    def test_milliseconds_explicit(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m?timeUnit=MILLISECOND")
        self.server.advance(2)
        [m] = klines(client)
        self.assertEqual(m["E"], NOW + 2000)
        self.assertEqual(m["k"]["t"], NOW)

    def test_invalid_time_unit_refused(self) -> None:
        # Regression: a refused handshake (StreamProtocol.onConnect raising ConnectionDeny)
        # crashes StreamProtocol.onClose with AttributeError: 'StreamProtocol' object
        # has no attribute '_keepalive' (it is set only after open_session succeeded).
        # Input: connect("/ws/btcusdt@kline_1m?timeUnit=SECOND", open=False).
        # Actual: the AttributeError escapes connectionLost (logged by a real reactor;
        # raised through iosim here). Expected: HTTP 400 refusal, client not opened,
        # nothing logged, no timer left.
        for unit in ("SECOND", "Microsecond", "nanosecond"):
            client = self.server.connect(f"/ws/btcusdt@kline_1m?timeUnit={unit}", open=False)
            self.server.flush()
            self.assertFalse(client.opened, unit)
            self.assertTrue(client.lost, unit)
            self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(self.ticks(), [])
        self.assertEqual(self.server.server.ws_factory.live, set())


# ---------------------------------------------------------------------------
# Robustness: odd frames never break the connection (except "invalid stream")


class RobustnessTests(WsTestCase):
    def assertVenueError(self, replies: list[Any], codes: set[int]) -> dict[str, Any]:
        self.assertEqual(len(replies), 1, replies)
        [reply] = replies
        self.assertIn("error", reply)
        self.assertIn(reply["error"]["code"], codes)
        self.assertIsInstance(reply["error"]["msg"], str)
        return reply

    def test_binary_frames(self) -> None:
        client = self.connect("/ws")
        self.assertVenueError(self.send_raw(client, b"\x00\xff\xfe\x81binary", binary=True), {3})
        self.assertAlive(client)
        self.assertVenueError(self.send_raw(client, b"", binary=True), {3})
        self.assertAlive(client)

    def test_empty_text_frame(self) -> None:
        client = self.connect("/ws")
        reply = self.assertVenueError(self.send_raw(client, b""), {3})
        self.assertTrue(reply["error"]["msg"].startswith("Invalid JSON: "))
        self.assertAlive(client)
        self.assertVenueError(self.send_raw(client, b"   \n "), {3})
        self.assertAlive(client)

    def test_huge_frames(self) -> None:
        client = self.connect("/ws")
        self.assertVenueError(self.send_raw(client, b"x" * (2 * 1024 * 1024)), {3})
        self.assertAlive(client)
        padded = json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3, "pad": "y" * (1024 * 1024)}).encode()
        self.assertEqual(self.send_raw(client, padded), [{"result": [], "id": 3}])
        self.assertAlive(client)

    def test_deeply_nested_json(self) -> None:
        # Regression: json.loads raises RecursionError (not JSONDecodeError) on deep nesting;
        # BinanceSession._reply does not catch it, so ws._guard logs "venue session
        # failed" and closes the connection with 1011. Input: a text frame of
        # 100000 "[" (also {"method":"SUBSCRIBE","params":[[[...]]],"id":1}).
        # Actual: no reply, close 1011, a logged traceback. Expected: a code-3 error
        # frame (serde_json: "recursion limit exceeded") and the connection stays open.
        client = self.connect("/ws")
        for text in ("[" * 100_000,
                     '{"method":"SUBSCRIBE","params":' + "[" * 5000 + "]" * 5000 + ',"id":1}'):
            reply = self.assertVenueError(self.send_raw(client, text.encode()), {3})
            self.assertTrue(reply["error"]["msg"].startswith("Invalid JSON: "), reply)
            self.assertAlive(client)
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_huge_integer_id(self) -> None:
        # Regression: an integer literal of more than 4300 digits makes json.loads raise
        # ValueError ("Exceeds the limit (4300 digits) for integer string conversion"),
        # which _reply does not catch: logged traceback and close 1011. Input:
        # {"method":"LIST_SUBSCRIPTIONS","id":111...1} with 5000 digits.
        # Actual: no reply, close 1011. Expected: {"error":{"code":2,"msg":"Invalid
        # request: request ID must be an unsigned integer"},"id":null} (the id does
        # not fit 64 bits) and the connection stays open.
        client = self.connect("/ws")
        text = '{"method":"LIST_SUBSCRIPTIONS","id":' + "1" * 5000 + "}"
        reply = self.assertVenueError(self.send_raw(client, text.encode()), {2, 3})
        self.assertAlive(client)
        self.assertIn(reply["error"]["code"], {2, 3})
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_non_object_json(self) -> None:
        client = self.connect("/ws")
        for text in ("[]", '["SUBSCRIBE"]', "42", "-1.5e3", '"SUBSCRIBE"', "null", "true"):
            reply = self.assertVenueError(self.send_raw(client, text.encode()), {2})
            self.assertTrue(reply["error"]["msg"].startswith("Invalid request: "), reply)
            self.assertAlive(client)

    def test_non_json_literals(self) -> None:
        # Regression: Python's json accepts NaN, Infinity and -Infinity; serde_json (Binance)
        # does not. Input: text frame `NaN` / {"method":"LIST_SUBSCRIPTIONS","id":Infinity}.
        # Actual: code 2 ("request must be a JSON object" / "request ID must be an
        # unsigned integer"). Expected: code 3 "Invalid JSON: expected value at line 1
        # column 1" / "... line 1 column 37".
        client = self.connect("/ws")
        reply = self.assertVenueError(self.send_raw(client, b"NaN"), {2, 3})
        self.assertAlive(client)
        self.assertEqual(reply["error"], err(3, "Invalid JSON: expected value at line 1 column 1"))
        reply = self.assertVenueError(
            self.send_raw(client, b'{"method":"LIST_SUBSCRIPTIONS","id":Infinity}'), {2, 3})
        self.assertEqual(reply["error"], err(3, "Invalid JSON: expected value at line 1 column 37"))

    def test_odd_params(self) -> None:
        client = self.connect("/ws")
        reply = self.assertVenueError(
            self.send_raw(client, b'{"method":"SUBSCRIBE","params":"btcusdt@kline_1m","id":1}'), {2})
        self.assertEqual(reply["id"], 1)
        self.assertAlive(client)
        reply = self.assertVenueError(
            self.send_raw(client, b'{"method":"LIST_SUBSCRIPTIONS","params":["x"],"id":2}'), {2})
        self.assertEqual(reply["error"]["msg"], "Invalid request: too many parameters")
        self.assertAlive(client)

    def test_client_ping_answered(self) -> None:
        """ccxt.pro pings the server; Autobahn answers with a pong echoing the payload."""
        client = self.connect("/ws")
        pongs: list[bytes] = []
        client.onPong = pongs.append  # type: ignore[method-assign]
        client.sendPing(b"1700000000000")
        self.server.flush()
        self.assertEqual(pongs, [b"1700000000000"])
        self.assertAlive(client)


# ---------------------------------------------------------------------------
# Property: arbitrary frames


METHOD_NAMES = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
#: Well-formed stream names (some carry data, some are silent).
STREAM_NAMES = ("btcusdt@kline_1m", "ethusdt@kline_1s", "btcusdt@kline_1d@+08:00", "BTCUSDT@kline_1m",
                "xrpxrp@kline_1m", "btcusdt@naoExisteStream", "0", "combined", "btcusdt@kline_1M")
#: The names of STREAM_NAMES that carry data, and how many pushes 2 s bring.
PUSHES_IN_TWO_SECONDS = {"btcusdt@kline_1m": 1, "ethusdt@kline_1s": 2, "btcusdt@kline_1d@+08:00": 1,
                         "btcusdt@kline_1M": 1}
#: Syntactically invalid ones: "invalid stream", then the server closes.
BAD_STREAM_NAMES = ("@@@lixo###", "", "a b", "btcusdt@@kline_1m")

json_leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=10,
)
methods = st.sampled_from(METHOD_NAMES + ("FOO", "subscribe", "", "SUBSCRIBE ", "LIST")) | json_values
stream_lists = st.lists(st.sampled_from(STREAM_NAMES), min_size=1, max_size=4)
params = st.one_of(
    stream_lists,
    st.lists(st.sampled_from(STREAM_NAMES + BAD_STREAM_NAMES) | json_leaves, max_size=4),
    st.tuples(st.sampled_from(("combined", "wrapped")), json_leaves).map(list),
    st.tuples(st.just("combined"), st.booleans()).map(list),
    st.just(["combined"]),
    st.just([]),
    json_values,
)
good_ids = st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.uuids().map(str) | st.none()
ids = st.one_of(good_ids, st.integers(), st.text(max_size=40), json_values)
#: Valid requests: these must all be acknowledged with a result.
good_requests = st.one_of(
    st.fixed_dictionaries({"method": st.sampled_from(("SUBSCRIBE", "UNSUBSCRIBE")), "params": stream_lists,
                           "id": good_ids}),
    st.fixed_dictionaries({"method": st.just("LIST_SUBSCRIPTIONS"), "id": good_ids}),
    st.fixed_dictionaries(
        {"method": st.just("GET_PROPERTY"), "params": st.just(["combined"]), "id": good_ids}
    ),
    st.fixed_dictionaries(
        {"method": st.just("SET_PROPERTY"), "params": st.tuples(st.just("combined"), st.booleans()).map(list),
         "id": good_ids}
    ),
)
#: Well-formed requests (method and id present), sometimes with params and extra keys.
requests = st.builds(
    lambda extra, body: {**extra, **body},
    st.dictionaries(st.text(max_size=6), json_values, max_size=1),
    st.fixed_dictionaries({"method": methods, "id": ids}, optional={"params": params}),
)
#: Anything shaped like an object, any key possibly missing.
loose_requests = st.builds(
    lambda extra, body: {**extra, **body},
    st.dictionaries(st.text(max_size=6), json_values, max_size=2),
    st.fixed_dictionaries({}, optional={"method": methods, "params": params, "id": ids}),
)


def _encode(value: Any, compact: bool) -> bytes:
    return json.dumps(value, separators=(",", ":") if compact else None).encode()


#: A frame: (payload, binary?, the JSON value sent or None, must it be acknowledged?).
Frame = tuple[bytes, bool, Any, bool]

frames = st.one_of(
    st.tuples(good_requests, st.booleans()).map(lambda v: (_encode(v[0], v[1]), False, v[0], True)),
    st.text().map(lambda t: (t.encode(), False, None, False)),
    st.binary().map(lambda b: (b, True, None, False)),
    st.tuples(json_values, st.booleans()).map(lambda v: (_encode(v[0], v[1]), False, v[0], False)),
    st.tuples(loose_requests, st.booleans()).map(lambda v: (_encode(v[0], v[1]), False, v[0], False)),
    st.tuples(requests, st.booleans(), st.booleans()).map(lambda v: (_encode(v[0], v[1]), v[2], v[0], False)),
)


class PropertyTests(SynchronousTestCase):
    @settings(max_examples=300)
    @given(st.lists(frames, min_size=1, max_size=6))
    def test_arbitrary_frames(self, sequence: list[Frame]) -> None:
        """
        Every frame gets exactly one reply: a ``result`` ack or an ``error`` with code
        0-3. Valid requests are acknowledged; the acknowledged ones change the
        subscriptions and the ``combined`` property as a simple model says. Only
        "invalid stream" closes the connection; nothing is ever logged.
        """
        server = MemoryServer("binance_spot")
        server.server.set_rate_limits(ws_limit=None)  # the message rate is test_ws_limits' concern
        client = server.connect("/ws")
        subscribed: dict[str, None] = {}
        combined = False
        closed = False
        for payload, binary, value, must_ack in sequence:
            client.messages.clear()
            client.sendMessage(payload, isBinary=binary)
            server.flush()
            self.assertEqual(len(client.messages), 1, (payload[:200], client.messages))
            reply = json.loads(client.messages[0])
            self.assertIsInstance(reply, dict)
            if must_ack:
                self.assertIn("result", reply, (value, reply))
            if "result" in reply:
                self.assertEqual(set(reply), {"result", "id"})
                self.assertIsInstance(value, dict)
                self.assertEqual(reply["id"], value["id"])
                method = value["method"]
                result = reply["result"]
                if method == "SUBSCRIBE":
                    self.assertIsNone(result)
                    subscribed.update(dict.fromkeys(value["params"]))
                elif method == "UNSUBSCRIBE":
                    self.assertIsNone(result)
                    for name in value["params"]:
                        subscribed.pop(name, None)
                elif method == "SET_PROPERTY":
                    self.assertIsNone(result)
                    combined = value["params"][1]
                elif method == "GET_PROPERTY":
                    self.assertIs(result, combined)
                else:
                    self.assertEqual(method, "LIST_SUBSCRIPTIONS")
                    self.assertEqual(result, list(subscribed))
            else:
                self.assertIn("error", reply)
                self.assertLessEqual(set(reply), {"error", "id"})
                error = reply["error"]
                self.assertEqual(set(error), {"code", "msg"})
                self.assertIn(error["code"], {0, 1, 2, 3})
                self.assertIsInstance(error["msg"], str)
                if error == INVALID_STREAM:
                    self.assertTrue(client.lost)
                    closed = True
                    break
            self.assertFalse(client.lost, (payload[:200], client.close_code))
        if not closed:
            client.messages.clear()
            client.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
            server.flush()
            self.assertEqual(client.json(), [{"result": list(subscribed), "id": 1}])
            # What is pushed next follows the model too.
            client.messages.clear()
            server.advance(2)
            carrying = [name for name in subscribed if name in PUSHES_IN_TWO_SECONDS]
            messages = client.json()
            self.assertEqual(len(messages), sum(PUSHES_IN_TWO_SECONDS[name] for name in carrying))
            for message in messages:
                if combined:
                    self.assertEqual(list(message), ["stream", "data"])
                    self.assertIn(message["stream"], carrying)
                    self.assertEqual(message["data"]["e"], "kline")
                else:
                    self.assertEqual(message["e"], "kline")
            if combined:
                self.assertEqual({m["stream"] for m in messages}, set(carrying))
        self.assertEqual(self.flushLoggedErrors(), [])


# ---------------------------------------------------------------------------
# Lifecycle


class LifecycleTests(WsTestCase):
    def test_stop_closes_with_1001(self) -> None:
        clients = [self.connect("/ws/btcusdt@kline_1m"), self.connect("/stream?streams=ethusdt@kline_1s"),
                   self.connect("/ws"), self.connect("/ws/0")]
        self.server.advance(3)
        fired: list[object] = []
        self.server.stop().addCallback(fired.append)
        self.assertEqual(fired, [None])
        for client in clients:
            self.assertTrue(client.lost)
            self.assertEqual(client.close_code, 1001)
        self.assertEqual(self.server.clock.getDelayedCalls(), [])
        self.assertEqual(self.server.server.hub.active_feeds, [])

    def test_last_unsubscribe_cancels_timer(self) -> None:
        a = self.connect("/ws/btcusdt@kline_1m")
        b = self.connect("/ws")
        self.request(b, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        self.assertEqual(len(self.ticks()), 1)
        self.request(a, {"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 2})
        self.assertEqual(len(self.ticks()), 1)
        self.server.advance(2)
        self.assertEqual(len(klines(b)), 1)
        self.assertEqual(klines(a), [])
        self.request(b, {"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 3})
        self.assertEqual(self.ticks(), [])
        self.assertEqual(self.server.server.hub.active_feeds, [])

    def test_disconnect_leaves_no_delayed_calls(self) -> None:
        clients = [self.connect("/ws/btcusdt@kline_1m"), self.connect("/ws/btcusdt@kline_1m"),
                   self.connect("/stream?streams=ethusdt@kline_1s/btcusdt@kline_1m")]
        self.server.advance(5)
        clients[0].sendClose(1000)
        self.server.advance(1)
        self.assertEqual(len(self.ticks()), 2)
        for client in clients[1:]:
            client.sendClose(1000)
        self.server.advance(1)
        for client in clients:
            self.assertTrue(client.lost)
        self.assertEqual(self.server.clock.getDelayedCalls(), [])
        self.assertEqual(self.server.server.hub.active_feeds, [])
        self.assertEqual(self.server.server.ws_factory.live, set())

    def test_dropped_transport_leaves_no_delayed_calls(self) -> None:
        client = self.connect("/ws/btcusdt@kline_1m")
        self.server.advance(2)
        client.transport.loseConnection()
        self.server.advance(1)
        self.assertEqual(self.server.clock.getDelayedCalls(), [])

    def test_identical_bytes_for_two_connections(self) -> None:
        a = self.connect("/ws/btcusdt@kline_1m")
        b = self.connect("/ws")
        self.request(b, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1})
        b.messages.clear()
        self.server.advance(64)
        self.assertEqual(len(a.messages), 32)
        self.assertEqual(a.messages, b.messages)
        c = self.connect("/stream?streams=btcusdt@kline_1m")
        d = self.connect("/stream?streams=btcusdt@kline_1m")
        self.server.advance(4)
        self.assertEqual(len(c.messages), 2)
        self.assertEqual(c.messages, d.messages)
        prefix = b'{"stream":"btcusdt@kline_1m","data":'
        self.assertEqual([m[len(prefix):-1] for m in c.messages], a.messages[-2:])

"""
Record mode for every venue: record from an upstream mockex of venue X (in memory),
replay the files in another mockex of venue X, and compare the REST answers byte for
byte; record from each venue's kline stream (closed flag or next open time); feed
arbitrary bytes to every parser.
"""

from __future__ import annotations

import json
import os
import tempfile
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlencode

from attrs import evolve, frozen
from hypothesis import given, settings
from hypothesis import strategies as st
from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from mockex.interfaces import IKlineRecording, RecordedCandle
from mockex.intervals import CANONICAL, MINUTE_MS
from mockex.plugins import exchanges, find_exchange
from mockex.record import KlineRecorder, RecordingProxy
from mockex.testing import MemoryServer, _result

NOW = 1_795_564_800_000  # 2026-11-25 00:00 UTC
#: (method, path, query args, body) of a REST klines request
Request = tuple[str, str, list[tuple[str, str]], bytes]


@frozen
class RestCase:
    """How to ask venue ``venue`` for the 1m candles opening in ``[start, end]``."""

    venue: str
    symbol: str  # the venue's symbol, as --replay takes it
    file: str  # the file record mode writes
    request: Callable[[int, int], Request]
    #: the upstream's answer as far as the recording goes, given the newest recorded
    #: open time (venues whose requests cannot bound the end: Kraken's OHLC)
    cut: Callable[[bytes, int], bytes] | None = None


@frozen
class StreamCase:
    venue: str
    #: the WebSocket path, or how to get it from the upstream (a token handshake)
    path: str | Callable[[MemoryServer], str]
    #: messages to send once connected (subscriptions)
    subscribe: Sequence[Any]
    #: a REST request for the same series (to compare the recorded rows with)
    rest: Callable[[int, int], Request]
    file: str
    #: a client keep-alive message sent every 10 s, for venues that want one
    ping: bytes | None = None
    options: Mapping[str, str] | None = None
    #: the test's name (default: the venue's)
    label: str = ""
    #: how long to listen (market seconds) and the stream's interval
    seconds: int = 200
    interval_ms: int = MINUTE_MS


def okx(inst: str) -> Callable[[int, int], Request]:
    # after: records older than it; before: newer (docs-v5 "Get candlesticks")
    return lambda start, end: ("GET", "/api/v5/market/candles",
                               [("instId", inst), ("bar", "1m"), ("before", str(start - 1)),
                                ("after", str(end + 1)), ("limit", "300")], b"")


def bybit(category: str) -> Callable[[int, int], Request]:
    return lambda start, end: ("GET", "/v5/market/kline",
                               [("category", category), ("symbol", "BTCUSDT"), ("interval", "1"),
                                ("start", str(start)), ("end", str(end)), ("limit", "1000")], b"")


def binance(path: str) -> Callable[[int, int], Request]:
    return lambda start, end: ("GET", path, [("symbol", "BTCUSDT"), ("interval", "1m"), ("startTime", str(start)),
                                             ("endTime", str(end)), ("limit", "1000")], b"")


def kucoin_spot(start: int, end: int) -> Request:
    # startAt/endAt in seconds, endAt inclusive (the venue module's docstring)
    return ("GET", "/api/v1/market/candles", [("symbol", "BTC-USDT"), ("type", "1min"),
                                              ("startAt", str(start // 1000)), ("endAt", str(end // 1000))], b"")


def kucoin_perpetual(start: int, end: int) -> Request:
    # from/to in ms, to exclusive
    return ("GET", "/api/v1/kline/query", [("symbol", "XBTUSDTM"), ("granularity", "1"),
                                           ("from", str(start)), ("to", str(end + 1))], b"")


def kucoin_token(server: MemoryServer) -> str:
    token = server.request("POST", "/api/v1/bullet-public").json()["data"]["token"]
    return "/?" + urlencode({"token": token, "connectId": "r1"})


KUCOIN_PING = b'{"id":"p","type":"ping"}'


def kucoin_subscribe(topic: str) -> dict[str, Any]:
    return {"id": "1", "type": "subscribe", "topic": topic, "privateChannel": False, "response": True}


def gate(path: str, name: str) -> Callable[[int, int], Request]:
    # from/to in seconds, both inclusive (the venue module's docstring)
    return lambda start, end: ("GET", path, [(name, "BTC_USDT"), ("interval", "1m"), ("from", str(start // 1000)),
                                             ("to", str(end // 1000))], b"")


def gate_subscribe(channel: str) -> dict[str, Any]:
    return {"time": 1, "id": 5, "channel": channel, "event": "subscribe", "payload": ["1m", "BTC_USDT"]}


def mexc_spot(start: int, end: int) -> Request:
    # startTime inclusive, endTime exclusive (the venue module's docstring)
    return ("GET", "/api/v3/klines", [("symbol", "BTCUSDT"), ("interval", "1m"), ("startTime", str(start)),
                                      ("endTime", str(end + 1)), ("limit", "500")], b"")


def mexc_perpetual(start: int, end: int) -> Request:
    # start/end in seconds, end inclusive
    return ("GET", "/api/v1/contract/kline/BTC_USDT", [("interval", "Min1"), ("start", str(start // 1000)),
                                                       ("end", str(end // 1000))], b"")


def kraken(start: int, end: int) -> Request:
    # since: exclusive, seconds; no end (the most recent 720 candles)
    return ("GET", "/0/public/OHLC", [("pair", "XBTUSD"), ("interval", "1"), ("since", str(start // 1000 - 60))], b"")


def kraken_cut(body: bytes, newest_ms: int) -> bytes:
    """The rows up to ``newest_ms``, and the rest of the answer (``last``) unchanged."""
    end = body.index(b'],"last"')
    start = body.find(b",[%d," % (newest_ms // 1000 + 60), 0, end)
    return body if start < 0 else body[:start] + body[end:]


def hyperliquid(coin: str) -> Callable[[int, int], Request]:
    # startTime and endTime inclusive (the venue module's docstring)
    return lambda start, end: ("POST", "/info", [], json.dumps(
        {"type": "candleSnapshot", "req": {"coin": coin, "interval": "1m", "startTime": start, "endTime": end}}
    ).encode())


def hyperliquid_subscribe(coin: str) -> dict[str, Any]:
    return {"method": "subscribe", "subscription": {"type": "candle", "coin": coin, "interval": "1m"}}


def coinbase(granularity: str) -> Callable[[int, int], Request]:
    # start/end in seconds, both inclusive (the venue module's docstring)
    return lambda start, end: ("GET", "/api/v3/brokerage/market/products/BTC-USD/candles",
                               [("granularity", granularity), ("start", str(start // 1000)),
                                ("end", str(end // 1000))], b"")


def ascendex(start: int, end: int) -> Request:
    # from/to: the start times of the first and last bar, ms
    return ("GET", "/api/pro/v1/barhist", [("symbol", "BTC/USDT"), ("interval", "1"), ("from", str(start)),
                                           ("to", str(end))], b"")


def mock(start: int, end: int) -> Request:
    return ("GET", "/api/v1/candles", [("symbol", "BTC-USDT"), ("interval", "1m"), ("start", str(start)),
                                       ("end", str(end)), ("limit", "1000")], b"")


REST_CASES = [
    RestCase("binance_spot", "BTCUSDT", "BTCUSDT-1m.csv", binance("/api/v3/klines")),
    RestCase("binance_perpetual", "BTCUSDT", "BTCUSDT-1m.csv", binance("/fapi/v1/klines")),
    RestCase("okx_spot", "BTC-USDT", "BTC-USDT-1m.csv", okx("BTC-USDT")),
    RestCase("okx_perpetual", "BTC-USDT-SWAP", "BTC-USDT-SWAP-1m.csv", okx("BTC-USDT-SWAP")),
    RestCase("bybit_spot", "BTCUSDT", "BTCUSDT-1m.csv", bybit("spot")),
    RestCase("bybit_perpetual", "BTCUSDT", "BTCUSDT-1m.csv", bybit("linear")),
    RestCase("kucoin_spot", "BTC-USDT", "BTC-USDT-1m.csv", kucoin_spot),
    RestCase("kucoin_perpetual", "XBTUSDTM", "XBTUSDTM-1m.csv", kucoin_perpetual),
    RestCase("gate_io_spot", "BTC_USDT", "BTC_USDT-1m.csv", gate("/api/v4/spot/candlesticks", "currency_pair")),
    RestCase("gate_io_perpetual", "BTC_USDT", "BTC_USDT-1m.csv",
             gate("/api/v4/futures/usdt/candlesticks", "contract")),
    RestCase("mexc_spot", "BTCUSDT", "BTCUSDT-1m.csv", mexc_spot),
    RestCase("mexc_perpetual", "BTC_USDT", "BTC_USDT-1m.csv", mexc_perpetual),
    RestCase("kraken_spot", "XXBTZUSD", "XXBTZUSD-1m.csv", kraken, kraken_cut),
    RestCase("hyperliquid_perpetual", "BTC", "BTC-1m.csv", hyperliquid("BTC")),
    RestCase("hyperliquid_spot", "@142", "_142-1m.csv", hyperliquid("@142")),
    RestCase("coinbase_advanced_trade", "BTC-USD", "BTC-USD-1m.csv", coinbase("ONE_MINUTE")),
    RestCase("ascend_ex_spot", "BTC/USDT", "BTC_USDT-1m.csv", ascendex),
    RestCase("mock", "BTC-USDT", "BTC-USDT-1m.csv", mock),
]

STREAM_CASES = [
    StreamCase("binance_spot", "/ws/btcusdt@kline_1m", [], binance("/api/v3/klines"), "BTCUSDT-1m.csv"),
    StreamCase("binance_perpetual", "/stream?streams=btcusdt@kline_1m", [], binance("/fapi/v1/klines"),
               "BTCUSDT-1m.csv"),
    StreamCase("okx_spot", "/ws/v5/business",
               [{"op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT"}]}],
               okx("BTC-USDT"), "BTC-USDT-1m.csv"),
    StreamCase("okx_perpetual", "/ws/v5/business",
               [{"op": "subscribe", "args": [{"channel": "candle1m", "instId": "BTC-USDT-SWAP"}]}],
               okx("BTC-USDT-SWAP"), "BTC-USDT-SWAP-1m.csv"),
    StreamCase("bybit_spot", "/v5/public/spot", [{"op": "subscribe", "args": ["kline.1.BTCUSDT"]}],
               bybit("spot"), "BTCUSDT-1m.csv"),
    StreamCase("bybit_perpetual", "/v5/public/linear", [{"op": "subscribe", "args": ["kline.1.BTCUSDT"]}],
               bybit("linear"), "BTCUSDT-1m.csv"),
    StreamCase("kucoin_spot", kucoin_token, [kucoin_subscribe("/market/candles:BTC-USDT_1min")], kucoin_spot,
               "BTC-USDT-1m.csv", KUCOIN_PING),
    StreamCase("kucoin_perpetual", kucoin_token, [kucoin_subscribe("/contractMarket/limitCandle:XBTUSDTM_1min")],
               kucoin_perpetual, "XBTUSDTM-1m.csv", KUCOIN_PING),
    StreamCase("gate_io_spot", "/ws/v4/", [gate_subscribe("spot.candlesticks")],
               gate("/api/v4/spot/candlesticks", "currency_pair"), "BTC_USDT-1m.csv"),
    StreamCase("gate_io_perpetual", "/v4/ws/usdt", [gate_subscribe("futures.candlesticks")],
               gate("/api/v4/futures/usdt/candlesticks", "contract"), "BTC_USDT-1m.csv"),
    StreamCase("mexc_spot", "/ws", [{"method": "SUBSCRIPTION", "params": ["spot@public.kline.v3.api.pb@BTCUSDT@Min1"]}],
               mexc_spot, "BTCUSDT-1m.csv", b'{"method":"PING"}'),
    StreamCase("mexc_spot", "/ws", [{"method": "SUBSCRIPTION", "params": ["spot@public.kline.v3.api@BTCUSDT@Min1"]}],
               mexc_spot, "BTCUSDT-1m.csv", b'{"method":"PING"}', {"mexc_json_streams": "served"},
               "mexc_spot_json"),
    StreamCase("mexc_perpetual", "/edge", [{"method": "sub.kline", "param": {"symbol": "BTC_USDT", "interval": "Min1"}}],
               mexc_perpetual, "BTC_USDT-1m.csv", b'{"method":"ping"}'),
    StreamCase("kraken_spot", "/v2", [{"method": "subscribe", "params": {"channel": "ohlc", "symbol": ["BTC/USD"],
                                                                          "interval": 1}}],
               kraken, "XXBTZUSD-1m.csv"),
    StreamCase("hyperliquid_perpetual", "/ws", [hyperliquid_subscribe("BTC")], hyperliquid("BTC"), "BTC-1m.csv",
               b'{"method":"ping"}'),
    StreamCase("hyperliquid_spot", "/ws", [hyperliquid_subscribe("@142")], hyperliquid("@142"), "_142-1m.csv",
               b'{"method":"ping"}'),
    # 5-minute candles only (the channels page)
    StreamCase("coinbase_advanced_trade", "/", [{"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "candles"}],
               coinbase("FIVE_MINUTE"), "BTC-USD-5m.csv", seconds=700, interval_ms=5 * MINUTE_MS),
    StreamCase("ascend_ex_spot", "/api/pro/v2/stream", [{"op": "sub", "id": "1", "ch": "bar:1:BTC/USDT"}],
               ascendex, "BTC_USDT-1m.csv", b'{"op":"pong"}'),
    StreamCase("mock", "/ws", [{"op": "subscribe", "channel": "candles", "symbol": "BTC-USDT", "interval": "1m"}],
               mock, "BTC-USDT-1m.csv"),
]


class CoverageTests(SynchronousTestCase):
    def test_every_venue_records(self) -> None:
        """Every installed venue provides IKlineRecording and has a round trip and a
        stream test here."""
        names = set(exchanges())
        self.assertEqual({n for n in names if not IKlineRecording.providedBy(exchanges()[n])}, set())
        self.assertEqual({c.venue for c in REST_CASES}, names)
        self.assertEqual({c.venue for c in STREAM_CASES}, names)


def _ask(server: MemoryServer, request: Request) -> bytes:
    method, path, args, body = request
    headers = {"Content-Type": "application/json"} if body else None
    response = server.request(method, path, args, headers=headers, body=body or None)
    assert response.status == 200, (path, response.status, response.body[:300])
    return response.body


def _lines(directory: str, name: str) -> list[str]:
    with open(os.path.join(directory, name)) as f:
        return f.read().splitlines()


class RestRoundTripTests(SynchronousTestCase):
    """For every venue with REST klines: record through the proxy, replay, byte-equal."""

    def _round_trip(self, case: RestCase) -> None:
        venue = find_exchange(case.venue)
        upstream = MemoryServer(case.venue, now_ms=NOW)
        inner = StubTreq(upstream.server.resource())
        directory = tempfile.mkdtemp()
        recorder = KlineRecorder(directory, venue)
        proxy = StubTreq(RecordingProxy(upstream.clock, "http://upstream", recorder, http=inner))
        first = NOW - 200 * MINUTE_MS
        recorded = _ask(upstream, case.request(first, first + 119 * MINUTE_MS))  # 120 candles
        method, path, args, body = case.request(first, first + 119 * MINUTE_MS)
        d = proxy.request(method, f"http://proxy{path}?{urlencode(args)}", data=body or None,
                          headers={"Content-Type": ["application/json"]} if body else None)
        inner.flush()
        proxy.flush()
        response = _result(d)
        self.assertEqual(response.code, 200)
        self.assertEqual(_result(response.content()), recorded)  # passed through unchanged
        lines = _lines(directory, case.file)
        # all but the newest row (an unbounded request: up to the live candle)
        count = 200 if case.cut is not None else 119
        self.assertEqual(len(lines), count, case.venue)
        self.assertEqual(sorted(int(line.split(",")[0]) for line in lines),
                         [first + i * MINUTE_MS for i in range(count)])
        replay = MemoryServer(case.venue, now_ms=NOW, origin_ms=NOW,
                              replays={case.symbol: case.file}, replay_root=directory)
        for start, end in ((first, first + 118 * MINUTE_MS), (first + 17 * MINUTE_MS, first + 60 * MINUTE_MS)):
            expected = _ask(upstream, case.request(start, end))
            if case.cut is not None:
                expected = case.cut(expected, first + (count - 1) * MINUTE_MS)
            self.assertEqual(expected, _ask(replay, case.request(start, end)), case.venue)


class StreamRecordTests(SynchronousTestCase):
    """For every venue with a kline stream: what the stream shows closed is recorded,
    the same candles as the REST rows."""

    def _stream(self, case: StreamCase) -> None:
        venue = find_exchange(case.venue)
        upstream = MemoryServer(case.venue, now_ms=NOW + 5_000, options=case.options)
        directory, rest_directory = tempfile.mkdtemp(), tempfile.mkdtemp()
        recorder = KlineRecorder(directory, venue)
        ws = upstream.connect(case.path if isinstance(case.path, str) else case.path(upstream))
        for message in case.subscribe:
            ws.sendMessage(message if isinstance(message, bytes) else json.dumps(message).encode())
        for second in range(case.seconds):
            if case.ping is not None and second % 10 == 0:
                ws.sendMessage(case.ping)
            upstream.advance(1.0, step=1.0)
        for payload, binary in ws.take_raw():
            recorder.stream_message(payload, binary)
        lines = _lines(directory, case.file)
        opens = [int(line.split(",")[0]) for line in lines]
        live = upstream.now_ms() // case.interval_ms * case.interval_ms
        self.assertGreaterEqual(len(lines), 2, case.venue)
        self.assertTrue(all(t < live for t in opens), case.venue)
        # the same candles as the REST answer shows them (the columns both show)
        rest = KlineRecorder(rest_directory, venue)
        request = case.rest(NOW - 10 * MINUTE_MS, live)
        method, path, args, body = request
        parsed: dict[str, list[str]] = {}
        for name, values in args:
            parsed.setdefault(name, []).append(values)
        rest.rest_klines(path, parsed, body, _ask(upstream, request))
        by_open = {line.split(",")[0]: line.split(",") for line in _lines(rest_directory, case.file)}
        for line in lines:
            fields = line.split(",")
            # the same values (a stream may write them otherwise: Kraken's trims zeros)
            self.assertEqual([Decimal(x) for x in fields[:7]], [Decimal(x) for x in by_open[fields[0]][:7]],
                             case.venue)


def _add_tests() -> None:
    for case in REST_CASES:
        setattr(RestRoundTripTests, f"test_{case.venue}", lambda self, c=case: self._round_trip(c))
    for case in STREAM_CASES:
        setattr(StreamRecordTests, f"test_{case.label or case.venue}", lambda self, c=case: self._stream(c))


_add_tests()


class ParserPropertyTests(SynchronousTestCase):
    """Arbitrary bytes given to any venue's parsers never raise (the recorder must
    never break the pass-through), and the recorder writes nothing from them."""

    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode), st.booleans())
    def test_arbitrary_bytes(self, data: bytes, binary: bool) -> None:
        self.assert_no_candles_raise(data, binary)

    @settings(max_examples=100, deadline=None)
    @given(st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=20,
    ))
    def test_arbitrary_json(self, value: Any) -> None:
        self.assert_no_candles_raise(json.dumps(value).encode(), False)

    def assert_no_candles_raise(self, data: bytes, binary: bool) -> None:
        """Every recording venue's parsers answer ``data`` with a tuple (as answer, body and push)."""
        for name, venue in exchanges().items():
            if not IKlineRecording.providedBy(venue):
                continue
            for path, args in _kline_requests(name):
                self.assertIsInstance(venue.recorded_rest_klines(path, args, data, data), tuple, name)
            self.assertIsInstance(venue.recorded_stream_klines(data, binary), tuple, name)


def _kline_requests(name: str) -> list[tuple[str, dict[str, list[str]]]]:
    """The venue's kline requests of the round-trip cases (path and query), and every
    route pattern with no arguments."""
    out: list[tuple[str, dict[str, list[str]]]] = [(route.path, {}) for route in find_exchange(name).rest_routes()]
    for case in REST_CASES:
        if case.venue == name:
            _method, path, args, _body = case.request(NOW, NOW + MINUTE_MS)
            parsed: dict[str, list[str]] = {}
            for key, value in args:
                parsed.setdefault(key, []).append(value)
            out.append((path, parsed))
    return out


@implementer(IKlineRecording)
class _FakeVenue:
    """A venue whose parsers hand back whatever the test queued."""

    name = "fake"
    intervals = {"1m": CANONICAL["1m"]}

    def __init__(self) -> None:
        self.candles: list[RecordedCandle] = []

    def market_for(self, symbol: str, price: float) -> Any:
        raise ValueError(symbol)

    def recorded_rest_klines(self, path: str, args: Any, body: bytes, answer: bytes) -> Sequence[RecordedCandle]:
        return tuple(self.candles)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
        return tuple(self.candles)


def _candle(minute: int, close: str = "2", closed: bool | None = None, symbol: str = "AB") -> RecordedCandle:
    return RecordedCandle(symbol, "1m", NOW + minute * MINUTE_MS, "1", "3", "0.5", close, "10", closed=closed)


class SharedRuleTests(SynchronousTestCase):
    """record.py's rules, whatever the venue."""

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.venue = _FakeVenue()
        self.recorder = KlineRecorder(self.directory, self.venue)

    def push(self, *candles: RecordedCandle) -> int:
        self.venue.candles = list(candles)
        return self.recorder.stream_message(b"")

    def rows(self, name: str = "AB-1m.csv") -> list[list[str]]:
        path = os.path.join(self.directory, name)
        if not os.path.exists(path):
            return []
        return [line.split(",") for line in _lines(self.directory, name)]

    def test_next_open_time_closes_the_last_update(self) -> None:
        self.assertEqual(self.push(_candle(0, "2")), 0)
        self.assertEqual(self.push(_candle(0, "2.5")), 0)  # still open: nothing yet
        self.assertEqual(self.push(_candle(1, "2")), 1)  # a later open time: minute 0 closed
        self.assertEqual(self.push(_candle(0, "9")), 0)  # a stale update changes nothing
        self.assertEqual(self.push(_candle(2, "2")), 1)
        self.assertEqual([r[4] for r in self.rows()], ["2.5", "2"])
        # the neutral values: empty quote volume, 0 trades and taker volumes
        self.assertEqual(self.rows()[0], [str(NOW), "1", "3", "0.5", "2.5", "10", str(NOW + MINUTE_MS - 1),
                                          "", "0", "0", "0", "0"])

    def test_closed_flag(self) -> None:
        self.assertEqual(self.push(_candle(0, closed=False)), 0)
        self.assertEqual(self.push(_candle(1, closed=False)), 0)  # a flag, not the next-open rule
        self.assertEqual(self.push(_candle(0, closed=True)), 1)
        self.assertEqual(self.push(_candle(0, closed=True)), 0)  # each open time once
        self.assertEqual(len(self.rows()), 1)

    def test_rest_all_but_the_newest_of_each_series(self) -> None:
        self.venue.candles = [_candle(2), _candle(0), _candle(1), _candle(5, symbol="CD"), _candle(4, symbol="CD"),
                              _candle(3, closed=False, symbol="CD")]
        self.assertEqual(self.recorder.rest_klines("/k", {}, b"", b""), 3)
        self.assertEqual([int(r[0]) for r in self.rows()], [NOW, NOW + MINUTE_MS])
        self.assertEqual([int(r[0]) for r in self.rows("CD-1m.csv")], [NOW + 4 * MINUTE_MS])

    def test_unsafe_names_and_values_are_not_written(self) -> None:
        bad = [
            _candle(0, closed=True, symbol="../../evil"),
            _candle(0, closed=True, symbol="a,b"),
            evolve(_candle(0, closed=True), close="1,5"),
            evolve(_candle(0, closed=True), quote_volume="1\n2"),
            evolve(_candle(0, closed=True), interval="1D"),  # not one of the venue's
            evolve(_candle(0, closed=True), open_ms=NOW + 1),  # off the interval's grid
            evolve(_candle(0, closed=True), open_ms=60_000),  # replay would read seconds
            evolve(_candle(0, closed=True), trades=-1),
        ]
        for candle in bad:
            self.assertEqual(self.push(candle), 0, candle)
        self.assertEqual(os.listdir(self.directory), [])
        self.assertEqual(self.push(_candle(0, closed=True, symbol="BTC/USDT")), 1)  # / written as _
        self.assertEqual(os.listdir(self.directory), ["BTC_USDT-1m.csv"])

    def test_resume_keeps_the_open_times_written(self) -> None:
        self.assertEqual(self.push(_candle(0, closed=True)), 1)
        again = KlineRecorder(self.directory, self.venue)
        self.venue.candles = [_candle(0, closed=True)]
        self.assertEqual(again.stream_message(b""), 0)

    def test_venue_without_the_interface(self) -> None:
        recorder = KlineRecorder(self.directory, object())
        self.assertFalse(recorder.records)
        self.assertEqual((recorder.stream_message(b"{}"), recorder.rest_klines("/", {}, b"", b"[]")), (0, 0))


class VenueFilterTests(SynchronousTestCase):
    """A host serving several kinds of market: each venue records its own only."""

    def _record(self, venue_name: str, upstream_name: str, request: Request) -> list[str]:
        upstream = MemoryServer(upstream_name, now_ms=NOW)
        directory = tempfile.mkdtemp()
        recorder = KlineRecorder(directory, find_exchange(venue_name))
        method, path, args, body = request
        parsed: dict[str, list[str]] = {}
        for name, value in args:
            parsed.setdefault(name, []).append(value)
        recorder.rest_klines(path, parsed, body, _ask(upstream, request))
        return os.listdir(directory)

    def test_other_kinds_are_not_recorded(self) -> None:
        first = NOW - 100 * MINUTE_MS
        for venue, upstream, request in (
            ("bybit_spot", "bybit_perpetual", bybit("linear")),
            ("okx_spot", "okx_perpetual", okx("BTC-USDT-SWAP")),
            ("hyperliquid_perpetual", "hyperliquid_spot", hyperliquid("@142")),
            ("hyperliquid_spot", "hyperliquid_perpetual", hyperliquid("BTC")),
        ):
            self.assertEqual(self._record(venue, upstream, request(first, first + 10 * MINUTE_MS)), [], venue)
            self.assertEqual(len(self._record(upstream, upstream, request(first, first + 10 * MINUTE_MS))), 1)

    def test_okx_hong_kong_bars_are_left_out(self) -> None:
        """``1D`` is in Hong Kong time (off the UTC grid); ``1Dutc`` is recorded as 1d."""
        for bar, files in (("1D", []), ("1Dutc", ["BTC-USDT-1d.csv"])):
            request = ("GET", "/api/v5/market/candles", [("instId", "BTC-USDT"), ("bar", bar), ("limit", "10")], b"")
            self.assertEqual(self._record("okx_spot", "okx_spot", request), files, bar)

    def test_kraken_post_form(self) -> None:
        upstream = MemoryServer("kraken_spot", now_ms=NOW)
        directory = tempfile.mkdtemp()
        recorder = KlineRecorder(directory, find_exchange("kraken_spot"))
        body = b"pair=XBTUSD&interval=5"
        response = upstream.request("POST", "/0/public/OHLC", headers={"Content-Type": "application/x-www-form-urlencoded"},
                                    body=body)
        self.assertEqual(response.status, 200)
        self.assertGreater(recorder.rest_klines("/0/public/OHLC", {}, body, response.body), 100)
        self.assertEqual(os.listdir(directory), ["XXBTZUSD-5m.csv"])

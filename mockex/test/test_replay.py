"""Replay of recorded candles, path validation, and record mode (in memory and loopback)."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from treq.testing import StubTreq
from twisted.internet import defer
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mockex.intervals import CANONICAL, MINUTE_MS
from mockex.market import CandleSource, Market
from mockex.record import KlineRecorder, RecordingProxy
from mockex.replay import (
    ReplayError,
    ReplaySeries,
    Row,
    load_series,
    parse_rows,
    safe_path,
    to_units,
)
from mockex.testing import MemoryServer, _result

NOW = 1_795_564_800_000  # 2026-11-25 00:00 UTC
BTC = Market.create("BTC", "USDT", 50_000.0, price_decimals=2, qty_decimals=5)


def _rows_from(server: MemoryServer, interval: str, end_ms: int, limit: int = 1000) -> list[list]:
    return server.get("/api/v3/klines", symbol="BTCUSDT", interval=interval, endTime=end_ms, limit=limit).json()


def _csv(rows: list[list], header: bool = False, micro: bool = False) -> bytes:
    lines = []
    if header:
        lines.append("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                     "taker_buy_volume,taker_buy_quote_volume,ignore")
    for r in rows:
        r = list(r)
        if micro:
            r[0] = r[0] * 1000
            r[6] = r[6] * 1000 + 999
        lines.append(",".join(str(x) for x in r))
    return ("\n".join(lines) + "\n").encode()


class PathTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.top = tempfile.mkdtemp()
        self.root = os.path.join(self.top, "root")
        os.mkdir(self.root)
        os.mkdir(os.path.join(self.root, "sub"))
        with open(os.path.join(self.root, "sub", "ok.csv"), "w") as f:
            f.write("x")
        with open(os.path.join(self.top, "secret.csv"), "w") as f:
            f.write("x")

    def test_inside_root(self) -> None:
        real = os.path.realpath(os.path.join(self.root, "sub", "ok.csv"))
        self.assertEqual(safe_path(self.root, "sub/ok.csv"), real)
        self.assertEqual(safe_path(self.root, real), real)  # absolute, inside

    def test_traversal_and_absolute_outside(self) -> None:
        for bad in ("../secret.csv", "sub/../../secret.csv", "sub/..", "..\\secret.csv",
                    os.path.join(self.top, "secret.csv"), "/etc/passwd", "", "a\x00b"):
            self.assertRaises(ReplayError, safe_path, self.root, bad)

    def test_symlinks(self) -> None:
        os.symlink(os.path.join(self.top, "secret.csv"), os.path.join(self.root, "out.csv"))
        os.symlink(self.top, os.path.join(self.root, "updir"))
        os.symlink(os.path.join(self.root, "sub", "ok.csv"), os.path.join(self.root, "in.csv"))
        self.assertRaises(ReplayError, safe_path, self.root, "out.csv")
        self.assertRaises(ReplayError, safe_path, self.root, "updir/secret.csv")
        self.assertEqual(safe_path(self.root, "in.csv"), os.path.realpath(os.path.join(self.root, "sub", "ok.csv")))

    def test_not_regular_or_too_big(self) -> None:
        self.assertRaises(ReplayError, safe_path, self.root, "sub")
        self.assertRaises(ReplayError, safe_path, self.root, "missing.csv")
        if hasattr(os, "mkfifo"):
            os.mkfifo(os.path.join(self.root, "fifo"))
            self.assertRaises(ReplayError, safe_path, self.root, "fifo")
        with open(os.path.join(self.root, "big.csv"), "wb") as f:
            f.write(b"0" * 2000)
        self.assertRaises(ReplayError, safe_path, self.root, "big.csv", max_bytes=1000)

    def test_server_and_twistd_refuse(self) -> None:
        from twisted.python import usage

        from mockex.tap import Options

        self.assertRaises(ValueError, MemoryServer, replays={"BTCUSDT": "../secret.csv"}, replay_root=self.root)
        self.assertRaises(usage.UsageError, Options().parseOptions,
                          ["--replay-root", self.root, "--replay", "BTCUSDT=../secret.csv"])
        self.assertRaises(usage.UsageError, Options().parseOptions,
                          ["--replay-root", self.root, "--replay", "NOPE=sub/ok.csv"])


class FormatTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.upstream = MemoryServer(now_ms=NOW)
        self.rows = _rows_from(self.upstream, "1m", NOW - 3_600_000, 50)

    def test_formats_agree(self) -> None:
        """Binance CSV (plain, header, µs, zip), OHLCV CSV, JSON objects and REST rows."""
        plain = parse_rows(_csv(self.rows))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("BTCUSDT-1m-2026-11.csv", _csv(self.rows, header=True, micro=True))
        tmp = tempfile.mkdtemp()
        with open(os.path.join(tmp, "x.zip"), "wb") as f:
            f.write(buffer.getvalue())
        names = ["time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
                 "trades", "taker_buy_base", "taker_buy_quote", "ignore"]
        ohlcv = "\n".join([",".join(names)] + [",".join(str(x) for x in r) for r in self.rows]).encode()
        objects = json.dumps([dict(zip(names, r)) for r in self.rows]).encode()
        for other in (
            parse_rows(_csv(self.rows, header=True)),
            parse_rows(_csv(self.rows, micro=True)),
            load_series(BTC, safe_path(tmp, "x.zip")),
            parse_rows(ohlcv),
            parse_rows(objects),
            parse_rows(json.dumps(self.rows).encode()),
        ):
            if isinstance(other, ReplaySeries):
                self.assertEqual(other.nodes, ReplaySeries(BTC, plain).nodes)
            else:
                self.assertEqual(other, plain)

    def test_seconds_and_minimal_ohlcv(self) -> None:
        rows = parse_rows(b"timestamp,open,high,low,close,volume\n1700000060,2,3,1,2.5,10\n1700000000,1,2,1,2,5\n")
        self.assertEqual([r.open_ms for r in rows], [1_700_000_000_000, 1_700_000_060_000])
        series = ReplaySeries(BTC, rows)
        self.assertEqual(series.native_ms, MINUTE_MS)
        # no quote volume recorded: volume x close
        self.assertEqual(series.nodes[0][5], 5 * 2 * 10**8)

    def test_bad_files(self) -> None:
        for bad in (b"", b"1,2,3\n", b"[1, 2]", b"time,open\n1,2\n", b'{"x": 1}'):
            self.assertRaises(ReplayError, parse_rows, bad)
        self.assertRaises(ReplayError, ReplaySeries, BTC, parse_rows(b"t,o,h,l,c,v\n60,1,0.5,1,1,1\n"))


def _recorded(draw_rows: list[tuple[int, int, int, int, int, int]], start_minute: int) -> list[Row]:
    rows = []
    for i, (o, dh, dl, c, v, n) in enumerate(draw_rows):
        o, c = Decimal(o) / 1000, Decimal(c) / 1000
        h = max(o, c) + Decimal(dh) / 1000
        low = max(Decimal("0.001"), min(o, c) - Decimal(dl) / 1000)
        vol = Decimal(v) / 10**7
        rows.append(Row((start_minute + i) * MINUTE_MS, str(o), str(h), str(low), str(c), str(vol),
                        str(vol * c), n, str(vol / 2), str(vol * c / 2)))
    return rows


candles = st.lists(
    st.tuples(st.integers(1, 10**8), st.integers(0, 10**5), st.integers(0, 10**5), st.integers(1, 10**8),
              st.integers(0, 10**12), st.integers(0, 1000)),
    min_size=1, max_size=300,
)


class ReplayPropertyTests(SynchronousTestCase):
    @given(candles, st.integers(27_000_000, 29_000_000), st.sampled_from(["3m", "5m", "15m", "1h", "4h", "1d"]))
    @settings(max_examples=60, deadline=None)
    def test_exact_aggregation(self, draw: list, start_minute: int, name: str) -> None:
        """A coarse candle is exactly its recorded native candles (after rounding)."""
        market = Market.create("BTC", "USDT", 50_000.0, price_decimals=2, qty_decimals=5)
        rows = _recorded(draw, start_minute)
        series = ReplaySeries(market, rows, native_ms=MINUTE_MS)
        source = CandleSource(replays={market.key: series})
        interval = CANONICAL[name]
        now = series.end_ms + 10**9
        first = source.first_open(market, interval)
        count = interval.count_between(first, interval.floor(series.end_ms - 1))
        coarse = source.candles(market, interval, first, count, now)
        fine = source.candles(market, CANONICAL["1m"], series.first_open_ms, len(rows), now)
        self.assertEqual(len(fine), len(rows))
        for row, candle in zip(rows, fine):  # native: exactly the recording, rounded half to even
            self.assertEqual(candle.open, to_units(row.open, 2))
            self.assertEqual(candle.high, to_units(row.high, 2))
            self.assertEqual(candle.volume, to_units(row.volume, 5))
            self.assertEqual(candle.trades, row.trades)
        for candle in coarse:
            parts = [f for f in fine if candle.open_ms <= f.open_ms < candle.end_ms]
            self.assertTrue(parts)
            self.assertEqual(candle.open, parts[0].open)
            self.assertEqual(candle.close, parts[-1].close)
            self.assertEqual(candle.high, max(p.high for p in parts))
            self.assertEqual(candle.low, min(p.low for p in parts))
            for field in ("volume", "quote_volume", "trades", "taker_base", "taker_quote"):
                self.assertEqual(getattr(candle, field), sum(getattr(p, field) for p in parts))
        self.assertEqual(sum(c.trades for c in coarse), sum(r.trades for r in rows))
        # finer than recorded: nothing
        self.assertEqual(source.candles(market, CANONICAL["1s"], series.first_open_ms, 100, now), [])

    @given(st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False))
    def test_rounding_half_even(self, value: Decimal) -> None:
        units = to_units(str(value), 2)
        self.assertEqual(units, int((value * 100).quantize(Decimal(1), rounding="ROUND_HALF_EVEN")))
        self.assertLessEqual(abs(Decimal(units) / 100 - value), Decimal("0.005"))

    @given(candles, st.integers(27_000_000, 29_000_000))
    @settings(max_examples=20, deadline=None)
    def test_deterministic(self, draw: list, start_minute: int) -> None:
        """Same recording, same bytes, in two servers, whatever was asked first."""
        rows = _recorded(draw, start_minute)
        tmp = tempfile.mkdtemp()
        with open(os.path.join(tmp, "r.csv"), "w") as f:
            for r in rows:
                f.write(f"{r.open_ms},{r.open},{r.high},{r.low},{r.close},{r.volume},{r.open_ms + 59_999},"
                        f"{r.quote_volume},{r.trades},{r.taker_base},{r.taker_quote},0\n")
        a = MemoryServer(replays={"BTCUSDT": "r.csv"}, replay_root=tmp, speed=10**6)
        b = MemoryServer(replays={"BTCUSDT": "r.csv"}, replay_root=tmp, speed=10**6)
        a.advance(60)
        b.advance(60)
        b.get("/api/v3/klines", symbol="BTCUSDT", interval="1h", limit=7)
        for name in ("1m", "5m", "1h", "1d"):
            ra = a.get("/api/v3/klines", symbol="BTCUSDT", interval=name, startTime=0, limit=1000)
            rb = b.get("/api/v3/klines", symbol="BTCUSDT", interval=name, startTime=0, limit=1000)
            self.assertEqual(ra.body, rb.body)


class ReplayServerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.upstream = MemoryServer(now_ms=NOW)
        self.rows = _rows_from(self.upstream, "1m", NOW - 3_600_000, 600)
        self.root = tempfile.mkdtemp()
        with open(os.path.join(self.root, "BTCUSDT-1m.csv"), "wb") as f:
            f.write(_csv(self.rows))

    def test_clock_starts_at_the_data_and_live_candle(self) -> None:
        """Market time starts at the first recorded candle; at --speed 60 a recorded
        minute closes every second and the stream shows it revealed at its close."""
        server = MemoryServer(now_ms=0, replays={"BTCUSDT": "BTCUSDT-1m.csv"}, replay_root=self.root, speed=60)
        self.assertEqual(server.now_ms(), self.rows[0][0])
        live = server.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", limit=1).json()[0]
        self.assertEqual(live[1:5], [self.rows[0][1]] * 4)  # the open only
        self.assertEqual(live[5], "0.00000000")
        ws = server.connect("/ws/btcusdt@kline_1m")
        server.advance(3.2, step=0.1)
        closed = [m["k"] for m in ws.json() if m["k"]["x"]]
        self.assertEqual([k["t"] for k in closed], [r[0] for r in self.rows[:len(closed)]])
        self.assertGreaterEqual(len(closed), 2)
        for k, r in zip(closed, self.rows):
            self.assertEqual([k["o"], k["h"], k["l"], k["c"], k["v"], k["q"], k["n"]],
                             [r[1], r[2], r[3], r[4], r[5], r[7], r[8]])
        rest = server.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", startTime=0, limit=1000).json()
        self.assertEqual(rest[:len(closed)], self.rows[:len(closed)])

    def test_finer_interval_is_empty_and_scenarios_refused(self) -> None:
        server = MemoryServer(now_ms=0, replays={"BTCUSDT": "BTCUSDT-1m.csv"}, replay_root=self.root, speed=1000)
        server.advance(40)
        response = server.get("/api/v3/klines", symbol="BTCUSDT", interval="1s", limit=10)
        self.assertEqual((response.status, response.json()), (200, []))
        self.assertRaises(ValueError, server.server.scenario, "BTCUSDT", "shock", -10)
        self.assertEqual(len(server.get("/api/v3/klines", symbol="BTCUSDT", interval="1h", startTime=0).json()), 11)


class RecordRoundTripTests(SynchronousTestCase):
    def test_record_then_replay_byte_equal(self) -> None:
        """Record through the proxy from one server (in memory), replay in another: the
        REST answers for the recorded range are byte-equal."""
        upstream = MemoryServer(now_ms=NOW)
        inner = StubTreq(upstream.server.resource())
        directory = tempfile.mkdtemp()
        recorder = KlineRecorder(directory)
        proxy = StubTreq(RecordingProxy(upstream.clock, "http://upstream", recorder, http=inner))
        first = NOW - 2 * 86_400_000
        bodies = []
        for i in range(3):  # overlapping pages: de-duplicated
            d = proxy.get(f"http://proxy/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={first + i * 500 * MINUTE_MS}&limit=1000")
            inner.flush()
            proxy.flush()
            response = _result(d)
            self.assertEqual(response.code, 200)
            bodies.append(_result(response.content()))
        direct = upstream.get("/api/v3/klines", symbol="BTCUSDT", interval="1m", startTime=first, limit=1000)
        self.assertEqual(bodies[0], direct.body)  # passed through unchanged
        path = os.path.join(directory, "BTCUSDT-1m.csv")
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 1999)  # 2000 minutes, the newest row of the last page left out
        self.assertEqual(len({line.split(",")[0] for line in lines}), len(lines))
        replay = MemoryServer(now_ms=NOW, origin_ms=NOW, replays={"BTCUSDT": "BTCUSDT-1m.csv"}, replay_root=directory)
        end = first + 1999 * MINUTE_MS - 1
        for name, start in (("1m", first), ("5m", first), ("15m", first), ("1h", first + 3_600_000 - first % 3_600_000)):
            a = upstream.get("/api/v3/klines", symbol="BTCUSDT", interval=name, startTime=start,
                             endTime=end - CANONICAL[name].ms, limit=1000)
            b = replay.get("/api/v3/klines", symbol="BTCUSDT", interval=name, startTime=start,
                           endTime=end - CANONICAL[name].ms, limit=1000)
            self.assertGreater(len(a.json()), 10)
            self.assertEqual(a.body, b.body, name)

    def test_stream_messages_recorded(self) -> None:
        recorder = KlineRecorder(tempfile.mkdtemp())
        event = {"e": "kline", "s": "BTCUSDT", "k": {"t": NOW, "T": NOW + 59999, "s": "BTCUSDT", "i": "1m",
                 "o": "1.00", "h": "2.00", "l": "0.50", "c": "1.50", "v": "3", "n": 2, "x": True,
                 "q": "4", "V": "1", "Q": "1.2"}}
        self.assertTrue(recorder.stream_message(json.dumps({"stream": "btcusdt@kline_1m", "data": event}).encode()))
        self.assertFalse(recorder.stream_message(json.dumps(event).encode()))  # de-duplicated
        event["k"]["x"] = False
        event["k"]["t"] = NOW + 60000
        self.assertFalse(recorder.stream_message(json.dumps(event).encode()))  # not closed
        event["k"].update(x=True, s="../../evil")
        event["s"] = "../../evil"
        self.assertFalse(recorder.stream_message(json.dumps(event).encode()))  # no such file name
        self.assertEqual(recorder.written, {("BTCUSDT", "1m"): 1})


class LoopbackRecordTests(TestCase):
    """Record mode over real sockets: a mockex upstream on 127.0.0.1, the proxy in front."""

    timeout = 30

    @defer.inlineCallbacks
    def test_rest_and_stream_through_the_proxy(self) -> None:
        from treq.client import HTTPClient
        from twisted.web.client import Agent, HTTPConnectionPool
        from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
        from twisted.internet import reactor
        from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
        from twisted.web.server import Site

        from mockex.server import MockServer

        upstream = MockServer(port=0, reactor=reactor, speed=60)
        yield upstream.start()
        self.addCleanup(upstream.stop)
        directory = tempfile.mkdtemp()
        recorder = KlineRecorder(directory)
        proxy = RecordingProxy(reactor, upstream.url, recorder, ws_upstream=f"ws://127.0.0.1:{upstream.port}")
        port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Site(proxy))
        self.addCleanup(port.stopListening)
        base = f"http://127.0.0.1:{port.getHost().port}"
        treq = HTTPClient(Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False)))
        response = yield treq.get(base + "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5")
        body = yield response.content()
        self.assertEqual(response.code, 200)
        self.assertEqual(len(json.loads(body)), 5)
        self.assertEqual(recorder.written[("BTCUSDT", "1m")], 4)

        got: list[bytes] = []
        done: defer.Deferred[None] = defer.Deferred()

        class Client(WebSocketClientProtocol):
            def onMessage(self, payload: bytes, isBinary: bool) -> None:
                got.append(payload)
                if sum(b'"x":true' in m for m in got) >= 2 and not done.called:
                    done.callback(None)
                    self.sendClose(1000)

        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port.getHost().port}/ws/btcusdt@kline_1m", reactor=reactor)
        factory.protocol = Client
        yield TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port).connect(factory)
        yield done
        closed = [json.loads(m)["k"] for m in got if b'"x":true' in m]
        with open(os.path.join(directory, "BTCUSDT-1m.csv")) as f:
            recorded = {int(line.split(",")[0]) for line in f}
        self.assertTrue({k["t"] for k in closed} <= recorded)


class RecordOptionTests(SynchronousTestCase):
    def test_record_options(self) -> None:
        from twisted.python import usage

        from mockex.tap import Options

        directory = tempfile.mkdtemp()
        o = Options()
        o.parseOptions(["--record", "https://api.binance.com", "--record-ws", "wss://stream.binance.com:9443",
                        "--record-dir", directory])
        self.assertEqual(o["record-dir"], directory)
        for bad in (["--record", "https://api.binance.com"],
                    ["--record", "ftp://x", "--record-dir", directory],
                    ["--record-dir", directory],
                    ["--record", "https://x", "--record-ws", "http://x", "--record-dir", directory]):
            self.assertRaises(usage.UsageError, Options().parseOptions, bad)

    def test_record_mode_reads_the_served_venue(self) -> None:
        """--record with --exchange X records X's formats (its IKlineRecording)."""
        from twisted.internet.testing import MemoryReactor

        from mockex.tap import MockService, Options

        directory = tempfile.mkdtemp()
        o = Options()
        o.parseOptions(["--exchange", "okx_spot", "--record", "https://www.okx.com", "--record-dir", directory])
        service = MockService(o, MemoryReactor())
        service.startService()
        self.assertEqual(service.recorder.recorder.venue.name, "okx_spot")
        self.assertTrue(service.recorder.recorder.records)


class EmptyQuoteVolumeTests(SynchronousTestCase):
    def test_empty_quote_volume_is_volume_times_close(self) -> None:
        """What record mode writes for venues that show no quote volume."""
        [row] = parse_rows(b"1795564800000,1.5,2,1,2,3,1795564859999,,0,0,0,0\n")
        self.assertIsNone(row.quote_volume)
        series = ReplaySeries(BTC, [row])
        self.assertEqual(series.nodes[0][5], 6 * 10**8)

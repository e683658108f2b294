"""
Tests for the ``gate_io_perpetual`` venue (``mockex.venues.gate_futures``), in memory.

Expectations: Gate's futures docs and SDK named in the module docstring; the window
rules shared with spot are tested in ``test_gate_spot`` and pinned again here where
futures differ (default interval, 2000 points, ``7d`` vs ``1w``, objects, sizes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer
from mockex.venues.gate_futures import INTERVALS

NOW_MS = DEFAULT_NOW_MS + 37_123
NOW_S = NOW_MS // 1000
_SHARED: list[MemoryServer] = []
PATH = "/api/v4/futures/usdt/candlesticks"


def shared() -> MemoryServer:
    if not _SHARED:
        _SHARED.append(MemoryServer("gate_io_perpetual", now_ms=NOW_MS))
    return _SHARED[0]


def sticks(server: MemoryServer, headers: dict[str, str] | None = None, **params: Any) -> Any:
    if "from_" in params:
        params["from"] = params.pop("from_")
    return server.get(PATH, headers=headers, **params)


class FuturesCase(SynchronousTestCase):
    def rows(self, response: Any) -> list[dict[str, Any]]:
        self.assertEqual(response.status, 200, response.body[:300])
        rows = response.json()
        for row in rows:
            self.assertEqual(list(row), ["t", "v", "c", "h", "l", "o", "sum"])
            self.assertIsInstance(row["t"], int)
            close, high, low, open_ = (Decimal(row[k]) for k in "chlo")
            self.assertLessEqual(low, min(open_, close))
            self.assertGreaterEqual(high, max(open_, close))
        stamps = [r["t"] for r in rows]
        self.assertEqual(stamps, sorted(stamps))
        return rows

    def error(self, response: Any, label: str, message: str, status: int = 400) -> None:
        self.assertEqual(response.status, status, response.body)
        self.assertEqual(response.json(), {"label": label, "message": message})


class CandlestickTests(FuturesCase):
    def test_defaults(self) -> None:
        """No interval: 5m; no limit: the last 100, the live one last."""
        rows = self.rows(sticks(shared(), contract="BTC_USDT"))
        self.assertEqual(len(rows), 100)
        self.assertEqual(rows[-1]["t"], NOW_S // 300 * 300)
        self.assertEqual({b["t"] - a["t"] for a, b in zip(rows, rows[1:])}, {300})
        self.assertIsInstance(rows[0]["v"], int)

    def test_limit_2000(self) -> None:
        self.assertEqual(len(self.rows(sticks(shared(), contract="BTC_USDT", interval="1m", limit=2000))), 2000)
        self.error(sticks(shared(), contract="BTC_USDT", limit=2001), "INVALID_PARAM_VALUE",
                   "limit must be between 1 and 2000")
        start = NOW_S - 5000 * 60 - NOW_S % 60
        rows = self.rows(sticks(shared(), contract="BTC_USDT", interval="1m", from_=start, to=NOW_S))
        self.assertEqual((len(rows), rows[0]["t"]), (2000, start))

    def test_ccxt_window(self) -> None:
        """ccxt: from, to = from + 1998 candles: 1999 rows, both ends inclusive."""
        start = NOW_S - 5000 * 60 - NOW_S % 60
        rows = self.rows(sticks(shared(), contract="ETH_USDT", interval="1m", from_=start, to=start + 1998 * 60))
        self.assertEqual([r["t"] for r in rows], list(range(start, start + 1999 * 60, 60)))

    def test_weeks(self) -> None:
        """``7d`` counts from the epoch (a Thursday), ``1w`` is a Monday week, ``30d`` a month."""
        seven = self.rows(sticks(shared(), contract="BTC_USDT", interval="7d", limit=2))
        week = self.rows(sticks(shared(), contract="BTC_USDT", interval="1w", limit=2))
        self.assertEqual({r["t"] % (7 * 86400) for r in seven}, {0})
        self.assertEqual({(r["t"] // 86400 + 3) % 7 for r in week}, {0})  # days since a Monday
        month = self.rows(sticks(shared(), contract="BTC_USDT", interval="30d", limit=2))
        self.assertEqual([r["t"] for r in month], [1790812800, 1793491200])

    def test_every_interval(self) -> None:
        for name, interval in INTERVALS.items():
            rows = self.rows(sticks(shared(), contract="SOL_USDT", interval=name, limit=3))
            self.assertEqual(len(rows), 3, name)

    def test_sizes_and_quote_volume(self) -> None:
        """``v`` in contracts (quanto_multiplier = the quantity step), ``sum`` in USDT, as spot's row."""
        start = NOW_S - 100 * 60 - NOW_S % 60
        [row] = self.rows(sticks(shared(), contract="BTC_USDT", interval="1m", from_=start, to=start))
        contract = shared().get("/api/v4/futures/usdt/contracts/BTC_USDT").json()
        spot = MemoryServer("gate_io_spot", now_ms=NOW_MS)
        [spot_row] = spot.get("/api/v4/spot/candlesticks", currency_pair="BTC_USDT", interval="1m",
                              **{"from": start, "to": start}).json()
        self.assertEqual(Decimal(row["v"]) * Decimal(contract["quanto_multiplier"]), Decimal(spot_row[6]))
        self.assertEqual(row["sum"], spot_row[1])
        self.assertEqual(row["c"], spot_row[2])

    def test_size_decimal_header(self) -> None:
        [row] = self.rows(sticks(shared(), {"X-Gate-Size-Decimal": "1"}, contract="BTC_USDT", limit=1))
        self.assertIsInstance(row["v"], str)

    def test_errors(self) -> None:
        self.error(sticks(shared(), interval="1m"), "MISSING_REQUIRED_PARAM", "Missing required parameter: contract")
        self.error(sticks(shared(), contract="NOPE_USDT"), "CONTRACT_NOT_FOUND", "Contract not found")
        self.error(sticks(shared(), contract="BTC_USDT", interval="2m"), "INVALID_PARAM_VALUE", "Invalid interval: 2m")
        self.error(sticks(shared(), contract="BTC_USDT", from_=NOW_S - 600, limit=5), "INVALID_PARAM_VALUE",
                   "limit is conflicted with from and to")
        self.error(shared().get("/api/v4/futures/eur/candlesticks", contract="BTC_USDT"), "INVALID_PARAM_VALUE",
                   "Invalid settle: eur")
        self.error(shared().get("/api/v4/futures/btc/candlesticks", contract="BTC_USDT"), "CONTRACT_NOT_FOUND",
                   "Contract not found")
        self.error(sticks(shared(), contract="BTC_USDT", interval="1m", from_=NOW_S - 10_001 * 60),
                   "INVALID_PARAM_VALUE", "Candlestick too long ago. Maximum 10000 points ago are allowed")


class OtherEndpointTests(FuturesCase):
    def test_contracts(self) -> None:
        contracts = shared().get("/api/v4/futures/usdt/contracts").json()
        self.assertEqual([c["name"] for c in contracts],
                         ["BTC_USDT", "ETH_USDT", "BNB_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT"])
        btc = contracts[0]
        self.assertEqual((btc["quanto_multiplier"], btc["order_price_round"], btc["status"], btc["type"]),
                         ("0.00001", "0.01", "trading", "direct"))
        self.assertEqual(shared().get("/api/v4/futures/usdt/contracts/BTC_USDT").json()["name"], "BTC_USDT")
        self.assertEqual(shared().get("/api/v4/futures/btc/contracts").json(), [])

    def test_time_and_other_families(self) -> None:
        self.assertEqual(shared().get("/api/v4/spot/time").body, b'{"server_time":%d}' % NOW_MS)
        for path in ("/api/v4/spot/currency_pairs", "/api/v4/spot/currencies", "/api/v4/margin/currency_pairs",
                     "/api/v4/delivery/usdt/contracts", "/api/v4/options/underlyings"):
            self.assertEqual(shared().get(path).json(), [], path)
        self.error(shared().get("/api/v4/nope"), "NOT_FOUND", "Not Found", 404)


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


class PropertyTests(FuturesCase):
    @given(st.fixed_dictionaries({}, optional={
        "contract": st.one_of(TEXT, st.sampled_from(["BTC_USDT", "DOGE_USDT"])),
        "interval": st.one_of(TEXT, st.sampled_from(list(INTERVALS))),
        "limit": st.one_of(TEXT, st.integers(-5, 3000).map(str)),
        "from": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
        "to": st.one_of(TEXT, st.integers(-10, 10**19).map(str)),
    }))
    @settings(max_examples=60)
    def test_never_5xx(self, params: dict[str, str]) -> None:
        response = shared().get(PATH, **params)
        self.assertIn(response.status, (200, 400), (params, response.body[:200]))
        body = response.json()
        if response.status == 200:
            self.assertLessEqual(len(body), 2000)
        else:
            self.assertEqual(list(body), ["label", "message"])


class WebSocketTests(FuturesCase):
    def setUp(self) -> None:
        self.server = MemoryServer("gate_io_perpetual", now_ms=DEFAULT_NOW_MS)
        self.client = self.server.connect("/v4/ws/usdt")

    def send(self, request: Any) -> list[Any]:
        self.client.take()
        if isinstance(request, str):
            self.client.send_text(request)
        else:
            self.client.send_json(request)
        self.server.flush()
        return self.client.take()

    def subscribe(self, payload: Any, event: str = "subscribe") -> list[Any]:
        return self.send({"time": 1, "id": 5, "channel": "futures.candlesticks", "event": event, "payload": payload})

    def test_subscribe_and_pushes(self) -> None:
        [ack] = self.subscribe(["1m", "BTC_USDT"])
        self.assertEqual((ack["channel"], ack["event"], ack["result"]), ("futures.candlesticks", "subscribe",
                                                                           {"status": "success"}))
        self.server.advance(2)
        pushes = self.client.take()
        self.assertEqual(len(pushes), 2)
        push = pushes[-1]
        self.assertEqual(list(push), ["time", "time_ms", "channel", "event", "result"])
        [candle] = push["result"]
        self.assertEqual(list(candle), ["t", "v", "c", "h", "l", "o", "n", "a", "w"])
        self.assertEqual((candle["t"], candle["n"], candle["w"]), (DEFAULT_NOW_MS // 1000, "1m_BTC_USDT", False))
        [row] = sticks(self.server, contract="BTC_USDT", interval="1m", limit=1).json()
        self.assertEqual([candle[k] for k in "tvchlo"], [row[k] for k in "tvchlo"])

    def test_window_closes_once_and_unsubscribe(self) -> None:
        self.subscribe(["1m", "ETH_USDT"])
        self.server.advance(61)
        closed = [p for p in self.client.take() if p["result"][0]["w"]]
        self.assertEqual(len(closed), 1)
        [ack] = self.subscribe(["1m", "ETH_USDT"], "unsubscribe")
        self.assertEqual(ack["result"], {"status": "success"})
        self.server.advance(2)
        self.assertEqual(self.client.take(), [])

    def test_size_decimal_header(self) -> None:
        client = self.server.connect("/v4/ws/usdt")
        # the handshake header is what counts; iosim's client sends none, so test the topic maker
        from mockex.venues.gate_futures import FUTURES_CHANNEL, FuturesCandleTopic
        topic = FUTURES_CHANNEL.make(None, "1m_BTC_USDT", {"x-gate-size-decimal": "1"})
        self.assertEqual(topic, FuturesCandleTopic(None, "1m_BTC_USDT", True))
        self.assertFalse(client.lost)

    def test_ping_and_errors(self) -> None:
        [pong] = self.send({"time": 1, "channel": "futures.ping"})
        self.assertEqual((pong["channel"], pong["result"]), ("futures.pong", None))
        [answer] = self.subscribe(["1m", "NOPE_USDT"])
        self.assertEqual(answer["error"], {"code": 2, "message": "unknown contract: NOPE_USDT"})
        [answer] = self.subscribe(["1y", "BTC_USDT"])
        self.assertEqual(answer["error"], {"code": 2, "message": "invalid interval: 1y"})
        [answer] = self.send({"time": 1, "channel": "spot.candlesticks", "event": "subscribe",
                              "payload": ["1m", "BTC_USDT"]})
        self.assertEqual(answer["error"], {"code": 2, "message": "unknown channel spot.candlesticks"})
        self.assertFalse(self.client.lost)

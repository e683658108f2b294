"""
Tests for the REST side of the C{binance_spot} venue.

Everything runs in memory: L{MemoryServer} (a real L{MockServer} on a
C{MemoryReactorClock}) for ordinary requests, and L{raw_request} -- raw HTTP
bytes fed to the server's own protocol factory over a C{StringTransport} --
wherever the exact bytes on the wire matter (C{Content-Length}, bare query
keys such as C{?BTCUSDT}, odd paths).  No socket, no global reactor, no wall
clock: every test is deterministic.

The expected values come from the Binance spot API documentation and from
responses captured by client projects, as collected in
C{shared/reference/binance_spot.md} and the research notes (R1-R9, E1-E10).

Tests whose comment starts with C{# Regression:} pin a defect found while writing
this module (and since fixed).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Mapping, Sequence
from urllib.parse import quote, urlencode

from hypothesis import given
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

import mockex.test  # noqa: F401  (registers and loads the Hypothesis profile)
from mockex.testing import DEFAULT_NOW_MS, MemoryServer, Response

# ---------------------------------------------------------------------------
# Constants

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

#: 37.123 s into a minute (and into 2026-11-25, a Wednesday): the live 1m candle
#: already has trades.
NOW_MS = DEFAULT_NOW_MS + 37_123

JSON_TYPE = "application/json;charset=UTF-8"

#: Every interval Binance spot serves (R2), with its length where it is fixed.
INTERVALS: dict[str, int | None] = {
    "1s": SECOND_MS,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": WEEK_MS,
    "1M": None,
}

DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ETHBTC"]

#: BTCUSDT's listing, 2017-08-17 04:00 UTC: the first 1m (and 1h) candle.
BTCUSDT_FIRST_MINUTE = 1_502_942_400_000

SYMBOL_MSG = (
    "Illegal characters found in parameter 'symbol'; legal range is "
    "'^[\\w\\-._&&[^a-z]]{1,50}$'."
)
SYMBOLS_MSG = (
    "Illegal characters found in parameter 'symbols'; legal range is "
    "'^\\[(\"[\\w\\-._&&[^a-z]]{1,50}\"(,\"[\\w\\-._&&[^a-z]]{1,50}\"){0,}){0,1}\\]$'."
)
TIME_UNIT_MSG = "Invalid value for time unit; expected either MICROSECOND or MILLISECOND."

RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]

SYMBOL_KEYS = [
    "symbol", "status", "baseAsset", "baseAssetPrecision", "quoteAsset", "quotePrecision",
    "quoteAssetPrecision", "baseCommissionPrecision", "quoteCommissionPrecision", "orderTypes",
    "icebergAllowed", "ocoAllowed", "otoAllowed", "opoAllowed", "quoteOrderQtyMarketAllowed",
    "allowTrailingStop", "cancelReplaceAllowed", "amendAllowed", "pegInstructionsAllowed",
    "isSpotTradingAllowed", "isMarginTradingAllowed", "filters", "permissions", "permissionSets",
    "defaultSelfTradePreventionMode", "allowedSelfTradePreventionModes",
]

FILTER_TYPES = [
    "PRICE_FILTER", "LOT_SIZE", "ICEBERG_PARTS", "MARKET_LOT_SIZE", "TRAILING_DELTA",
    "PERCENT_PRICE_BY_SIDE", "NOTIONAL", "MAX_NUM_ORDERS", "MAX_NUM_ORDER_LISTS",
    "MAX_NUM_ALGO_ORDERS", "MAX_NUM_ORDER_AMENDS",
]

#: An 8-decimal non-negative number as Binance writes kline decimals.
DECIMAL_8 = re.compile(r"^[0-9]+\.[0-9]{8}$")

MICRO = {"X-MBX-TIME-UNIT": "MICROSECOND"}


# ---------------------------------------------------------------------------
# Helpers


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Epoch milliseconds of a UTC wall-clock time."""
    return int(datetime(year, month, day, hour, minute, tzinfo=timezone.utc).timestamp()) * 1000


def tick(decimals: int) -> str:
    """``10**-decimals`` written with 8 places, as exchangeInfo filters are."""
    return f"{Decimal(1).scaleb(-decimals):.8f}"


@lru_cache(maxsize=None)
def shared() -> MemoryServer:
    """
    One server at L{NOW_MS} for the tests that never move its clock (building
    one is cheap, but sharing also lets the caches see many requests). Its clock never
    moves, so Binance's 6000 weight a minute would soon refuse (and ban) everything:
    the limits are off here and tested on their own in test_ratelimit.
    """
    server = MemoryServer(now_ms=NOW_MS)
    server.server.set_rate_limits(enabled=False)
    return server


def klines(server: MemoryServer, headers: Mapping[str, str] | None = None, **params: Any) -> Response:
    return server.get("/api/v3/klines", headers=headers, **params)


class RawResponse:
    """An HTTP response exactly as it left the server."""

    def __init__(self, data: bytes) -> None:
        head, sep, self.body = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"incomplete HTTP response: {data[:300]!r}")
        lines = head.split(b"\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split(b" ")[1])
        self.header_list: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            self.header_list.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
        self.headers = dict(self.header_list)

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<RawResponse {self.status} {self.body[:200]!r}>"


def raw_request(
    server: MemoryServer,
    target: str | bytes,
    method: bytes = b"GET",
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> RawResponse:
    """
    Send one HTTP/1.1 request as raw bytes through the server's connection layer
    and return what it wrote back.
    """
    if isinstance(target, str):
        target = target.encode("ascii")
    address = IPv4Address("TCP", "127.0.0.1", 50001)
    protocol = server.server.factory.buildProtocol(address)
    transport = StringTransport(peerAddress=address, hostAddress=IPv4Address("TCP", "127.0.0.1", 80))
    protocol.makeConnection(transport)
    request = method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for name, value in headers:
        request += name + b": " + value + b"\r\n"
    protocol.dataReceived(request + b"\r\n")
    data = transport.value()
    protocol.connectionLost(Failure(ConnectionDone()))
    return RawResponse(data)


def query(path: str, params: Sequence[tuple[str, str]] | Mapping[str, str]) -> str:
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    return path + ("?" + urlencode(items) if items else "")


def aggregate(rows: Sequence[list[Any]]) -> dict[str, Any]:
    """The candle that consecutive kline rows add up to, as Decimals."""
    return {
        "open": Decimal(rows[0][1]),
        "high": max(Decimal(r[2]) for r in rows),
        "low": min(Decimal(r[3]) for r in rows),
        "close": Decimal(rows[-1][4]),
        "volume": sum(Decimal(r[5]) for r in rows),
        "closeTime": rows[-1][6],
        "quoteVolume": sum(Decimal(r[7]) for r in rows),
        "trades": sum(r[8] for r in rows),
        "takerBase": sum(Decimal(r[9]) for r in rows),
        "takerQuote": sum(Decimal(r[10]) for r in rows),
    }


def as_candle(row: list[Any]) -> dict[str, Any]:
    return {
        "open": Decimal(row[1]),
        "high": Decimal(row[2]),
        "low": Decimal(row[3]),
        "close": Decimal(row[4]),
        "volume": Decimal(row[5]),
        "closeTime": row[6],
        "quoteVolume": Decimal(row[7]),
        "trades": row[8],
        "takerBase": Decimal(row[9]),
        "takerQuote": Decimal(row[10]),
    }


class BinanceTestCase(SynchronousTestCase):
    """Assertions shared by the test cases below."""

    def assertError(self, response: Response | RawResponse, code: int, msg: str, status: int = 400) -> None:
        """A Binance error: C{status}, JSON content, exactly C{{"code":..,"msg":..}}."""
        self.assertEqual(response.status, status, response.body[:300])
        self.assertEqual(response.json(), {"code": code, "msg": msg})
        self.assertEqual(list(response.json()), ["code", "msg"])
        self.assertEqual(response.headers["content-type"], JSON_TYPE)

    def rows(self, response: Response) -> list[list[Any]]:
        """The rows of a successful klines answer, each checked for shape and types."""
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(response.headers["content-type"], JSON_TYPE)
        rows = response.json()
        self.assertIsInstance(rows, list)
        for row in rows:
            self.assertRowShape(row)
        return rows

    def assertRowShape(self, row: list[Any]) -> None:
        self.assertEqual(len(row), 12, row)
        for i in (0, 6, 8):
            self.assertIs(type(row[i]), int, (i, row))
        for i in (1, 2, 3, 4, 5, 7, 9, 10):
            self.assertIsInstance(row[i], str, (i, row))
            self.assertRegex(row[i], DECIMAL_8)
        self.assertEqual(row[11], "0")
        self.assertGreaterEqual(row[8], 0)
        self.assertLess(row[0], row[6])

    def opens(self, rows: Sequence[list[Any]]) -> list[int]:
        return [row[0] for row in rows]


# ---------------------------------------------------------------------------
# ping and time


class PingTimeTests(BinanceTestCase):
    def test_ping(self) -> None:
        """C{GET /api/v3/ping} answers 200 C{{}}."""
        response = shared().get("/api/v3/ping")
        self.assertEqual((response.status, response.body), (200, b"{}"))
        self.assertEqual(response.headers["content-type"], JSON_TYPE)

    def test_ping_time_unit(self) -> None:
        """Ping accepts every valid C{X-MBX-TIME-UNIT} and rejects others (-1194)."""
        for unit in ("MICROSECOND", "microsecond", "MILLISECOND", "millisecond"):
            response = shared().get("/api/v3/ping", headers={"X-MBX-TIME-UNIT": unit})
            self.assertEqual((response.status, response.body), (200, b"{}"), unit)
        response = shared().get("/api/v3/ping", headers={"X-MBX-TIME-UNIT": "SECOND"})
        self.assertError(response, -1194, TIME_UNIT_MSG)

    def test_time(self) -> None:
        """C{serverTime} is the memory clock's now, in ms, and nothing else."""
        server = MemoryServer(now_ms=NOW_MS)
        response = server.get("/api/v3/time")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b'{"serverTime":%d}' % NOW_MS)
        self.assertEqual(response.headers["content-type"], JSON_TYPE)
        server.clock.advance(1.5)
        self.assertEqual(server.get("/api/v3/time").json(), {"serverTime": NOW_MS + 1500})

    def test_time_follows_clock_in_small_steps(self) -> None:
        """
        After ten C{clock.advance(0.1)} the server's time is exactly one second later.
        """
        # Regression: MarketClock.now_ms truncates a float (int(...)) instead of rounding it,
        # so the accumulated float error of MemoryReactorClock makes serverTime lag
        # by 1 ms: here 1795564838122 instead of 1795564838123 (NOW_MS + 1000). A
        # candle whose close is reached through such steps would still look live.
        server = MemoryServer(now_ms=NOW_MS)
        for _ in range(10):
            server.clock.advance(0.1)
        self.assertEqual(server.get("/api/v3/time").json(), {"serverTime": NOW_MS + 1000})

    def test_time_microseconds(self) -> None:
        """C{X-MBX-TIME-UNIT: MICROSECOND} (or lower case) gives serverTime in µs."""
        for unit in ("MICROSECOND", "microsecond"):
            response = shared().get("/api/v3/time", headers={"X-MBX-TIME-UNIT": unit})
            self.assertEqual(response.json(), {"serverTime": NOW_MS * 1000}, unit)
        for unit in ("MILLISECOND", "millisecond"):
            response = shared().get("/api/v3/time", headers={"X-MBX-TIME-UNIT": unit})
            self.assertEqual(response.json(), {"serverTime": NOW_MS}, unit)

    def test_time_bad_unit(self) -> None:
        """Any other time unit (mixed case included) is -1194."""
        for unit in ("Microsecond", "NANOSECOND", "us", "SECOND", "1000"):
            response = shared().get("/api/v3/time", headers={"X-MBX-TIME-UNIT": unit})
            self.assertError(response, -1194, TIME_UNIT_MSG)

    def test_time_with_parameter(self) -> None:
        """
        C{/api/v3/time} takes no parameter: sending one is "Too many parameters".
        """
        # Regression: the 2018 side-by-side test of the live API (stored doc id 39103665205:
        # "1/time??" -> -1101 "Too many parameters; expected '0' and received '1'.")
        # and the venue's own rule ("more keys than the endpoint takes (-1101)") say
        # -1101; ping/time build Params without ``accepted=0`` and answer -1104
        # "Not all sent parameters were read; read '0' parameter(s) but was sent '1'.".
        for path in ("/api/v3/time", "/api/v3/ping"):
            self.assertError(
                shared().get(path, foo="1"), -1101, "Too many parameters; expected '0' and received '1'."
            )


# ---------------------------------------------------------------------------
# exchangeInfo


class ExchangeInfoTests(BinanceTestCase):
    def info(self, server: MemoryServer | None = None, **params: str) -> dict[str, Any]:
        response = (server or shared()).get("/api/v3/exchangeInfo", **params)
        self.assertEqual(response.status, 200, response.body)
        self.assertEqual(response.headers["content-type"], JSON_TYPE)
        result: dict[str, Any] = response.json()
        return result

    def names(self, **params: str) -> list[str]:
        return [s["symbol"] for s in self.info(**params)["symbols"]]

    def test_top_level(self) -> None:
        """Top-level keys in Binance's order; UTC; serverTime is now; no exchange filters."""
        info = self.info()
        self.assertEqual(list(info), ["timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"])
        self.assertEqual(info["timezone"], "UTC")
        self.assertEqual(info["serverTime"], NOW_MS)
        self.assertEqual(info["exchangeFilters"], [])

    def test_server_time_microseconds(self) -> None:
        response = shared().get("/api/v3/exchangeInfo", headers=MICRO)
        self.assertEqual(response.json()["serverTime"], NOW_MS * 1000)

    def test_bad_time_unit(self) -> None:
        response = shared().get("/api/v3/exchangeInfo", headers={"X-MBX-TIME-UNIT": "SECONDS"})
        self.assertError(response, -1194, TIME_UNIT_MSG)

    def test_rate_limits(self) -> None:
        """rateLimits exactly as served live (L2): 6000 weight/min, 61000 raw/5 min."""
        self.assertEqual(self.info()["rateLimits"], RATE_LIMITS)
        for limit in self.info()["rateLimits"]:
            self.assertEqual(list(limit), ["rateLimitType", "interval", "intervalNum", "limit"])

    def test_default_symbols(self) -> None:
        self.assertEqual(self.names(), DEFAULT_SYMBOLS)

    def test_symbol_entry(self) -> None:
        """Each symbol entry has Binance's keys in Binance's order, and the right values."""
        for entry in self.info()["symbols"]:
            self.assertEqual(list(entry), SYMBOL_KEYS, entry["symbol"])
            self.assertEqual(entry["status"], "TRADING")
            self.assertEqual(entry["baseAsset"] + entry["quoteAsset"], entry["symbol"])
            self.assertEqual(entry["permissions"], [])
            self.assertTrue(entry["isSpotTradingAllowed"])
        btc = self.info(symbol="BTCUSDT")["symbols"][0]
        self.assertEqual((btc["baseAsset"], btc["quoteAsset"]), ("BTC", "USDT"))
        eth_btc = self.info(symbol="ETHBTC")["symbols"][0]
        self.assertEqual((eth_btc["baseAsset"], eth_btc["quoteAsset"]), ("ETH", "BTC"))

    def test_filters(self) -> None:
        """
        PRICE_FILTER tickSize/minPrice match each market's price decimals, LOT_SIZE
        stepSize/minQty its quantity decimals; filter types in Binance's order.
        """
        markets = shared().server.markets
        for entry in self.info()["symbols"]:
            market = markets[entry["symbol"]]
            filters = {f["filterType"]: f for f in entry["filters"]}
            self.assertEqual([f["filterType"] for f in entry["filters"]], FILTER_TYPES)
            price = filters["PRICE_FILTER"]
            self.assertEqual(price["tickSize"], tick(market.price_decimals), entry["symbol"])
            self.assertEqual(price["minPrice"], price["tickSize"])
            self.assertGreater(Decimal(price["maxPrice"]), Decimal(str(market.price)))
            lot = filters["LOT_SIZE"]
            self.assertEqual(lot["stepSize"], tick(market.qty_decimals), entry["symbol"])
            self.assertEqual(lot["minQty"], lot["stepSize"])
            self.assertGreater(Decimal(lot["maxQty"]), Decimal(lot["minQty"]))
            for f in (price, lot):
                for key in f:
                    if key != "filterType":
                        self.assertRegex(f[key], DECIMAL_8)
            self.assertEqual(filters["NOTIONAL"]["minNotional"], "5.00000000")

    def test_btcusdt_filters(self) -> None:
        """BTCUSDT's tick (0.01) and lot (0.00001) are Binance's."""
        filters = {f["filterType"]: f for f in self.info(symbol="BTCUSDT")["symbols"][0]["filters"]}
        self.assertEqual(filters["PRICE_FILTER"]["tickSize"], "0.01000000")
        self.assertEqual(filters["LOT_SIZE"]["stepSize"], "0.00001000")
        doge = {f["filterType"]: f for f in self.info(symbol="DOGEUSDT")["symbols"][0]["filters"]}
        self.assertEqual(doge["PRICE_FILTER"]["tickSize"], "0.00001000")
        self.assertEqual(doge["LOT_SIZE"]["stepSize"], "1.00000000")

    def test_symbol_filter(self) -> None:
        self.assertEqual(self.names(symbol="ETHBTC"), ["ETHBTC"])

    def test_symbols_filter(self) -> None:
        self.assertEqual(set(self.names(symbols='["BTCUSDT","ETHBTC"]')), {"BTCUSDT", "ETHBTC"})
        self.assertEqual(self.names(symbols='["DOGEUSDT"]'), ["DOGEUSDT"])
        self.assertEqual(self.names(symbols="[]"), [])

    def test_symbols_malformed(self) -> None:
        """A C{symbols} value that is not a compact JSON array of symbols is -1100."""
        for text in ('["BTCUSDT", "ETHBTC"]', '["btcusdt"]', "[BTCUSDT]", "BTCUSDT", '"BTCUSDT"',
                     '["BTCUSDT",]', "", '["BTC/USDT"]'):
            response = shared().get("/api/v3/exchangeInfo", symbols=text)
            self.assertError(response, -1100, SYMBOLS_MSG)

    def test_symbols_duplicate(self) -> None:
        response = shared().get("/api/v3/exchangeInfo", symbols='["BTCUSDT","ETHBTC","BTCUSDT"]')
        self.assertError(response, -1151, "Symbol is present multiple times in the list.")

    def test_unknown_symbol(self) -> None:
        """A well-formed symbol that is not listed (alone or in a list) is -1121."""
        self.assertError(shared().get("/api/v3/exchangeInfo", symbol="BTCEUR"), -1121, "Invalid symbol.")
        self.assertError(
            shared().get("/api/v3/exchangeInfo", symbols='["BTCUSDT","NOPE"]'), -1121, "Invalid symbol."
        )

    def test_lower_case_symbol(self) -> None:
        self.assertError(shared().get("/api/v3/exchangeInfo", symbol="btcusdt"), -1100, SYMBOL_MSG)

    def test_permissions(self) -> None:
        """C{permissions}, single or a JSON list, filters to SPOT/MARGIN symbols: all of them here."""
        self.assertEqual(self.names(permissions="SPOT"), DEFAULT_SYMBOLS)
        self.assertEqual(self.names(permissions='["MARGIN","LEVERAGED"]'), DEFAULT_SYMBOLS)

    def test_permissions_invalid(self) -> None:
        self.assertError(
            shared().get("/api/v3/exchangeInfo", permissions="FUTURES"),
            -1130,
            "Data sent for parameter 'permissions' is not valid.",
        )
        for text in ("[", '["SPOT"', "[1]", '[["SPOT"]]'):
            self.assertError(
                shared().get("/api/v3/exchangeInfo", permissions=text),
                -1135,
                "JSON sent for parameter 'permissions' is not valid",
            )

    def test_permissions_deeply_nested(self) -> None:
        """Deeply nested JSON in C{permissions} is invalid JSON (-1135), not a crash."""
        # Regression: _permissions catches ValueError only; json.loads raises RecursionError
        # for "[[[[...": permissions="[" * 5000 answers HTTP 500
        # {"code":-1000,"msg":"An unknown error occurred while processing the request."}
        # (and logs a traceback) instead of 400 -1135.
        response = shared().get("/api/v3/exchangeInfo", permissions="[" * 5000)
        self.assertError(response, -1135, "JSON sent for parameter 'permissions' is not valid")

    def test_symbol_status(self) -> None:
        """Every symbol is TRADING: TRADING lists all, HALT/BREAK/CANCEL_ONLY none."""
        self.assertEqual(self.names(symbolStatus="TRADING"), DEFAULT_SYMBOLS)
        for status in ("HALT", "BREAK", "CANCEL_ONLY"):
            self.assertEqual(self.names(symbolStatus=status), [], status)

    def test_symbol_status_invalid(self) -> None:
        for status in ("trading", "OPEN", ""):
            response = shared().get("/api/v3/exchangeInfo", symbolStatus=status)
            self.assertError(response, -1122, "Invalid symbolStatus.")

    def test_show_permission_sets(self) -> None:
        """C{permissionSets} is populated by default and empty (but present) when false."""
        for params in ({}, {"showPermissionSets": "true"}):
            for entry in self.info(**params)["symbols"]:
                self.assertEqual(len(entry["permissionSets"]), 1)
                self.assertIn("SPOT", entry["permissionSets"][0])
        for entry in self.info(showPermissionSets="false")["symbols"]:
            self.assertEqual(entry["permissionSets"], [])
            self.assertEqual(list(entry), SYMBOL_KEYS)
        self.assertEqual(
            self.names(showPermissionSets="false", symbol="BTCUSDT"), ["BTCUSDT"]
        )
        self.assertError(
            shared().get("/api/v3/exchangeInfo", showPermissionSets="yes"),
            -1130,
            "Data sent for parameter 'showPermissionSets' is not valid.",
        )

    def test_combination(self) -> None:
        """symbol, symbols, permissions and symbolStatus exclude one another (-1128)."""
        cases = [
            ({"symbol": "BTCUSDT", "symbols": '["ETHBTC"]'}, "symbol", "symbols"),
            ({"symbol": "BTCUSDT", "symbolStatus": "TRADING"}, "symbol", "symbolStatus"),
            ({"symbols": '["ETHBTC"]', "permissions": "SPOT"}, "symbols", "permissions"),
            ({"permissions": "SPOT", "symbolStatus": "HALT"}, "permissions", "symbolStatus"),
        ]
        for params, first, second in cases:
            self.assertError(
                shared().get("/api/v3/exchangeInfo", **params),
                -1128,
                f"Combination of optional parameters invalid. Recommendation: '{first}' and "
                f"'{second}' cannot both be sent.",
            )

    def test_unknown_parameter(self) -> None:
        self.assertError(
            shared().get("/api/v3/exchangeInfo", foo="1"),
            -1104,
            "Not all sent parameters were read; read '0' parameter(s) but was sent '1'.",
        )
        self.assertError(
            shared().get("/api/v3/exchangeInfo", symbol="BTCUSDT", foo="1"),
            -1104,
            "Not all sent parameters were read; read '1' parameter(s) but was sent '2'.",
        )

    def test_bare_key(self) -> None:
        """C{exchangeInfo?BTCUSDT} (a key without C{=}) counts as an unread parameter."""
        # Regression: Twisted's parse_qs drops query keys without "=", so the venue never sees
        # them: GET /api/v3/exchangeInfo?BTCUSDT answers 200 with every symbol. Binance
        # answers 400 -1104 "read '0' parameter(s) but was sent '1'." (research notes,
        # sieblyio/binance#200; the same for ticker/price?BTCUSDT, stored doc id
        # 13807043837). Likewise /api/v3/time?? answers 200 instead of -1101.
        response = raw_request(shared(), "/api/v3/exchangeInfo?BTCUSDT")
        self.assertError(
            response, -1104, "Not all sent parameters were read; read '0' parameter(s) but was sent '1'."
        )

    def test_too_many_parameters(self) -> None:
        params = [("symbol", "BTCUSDT"), ("symbols", "[]"), ("permissions", "SPOT"),
                  ("symbolStatus", "TRADING"), ("showPermissionSets", "true"), ("foo", "1")]
        self.assertError(
            shared().request("GET", "/api/v3/exchangeInfo", params),
            -1101,
            "Too many parameters; expected '5' and received '6'.",
        )

    def test_duplicate_parameter(self) -> None:
        params = [("symbol", "BTCUSDT"), ("symbol", "BTCUSDT")]
        response = shared().request("GET", "/api/v3/exchangeInfo", params)
        self.assertError(response, -1101, "Duplicate values for a parameter detected.")

    def test_derivatives(self) -> None:
        """C{/fapi/v1/exchangeInfo} and C{/dapi/v1/exchangeInfo} list no symbols (ccxt loads)."""
        for path in ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"):
            response = shared().get(path)
            self.assertEqual(response.status, 200, path)
            self.assertEqual(response.headers["content-type"], JSON_TYPE)
            info = response.json()
            self.assertEqual(info["symbols"], [], path)
            self.assertEqual(info["timezone"], "UTC")
            self.assertEqual(info["serverTime"], NOW_MS)
            self.assertIsInstance(info["rateLimits"], list)
        self.assertEqual(shared().get("/fapi/v1/exchangeInfo").json()["assets"], [])


# ---------------------------------------------------------------------------
# klines: rows, intervals, windows


class KlinesRowTests(BinanceTestCase):
    def test_row_layout(self) -> None:
        """12 fields: ints at 0/6/8, 8-decimal strings elsewhere, "0" last (R5)."""
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=50))
        self.assertEqual(len(rows), 50)
        for row in rows:
            self.assertEqual(row[6], row[0] + MINUTE_MS - 1)

    def test_candle_invariants(self) -> None:
        """high/low bound open and close; taker volumes within the volumes."""
        for interval in ("1m", "1h", "1d"):
            for symbol in DEFAULT_SYMBOLS:
                rows = self.rows(klines(shared(), symbol=symbol, interval=interval, limit=100))
                for row in rows:
                    o, h, low, c, v, qv, tb, tq = (Decimal(row[i]) for i in (1, 2, 3, 4, 5, 7, 9, 10))
                    self.assertGreaterEqual(h, max(o, c), row)
                    self.assertLessEqual(low, min(o, c), row)
                    self.assertGreater(low, 0, row)
                    self.assertLessEqual(tb, v, row)
                    self.assertLessEqual(tq, qv, row)

    def test_continuity(self) -> None:
        """Each candle opens at the previous close, across days too."""
        start = utc_ms(2024, 2, 28, 23, 30)
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, limit=60))
        for before, after in zip(rows, rows[1:]):
            self.assertEqual(after[1], before[4])
        days = self.rows(klines(shared(), symbol="ETHUSDT", interval="1d", limit=30))
        for before, after in zip(days, days[1:]):
            self.assertEqual(after[1], before[4])

    def test_price_decimals_follow_tick(self) -> None:
        """Prices are multiples of the tick, volumes of the lot (trailing zeros)."""
        markets = shared().server.markets
        for symbol in DEFAULT_SYMBOLS:
            market = markets[symbol]
            rows = self.rows(klines(shared(), symbol=symbol, interval="1h", limit=48))
            for row in rows:
                for i in (1, 2, 3, 4):
                    self.assertTrue(row[i].endswith("0" * (8 - market.price_decimals)), (symbol, row[i]))
                for i in (5, 9):
                    self.assertTrue(row[i].endswith("0" * (8 - market.qty_decimals)), (symbol, row[i]))

    def test_ui_klines_same_rows(self) -> None:
        """C{/api/v3/uiKlines} answers exactly the bytes of C{/api/v3/klines}."""
        cases = [
            {"symbol": "BTCUSDT", "interval": "1m"},
            {"symbol": "ETHBTC", "interval": "1d", "timeZone": "8", "limit": "30"},
            {"symbol": "BTCUSDT", "interval": "1h", "startTime": "1700000000000", "limit": "3"},
            {"symbol": "btcusdt", "interval": "1m"},
            {"symbol": "BTCUSDT", "interval": "1D"},
        ]
        for params in cases:
            a = shared().get("/api/v3/klines", **params)
            b = shared().get("/api/v3/uiKlines", **params)
            self.assertEqual((a.status, a.body), (b.status, b.body), params)
        a = shared().get("/api/v3/klines", headers=MICRO, symbol="BTCUSDT", interval="5m", limit=3)
        b = shared().get("/api/v3/uiKlines", headers=MICRO, symbol="BTCUSDT", interval="5m", limit=3)
        self.assertEqual(a.body, b.body)

    def test_all_intervals(self) -> None:
        """Every interval is served; rows are consecutive; closeTime = next open - 1."""
        for name, length in INTERVALS.items():
            rows = self.rows(klines(shared(), symbol="BTCUSDT", interval=name, limit=20))
            self.assertEqual(len(rows), 20, name)
            for before, after in zip(rows, rows[1:]):
                self.assertEqual(before[6], after[0] - 1, name)
                if length is not None:
                    self.assertEqual(after[0] - before[0], length, name)
            if length is not None:
                self.assertEqual(rows[-1][0] % length if name != "1w" else 0, 0, name)
                self.assertEqual(rows[-1][6], rows[-1][0] + length - 1, name)
            # the last one is live: it contains now
            self.assertLessEqual(rows[-1][0], NOW_MS, name)
            self.assertGreater(rows[-1][6], NOW_MS, name)

    def test_intervals_case_sensitive(self) -> None:
        """C{1M} is a month and C{1m} a minute; C{1D}, C{1H}... are -1120 (R2, E2)."""
        minute = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=1))[0]
        month = self.rows(klines(shared(), symbol="BTCUSDT", interval="1M", limit=1))[0]
        self.assertEqual(minute[6] - minute[0], MINUTE_MS - 1)
        self.assertEqual(month[0], utc_ms(2026, 11, 1))
        self.assertEqual(month[6], utc_ms(2026, 12, 1) - 1)
        for bad in ("1D", "1H", "1W", "1S", "1mo", "60", "1min", "2d", "2M", " 1m", "1m ", "M"):
            self.assertError(klines(shared(), symbol="BTCUSDT", interval=bad), -1120, "Invalid interval.")

    def test_week_opens_monday(self) -> None:
        """1w candles open on Monday 00:00 UTC and last 7 days."""
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1w", limit=60))
        for row in rows:
            opened = datetime.fromtimestamp(row[0] / 1000, tz=timezone.utc)
            self.assertEqual((opened.weekday(), opened.hour, opened.minute), (0, 0, 0), opened)
            self.assertEqual(row[6], row[0] + WEEK_MS - 1)
        # the official example: 1499040000000 (Mon 2017-07-03) .. 1499644799999
        self.assertEqual(rows[-1][0] % WEEK_MS, 1499040000000 % WEEK_MS)

    def test_month_calendar(self) -> None:
        """1M candles open on the 1st; February 2024 (leap year) has 29 days."""
        rows = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1M", startTime=utc_ms(2023, 11, 1), limit=6)
        )
        expected = [utc_ms(2023, 11, 1), utc_ms(2023, 12, 1), utc_ms(2024, 1, 1), utc_ms(2024, 2, 1),
                    utc_ms(2024, 3, 1), utc_ms(2024, 4, 1)]
        self.assertEqual(self.opens(rows), expected)
        for row, following in zip(rows, expected[1:] + [utc_ms(2024, 5, 1)]):
            self.assertEqual(row[6], following - 1)
        february = rows[3]
        self.assertEqual(february[6] + 1 - february[0], 29 * DAY_MS)
        self.assertEqual(rows[1][6] + 1 - rows[1][0], 31 * DAY_MS)
        self.assertEqual(rows[0][6] + 1 - rows[0][0], 30 * DAY_MS)
        # 2023 is not a leap year
        feb_2023 = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1M", startTime=utc_ms(2023, 2, 1), limit=1)
        )[0]
        self.assertEqual(feb_2023[6] + 1 - feb_2023[0], 28 * DAY_MS)

    def test_three_days_epoch_aligned(self) -> None:
        """3d candles open on days divisible by three since the epoch (mockex's choice)."""
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="3d", limit=10))
        for row in rows:
            self.assertEqual(row[0] % (3 * DAY_MS), 0)


class KlinesWindowTests(BinanceTestCase):
    """R4 and R8: which candles a (startTime, endTime, limit) query selects."""

    def test_no_bounds(self) -> None:
        """The most recent C{limit} candles, the last one the live candle."""
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=5))
        current = NOW_MS // MINUTE_MS * MINUTE_MS
        self.assertEqual(self.opens(rows), [current - i * MINUTE_MS for i in range(4, -1, -1)])

    def test_default_limit(self) -> None:
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m"))
        self.assertEqual(len(rows), 500)
        self.assertEqual(rows[-1][0], NOW_MS // MINUTE_MS * MINUTE_MS)

    def test_max_limit(self) -> None:
        self.assertEqual(len(self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=1000))), 1000)

    def test_limit_over_max_clamps(self) -> None:
        """By default a limit above 1000 is clamped to 1000 (E6, configurable)."""
        for limit in ("1001", "1500", "99999999999999999999"):
            rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=limit))
            self.assertEqual(len(rows), 1000, limit)

    def test_limit_over_max_error_option(self) -> None:
        server = MemoryServer(now_ms=NOW_MS, options={"limit_over_max": "error"})
        self.assertError(
            klines(server, symbol="BTCUSDT", interval="1m", limit=1001),
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        )
        self.assertEqual(len(self.rows(klines(server, symbol="BTCUSDT", interval="1m", limit=1000))), 1000)

    def test_limit_zero(self) -> None:
        for limit in ("0", "00"):
            self.assertError(
                klines(shared(), symbol="BTCUSDT", interval="1m", limit=limit),
                -1130,
                "Data sent for parameter 'limit' is not valid.",
            )

    def test_start_time_unaligned(self) -> None:
        """Only C{startTime}: the oldest C{limit} candles opening at or after it."""
        start = 1_784_809_685_125  # as ccxt's paginator sends
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, limit=3))
        first = -(-start // MINUTE_MS) * MINUTE_MS
        self.assertEqual(self.opens(rows), [first, first + MINUTE_MS, first + 2 * MINUTE_MS])
        self.assertGreater(first, start)
        hours = self.rows(klines(shared(), symbol="BTCUSDT", interval="1h", startTime=start, limit=2))
        self.assertEqual(hours[0][0], -(-start // HOUR_MS) * HOUR_MS)

    def test_start_time_aligned(self) -> None:
        start = utc_ms(2024, 2, 29, 12)
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1h", startTime=start, limit=3))
        self.assertEqual(self.opens(rows), [start, start + HOUR_MS, start + 2 * HOUR_MS])

    def test_start_time_reaches_now(self) -> None:
        """From a start near now, rows stop at the live candle."""
        start = NOW_MS - 3 * MINUTE_MS
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, limit=10))
        self.assertEqual(len(rows), 3)
        self.assertEqual(rows[-1][0], NOW_MS // MINUTE_MS * MINUTE_MS)

    def test_start_time_in_future(self) -> None:
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=NOW_MS + HOUR_MS))
        self.assertEqual(rows, [])

    def test_end_time_only(self) -> None:
        """Only C{endTime}: the most recent C{limit} candles opening at or before it."""
        end = utc_ms(2025, 3, 1, 10, 7) + 42_000
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", endTime=end, limit=3))
        last = utc_ms(2025, 3, 1, 10, 7)
        self.assertEqual(self.opens(rows), [last - 2 * MINUTE_MS, last - MINUTE_MS, last])
        exact = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", endTime=last, limit=1))
        self.assertEqual(self.opens(exact), [last])
        before = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", endTime=last - 1, limit=1))
        self.assertEqual(self.opens(before), [last - MINUTE_MS])

    def test_end_time_in_future(self) -> None:
        """An C{endTime} after now selects the same candles as no bounds."""
        a = klines(shared(), symbol="BTCUSDT", interval="1m", limit=5)
        b = klines(shared(), symbol="BTCUSDT", interval="1m", limit=5, endTime=NOW_MS + DAY_MS)
        self.assertEqual(a.body, b.body)

    def test_both_bounds(self) -> None:
        """Both: from the start, never past the end, at most C{limit}."""
        start = utc_ms(2023, 6, 1, 0, 0) + 1
        end = utc_ms(2023, 6, 1, 0, 10)
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, endTime=end))
        self.assertEqual(self.opens(rows), [utc_ms(2023, 6, 1, 0, m) for m in range(1, 11)])
        limited = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, endTime=end, limit=4)
        )
        self.assertEqual(self.opens(limited), [utc_ms(2023, 6, 1, 0, m) for m in range(1, 5)])
        same = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=end, endTime=end))
        self.assertEqual(self.opens(same), [end])

    def test_both_bounds_default_limit(self) -> None:
        """With both bounds and no limit the default 500 still applies."""
        start = utc_ms(2023, 6, 1)
        end = start + DAY_MS
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, endTime=end))
        self.assertEqual(len(rows), 500)
        self.assertEqual(rows[0][0], start)

    def test_start_after_end(self) -> None:
        """startTime > endTime is an empty list, not an error (spot)."""
        start = utc_ms(2023, 6, 1, 1)
        end = start - 1
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, endTime=end))
        self.assertEqual(rows, [])
        # inside one candle: no candle opens in [start, end]
        rows = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1h", startTime=start + 1, endTime=start + 2)
        )
        self.assertEqual(rows, [])

    def test_first_candle(self) -> None:
        """C{startTime=0&limit=1} is the market's first candle (python-binance's probe)."""
        expected = {
            "1m": BTCUSDT_FIRST_MINUTE,
            "1h": BTCUSDT_FIRST_MINUTE,
            "4h": BTCUSDT_FIRST_MINUTE,
            "1d": utc_ms(2017, 8, 17),
            "1w": utc_ms(2017, 8, 14),
            "1M": utc_ms(2017, 8, 1),
        }
        for interval, first in expected.items():
            rows = self.rows(klines(shared(), symbol="BTCUSDT", interval=interval, startTime=0, limit=1))
            self.assertEqual(self.opens(rows), [first], interval)
        probe = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1m", startTime=0, endTime=NOW_MS, limit=1)
        )
        self.assertEqual(self.opens(probe), [BTCUSDT_FIRST_MINUTE])
        two = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=0, limit=2))
        self.assertEqual(self.opens(two), [BTCUSDT_FIRST_MINUTE, BTCUSDT_FIRST_MINUTE + MINUTE_MS])

    def test_first_candle_other_market(self) -> None:
        """SOLUSDT was listed 2020-08-11 06:00 UTC."""
        rows = self.rows(klines(shared(), symbol="SOLUSDT", interval="1m", startTime=0, limit=1))
        self.assertEqual(self.opens(rows), [utc_ms(2020, 8, 11, 6)])

    def test_before_listing(self) -> None:
        """Nothing opens before the listing: an endTime before it is an empty list."""
        rows = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1m", endTime=BTCUSDT_FIRST_MINUTE - 1)
        )
        self.assertEqual(rows, [])
        rows = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1m",
                   endTime=BTCUSDT_FIRST_MINUTE + MINUTE_MS, limit=5)
        )
        self.assertEqual(self.opens(rows), [BTCUSDT_FIRST_MINUTE, BTCUSDT_FIRST_MINUTE + MINUTE_MS])

    def test_now_before_listing(self) -> None:
        """A server whose clock is before the listing has no candle of that market yet."""
        # Regression: with now = 2017-08-17 00:00 UTC (four hours before BTCUSDT's listing),
        # 1d klines answer one candle (open 1502928000000 UTC; at timeZone=-12:00 open
        # 1502884800000) with zero volume whose price is the listing's first price: the
        # candle that will contain the listing is served because it has opened, although
        # nothing of the market exists yet. 1m correctly answers [].
        server = MemoryServer(now_ms=utc_ms(2017, 8, 17))
        self.assertEqual(self.rows(klines(server, symbol="BTCUSDT", interval="1m")), [])
        for params in ({}, {"timeZone": "-12:00"}, {"startTime": "0"}):
            rows = self.rows(klines(server, symbol="BTCUSDT", interval="1d", **params))
            self.assertEqual(rows, [], params)


class KlinesTimeZoneTests(BinanceTestCase):
    """R3: C{timeZone} moves interval boundaries, never timestamps."""

    def test_daily_at_local_midnight(self) -> None:
        """1d at timeZone=8 opens at 16:00 UTC (local midnight)."""
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1d", timeZone="8", limit=10))
        for row in rows:
            self.assertEqual(row[0] % DAY_MS, DAY_MS - 8 * HOUR_MS)
            self.assertEqual(row[6], row[0] + DAY_MS - 1)
        self.assertLessEqual(rows[-1][0], NOW_MS)
        self.assertGreater(rows[-1][6], NOW_MS)

    def test_accepted_forms(self) -> None:
        """Hours or hh:mm, signed or not, within [-12:00, +14:00]."""
        forms = {
            "8": 8 * 60, "+8": 8 * 60, "08": 8 * 60, "+08:00": 8 * 60, "08:00": 8 * 60,
            "-1:00": -60, "-1": -60, "05:45": 5 * 60 + 45, "0": 0, "-0": 0, "+00:00": 0,
            "-12:00": -12 * 60, "14:00": 14 * 60, "+14": 14 * 60, "-3:30": -(3 * 60 + 30),
        }
        for text, minutes in forms.items():
            rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1d", timeZone=text, limit=3))
            for row in rows:
                self.assertEqual(row[0] % DAY_MS, (-minutes * MINUTE_MS) % DAY_MS, text)

    def test_rejected_forms(self) -> None:
        """Out of range or malformed is -1130."""
        for text in ("15", "-13", "14:01", "+14:30", "-12:01", "garbage", "1:60", "8:0", "800",
                     "8.5", "UTC", "+", "", "--1", "8h"):
            self.assertError(
                klines(shared(), symbol="BTCUSDT", interval="1d", timeZone=text),
                -1130,
                "Data sent for parameter 'timeZone' is not valid.",
            )

    def test_non_ascii_digits(self) -> None:
        """Only ASCII digits make a time zone."""
        # Regression: _TZ_RE uses \d, which in Python matches any Unicode digit, and int()
        # accepts them: timeZone="٨" (ARABIC-INDIC DIGIT EIGHT) or "８" (full-width)
        # is taken as +8 and answers 200. Binance's (Java) \d is ASCII-only; expected
        # -1130 "Data sent for parameter 'timeZone' is not valid.".
        for text in ("\u0668", "\uff18", "+\u0660\u0668:00"):
            self.assertError(
                klines(shared(), symbol="BTCUSDT", interval="1d", timeZone=text),
                -1130,
                "Data sent for parameter 'timeZone' is not valid.",
            )

    def test_minute_candles_unchanged(self) -> None:
        """A whole-hour (or quarter-hour) timeZone does not change 1m candles."""
        start = utc_ms(2022, 5, 5, 5, 5)
        plain = klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, limit=30)
        for tz in ("8", "-1:00", "05:45", "0"):
            shifted = klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, limit=30,
                             timeZone=tz)
            self.assertEqual(plain.body, shifted.body, tz)
        live = klines(shared(), symbol="BTCUSDT", interval="1m", limit=3)
        live_8 = klines(shared(), symbol="BTCUSDT", interval="1m", limit=3, timeZone="8")
        self.assertEqual(live.body, live_8.body)
        hours = klines(shared(), symbol="BTCUSDT", interval="1h", startTime=start, limit=30)
        hours_8 = klines(shared(), symbol="BTCUSDT", interval="1h", startTime=start, limit=30, timeZone="8")
        self.assertEqual(hours.body, hours_8.body)

    def test_start_time_stays_utc(self) -> None:
        """startTime is UTC whatever the time zone: 1d+8 from 2024-03-01 00:00 UTC."""
        start = utc_ms(2024, 3, 1)
        rows = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1d", timeZone="8", startTime=start, limit=2)
        )
        self.assertEqual(self.opens(rows), [utc_ms(2024, 3, 1, 16), utc_ms(2024, 3, 2, 16)])

    def test_month_and_week_shift(self) -> None:
        """1M and 1w at +8 open at local midnight of the 1st / of Monday."""
        months = self.rows(
            klines(shared(), symbol="BTCUSDT", interval="1M", timeZone="8",
                   startTime=utc_ms(2024, 1, 1), limit=3)
        )
        self.assertEqual(
            self.opens(months),
            [utc_ms(2024, 1, 31, 16), utc_ms(2024, 2, 29, 16), utc_ms(2024, 3, 31, 16)],
        )
        weeks = self.rows(klines(shared(), symbol="BTCUSDT", interval="1w", timeZone="8", limit=3))
        for row in weeks:
            local = datetime.fromtimestamp(row[0] / 1000 + 8 * 3600, tz=timezone.utc)
            self.assertEqual((local.weekday(), local.hour), (0, 0))


class KlinesMicrosecondTests(BinanceTestCase):
    """R6: C{X-MBX-TIME-UNIT: MICROSECOND} switches timestamps, in and out."""

    def test_times_in_microseconds(self) -> None:
        ms = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", limit=5))
        for unit in ("MICROSECOND", "microsecond"):
            us = self.rows(klines(shared(), headers={"X-MBX-TIME-UNIT": unit}, symbol="BTCUSDT",
                                  interval="1m", limit=5))
            self.assertEqual(len(us), 5)
            for a, b in zip(ms, us):
                self.assertEqual(b[0], a[0] * 1000)
                self.assertEqual(b[6], (a[0] + MINUTE_MS) * 1000 - 1)
                self.assertEqual(a[1:6] + a[7:], b[1:6] + b[7:])

    def test_month_close_in_microseconds(self) -> None:
        rows = self.rows(klines(shared(), headers=MICRO, symbol="BTCUSDT", interval="1M",
                                startTime=utc_ms(2024, 2, 1) * 1000, limit=1))
        self.assertEqual(rows[0][0], utc_ms(2024, 2, 1) * 1000)
        self.assertEqual(rows[0][6], utc_ms(2024, 3, 1) * 1000 - 1)

    def test_milliseconds_explicit(self) -> None:
        plain = klines(shared(), symbol="BTCUSDT", interval="1m", limit=5)
        for unit in ("MILLISECOND", "millisecond"):
            response = klines(shared(), headers={"X-MBX-TIME-UNIT": unit}, symbol="BTCUSDT",
                              interval="1m", limit=5)
            self.assertEqual(response.body, plain.body, unit)

    def test_start_and_end_in_microseconds(self) -> None:
        """startTime/endTime are read as µs."""
        start = utc_ms(2024, 1, 2, 3, 4)
        rows = self.rows(klines(shared(), headers=MICRO, symbol="BTCUSDT", interval="1m",
                                startTime=start * 1000, limit=2))
        self.assertEqual(self.opens(rows), [start * 1000, (start + MINUTE_MS) * 1000])
        rows = self.rows(klines(shared(), headers=MICRO, symbol="BTCUSDT", interval="1m",
                                endTime=start * 1000 - 1, limit=1))
        self.assertEqual(self.opens(rows), [(start - MINUTE_MS) * 1000])
        rows = self.rows(klines(shared(), headers=MICRO, symbol="BTCUSDT", interval="1m",
                                endTime=start * 1000, limit=1))
        self.assertEqual(self.opens(rows), [start * 1000])
        # a millisecond value read as µs is 1970: nothing before the listing
        rows = self.rows(klines(shared(), headers=MICRO, symbol="BTCUSDT", interval="1m",
                                endTime=start, limit=1))
        self.assertEqual(rows, [])

    def test_unaligned_start_in_microseconds(self) -> None:
        """A µs startTime one µs after an open excludes that candle (openTime >= startTime)."""
        # Regression: klines() converts startTime with floor division (start // 1000), so
        # startTime=1704164640000001 µs still returns the candle opening at
        # 1704164640000000 µs, which is before startTime. startTime needs ceiling
        # division (endTime's floor is right).
        start = utc_ms(2024, 1, 2, 3, 4)
        rows = self.rows(klines(shared(), headers=MICRO, symbol="BTCUSDT", interval="1m",
                                startTime=start * 1000 + 1, limit=2))
        self.assertEqual(self.opens(rows), [(start + MINUTE_MS) * 1000, (start + 2 * MINUTE_MS) * 1000])

    def test_bad_unit(self) -> None:
        for unit in ("Microsecond", "NANOSECOND", "SECONDS"):
            response = klines(shared(), headers={"X-MBX-TIME-UNIT": unit}, symbol="BTCUSDT", interval="1m")
            self.assertError(response, -1194, TIME_UNIT_MSG)


# ---------------------------------------------------------------------------
# klines: consistency and determinism


class KlinesConsistencyTests(BinanceTestCase):
    def test_live_candle_then_closed(self) -> None:
        """
        The live candle is partial; once closed, its open is unchanged and its
        range, volume and trade count have only grown.
        """
        server = MemoryServer(now_ms=NOW_MS)
        partial = self.rows(klines(server, symbol="BTCUSDT", interval="1m", limit=1))[0]
        self.assertEqual(partial[0], NOW_MS // MINUTE_MS * MINUTE_MS)
        self.assertGreater(Decimal(partial[5]), 0)
        previous = partial
        for _ in range(4):
            server.clock.advance(7)
            now = self.rows(klines(server, symbol="BTCUSDT", interval="1m", startTime=partial[0], limit=1))[0]
            self.assertEqual(now[1], partial[1])
            self.assertGreaterEqual(Decimal(now[2]), Decimal(previous[2]))
            self.assertLessEqual(Decimal(now[3]), Decimal(previous[3]))
            self.assertGreaterEqual(Decimal(now[5]), Decimal(previous[5]))
            self.assertGreaterEqual(now[8], previous[8])
            previous = now
        server.clock.advance(60)
        closed = self.rows(klines(server, symbol="BTCUSDT", interval="1m", startTime=partial[0], limit=1))[0]
        self.assertEqual(closed[0], partial[0])
        self.assertEqual(closed[6], partial[6])
        self.assertEqual(closed[1], partial[1])
        self.assertGreaterEqual(Decimal(closed[2]), Decimal(partial[2]))
        self.assertLessEqual(Decimal(closed[3]), Decimal(partial[3]))
        self.assertGreaterEqual(Decimal(closed[5]), Decimal(partial[5]))
        self.assertGreaterEqual(Decimal(closed[7]), Decimal(partial[7]))
        self.assertGreaterEqual(closed[8], partial[8])
        # the closed candle is what any server of the same seed says about it
        later = MemoryServer(now_ms=NOW_MS + 30 * DAY_MS)
        again = klines(later, symbol="BTCUSDT", interval="1m", startTime=partial[0], limit=1)
        self.assertEqual(again.json(), [closed])

    def test_candle_just_opened(self) -> None:
        """A candle opened less than a second ago: one price, no volume, no trades."""
        server = MemoryServer(now_ms=DEFAULT_NOW_MS)
        rows = self.rows(klines(server, symbol="BTCUSDT", interval="1m", limit=2))
        live = rows[-1]
        self.assertEqual(live[0], DEFAULT_NOW_MS)
        self.assertEqual(len({live[1], live[2], live[3], live[4]}), 1)
        self.assertEqual(live[1], rows[0][4])
        self.assertEqual((live[5], live[7], live[8]), ("0.00000000", "0.00000000", 0))

    def test_same_instant_same_bytes(self) -> None:
        server = MemoryServer(now_ms=NOW_MS)
        cases = ({"interval": "1m"}, {"interval": "1d", "timeZone": "8"}, {"interval": "1s", "limit": "1000"})
        for params in cases:
            a = klines(server, symbol="BTCUSDT", **params)
            b = klines(server, symbol="BTCUSDT", **params)
            self.assertEqual(a.body, b.body, params)

    def test_same_seed_any_order(self) -> None:
        """Two servers of one seed give identical bytes whatever the order of requests."""
        requests = [
            {"symbol": "BTCUSDT", "interval": "1m", "limit": "1000"},
            {"symbol": "BTCUSDT", "interval": "5m", "startTime": str(NOW_MS - 3 * DAY_MS), "limit": "300"},
            {"symbol": "BTCUSDT", "interval": "1h", "limit": "100"},
            {"symbol": "BTCUSDT", "interval": "1d", "timeZone": "8", "limit": "100"},
            {"symbol": "ETHUSDT", "interval": "1M"},
            {"symbol": "ETHBTC", "interval": "1w", "startTime": "0", "limit": "10"},
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": "1600000000000", "limit": "10"},
        ]
        a = MemoryServer(now_ms=NOW_MS, seed=7)
        b = MemoryServer(now_ms=NOW_MS, seed=7)
        forward = [klines(a, **params).body for params in requests]
        backward = [klines(b, **params).body for params in reversed(requests)][::-1]
        self.assertEqual(forward, backward)
        self.assertEqual(a.get("/api/v3/exchangeInfo").body, b.get("/api/v3/exchangeInfo").body)

    def test_different_seeds_differ(self) -> None:
        a = MemoryServer(now_ms=NOW_MS, seed=7)
        b = MemoryServer(now_ms=NOW_MS, seed=8)
        for params in ({"interval": "1m", "startTime": "1600000000000", "limit": "10"}, {"interval": "1d"}):
            self.assertNotEqual(
                klines(a, symbol="BTCUSDT", **params).body, klines(b, symbol="BTCUSDT", **params).body
            )

    def test_five_minutes_aggregate_minutes(self) -> None:
        """A 5m row is the aggregate of its five 1m rows."""
        starts = [utc_ms(2018, 3, 7, 13, 25), utc_ms(2020, 2, 29, 23, 55), utc_ms(2021, 5, 19, 7, 40),
                  utc_ms(2024, 2, 29, 0, 0), utc_ms(2025, 12, 31, 23, 50),
                  NOW_MS // HOUR_MS * HOUR_MS - HOUR_MS]
        for start in starts:
            fives = self.rows(klines(shared(), symbol="BTCUSDT", interval="5m", startTime=start, limit=3))
            ones = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=start, limit=15))
            self.assertEqual(len(fives), 3)
            for i, five in enumerate(fives):
                part = ones[5 * i: 5 * i + 5]
                self.assertEqual(part[0][0], five[0])
                self.assertEqual(as_candle(five), aggregate(part), (start, i))

    def test_day_at_plus_eight_aggregates_hours(self) -> None:
        """A 1d row at timeZone=8 is the aggregate of the 24 1h rows it spans."""
        for day in (utc_ms(2019, 6, 15), utc_ms(2024, 2, 29), utc_ms(2026, 1, 1)):
            response = klines(shared(), symbol="ETHUSDT", interval="1d", timeZone="8", startTime=day, limit=1)
            row = self.rows(response)[0]
            self.assertEqual(row[0], day + 16 * HOUR_MS)
            hours = self.rows(klines(shared(), symbol="ETHUSDT", interval="1h", startTime=row[0], limit=24))
            self.assertEqual(as_candle(row), aggregate(hours), day)

    def test_month_aggregates_days(self) -> None:
        """The 1M row of February 2024 is the aggregate of its 29 1d rows."""
        start = utc_ms(2024, 2, 1)
        month = self.rows(klines(shared(), symbol="BNBUSDT", interval="1M", startTime=start, limit=1))[0]
        days = self.rows(klines(shared(), symbol="BNBUSDT", interval="1d", startTime=start, limit=29))
        self.assertEqual(days[-1][6], utc_ms(2024, 3, 1) - 1)
        self.assertEqual(as_candle(month), aggregate(days))

    def test_week_aggregates_days(self) -> None:
        start = utc_ms(2023, 10, 2)  # a Monday
        week = self.rows(klines(shared(), symbol="XRPUSDT", interval="1w", startTime=start, limit=1))[0]
        days = self.rows(klines(shared(), symbol="XRPUSDT", interval="1d", startTime=start, limit=7))
        self.assertEqual(week[0], start)
        self.assertEqual(as_candle(week), aggregate(days))

    def test_live_hour_aggregates_minutes(self) -> None:
        """The live 1h candle is the aggregate of the minutes so far, the live one included."""
        hour = self.rows(klines(shared(), symbol="BTCUSDT", interval="1h", limit=1))[0]
        minutes = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime=hour[0], limit=60))
        self.assertEqual(minutes[-1][0], NOW_MS // MINUTE_MS * MINUTE_MS)
        expected = aggregate(minutes)
        actual = as_candle(hour)
        del expected["closeTime"], actual["closeTime"]
        self.assertEqual(actual, expected)


# ---------------------------------------------------------------------------
# klines: errors (E1-E6)


class KlinesErrorTests(BinanceTestCase):
    def test_unknown_symbol(self) -> None:
        """E1: a well-formed unknown symbol is 400 -1121 "Invalid symbol."."""
        for symbol in ("BTCUSD", "NOPE", "BTC-USDT", "A" * 50):
            response = klines(shared(), symbol=symbol, interval="1m")
            self.assertError(response, -1121, "Invalid symbol.")
            self.assertEqual(response.body, b'{"code":-1121,"msg":"Invalid symbol."}')

    def test_bad_interval(self) -> None:
        """E2."""
        response = klines(shared(), symbol="BTCUSDT", interval="1D")
        self.assertError(response, -1120, "Invalid interval.")
        self.assertEqual(response.body, b'{"code":-1120,"msg":"Invalid interval."}')

    def test_lower_case_symbol(self) -> None:
        """E3, with the 2025+ pattern text (JSON-escaped on the wire)."""
        response = klines(shared(), symbol="btcusdt", interval="1m")
        self.assertError(response, -1100, SYMBOL_MSG)
        self.assertEqual(
            response.json()["msg"],
            r"Illegal characters found in parameter 'symbol'; legal range is '^[\w\-._&&[^a-z]]{1,50}$'.",
        )
        self.assertIn(rb"'^[\\w\\-._&&[^a-z]]{1,50}$'", response.body)
        for symbol in ("BTC/USDT", "BTCUSDt", "BTC USDT", "A" * 51, "BTC\u00c9"):
            self.assertError(klines(shared(), symbol=symbol, interval="1m"), -1100, SYMBOL_MSG)

    def test_non_numeric_numbers(self) -> None:
        """E4: limit/startTime/endTime outside ^[0-9]{1,20}$ are -1100 naming the parameter."""
        for name in ("limit", "startTime", "endTime"):
            for value in ("abc", "-5", "1.5", "1e3", " 5", "", "1" * 21, str(10**30), "0x10", "+1"):
                self.assertError(
                    klines(shared(), symbol="BTCUSDT", interval="1m", **{name: value}),
                    -1100,
                    f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
                )

    def test_twenty_digits_accepted(self) -> None:
        """Twenty digits are a number (E4's pattern): a far-future start is just empty."""
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1m", startTime="9" * 20))
        self.assertEqual(rows, [])
        rows = self.rows(klines(shared(), symbol="BTCUSDT", interval="1M", endTime="9" * 20, limit=2))
        self.assertEqual(len(rows), 2)

    def test_missing_mandatory(self) -> None:
        """E5: missing or empty symbol/interval is -1102; symbol is checked first."""
        symbol = "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
        interval = "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."
        self.assertError(klines(shared()), -1102, symbol)
        self.assertError(klines(shared(), interval="1m"), -1102, symbol)
        self.assertError(klines(shared(), symbol="", interval="1m"), -1102, symbol)
        self.assertError(klines(shared(), symbol="BTCUSDT"), -1102, interval)
        self.assertError(klines(shared(), symbol="BTCUSDT", interval=""), -1102, interval)
        self.assertError(klines(shared(), symbol="btcusdt"), -1102, interval)
        self.assertError(klines(shared(), limit="5", foo="bar"), -1102, symbol)

    def test_duplicates(self) -> None:
        """-1101 for a repeated key, before any other check."""
        msg = "Duplicate values for a parameter detected."
        for params in (
            [("symbol", "BTCUSDT"), ("symbol", "BTCUSDT"), ("interval", "1m")],
            [("symbol", "BTCUSDT"), ("interval", "1m"), ("limit", "5"), ("limit", "6")],
            [("interval", "1m"), ("interval", "1m")],
            [("foo", ""), ("foo", "")],
        ):
            self.assertError(shared().request("GET", "/api/v3/klines", params), -1101, msg)

    def test_too_many_parameters(self) -> None:
        params = [("symbol", "BTCUSDT"), ("interval", "1m"), ("startTime", "0"), ("endTime", "1"),
                  ("limit", "5"), ("timeZone", "0"), ("foo", "1")]
        self.assertError(
            shared().request("GET", "/api/v3/klines", params),
            -1101,
            "Too many parameters; expected '6' and received '7'.",
        )

    def test_unknown_parameters(self) -> None:
        """-1104 counts the parameters read and the distinct parameters sent."""
        cases = [
            ({"symbol": "BTCUSDT", "interval": "1m", "fromId": "1"}, 2, 3),
            ({"symbol": "BTCUSDT", "interval": "1m", "limit": "5", "start_time": "1", "end_time": "2"}, 3, 5),
            ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "0", "endTime": "1", "limit": "5",
              "timezone": "8"}, 5, 6),
            # checked before the symbol lookup
            ({"symbol": "NOPE", "interval": "1m", "foo": "1"}, 2, 3),
        ]
        for params, read, sent in cases:
            self.assertError(
                klines(shared(), **params),
                -1104,
                f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'.",
            )

    def test_error_order(self) -> None:
        """Malformed values come before unread parameters, which come before lookups."""
        self.assertError(klines(shared(), symbol="btcusdt", interval="1D", foo="1"), -1100, SYMBOL_MSG)
        self.assertError(
            klines(shared(), symbol="BTCUSDT", interval="1D", foo="1"), -1120, "Invalid interval."
        )
        self.assertError(
            klines(shared(), symbol="BTCUSDT", interval="1m", limit="x", foo="1"),
            -1100,
            "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.",
        )
        self.assertError(
            klines(shared(), symbol="BTCUSDT", interval="1m", timeZone="99", foo="1"),
            -1130,
            "Data sent for parameter 'timeZone' is not valid.",
        )
        self.assertError(klines(shared(), symbol="NOPE", interval="1m", limit="0"), -1121, "Invalid symbol.")
        self.assertError(
            klines(shared(), headers={"X-MBX-TIME-UNIT": "x"}, symbol="btcusdt"), -1194, TIME_UNIT_MSG
        )


# ---------------------------------------------------------------------------
# HTTP level: 404, 405, headers


class HttpTests(BinanceTestCase):
    def test_unknown_path(self) -> None:
        """E10: an empty-bodied 404."""
        for path in ("/api/v3/nope", "/api/v1/klines", "/api/v3/klines/", "/",
                     "/sapi/v1/capital/config/getall", "/api/v3/KLINES", "/fapi/v1/klines"):
            response = shared().get(path)
            self.assertEqual((response.status, response.body), (404, b""), path)
            raw = raw_request(shared(), path)
            self.assertEqual((raw.status, raw.body, raw.headers["content-length"]), (404, b"", "0"), path)

    def test_wrong_method(self) -> None:
        """A known path with another method is an empty-bodied 405."""
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            for path in ("/api/v3/klines", "/api/v3/ping", "/api/v3/exchangeInfo"):
                response = shared().request(method, path, {"symbol": "BTCUSDT", "interval": "1m"})
                self.assertEqual((response.status, response.body), (405, b""), (method, path))
            raw = raw_request(shared(), "/api/v3/klines", method=method.encode())
            self.assertEqual((raw.status, raw.body, raw.headers["content-length"]), (405, b"", "0"), method)

    def test_content_type_and_length(self) -> None:
        """Every JSON answer says C{application/json;charset=UTF-8} and its exact length."""
        targets = [
            "/api/v3/ping", "/api/v3/time", "/api/v3/exchangeInfo", "/fapi/v1/exchangeInfo",
            "/dapi/v1/exchangeInfo",
            query("/api/v3/exchangeInfo", {"symbol": "nope"}),
            query("/api/v3/exchangeInfo", {"symbols": '["BTCUSDT","BTCUSDT"]'}),
            query("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m"}),
            query("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1M", "limit": "1000"}),
            query("/api/v3/uiKlines", {"symbol": "ETHBTC", "interval": "1d", "timeZone": "-1:00"}),
            query("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "startTime": "9" * 20}),
            query("/api/v3/klines", {"symbol": "NOPE", "interval": "1m"}),
            query("/api/v3/klines", {"symbol": "btcusdt", "interval": "1m"}),
            query("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1D"}),
            query("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": "0"}),
            query("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "foo": "é"}),
            query("/api/v3/klines", [("symbol", "BTCUSDT"), ("symbol", "ETHBTC")]),
            "/api/v3/klines",
        ]
        for target in targets:
            for headers in ((), ((b"X-MBX-TIME-UNIT", b"MICROSECOND"),), ((b"X-MBX-TIME-UNIT", b"bad"),)):
                response = raw_request(shared(), target, headers=headers)
                self.assertEqual(response.headers["content-type"], JSON_TYPE, (target, response))
                self.assertEqual(int(response.headers["content-length"]), len(response.body), target)
                self.assertEqual([n for n, _ in response.header_list].count("content-length"), 1)
                json.loads(response.body)
                self.assertIn(response.status, (200, 400), (target, response))

    def test_raw_matches_memory_client(self) -> None:
        """The raw helper and L{MemoryServer.get} see the same answer."""
        target = query("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": "10"})
        raw = raw_request(shared(), target)
        response = shared().get("/api/v3/klines", symbol="BTCUSDT", interval="1h", limit="10")
        self.assertEqual((raw.status, raw.body), (response.status, response.body))

    def test_double_slash_path(self) -> None:
        """A path with an empty segment is an ordinary unknown path, not a redirect."""
        # Regression: werkzeug's merge_slashes makes GET /api//v3/ping answer
        # "308 Permanent Redirect" with an HTML body and "Location: http://<host>/api/v3/ping"
        # (the only 3xx mockex can produce; clients following it reach the route).
        # Expected an empty-bodied 404 like every other unknown path (or the route's
        # own answer); never a werkzeug HTML page.
        response = raw_request(shared(), "/api//v3/ping")
        self.assertEqual((response.status, response.body), (404, b""))

    def test_plain_get_of_stream_path(self) -> None:
        """A plain (non-upgrade) GET of C{/ws} or C{/stream}, then a disconnect, is harmless."""
        # Regression: a plain GET /ws (no Upgrade header) is handed to the WebSocket protocol,
        # answered "200 OK" with Autobahn's HTML status page, and when that connection
        # closes StreamProtocol.onClose raises AttributeError: 'StreamProtocol' object has
        # no attribute '_keepalive' (mockex/ws.py line 97; onOpen never ran). On a real
        # reactor that is an unhandled error logged per such request.
        for path in ("/ws", "/stream", "/ws/btcusdt@kline_1m"):
            address = IPv4Address("TCP", "127.0.0.1", 50002)
            protocol = shared().server.factory.buildProtocol(address)
            transport = StringTransport(peerAddress=address, hostAddress=address)
            protocol.makeConnection(transport)
            protocol.dataReceived(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            self.assertNotEqual(transport.value(), b"")
            try:
                protocol.connectionLost(Failure(ConnectionDone()))
            except Exception as e:  # noqa: BLE001
                self.fail(f"closing a plain GET {path} raised {e!r}")


# ---------------------------------------------------------------------------
# Custom pairs


class CustomPairsTests(BinanceTestCase):
    def setUp(self) -> None:
        self.server = MemoryServer(now_ms=NOW_MS, pairs=[("BTCUSDT", "1m", 50000.0)])

    def test_only_configured_pair(self) -> None:
        info = self.server.get("/api/v3/exchangeInfo").json()
        self.assertEqual([s["symbol"] for s in info["symbols"]], ["BTCUSDT"])
        self.assertError(klines(self.server, symbol="ETHUSDT", interval="1m"), -1121, "Invalid symbol.")
        self.assertError(
            self.server.get("/api/v3/exchangeInfo", symbol="ETHUSDT"), -1121, "Invalid symbol."
        )

    def test_keeps_binance_tick(self) -> None:
        entry = self.server.get("/api/v3/exchangeInfo").json()["symbols"][0]
        filters = {f["filterType"]: f for f in entry["filters"]}
        self.assertEqual(filters["PRICE_FILTER"]["tickSize"], "0.01000000")
        self.assertEqual(filters["LOT_SIZE"]["stepSize"], "0.00001000")

    def test_prices_stay_near_configured(self) -> None:
        """Every daily candle 2018-2026 trades within 0.5x..2x of 50 000, on the tick."""
        start = utc_ms(2018, 1, 1)
        seen = 0
        while True:
            response = klines(self.server, symbol="BTCUSDT", interval="1d", startTime=start, limit=1000)
            rows = self.rows(response)
            if not rows:
                break
            for row in rows:
                for i in (1, 2, 3, 4):
                    self.assertTrue(25_000 <= Decimal(row[i]) <= 100_000, (row[0], row[i]))
                    self.assertTrue(row[i].endswith("000000"), row[i])
            seen += len(rows)
            start = rows[-1][0] + DAY_MS
        self.assertGreater(seen, 3200)
        # and intraday, on a few dates
        for day in (utc_ms(2018, 7, 1), utc_ms(2021, 11, 10), utc_ms(2024, 2, 29)):
            response = klines(self.server, symbol="BTCUSDT", interval="1m", startTime=day, limit=1000)
            for row in self.rows(response):
                for i in (1, 2, 3, 4):
                    self.assertTrue(25_000 <= Decimal(row[i]) <= 100_000, (row[0], row[i]))
                    self.assertTrue(row[i].endswith("000000"), row[i])

    def test_first_candle_is_listing(self) -> None:
        rows = self.rows(klines(self.server, symbol="BTCUSDT", interval="1m", startTime=0, limit=1))
        self.assertEqual(self.opens(rows), [BTCUSDT_FIRST_MINUTE])


# ---------------------------------------------------------------------------
# Properties: no input makes the server fail


KNOWN_NAMES = [
    "symbol", "interval", "startTime", "endTime", "limit", "timeZone", "symbols", "permissions",
    "symbolStatus", "showPermissionSets", "timeUnit", "fromId",
]
KNOWN_VALUES = [
    "BTCUSDT", "ETHBTC", "DOGEUSDT", "btcusdt", "BTCUSD", "1s", "1m", "1M", "1w", "3d", "1d", "1D",
    "8", "+08:00", "-12:00", "14:00", "05:45", "-1:00", "15", '["BTCUSDT"]', '["BTCUSDT","ETHBTC"]',
    '["BTCUSDT","BTCUSDT"]', "[]", "SPOT", '["MARGIN","LEVERAGED"]', "TRADING", "HALT", "true",
    "false", "1000", "1001", "0", str(NOW_MS), str(NOW_MS * 1000), "1502942400000", "9" * 20,
    "[" * 300, "",
]
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, -1, 10**19, 10**20 - 1, 10**20, 10**30, -(10**30), NOW_MS, NOW_MS * 1000]),
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
NAMES = st.one_of(st.sampled_from(KNOWN_NAMES), TEXT)
VALUES = st.one_of(st.sampled_from(KNOWN_VALUES), TEXT, NUMBERS.map(str))
PARAMS = st.lists(st.tuples(NAMES, VALUES), max_size=8)
#: header values a client can send: no control characters (HTTP forbids CR/LF).
TIME_UNITS = st.one_of(
    st.none(),
    st.sampled_from(
        ["MICROSECOND", "microsecond", "MILLISECOND", "millisecond", "Microsecond", "NANOSECOND", ""]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=15),
)


@st.composite
def klines_params(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Mostly-plausible klines queries: a valid symbol and interval half the time."""
    params: list[tuple[str, str]] = []
    if draw(st.booleans()):
        params.append(("symbol", draw(st.sampled_from(DEFAULT_SYMBOLS + ["btcusdt", "NOPE"]))))
    if draw(st.booleans()):
        params.append(("interval", draw(st.sampled_from(list(INTERVALS) + ["1D", ""]))))
    names = st.one_of(st.sampled_from(["startTime", "endTime", "limit", "timeZone"]), NAMES)
    params += draw(st.lists(st.tuples(names, VALUES), max_size=5))
    return draw(st.permutations(params))


#: Arbitrary paths, minus the WebSocket ones (see HttpTests.test_plain_get_of_stream_path)
#: and "//" (see HttpTests.test_double_slash_path).
PATHS = st.text(max_size=30).map(lambda t: "/" + quote(t, safe="/")).filter(
    lambda p: not p.startswith(("/ws", "/stream")) and "//" not in p
)


class NoServerErrorTests(BinanceTestCase):
    """
    For every endpoint, any query and any time unit get a 200 or a well-formed
    4xx, and the server answers normally afterwards.
    """

    def check(self, method: str, path: str, params: Sequence[tuple[str, str]], unit: str | None) -> None:
        server = shared()
        headers = [] if unit is None else [(b"X-MBX-TIME-UNIT", unit.encode("utf-8"))]
        response = raw_request(server, query(path, params), method=method.encode(), headers=headers)
        self.assertTrue(response.status == 200 or 400 <= response.status < 500, response)
        self.assertEqual(int(response.headers["content-length"]), len(response.body))
        if response.status in (404, 405):
            self.assertEqual(response.body, b"")
        else:
            self.assertEqual(response.headers["content-type"], JSON_TYPE)
            body = response.json()
            if response.status != 200:
                self.assertEqual(list(body), ["code", "msg"], body)
                self.assertIs(type(body["code"]), int)
                self.assertLess(body["code"], 0)
                self.assertIsInstance(body["msg"], str)
        after = klines(server, symbol="BTCUSDT", interval="1m", limit=3)
        self.assertEqual((after.status, after.body), (200, reference_rows()))

    @given(PARAMS, TIME_UNITS)
    def test_ping(self, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check("GET", "/api/v3/ping", params, unit)

    @given(PARAMS, TIME_UNITS)
    def test_time(self, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check("GET", "/api/v3/time", params, unit)

    @given(PARAMS, TIME_UNITS)
    def test_exchange_info(self, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check("GET", "/api/v3/exchangeInfo", params, unit)

    @given(klines_params(), TIME_UNITS)
    def test_klines(self, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check("GET", "/api/v3/klines", params, unit)

    @given(klines_params(), TIME_UNITS)
    def test_ui_klines(self, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check("GET", "/api/v3/uiKlines", params, unit)

    @given(PARAMS, TIME_UNITS)
    def test_fapi_exchange_info(self, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check("GET", "/fapi/v1/exchangeInfo", params, unit)

    @given(PARAMS, TIME_UNITS)
    def test_dapi_exchange_info(self, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check("GET", "/dapi/v1/exchangeInfo", params, unit)

    @given(PATHS, st.sampled_from(["GET", "GET", "POST", "PUT", "DELETE"]), PARAMS, TIME_UNITS)
    def test_any_path(self, path: str, method: str, params: list[tuple[str, str]], unit: str | None) -> None:
        self.check(method, path, params, unit)


@lru_cache(maxsize=None)
def reference_rows() -> bytes:
    """What a fresh server at L{NOW_MS} answers to a plain klines request."""
    return klines(MemoryServer(now_ms=NOW_MS), symbol="BTCUSDT", interval="1m", limit=3).body

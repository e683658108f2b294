"""
OKX v5 market data: ``/api/v5`` REST and the candle channels of ``/ws/v5/business``,
for spot (``okx_spot``, instType ``SPOT``) and USDT perpetual swaps (``okx_perpetual``,
instType ``SWAP``, ``BTC-USDT-SWAP``).

Sources, in order of authority:

* OKX's v5 API docs (www.okx.com/docs-v5: "Get candlesticks", "Get candlesticks
  history", "Get instruments", "Get system time", "WebSocket: Candlesticks channel",
  "Connect", "Error codes", "Rate limits"): ``instId``, ``bar`` (``1m 3m 5m 15m 30m 1H
  2H 4H`` and, in Hong Kong time, ``6H 12H 1D 2D 3D 1W 1M 3M``, or in UTC with the
  ``utc`` suffix), ``after`` (records older than the timestamp) and ``before`` (newer),
  ``limit`` (default 100, max 300); rows newest first as 9 strings ``[ts, o, h, l, c,
  vol, volCcy, volCcyQuote, confirm]`` (``vol`` in contracts for swaps, in base currency
  for spot; ``volCcy`` in base for swaps, quote for spot); ``/market/candles`` only
  reaches back 1440 candles, older ones are in ``/market/history-candles``; the envelope
  ``{"code":"0","msg":"","data":[..]}``; error codes with their HTTP status (50014
  "Parameter {0} can not be empty." and 51000 "Parameter {0} error" with 400; 51001 with
  200); WebSocket ``{"op":"subscribe","args":[{"channel":"candle1m","instId":..}]}``, the
  ``event: subscribe`` ack per argument with ``connId``, errors 60012 and 60018, the
  text ``ping`` answered by ``pong``, and "the connection will break automatically if
  ... data has not been pushed for more than 30 seconds"; candle channels on
  ``/ws/v5/business`` only (since 2023-06; ``/ws/v5/public`` answers them with 60018).
* ccxt 4.5 (okx.py, pro/okx.py): ``load_markets`` (``/public/instruments`` per
  ``instType``, reading ``instId``, ``instFamily``/``uly``, ``ctVal``, ``ctValCcy``,
  ``tickSz``, ``lotSz``, ``minSz``, ``listTime``, ``state``), ``fetch_time``,
  ``fetch_ohlcv`` (``before = since - 1``, ``after = since + limit * duration``,
  ``history-candles`` with ``limit=300`` beyond 1439 candles ago, ``utc`` bars from 6h
  up), ``watch_ohlcv`` (``/business``, ``candle<bar>`` without ``utc``), text pings.
* python-okx 0.4 (``okx.MarketData``, ``okx.PublicData``, ``okx.websocket``): the same
  REST calls (raises on a non-2xx status) and subscribe messages.
* Captured responses: ``{"code":"51001","msg":"Instrument ID, Instrument ID code, or
  Spread ID doesn't exist.","data":[]}`` with HTTP 200 (a client project's capture,
  2025); ``{"code":"51000","data":[],"msg":"Parameter bar error"}`` with 400.

Unverified choices (see docs/venues/okx_spot.md), switchable through ``options``:

* ``limit`` above the maximum is served as the maximum (``options["limit_over_max"] =
  "error"`` answers 51000); ``limit`` 0 or negative answers 51000.
* With both ``after`` and ``before``, or only ``before``, the newest ``limit`` records
  in range (only ``before``: the latest candles, as OKX's docs and client reports
  describe; ``options["before_only"] = "oldest"`` takes those just after it).
* ``history-candles`` allows 300 rows (ccxt 4.5 asks for 300) and includes the live
  candle; ``candles`` reaches back ``options["candles_depth"]`` (default 1440) candles.
* ``2D`` and ``3D`` candles are counted from the epoch in their time zone; ``1s`` is
  served on both endpoints and the WebSocket.
* Unknown paths: 404 ``{"msg":"Not Found","code":"404"}``; WebSocket error texts for
  malformed requests other than the documented examples.
* Rate limits (:data:`LIMITS`): fixed windows aligned on 2 s (OKX does not say whether
  its windows slide); a refused WebSocket upgrade is HTTP 429.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer

from mockex.fmt import plain
from mockex.interfaces import (
    BANNED,
    BUSY,
    RATE_LIMITED,
    DISCONNECTED,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    TIMEOUT,
    CandleUpdate,
    Feed,
    Handshake,
    IExchange,
    IStreamLink,
    IStreamSession,
    ITopic,
    IVenueContext,
    Keepalive,
    RestRequest,
    RestResponse,
    RestRoute,
    VenueError,
)
from mockex.intervals import CANONICAL, DAY_MS, HOUR_MS, Interval, days_from_civil
from mockex.market import QUOTE_DECIMALS, Candle, Market
from mockex.ratelimit import REQUESTS, SECOND, Limits, RestLimits, RestWindow, WsLimits
from mockex.venues.common import split_symbol
from mockex.venues.bybit import select

JSON = "application/json"
DEFAULT_LIMIT = 100
MAX_LIMIT = 300
CANDLES_DEPTH = 1440
HONG_KONG_MS = 8 * HOUR_MS

#: bar -> (interval, time-zone offset)
BARS: dict[str, tuple[Interval, int]] = {
    "1s": (CANONICAL["1s"], 0),
    "1m": (CANONICAL["1m"], 0),
    "3m": (CANONICAL["3m"], 0),
    "5m": (CANONICAL["5m"], 0),
    "15m": (CANONICAL["15m"], 0),
    "30m": (CANONICAL["30m"], 0),
    "1H": (CANONICAL["1h"], 0),
    "2H": (CANONICAL["2h"], 0),
    "4H": (CANONICAL["4h"], 0),
}
for _name, _interval in (
    ("6H", CANONICAL["6h"]), ("12H", CANONICAL["12h"]), ("1D", CANONICAL["1d"]),
    ("2D", Interval.fixed(2 * DAY_MS)), ("3D", CANONICAL["3d"]), ("1W", CANONICAL["1w"]),
    ("1M", CANONICAL["1M"]), ("3M", Interval.calendar_months(3)),
):
    BARS[_name] = (_interval, HONG_KONG_MS)
    BARS[_name + "utc"] = (_interval, 0)

#: What okx_spot and okx_perpetual enforce (docs "Rate Limits" and each endpoint's
#: "Rate Limit: n requests per 2 seconds", "Rate limit rule: IP"): every endpoint has
#: its own window per IP -- candles 40, history-candles 20, instruments 20, time 10 per
#: 2 s -- answered beyond with HTTP 429 ``{"msg":"Too Many Requests","code":"50011"}``;
#: no ban, no rate-limit headers, no ``Retry-After``. WebSocket: 3 connection requests
#: per second per IP ("Connection limit"). Not enforced: the 480 subscribe/unsubscribe/
#: login requests per hour per connection (the shared machinery counts every frame, not
#: the session's operations) and instruments' "IP + instType" key (per IP here).
LIMITS = Limits(
    rest=RestLimits(
        windows=(
            RestWindow("candles", SECOND, 2, 40, REQUESTS, routes=("candles",)),
            RestWindow("history-candles", SECOND, 2, 20, REQUESTS, routes=("history-candles",)),
            RestWindow("instruments", SECOND, 2, 20, REQUESTS, routes=("instruments",)),
            RestWindow("time", SECOND, 2, 10, REQUESTS, routes=("time",)),
        ),
        ban=None,
        retry_after=None,
    ),
    ws=WsLimits(connection_attempts=3, attempts_window_ms=1_000),
)

#: The answer beyond a limit (bbgo #1534 2024, ccxt #18901 2023: this exact body).
TOO_MANY_REQUESTS = RestResponse(429, b'{"msg":"Too Many Requests","code":"50011"}', content_type="application/json")


def _listed(y: int, m: int, d: int) -> int:
    return days_from_civil(y, m, d) * DAY_MS


SPOT_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USDT", 90_000.0, price_decimals=1, qty_decimals=8, listed_ms=_listed(2019, 1, 22),
                  daily_volatility=0.025),
    Market.create("ETH", "USDT", 3_000.0, price_decimals=2, qty_decimals=6, listed_ms=_listed(2019, 1, 22),
                  daily_volatility=0.035),
    Market.create("SOL", "USDT", 140.0, price_decimals=2, qty_decimals=6, listed_ms=_listed(2020, 8, 12),
                  daily_volatility=0.045),
    Market.create("XRP", "USDT", 2.2, price_decimals=4, qty_decimals=6, listed_ms=_listed(2019, 1, 22),
                  daily_volatility=0.04),
    Market.create("DOGE", "USDT", 0.16, price_decimals=5, qty_decimals=6, listed_ms=_listed(2019, 1, 22),
                  daily_volatility=0.05),
)

SWAP_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USDT", 90_000.0, price_decimals=1, qty_decimals=4, listed_ms=_listed(2019, 12, 10),
                  daily_volatility=0.025),
    Market.create("ETH", "USDT", 3_000.0, price_decimals=2, qty_decimals=3, listed_ms=_listed(2019, 12, 10),
                  daily_volatility=0.035),
    Market.create("SOL", "USDT", 140.0, price_decimals=2, qty_decimals=2, listed_ms=_listed(2020, 9, 8),
                  daily_volatility=0.045),
    Market.create("XRP", "USDT", 2.2, price_decimals=4, qty_decimals=0, listed_ms=_listed(2019, 12, 10),
                  daily_volatility=0.04),
    Market.create("DOGE", "USDT", 0.16, price_decimals=5, qty_decimals=0, listed_ms=_listed(2020, 3, 3),
                  daily_volatility=0.05),
)

#: A swap contract's face value as a power of ten of the base currency (ctVal 0.01 BTC:
#: 2; 100 XRP: -2). Markets not listed here have one lot per contract.
CONTRACT_DECIMALS = {"BTC": 2, "ETH": 1, "SOL": 0, "XRP": -2, "DOGE": -3}


def contract_decimals(market: Market) -> int:
    return CONTRACT_DECIMALS.get(market.base, market.qty_decimals)


# ---------------------------------------------------------------------------
# Envelopes and errors


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


#: What every successful answer starts with (its ``data`` follows, then ``}``).
_OK_HEAD = b'{"code":"0","msg":"","data":'


def _ok(data: str | bytes) -> RestResponse:
    body = data if isinstance(data, bytes) else data.encode()
    return RestResponse(200, b"".join([_OK_HEAD, body, b"}"]), content_type=JSON)


def error_body(code: str, msg: str) -> bytes:
    return f'{{"code":"{code}","data":[],"msg":{_dumps(msg)}}}'.encode()


def _fail(status: int, code: str, msg: str) -> VenueError:
    return VenueError(RestResponse(status, error_body(code, msg), content_type=JSON))


def empty_parameter(name: str) -> VenueError:
    return _fail(400, "50014", f"Parameter {name} can not be empty.")


def parameter_error(name: str) -> VenueError:
    return _fail(400, "51000", f"Parameter {name} error")


NO_INSTRUMENT = "Instrument ID, Instrument ID code, or Spread ID doesn't exist."

ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: RestResponse(404, b'{"msg":"Not Found","code":"404"}', content_type=JSON),
    METHOD_NOT_ALLOWED: RestResponse(405, b'{"msg":"Method Not Allowed","code":"405"}', content_type=JSON),
    INTERNAL: RestResponse(500, error_body("50026", "System error. Try again later."), content_type=JSON),
    DISCONNECTED: RestResponse(503, error_body("50001", "Service temporarily unavailable. Try again later"),
                               content_type=JSON),
    TIMEOUT: RestResponse(504, error_body("50004", "API endpoint request timeout (does not mean that the request "
                                                   "was successful or failed, please check the request result)."),
                          content_type=JSON),
    BUSY: RestResponse(503, error_body("50013", "Systems are busy. Please try again later."), content_type=JSON),
}


def _int(request: RestRequest, name: str) -> int | None:
    value = request.arg(name)
    if value is None or value == "":
        return None
    text = value.strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 19:
        raise parameter_error(name)
    return int(text)


# ---------------------------------------------------------------------------
# Formatting


@frozen
class InstType:
    """What differs between OKX's spot and swap venues."""

    name: str  # "SPOT" or "SWAP"
    markets: tuple[Market, ...]
    suffix: str  # "" or "-SWAP"


SPOT = InstType("SPOT", SPOT_MARKETS, "")
SWAP = InstType("SWAP", SWAP_MARKETS, "-SWAP")


def candle_fields(candle: Candle, market: Market, swap: bool) -> str:
    """The 9 strings of a candle, comma-joined (inside the brackets)."""
    p, q = market.price_decimals, market.qty_decimals
    base = plain(candle.volume, q)
    quote = plain(candle.quote_volume, QUOTE_DECIMALS)
    if swap:
        vol, vol_ccy = plain(candle.volume, q - contract_decimals(market)), base
    else:
        vol, vol_ccy = base, quote
    return (
        f'"{candle.open_ms}","{plain(candle.open, p)}","{plain(candle.high, p)}","{plain(candle.low, p)}",'
        f'"{plain(candle.close, p)}","{vol}","{vol_ccy}","{quote}","{"1" if candle.closed else "0"}"'
    )


def _instrument(inst_type: InstType, inst_id: str, market: Market) -> str:
    p, q = market.price_decimals, market.qty_decimals
    family = f"{market.base}-{market.quote}"
    common: dict[str, Any] = {
        "alias": "", "auctionEndTime": "", "category": "1", "contTdSwTime": "", "expTime": "",
        "futureSettlement": False, "instId": inst_id, "instIdCode": 0, "instType": inst_type.name,
        "listTime": str(market.listed_ms), "maxIcebergSz": "9999999999.0000000000000000",
        "maxTriggerSz": "9999999999.0000000000000000", "maxTwapSz": "9999999999.0000000000000000",
        "openType": "", "optType": "", "ruleType": "normal", "state": "live", "stk": "",
        "tickSz": plain(1, p), "tradeQuoteCcyList": [],
    }
    if inst_type is SPOT:
        step = plain(1, q)
        common.update({
            "baseCcy": market.base, "ctMult": "", "ctType": "", "ctVal": "", "ctValCcy": "", "instFamily": "",
            "lever": "10", "lotSz": step, "maxLmtAmt": "20000000", "maxLmtSz": "9999999999",
            "maxMktAmt": "1000000", "maxMktSz": "1000000", "maxStopSz": "1000000", "minSz": step,
            "quoteCcy": market.quote, "settleCcy": "", "tradeQuoteCcyList": [market.quote], "uly": "",
        })
    else:
        c = contract_decimals(market)
        common.update({
            "baseCcy": "", "ctMult": "1", "ctType": "linear", "ctVal": plain(1, c) if c >= 0 else str(10**-c),
            "ctValCcy": market.base, "instFamily": family, "lever": "100", "lotSz": "0.01",
            "maxLmtAmt": "20000000", "maxLmtSz": "100000000", "maxMktAmt": "", "maxMktSz": "12000",
            "maxStopSz": "12000", "minSz": "0.01", "quoteCcy": "", "settleCcy": market.quote, "uly": family,
        })
    common["instIdCode"] = int.from_bytes(inst_id.encode()[:6].ljust(6, b"\0"), "big") % 10**7
    return _dumps(dict(sorted(common.items())))


class OkxRest:
    """The REST handlers of one instrument type (a venue)."""

    def __init__(self, inst_type: InstType) -> None:
        self.inst_type = inst_type

    def server_time(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        return _ok(f'[{{"ts":"{context.now_ms()}"}}]')

    def instruments(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        inst_type = request.arg("instType")
        if not inst_type:
            raise empty_parameter("instType")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS"):
            raise parameter_error("instType")
        if inst_type == "OPTION" and not (request.arg("uly") or request.arg("instFamily")):
            raise _fail(400, "50014", "Parameter uly can not be empty.")
        inst_id = request.arg("instId")
        family = request.arg("instFamily") or request.arg("uly")
        entries = []
        if inst_type == self.inst_type.name:
            for name, market in context.markets.items():
                if inst_id and inst_id != name:
                    continue
                if family and family != f"{market.base}-{market.quote}":
                    continue
                entries.append(_instrument(self.inst_type, name, market))
        if inst_id and not entries:
            raise _fail(200, "51001", NO_INSTRUMENT)
        return _ok("[" + ",".join(entries) + "]")

    def candles(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        return self._candles(request, context, history=False)

    def history_candles(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        return self._candles(request, context, history=True)

    def _candles(self, request: RestRequest, context: IVenueContext, history: bool) -> RestResponse:
        options = context.options
        inst_id = request.arg("instId")
        if not inst_id:
            raise empty_parameter("instId")
        bar_name = request.arg("bar") or "1m"
        bar = BARS.get(bar_name)
        if bar is None:
            raise parameter_error("bar")
        after = _int(request, "after")
        before = _int(request, "before")
        limit = _int(request, "limit")
        if limit is None:
            limit = DEFAULT_LIMIT
        elif limit < 1:
            raise parameter_error("limit")
        elif limit > MAX_LIMIT:
            if options.get("limit_over_max") == "error":
                raise parameter_error("limit")
            limit = MAX_LIMIT
        market = context.markets.get(inst_id)
        if market is None:
            raise _fail(200, "51001", NO_INSTRUMENT)
        interval, offset = bar
        now = context.now_ms()
        first_available = context.source.first_open(market, interval, offset)
        if not history:
            depth = int(options.get("candles_depth", CANDLES_DEPTH))
            first_available = max(
                first_available, interval.shift(interval.floor(now, offset), -(depth - 1), offset)
            )
        end = None if after is None else after - 1
        start = None if before is None else before + 1
        if start is not None and end is not None and start > end:
            return _ok(b"[]")
        if end is not None and end < 0:
            return _ok(b"[]")
        oldest = start is not None and end is None and options.get("before_only") == "oldest"
        first, count = select(
            interval, first_available, now, None if start is None else max(start, 0), end, limit,
            market.listed_ms, oldest, offset,
        )
        swap = self.inst_type is SWAP
        body = context.rows.rows(
            market, interval, offset, first, count, now, ("okx", self.inst_type.name),
            lambda c: f"[{candle_fields(c, market, swap)}]".encode(), newest_first=True,
            prefix=_OK_HEAD + b"[", suffix=b"]}",
        )
        return RestResponse(200, body, content_type=JSON)


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class CandleTopic:
    """``{"channel":"candle<bar>","instId":..}``."""

    feed: Feed
    channel: str
    inst_id: str
    swap: bool

    def render(self, update: CandleUpdate) -> bytes:
        fields = candle_fields(update.candle, update.feed.market, self.swap)
        return (
            f'{{"arg":{{"channel":"{self.channel}","instId":"{self.inst_id}"}},"data":[[{fields}]]}}'
        ).encode()


_CONNECTIONS = itertools.count(1)


def _wrong(channel: Any, inst_id: Any) -> str:
    return (
        f"Wrong URL or channel:{channel},instId:{inst_id} doesn't exist. Please use the correct URL, "
        "channel and parameters referring to API document."
    )


@implementer(IStreamSession)
class OkxSession:
    """One connection to ``/ws/v5/business`` (or ``/ws/v5/public``, where candles are not)."""

    def __init__(self, context: IVenueContext, inst_type: InstType, business: bool) -> None:
        self.context = context
        self.inst_type = inst_type
        self.business = business
        self.conn_id = f"{next(_CONNECTIONS) * 2654435761 % 2**32:08x}"
        self.topics: dict[tuple[str, str], CandleTopic] = {}
        self.link: IStreamLink | None = None

    def ping_payload(self) -> bytes | None:
        return None

    def opened(self, link: IStreamLink) -> None:
        self.link = link

    def _error(self, code: str, msg: str, request_id: Any = None) -> bytes:
        reply: dict[str, Any] = {}
        if request_id is not None:
            reply["id"] = request_id
        reply.update({"event": "error", "code": code, "msg": msg, "connId": self.conn_id})
        return _dumps(reply).encode()

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        if payload == b"ping":
            link.send(b"pong")
            return
        try:
            text = payload.decode("utf-8")
            request = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            link.send(self._error("60012", f"Invalid request: {payload.decode('utf-8', 'replace')}"))
            return
        if not isinstance(request, dict):
            link.send(self._error("60012", f"Invalid request: {text}"))
            return
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, str):
            link.send(self._error("60012", f"Invalid request: {text}"))
            return
        op = request.get("op")
        args = request.get("args")
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args \
                or not all(isinstance(a, dict) for a in args):
            link.send(self._error("60012", f"Invalid request: {text}", request_id))
            return
        found = []
        for arg in args:
            channel, inst_id = arg.get("channel"), arg.get("instId")
            topic = self._topic(channel, inst_id)
            if topic is None:
                link.send(self._error("60018", _wrong(channel, inst_id), request_id))
                return
            found.append(topic)
        for topic in found:
            key = (topic.channel, topic.inst_id)
            ack: dict[str, Any] = {}
            if request_id is not None:
                ack["id"] = request_id
            ack.update({"event": op, "arg": {"channel": topic.channel, "instId": topic.inst_id},
                        "connId": self.conn_id})
            link.send(_dumps(ack).encode())
            if op == "subscribe":
                if key not in self.topics:
                    self.topics[key] = topic
                    link.subscribe(topic)
            else:
                old = self.topics.pop(key, None)
                if old is not None:
                    link.unsubscribe(old)

    def _topic(self, channel: Any, inst_id: Any) -> CandleTopic | None:
        if not self.business or not isinstance(channel, str) or not isinstance(inst_id, str):
            return None
        if not channel.startswith("candle"):
            return None
        bar = BARS.get(channel[len("candle"):])
        market = self.context.markets.get(inst_id)
        if bar is None or market is None:
            return None
        interval, offset = bar
        return CandleTopic(Feed(market, interval, offset), channel, inst_id, self.inst_type is SWAP)


# ---------------------------------------------------------------------------
# The plugins


@implementer(IExchange)
class Okx:
    """An OKX venue: one instrument type."""

    intervals: Mapping[str, Interval] = {name: bar[0] for name, bar in BARS.items()}
    # OKX sends no pings; a connection with no data either way for 30 s is closed.
    keepalive = Keepalive(idle_timeout=30.0)
    limits = LIMITS

    def __init__(self, name: str, inst_type: InstType, description: str) -> None:
        self.name = name
        self.inst_type = inst_type
        self.description = description
        self._rest = OkxRest(inst_type)

    def default_markets(self) -> Sequence[Market]:
        return self.inst_type.markets

    def market_for(self, symbol: str, price: float) -> Market:
        text = symbol.upper()
        if text.endswith("-SWAP"):
            text = text[: -len("-SWAP")]
        base, quote = split_symbol(text)
        if not (base + quote).isalnum() or not (base + quote).isascii():
            raise ValueError(f"{symbol!r} is not an OKX instrument")
        for market in self.inst_type.markets:
            if (market.base, market.quote) == (base, quote):
                return Market.create(
                    base, quote, price, price_decimals=market.price_decimals,
                    qty_decimals=market.qty_decimals, listed_ms=market.listed_ms,
                    daily_volatility=market.daily_volatility,
                )
        return Market.create(base, quote, price)

    def symbol(self, market: Market) -> str:
        return f"{market.base}-{market.quote}{self.inst_type.suffix}"

    def rest_routes(self) -> Sequence[RestRoute]:
        rest = self._rest
        return (
            RestRoute("GET", "/api/v5/public/time", rest.server_time, "time"),
            RestRoute("GET", "/api/v5/public/instruments", rest.instruments, "instruments"),
            RestRoute("GET", "/api/v5/market/candles", rest.candles, "candles"),
            RestRoute("GET", "/api/v5/market/history-candles", rest.history_candles, "history-candles"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/ws/v5/business", "/ws/v5/public")

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            return TOO_MANY_REQUESTS
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return OkxSession(context, self.inst_type, handshake.path.rstrip("/").endswith("/business"))

    def stream_period_ms(self, interval: Interval) -> int:
        return 500

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_candles_answer(self.inst_type is SWAP, path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_candle_push(self.inst_type is SWAP, payload, binary)


okx_spot = Okx("okx_spot", SPOT, "OKX spot: /api/v5 candles, history-candles, instruments, time; /ws/v5/business")
okx_perpetual = Okx(
    "okx_perpetual", SWAP, "OKX USDT perpetual swaps (BTC-USDT-SWAP): /api/v5 market data; /ws/v5/business"
)


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402

_CANDLE_PATHS = ("/api/v5/market/candles", "/api/v5/market/history-candles")


def _recorded(inst_id: str, bar: str, row: Sequence[Any], closed: bool | None) -> RecordedCandle:
    """A row ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`` ("Get candlesticks"):
    the base volume is ``vol`` for spot, ``volCcy`` for swaps (``vol`` is contracts);
    the quote volume is ``volCcyQuote``. OKX shows no trade counts or taker volumes."""
    swap = inst_id.endswith("-SWAP")
    return RecordedCandle(
        inst_id, bar, whole(row[0]), decimal_text(row[1]), decimal_text(row[2]), decimal_text(row[3]),
        decimal_text(row[4]), decimal_text(row[6] if swap else row[5]), decimal_text(row[7]), closed=closed,
    )


@tolerant
def recorded_candles_answer(
    swap: bool, path: str, args: Mapping[str, Sequence[str]], answer: bytes
) -> Sequence[RecordedCandle]:
    """``/market/candles`` and ``/market/history-candles``: ``{"code":"0","data":[rows]}``,
    newest first; ``bar`` defaults to ``1m``. Bars in Hong Kong time (``6H`` up without
    ``utc``) are off the UTC grid: the recorder leaves them out."""
    if path not in _CANDLE_PATHS:
        return ()
    inst_id = text(first_arg(args, "instId"))
    if inst_id.endswith("-SWAP") != swap:
        return ()  # the other instrument type: another venue's files
    bar = first_arg(args, "bar") or "1m"
    envelope = load_json(answer)
    if envelope["code"] != "0" or bar not in BARS:
        return ()
    return [_recorded(inst_id, bar, row, None) for row in envelope["data"]]


@tolerant
def recorded_candle_push(swap: bool, payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``{"arg":{"channel":"candle<bar>","instId":..},"data":[[9 strings]]}`` ("WebSocket:
    Candlesticks channel"), closed per ``confirm`` ("1": closed)."""
    if binary:
        return ()
    message = load_json(payload)
    arg = message["arg"]
    channel, inst_id = text(arg["channel"]), text(arg["instId"])
    bar = channel[len("candle"):]
    if not channel.startswith("candle") or bar not in BARS or inst_id.endswith("-SWAP") != swap:
        return ()
    out = []
    for row in message["data"]:
        confirm = text(row[8])
        if confirm not in ("0", "1"):
            continue
        out.append(_recorded(inst_id, bar, row, confirm == "1"))
    return out


classImplements(Okx, IKlineRecording)

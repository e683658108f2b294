"""
MEXC spot market data: the ``api.mexc.com/api/v3`` REST endpoints a candle client
uses, and the spot WebSocket ``wbs-api.mexc.com/ws`` with its protobuf pushes. The
contract venue (``mexc_perpetual``) is at the end of this module, with its own sources.

Sources:

* MEXC's spot v3 API docs (mexcdevelop/apidocs ``source/index.html.md``, and the current
  mexc.com/api-docs pages): Check Server Time (``{"serverTime":..}``), Test
  Connectivity (``{}``), Exchange Information (``symbol``/``symbols`` filters; ``status``
  "1" online; ``tradeSideType``), Kline/Candlestick Data (``symbol``, ``interval``,
  ``startTime``, ``endTime``, ``limit`` default 500 max 1000; rows of 8:
  ``[open time, open, high, low, close, volume, close time, quote volume]``, times in ms,
  the close time being the next candle's open: ``1640804880000 .. 1640804940000``;
  decimals without trailing zeros), the Kline Interval enum (``1m 5m 15m 30m 60m 4h 1d
  1W 1M``), the error-code table (429, 500, 503, 504, 700008 ...), Limits (each endpoint
  500 per 10 s per IP; WebSocket 100 messages/s and 30 streams per connection).
* MEXC's "Websocket Market Streams" page (2025): ``{"method":"SUBSCRIPTION",
  "params":[..]}`` / ``UNSUBSCRIPTION`` answered ``{"id":0,"code":0,"msg":"<channel>"}``,
  ``{"method":"PING"}`` -> ``{"id":0,"code":0,"msg":"PONG"}``, pushes in protobuf
  (``spot@public.kline.v3.api.pb@<symbol>@<Min1..Month1>``, ``PushDataV3ApiWrapper`` with
  ``publicSpotKline``: interval, windowStart/windowEnd in seconds, prices as strings),
  "every second"; a connection with no valid subscription is dropped after 30 s, one
  with no traffic after a minute.
* Captured answers: ``{"msg":"Invalid interval.","code":-1121,"_extend":null}`` (HTTP
  400, mexcdevelop/mexc-api-sdk #101, 2025; ccxt #17482); ``Not Subscribed successfully!
  [spot@public.miniTicker.v3.api@BTCUSDT@UTC+0].  Reason： Blocked!`` for a channel no
  longer served (JKorf/Mexc.Net #35, 2025: the JSON channels were retired for protobuf);
  ``startTime`` without ``endTime`` answered with the latest candles
  (mexcdevelop/mexc-api-sdk #28).
* ccxt 4.5 (mexc.py, pro/mexc.py, protobuf/mexc): what ``load_markets`` requests (spot
  ``exchangeInfo`` and the contract ``detail``, both on ``api.mexc.com``), how
  ``fetch_ohlcv`` pages (``endTime = since + 500 candles``, "endTime is not inclusive";
  ``maxLimit`` 500 "in practice"), the SUBSCRIPTION/ping messages it sends, and the
  protobuf field numbers (see :mod:`mockex.venues.mexc_pb`). JKorf/Mexc.Net: the
  subscription answer echoes the request ``id`` and joins several channels with commas.

Unverified choices (docs/venues/mexc_spot.md), switchable through ``options``:

* ``limit`` above 500 is clamped to 500 (ccxt's observation; ``mexc_klines_max=1000``
  follows the docs); ``limit`` 0 means the default.
* ``startTime`` alone selects the latest candles (the capture); ``mexc_start_alone=from``
  selects those from ``startTime`` instead. With both bounds: from ``startTime``
  (inclusive), before ``endTime`` (exclusive).
* Errors other than the captured ones: unknown or missing symbol -1121 ``Invalid
  symbol.``; a malformed number 700008; unknown paths 404 ``{"msg":"Not Found","code":404}``.
* The old JSON channels (``spot@public.kline.v3.api@..``) are refused as "Blocked!";
  ``mexc_json_streams=served`` serves them in their documented JSON format instead.
* WebSocket answers to malformed requests; more than 30 streams refused as "Blocked!".
* ``symbolId`` of markets other than BTCUSDT (a hash); push every second.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, ClassVar, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer

from mockex.fmt import plain
from mockex.interfaces import (
    BANNED,
    BUSY,
    DISCONNECTED,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    RATE_LIMITED,
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
from mockex.intervals import CANONICAL, Interval
from mockex.ratelimit import REQUESTS, SECOND, WEIGHT, Limits, RestLimits, RestWindow, WsLimits
from mockex.market import QUOTE_DECIMALS, Candle, Market, window
from mockex.venues import mexc_pb
from mockex.venues.common import DEFAULT_MARKETS as _REFERENCE_MARKETS
from mockex.venues.common import split_symbol

SPOT = "mexc_spot"
JSON = "application/json"
KLINES_DEFAULT_LIMIT = 500
#: ccxt 4.5: "docs say 1000 for spot, but in practice it's 500"
KLINES_MAX_LIMIT = 500
MAX_STREAMS = 30

#: REST intervals (the Kline Interval enum).
INTERVALS: dict[str, Interval] = {
    "1m": CANONICAL["1m"],
    "5m": CANONICAL["5m"],
    "15m": CANONICAL["15m"],
    "30m": CANONICAL["30m"],
    "60m": CANONICAL["1h"],
    "4h": CANONICAL["4h"],
    "1d": CANONICAL["1d"],
    "1W": CANONICAL["1w"],
    "1M": CANONICAL["1M"],
}
#: WebSocket (and contract REST) interval names.
STREAM_INTERVALS: dict[str, Interval] = {
    "Min1": CANONICAL["1m"],
    "Min5": CANONICAL["5m"],
    "Min15": CANONICAL["15m"],
    "Min30": CANONICAL["30m"],
    "Min60": CANONICAL["1h"],
    "Hour4": CANONICAL["4h"],
    "Hour8": CANONICAL["8h"],
    "Day1": CANONICAL["1d"],
    "Week1": CANONICAL["1w"],
    "Month1": CANONICAL["1M"],
}

#: What mexc_spot enforces (MEXC spot v3 "Limits": every endpoint has a weight, and
#: each endpoint allows 500 weight per 10 s per IP; over it, 429 and ``Retry-After``;
#: no ban documented). WebSocket: 100 messages per second per connection ("Websocket
#: limits"), MAX_STREAMS subscriptions (the session answers beyond).
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("endpoint", SECOND, 10, 500, WEIGHT, per_route=True),),
        weights={"ping": 1, "time": 1, "exchangeInfo": 10, "klines": 1, "defaultSymbols": 1,
                 "contract.detail": 1, "contract.ping": 1},
        ban=None,
        retry_after="Retry-After",
    ),
    ws=WsLimits(messages=100, message_window_ms=1000, max_streams=MAX_STREAMS,
                close_code=1008, close_reason="Too many requests"),
)

#: The ``symbolId`` MEXC sends with BTCUSDT pushes (docs and ccxt's capture).
KNOWN_SYMBOL_IDS = {"BTCUSDT": "2fb942154ef44a4ab2ef98c8afb6a4a7"}

_NUMBER_RE = re.compile(r"^[0-9]{1,19}$")
_PB_KLINE_RE = re.compile(r"^spot@public\.kline\.v3\.api\.pb@([A-Z0-9]+)@([A-Za-z0-9]+)$")
_JSON_KLINE_RE = re.compile(r"^spot@public\.kline\.v3\.api@([A-Z0-9]+)@([A-Za-z0-9]+)$")

DEFAULT_MARKETS: tuple[Market, ...] = tuple(_REFERENCE_MARKETS)


def spot_symbol(market: Market) -> str:
    return f"{market.base}{market.quote}"


def symbol_id(symbol: str) -> str:
    known = KNOWN_SYMBOL_IDS.get(symbol)
    if known is not None:
        return known
    return hashlib.blake2b(f"mexc-symbol:{symbol}".encode(), digest_size=16).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def market_for(symbol: str, price: float, what: str) -> Market:
    """A market from a user's symbol, with the reference listing's sizes when it has it."""
    base, quote = split_symbol(symbol)
    if not re.match(r"^[A-Z0-9]{1,20}$", base) or not re.match(r"^[A-Z0-9]{1,20}$", quote):
        raise ValueError(f"{symbol!r} is not a MEXC {what}")
    for market in DEFAULT_MARKETS:
        if (market.base, market.quote) == (base, quote):
            return Market.create(
                base, quote, price,
                price_decimals=market.price_decimals, qty_decimals=market.qty_decimals,
                listed_ms=market.listed_ms, daily_volatility=market.daily_volatility,
            )
    return Market.create(base, quote, price)


# ---------------------------------------------------------------------------
# Spot errors


def spot_error(code: int, msg: str, status: int = 400) -> RestResponse:
    """MEXC v3's error body (key order of the 2025 capture)."""
    return RestResponse(status, _dumps({"msg": msg, "code": code, "_extend": None}).encode(), content_type=JSON)


def spot_fail(code: int, msg: str) -> VenueError:
    return VenueError(spot_error(code, msg))


def _plain_error(code: int, msg: str, status: int) -> RestResponse:
    return RestResponse(status, _dumps({"msg": msg, "code": code}).encode(), content_type=JSON)


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: _plain_error(404, "Not Found", 404),
    METHOD_NOT_ALLOWED: _plain_error(405, "Method Not Allowed", 405),
    INTERNAL: _plain_error(500, "Internal error", 500),
    DISCONNECTED: _plain_error(500, "Internal error", 500),
    TIMEOUT: _plain_error(504, "Gateway Time-out", 504),
    BUSY: _plain_error(503, "service not available, please try again", 503),
    RATE_LIMITED: _plain_error(429, "Too Many Requests", 429),
    BANNED: _plain_error(429, "Too Many Requests", 418),
}


def error_response(kind: str, detail: str = "") -> RestResponse:
    """The venue's answer; ``Retry-After`` on 429s is added by the shared limiter."""
    return ERRORS.get(kind, ERRORS[INTERNAL])


def _number(request: RestRequest, name: str) -> int | None:
    text = request.arg(name)
    if text is None or text == "":
        return None
    if not _NUMBER_RE.match(text):
        raise spot_fail(700008, f"Illegal characters found in parameter '{name}'")
    return int(text)


# ---------------------------------------------------------------------------
# Spot formatting


def kline_row(candle: Candle, market: Market) -> bytes:
    p, q = market.price_decimals, market.qty_decimals
    return (
        f'[{candle.open_ms},"{plain(candle.open, p)}","{plain(candle.high, p)}","{plain(candle.low, p)}",'
        f'"{plain(candle.close, p)}","{plain(candle.volume, q)}",{candle.end_ms},'
        f'"{plain(candle.quote_volume, QUOTE_DECIMALS)}"]'
    ).encode()


def symbol_entry(symbol: str, market: Market) -> dict[str, Any]:
    """One ``exchangeInfo`` symbol, keys in the docs' order."""
    p, q = market.price_decimals, market.qty_decimals
    return {
        "symbol": symbol,
        "status": "1",
        "baseAsset": market.base,
        "baseAssetPrecision": q,
        "quoteAsset": market.quote,
        "quotePrecision": p,
        "quoteAssetPrecision": p,
        "baseCommissionPrecision": q,
        "quoteCommissionPrecision": p,
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "quoteAmountPrecision": "1",
        "baseSizePrecision": plain(1, q),
        "permissions": ["SPOT"],
        "filters": [],
        "maxQuoteAmount": "2000000",
        "makerCommission": "0",
        "takerCommission": "0.0005",
        "quoteAmountPrecisionMarket": "1",
        "maxQuoteAmountMarket": "100000",
        "fullName": market.base,
        "tradeSideType": 1,
    }


# ---------------------------------------------------------------------------
# Spot REST handlers


def klines(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v3/klines``: oldest first, times in ms, ``endTime`` exclusive."""
    symbol = request.arg("symbol") or ""
    interval = INTERVALS.get(request.arg("interval") or "")
    start = _number(request, "startTime")
    end = _number(request, "endTime")
    limit = _number(request, "limit")
    market = context.markets.get(symbol)
    if market is None:
        raise spot_fail(-1121, "Invalid symbol.")
    if interval is None:
        raise spot_fail(-1121, "Invalid interval.")
    max_limit = int(context.options.get("mexc_klines_max", KLINES_MAX_LIMIT))
    if not limit:
        limit = KLINES_DEFAULT_LIMIT
    limit = min(limit, max_limit)
    if start is not None and end is None and context.options.get("mexc_start_alone", "latest") == "latest":
        start = None
    now = context.now_ms()
    if end is not None:
        if end == 0 or (start is not None and end <= start):
            return RestResponse(200, b"[]", content_type=JSON)
        end -= 1  # exclusive
    first_available = context.source.first_open(market, interval)
    first, count = window(interval, 0, first_available, now, start, end, limit, market.listed_ms)
    body = context.rows.rows(
        market, interval, 0, first, count, now, (SPOT,), lambda c: kline_row(c, market), prefix=b"[", suffix=b"]"
    )
    return RestResponse(200, body, content_type=JSON)


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    return RestResponse(200, f'{{"serverTime":{context.now_ms()}}}'.encode(), content_type=JSON)


def ping(request: RestRequest, context: IVenueContext) -> RestResponse:
    return RestResponse(200, b"{}", content_type=JSON)


def exchange_info(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v3/exchangeInfo`` (``symbol`` or comma-separated ``symbols``)."""
    markets = context.markets
    wanted: list[str] | None = None
    one = request.arg("symbol")
    many = request.arg("symbols")
    if one:
        wanted = [one]
    elif many:
        wanted = [s for s in many.split(",") if s]
    if wanted is not None:
        unknown = [s for s in wanted if s not in markets]
        if unknown:
            raise spot_fail(-1121, "Invalid symbol.")
        names = wanted
    else:
        names = list(markets)
    entries = [symbol_entry(name, markets[name]) for name in names]
    body = (
        f'{{"timezone":"CST","serverTime":{context.now_ms()},"rateLimits":[],"exchangeFilters":[],'
        f'"symbols":{_dumps(entries)}}}'
    )
    return RestResponse(200, body.encode(), content_type=JSON)


def default_symbols(request: RestRequest, context: IVenueContext) -> RestResponse:
    return RestResponse(200, _dumps({"code": 200, "data": list(context.markets), "msg": None}).encode(),
                        content_type=JSON)


def no_contracts(request: RestRequest, context: IVenueContext) -> RestResponse:
    """The contract host's ``/api/v1/contract/detail`` with no contracts (ccxt's load_markets asks)."""
    return RestResponse(200, b'{"success":true,"code":0,"data":[]}', content_type=JSON)


def no_spot_symbols(request: RestRequest, context: IVenueContext) -> RestResponse:
    """The spot ``exchangeInfo`` with no symbols (on a contract server; ccxt's load_markets asks)."""
    body = (f'{{"timezone":"CST","serverTime":{context.now_ms()},"rateLimits":[],"exchangeFilters":[],'
            f'"symbols":[]}}')
    return RestResponse(200, body.encode(), content_type=JSON)


# ---------------------------------------------------------------------------
# Spot streams


def _stream_fields(candle: Candle, market: Market) -> tuple[str, str, str, str, str, str]:
    p, q = market.price_decimals, market.qty_decimals
    return (plain(candle.open, p), plain(candle.close, p), plain(candle.high, p), plain(candle.low, p),
            plain(candle.volume, q), plain(candle.quote_volume, QUOTE_DECIMALS))


@implementer(ITopic)
@frozen
class PbKlineTopic:
    """``spot@public.kline.v3.api.pb@<symbol>@<interval>``: protobuf binary pushes."""

    feed: Feed
    symbol: str
    interval_name: str
    binary: ClassVar[bool] = True

    @property
    def channel(self) -> str:
        return f"spot@public.kline.v3.api.pb@{self.symbol}@{self.interval_name}"

    def render(self, update: CandleUpdate) -> bytes:
        c = update.candle
        o, cl, h, lo, v, a = _stream_fields(c, self.feed.market)
        body = mexc_pb.spot_kline(self.interval_name, c.open_ms // 1000, o, cl, h, lo, v, a, c.end_ms // 1000)
        return mexc_pb.wrapper(
            self.channel, mexc_pb.PUBLIC_SPOT_KLINE, body, symbol=self.symbol,
            symbol_id=symbol_id(self.symbol), create_time=update.event_ms,
        )


@implementer(ITopic)
@frozen
class JsonKlineTopic:
    """``spot@public.kline.v3.api@<symbol>@<interval>`` in its (retired) JSON format."""

    feed: Feed
    symbol: str
    interval_name: str

    def render(self, update: CandleUpdate) -> bytes:
        c = update.candle
        o, cl, h, lo, v, a = _stream_fields(c, self.feed.market)
        return (
            f'{{"c":"spot@public.kline.v3.api@{self.symbol}@{self.interval_name}","d":{{"k":{{'
            f'"T":{c.end_ms // 1000},"a":{a},"c":{cl},"h":{h},"i":"{self.interval_name}","l":{lo},"o":{o},'
            f'"t":{c.open_ms // 1000},"v":{v}}},"e":"spot@public.kline.v3.api"}},"s":"{self.symbol}",'
            f'"t":{update.event_ms}}}'
        ).encode()


def _answer(request_id: Any, msg: str) -> bytes:
    return _dumps({"id": request_id, "code": 0, "msg": msg}).encode()


@implementer(IStreamSession)
class SpotSession:
    """One connection to the spot WebSocket."""

    def __init__(self, context: IVenueContext) -> None:
        self.context = context
        self.link: IStreamLink | None = None
        #: channel -> topic
        self.subscriptions: dict[str, ITopic] = {}

    def ping_payload(self) -> None:
        return None

    def opened(self, link: IStreamLink) -> None:
        self.link = link

    def _resolve(self, channel: str) -> ITopic | None:
        m = _PB_KLINE_RE.match(channel)
        json_channel = False
        if m is None:
            m = _JSON_KLINE_RE.match(channel)
            json_channel = True
            if m is None or self.context.options.get("mexc_json_streams", "blocked") != "served":
                return None
        symbol, interval_name = m.groups()
        market = self.context.markets.get(symbol)
        interval = STREAM_INTERVALS.get(interval_name)
        if market is None or interval is None:
            return None
        feed = Feed(market, interval)
        if json_channel:
            return JsonKlineTopic(feed, symbol, interval_name)
        return PbKlineTopic(feed, symbol, interval_name)

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            request = None
        if not isinstance(request, dict):
            link.send(_answer(0, "Wrong json format"))
            return
        raw_id = request.get("id", 0)
        request_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else 0
        method = request.get("method")
        method = method.upper() if isinstance(method, str) else ""
        if method == "PING":
            link.send(_answer(request_id, "PONG"))
            return
        if method not in ("SUBSCRIPTION", "UNSUBSCRIPTION"):
            link.send(_answer(request_id, "Unknown method"))
            return
        params = request.get("params")
        if not isinstance(params, list) or not params or not all(isinstance(p, str) for p in params):
            link.send(_answer(request_id, "Wrong params"))
            return
        done: list[str] = []
        refused: list[str] = []
        for channel in params:
            if method == "UNSUBSCRIPTION":
                old = self.subscriptions.pop(channel, None)
                if old is not None:
                    link.unsubscribe(old)
                done.append(channel)
                continue
            topic = self._resolve(channel)
            if topic is None or (channel not in self.subscriptions and len(self.subscriptions) >= MAX_STREAMS):
                refused.append(channel)
                continue
            if channel not in self.subscriptions:
                self.subscriptions[channel] = topic
                link.subscribe(topic)
            done.append(channel)
        if done:
            link.send(_answer(request_id, ",".join(done)))
        if refused:
            link.send(_answer(request_id, f"Not Subscribed successfully! [{','.join(refused)}].  Reason： Blocked!"))


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class MexcSpot:
    """The ``mexc_spot`` venue."""

    name = SPOT
    description = "MEXC spot: /api/v3/klines, exchangeInfo, time; protobuf kline pushes on /ws"
    intervals: Mapping[str, Interval] = INTERVALS
    # No subscription for 30 s, or no traffic for 60 s: dropped. The server does not ping.
    keepalive = Keepalive(idle_timeout=60.0, unsubscribed_timeout=30.0)
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        return market_for(symbol, price, "spot symbol")

    def symbol(self, market: Market) -> str:
        return spot_symbol(market)

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v3/klines", klines, "klines"),
            RestRoute("GET", "/api/v3/time", server_time, "time"),
            RestRoute("GET", "/api/v3/ping", ping, "ping"),
            RestRoute("GET", "/api/v3/exchangeInfo", exchange_info, "exchangeInfo"),
            RestRoute("GET", "/api/v3/defaultSymbols", default_symbols, "defaultSymbols"),
            RestRoute("GET", "/api/v1/contract/detail", no_contracts, "contract.detail"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/ws",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        return error_response(kind, detail)

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return SpotSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_klines_answer(path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_spot_kline_push(payload, binary)


mexc_spot = MexcSpot()


# ===========================================================================
# MEXC contract (USDT-margined perpetuals): ``api.mexc.com/api/v1/contract`` REST and
# the ``contract.mexc.com/edge`` WebSocket.
#
# Sources: MEXC's futures API docs (mexc.com/api-docs/futures, "Market Endpoints": Get
# Server Time ``/contract/ping``, Get Contract Info ``/contract/detail``, Get Candlestick
# Data ``/contract/kline/{symbol}``: ``interval`` Min1..Month1 (default Min1), ``start``
# and ``end`` in seconds, at most 2000 points; only start: from it to now; only end: the
# 2000 closest to it; neither: the latest 2000; column arrays ``time open close high low
# vol amount realOpen realClose realHigh realLow``; "WebSocket API": ``sub.kline`` /
# ``unsub.kline`` with ``param {symbol, interval}`` answered ``rs.sub.kline`` /
# ``rs.unsub.kline`` ``"success"``, ``push.kline`` data ``{a, c, h, interval, l, o, q, rc,
# rh, rl, ro, symbol, t}``, ``{"method":"ping"}`` -> ``{"channel":"pong","data":ts}``,
# ``rs.error``; a client silent for a minute is dropped), ccxt 4.5 (``fetch_swap_markets``,
# ``fetch_ohlcv`` for swaps: ``start = since/1000``, ``convert_trading_view_to_ohlcv``
# reading ``vol``; pro ``watch_swap_public`` and ``handle_ohlcv``; the exceptions table:
# 1001 "Contract does not exist" BadSymbol, 600 "Param error!" BadRequest), JKorf/Mexc.Net
# (``rs.<method>`` / ``rs.error`` answers).
#
# Unverified (docs/venues/mexc_perpetual.md): ``contractSize`` is the market's quantity
# step (so ``vol`` is a whole number of contracts; MEXC's BTC_USDT has 0.0001); ``end``
# inclusive and ``start`` rounding up to a candle; ``real*`` columns equal to the candle's
# own prices; errors answered with HTTP 200 and ``success: false``; the ``rs.error``
# texts; the ping period a client must keep (60 s of silence).
# ===========================================================================

PERPETUAL = "mexc_perpetual"
CONTRACT_MAX_ROWS = 2000

#: What mexc_perpetual enforces (futures docs "Access Limit": 20 requests per 2 s per IP
#: for public endpoints; over it, HTTP 200 ``{"success":false,"code":510,...}`` as MEXC
#: answers every contract error; no ban, no Retry-After).
CONTRACT_LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("public", SECOND, 2, 20, REQUESTS),),
        ban=None,
        retry_after=None,
    ),
)

CONTRACT_DEFAULT_MARKETS: tuple[Market, ...] = tuple(m for m in DEFAULT_MARKETS if m.quote == "USDT")


def contract_symbol(market: Market) -> str:
    return f"{market.base}_{market.quote}"


def _contract_fail(code: int, message: str) -> VenueError:
    body = _dumps({"success": False, "code": code, "message": message}).encode()
    return VenueError(RestResponse(200, body, content_type=JSON))


def _contract_ok(data: str) -> RestResponse:
    return RestResponse(200, f'{{"success":true,"code":0,"data":{data}}}'.encode(), content_type=JSON)


def _seconds_arg(request: RestRequest, name: str) -> int | None:
    text = request.arg(name)
    if text is None or text == "":
        return None
    if not _NUMBER_RE.match(text):
        raise _contract_fail(600, "Param error!")
    return int(text)


def contract_entry(symbol: str, market: Market) -> dict[str, Any]:
    """One ``/contract/detail`` entry, the docs' key order (the fields ccxt reads and more)."""
    p, q = market.price_decimals, market.qty_decimals
    return {
        "symbol": symbol,
        "displayName": f"{symbol}永续",
        "displayNameEn": f"{symbol} PERPETUAL",
        "positionOpenType": 3,
        "baseCoin": market.base,
        "quoteCoin": market.quote,
        "baseCoinName": market.base,
        "quoteCoinName": market.quote,
        "futureType": 1,
        "settleCoin": market.quote,
        "contractSize": float(plain(1, q)),
        "minLeverage": 1,
        "maxLeverage": 200,
        "priceScale": p,
        "volScale": 0,
        "amountScale": 4,
        "priceUnit": float(plain(1, p)),
        "volUnit": 1,
        "minVol": 1,
        "maxVol": 1000000,
        "bidLimitPriceRate": 0.1,
        "askLimitPriceRate": 0.1,
        "takerFeeRate": 0.0004,
        "makerFeeRate": 0.0001,
        "maintenanceMarginRate": 0.004,
        "initialMarginRate": 0.005,
        "state": 0,
        "isNew": False,
        "isHot": False,
        "isHidden": False,
        "apiAllowed": False,
        "createTime": market.listed_ms,
        "openingTime": market.listed_ms // 1000,
    }


def contract_ping(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/contract/ping``: the server time."""
    return _contract_ok(str(context.now_ms()))


def contract_detail(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/contract/detail`` (all, or one ``symbol`` as an object)."""
    wanted = request.arg("symbol")
    if wanted:
        market = context.markets.get(wanted)
        if market is None:
            raise _contract_fail(1001, "Contract does not exist!")
        return _contract_ok(_dumps(contract_entry(wanted, market)))
    return _contract_ok(_dumps([contract_entry(n, m) for n, m in context.markets.items()]))


def contract_kline(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/contract/kline/{symbol}``: column arrays, oldest first, seconds."""
    symbol = request.path_args.get("symbol", "")
    interval = STREAM_INTERVALS.get(request.arg("interval") or "Min1")
    if interval is None:
        raise _contract_fail(600, "Param error!")
    start = _seconds_arg(request, "start")
    end = _seconds_arg(request, "end")
    market = context.markets.get(symbol)
    if market is None:
        raise _contract_fail(1001, "Contract does not exist!")
    now = context.now_ms()
    columns: dict[str, list[str]] = {k: [] for k in (
        "time", "open", "close", "high", "low", "vol", "amount", "realOpen", "realClose", "realHigh", "realLow")}
    if not (start is not None and end is not None and end < start):
        first_available = context.source.first_open(market, interval)
        first, count = window(interval, 0, first_available, now, None if start is None else start * 1000,
                              None if end is None else end * 1000, CONTRACT_MAX_ROWS, market.listed_ms)
        p = market.price_decimals
        for c in context.source.candles(market, interval, first, count, now) if count else ():
            o, cl, h, lo = plain(c.open, p), plain(c.close, p), plain(c.high, p), plain(c.low, p)
            for key, value in (("time", str(c.open_ms // 1000)), ("open", o), ("close", cl), ("high", h),
                               ("low", lo), ("vol", str(c.volume)),
                               ("amount", plain(c.quote_volume, QUOTE_DECIMALS)),
                               ("realOpen", o), ("realClose", cl), ("realHigh", h), ("realLow", lo)):
                columns[key].append(value)
    data = ",".join(f'"{k}":[{",".join(v)}]' for k, v in columns.items())
    return _contract_ok("{" + data + "}")


@implementer(ITopic)
@frozen
class PushKlineTopic:
    """``push.kline`` for one symbol and interval."""

    feed: Feed
    symbol: str
    interval_name: str

    def render(self, update: CandleUpdate) -> bytes:
        c = update.candle
        p = self.feed.market.price_decimals
        o, cl, h, lo = plain(c.open, p), plain(c.close, p), plain(c.high, p), plain(c.low, p)
        return (
            f'{{"channel":"push.kline","data":{{"a":{plain(c.quote_volume, QUOTE_DECIMALS)},"c":{cl},"h":{h},'
            f'"interval":"{self.interval_name}","l":{lo},"o":{o},"q":{c.volume},"rc":{cl},"rh":{h},"rl":{lo},'
            f'"ro":{o},"symbol":"{self.symbol}","t":{c.open_ms // 1000}}},"symbol":"{self.symbol}",'
            f'"ts":{update.event_ms}}}'
        ).encode()


@implementer(IStreamSession)
class ContractSession:
    """One connection to the contract WebSocket."""

    def __init__(self, context: IVenueContext) -> None:
        self.context = context
        self.link: IStreamLink | None = None
        #: (symbol, interval) -> topic
        self.subscriptions: dict[tuple[str, str], PushKlineTopic] = {}

    def ping_payload(self) -> None:
        return None

    def opened(self, link: IStreamLink) -> None:
        self.link = link

    def _send(self, channel: str, data: Any) -> None:
        assert self.link is not None
        self.link.send(_dumps({"channel": channel, "data": data, "ts": self.link.now_ms()}).encode())

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            self._send("rs.error", "wrong message format")
            return
        method = request["method"]
        if method == "ping":
            link.send(_dumps({"channel": "pong", "data": link.now_ms()}).encode())
            return
        if method not in ("sub.kline", "unsub.kline"):
            self._send("rs.error", f"unknown method: {method}")
            return
        param = request.get("param")
        symbol = param.get("symbol") if isinstance(param, dict) else None
        interval_name = param.get("interval", "Min1") if isinstance(param, dict) else None
        market = self.context.markets.get(symbol) if isinstance(symbol, str) else None
        interval = STREAM_INTERVALS.get(interval_name) if isinstance(interval_name, str) else None
        if market is None or interval is None:
            self._send("rs.error", "Contract does not exist!" if market is None else "interval is invalid")
            return
        key = (symbol, interval_name)
        if method == "sub.kline":
            if key not in self.subscriptions:
                topic = PushKlineTopic(Feed(market, interval), symbol, interval_name)
                self.subscriptions[key] = topic
                link.subscribe(topic)
        else:
            old = self.subscriptions.pop(key, None)
            if old is not None:
                link.unsubscribe(old)
        self._send(f"rs.{method}", "success")


@implementer(IExchange)
class MexcPerpetual:
    """The ``mexc_perpetual`` venue."""

    name = PERPETUAL
    description = "MEXC USDT perpetuals: /api/v1/contract/kline, detail, ping; sub.kline on /edge"
    intervals: Mapping[str, Interval] = STREAM_INTERVALS
    # The client pings ({"method":"ping"}); a connection silent for a minute is dropped.
    keepalive = Keepalive(ping_interval=10.0, pong_timeout=60.0, any_message=True)
    limits = CONTRACT_LIMITS

    def default_markets(self) -> Sequence[Market]:
        return CONTRACT_DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        market = market_for(symbol, price, "contract")
        if market.quote != "USDT":
            raise ValueError(f"{symbol!r} is not a MEXC USDT-margined contract")
        return market

    def symbol(self, market: Market) -> str:
        return contract_symbol(market)

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v1/contract/kline/<symbol>", contract_kline, "contract.kline"),
            RestRoute("GET", "/api/v1/contract/detail", contract_detail, "contract.detail"),
            RestRoute("GET", "/api/v1/contract/ping", contract_ping, "contract.ping"),
            # the spot listing ccxt's load_markets asks for: none here
            RestRoute("GET", "/api/v3/exchangeInfo", no_spot_symbols, "exchangeInfo"),
            RestRoute("GET", "/api/v3/time", server_time, "time"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/edge",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            body = _dumps({"success": False, "code": 510, "message": "Requests are too frequent!"}).encode()
            return RestResponse(200, body, content_type=JSON)
        return error_response(kind, detail)

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return ContractSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_contract_kline_answer(self, path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_push_kline(self, payload, binary)


mexc_perpetual = MexcPerpetual()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402

#: the stream's interval names as spot REST's (the same intervals; ``Hour8`` has none)
_SPOT_INTERVAL_OF = {ws: rest for ws, interval in STREAM_INTERVALS.items() for rest, same in INTERVALS.items()
                     if same == interval}


def _exact_json(data: bytes) -> Any:
    """JSON with numbers kept as the text they were written in (never through a float)."""
    return json.loads(data, parse_float=str, parse_int=str)


@tolerant
def recorded_klines_answer(path: str, args: Mapping[str, Sequence[str]], answer: bytes) -> Sequence[RecordedCandle]:
    """Spot ``/api/v3/klines``: rows ``[open ms, o, h, l, c, volume, close ms, quote
    volume]`` (Kline/Candlestick Data). No trade counts or taker volumes."""
    if path != "/api/v3/klines":
        return ()
    symbol, interval = text(first_arg(args, "symbol")), text(first_arg(args, "interval"))
    if interval not in INTERVALS:
        return ()
    return [
        RecordedCandle(
            symbol, interval, whole(r[0]), decimal_text(r[1]), decimal_text(r[2]), decimal_text(r[3]),
            decimal_text(r[4]), decimal_text(r[5]), decimal_text(r[7]),
        )
        for r in load_json(answer)
    ]


def _spot_kline(symbol: str, stream_interval: str, t_s: Any, o: Any, h: Any, lo: Any, c: Any, v: Any,
                a: Any) -> RecordedCandle | None:
    interval = _SPOT_INTERVAL_OF.get(stream_interval)
    if interval is None:
        return None
    return RecordedCandle(
        symbol, interval, whole(t_s) * 1000, decimal_text(o), decimal_text(h), decimal_text(lo),
        decimal_text(c), decimal_text(v), decimal_text(a),
    )


@tolerant
def recorded_spot_kline_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """A spot kline push: the protobuf ``PushDataV3ApiWrapper`` (symbol field 3,
    ``publicSpotKline`` field 308: interval, windowStart s, opening, closing, highest,
    lowest, volume, amount, windowEnd; ccxt's protobuf/mexc), or the retired JSON
    ``{"c":"spot@public.kline.v3.api@..","d":{"k":{T,a,c,h,i,l,o,t,v}},"s"}``. MEXC does
    not say whether the window closed: ``closed`` None (the next-open-time rule)."""
    if binary:
        wrapper = dict(mexc_pb.decode(payload))
        body = wrapper.get(mexc_pb.PUBLIC_SPOT_KLINE)
        symbol = wrapper.get(3)
        if not isinstance(body, bytes) or not isinstance(symbol, bytes):
            return ()
        k = dict(mexc_pb.decode(body))
        interval, t_s, o, c, h, lo, v, a = (
            k[n].decode("ascii") if isinstance(k[n], bytes) else k[n] for n in range(1, 9)
        )
        candle = _spot_kline(symbol.decode("ascii"), interval, t_s, o, h, lo, c, v, a)
    else:
        message = _exact_json(payload)
        if not text(message["c"]).startswith("spot@public.kline.v3.api@"):
            return ()
        k = message["d"]["k"]
        candle = _spot_kline(text(message["s"]), text(k["i"]), k["t"], k["o"], k["h"], k["l"], k["c"], k["v"],
                             k["a"])
    return () if candle is None else (candle,)


def _lots(venue: Any, symbol: str, lots: Any) -> str:
    """Contracts as base volume: ``contractSize`` is the market's quantity step here
    (see the contract section's notes), so ``lots * 10**-qty_decimals``."""
    return plain(whole(lots), venue.market_for(symbol, 1.0).qty_decimals)


@tolerant
def recorded_contract_kline_answer(
    venue: Any, path: str, args: Mapping[str, Sequence[str]], answer: bytes
) -> Sequence[RecordedCandle]:
    """``/api/v1/contract/kline/{symbol}``: ``{"success":true,"data":{"time":[s],"open",
    "close","high","low","vol" (contracts),"amount" (quote),...}}``, column arrays of
    numbers (Get Candlestick Data); ``interval`` defaults to ``Min1``."""
    prefix = "/api/v1/contract/kline/"
    if not path.startswith(prefix):
        return ()
    symbol = path[len(prefix):]
    interval = first_arg(args, "interval") or "Min1"
    envelope = _exact_json(answer)
    if envelope["success"] is not True or interval not in STREAM_INTERVALS:
        return ()
    d = envelope["data"]
    return [
        RecordedCandle(
            symbol, interval, whole(t) * 1000, decimal_text(o), decimal_text(h), decimal_text(lo),
            decimal_text(c), _lots(venue, symbol, v), decimal_text(a),
        )
        for t, o, h, lo, c, v, a in zip(d["time"], d["open"], d["high"], d["low"], d["close"], d["vol"],
                                         d["amount"], strict=True)
    ]


@tolerant
def recorded_push_kline(venue: Any, payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``{"channel":"push.kline","data":{a, c, h, interval, l, o, q (contracts), rc, rh, rl,
    ro, symbol, t}}`` ("WebSocket API"); no closed flag (the next-open-time rule)."""
    if binary:
        return ()
    message = _exact_json(payload)
    if message["channel"] != "push.kline":
        return ()
    k = message["data"]
    symbol, interval = text(k["symbol"]), text(k["interval"])
    if interval not in STREAM_INTERVALS:
        return ()
    return [RecordedCandle(
        symbol, interval, whole(k["t"]) * 1000, decimal_text(k["o"]), decimal_text(k["h"]), decimal_text(k["l"]),
        decimal_text(k["c"]), _lots(venue, symbol, k["q"]), decimal_text(k["a"]),
    )]


classImplements(MexcSpot, IKlineRecording)
classImplements(MexcPerpetual, IKlineRecording)

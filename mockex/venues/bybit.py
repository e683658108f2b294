"""
Bybit v5 market data: ``/v5/market`` REST and the public kline streams, for the spot
(``bybit_spot``) and USDT-perpetual (``bybit_perpetual``, category ``linear``) venues.

Sources, in order of authority:

* Bybit's v5 API docs (bybit-exchange/docs: v5/market/kline, v5/market/instrument,
  v5/market/time, v5/websocket/public/kline, v5/ws/connect, v5/rate-limit): paths,
  parameters (``category`` optional on kline and ``linear`` by default, ``limit`` 1..1000,
  default 200), interval codes ``1 3 5 15 30 60 120 240 360 720 D W M``, rows newest
  first as 7 strings ``[startTime, open, high, low, close, volume, turnover]``, the
  envelope ``{"retCode","retMsg","result","retExtInfo","time"}`` with HTTP 200 for
  business errors; the WebSocket paths ``/v5/public/spot`` and ``/v5/public/linear``,
  ``{"op":"subscribe","req_id":..,"args":["kline.1.BTCUSDT"]}``, the acks (spot:
  ``ret_msg`` ``"subscribe"``; linear: ``""``), ``{"op":"ping"}`` and its pongs (spot
  ``{"op":"pong","args":["<ms>"]}``, linear ``{"ret_msg":"pong","op":"ping"}``), the
  kline push ``{"topic","data":[{start,end,interval,open,close,high,low,volume,
  turnover,confirm,timestamp}],"ts","type":"snapshot"}``; at most 10 args per spot
  request.
* ccxt 4.5 (bybit.py, pro/bybit.py): what ``fetch_time``, ``load_markets``
  (``instruments-info`` for ``spot``, ``linear`` with ``limit=1000`` and
  ``status=PreLaunch``, ``inverse``; ``nextPageCursor``), ``fetch_ohlcv`` (``start``
  aligned to the interval, ``limit``, paging forward from ``start``) and
  ``watch_ohlcv`` send and read; its error table (10001 BadRequest, 10006 rate limit).
* pybit 5.x (``pybit.unified_trading``): the same REST calls; its WebSocket sends
  ``{"op":"ping"}`` without ``req_id`` and treats ``ret_msg == "pong"`` or
  ``op == "pong"`` as a pong, ``success`` true/false as the subscription answer.
* Messages captured by client projects: ``10001`` ``Not supported symbols`` (spot
  kline, unknown symbol), ``10001`` ``Symbol Is Invalid`` (linear), ``10001`` ``params
  error: intervalTime is invalid`` (pybit #308).

Unverified choices (see docs/venues/bybit_spot.md), each switchable through ``options``:

* ``start`` and ``end`` both given, more than ``limit`` candles between them: the
  newest ``limit`` (anchored at ``end``); ``options["both_bounds"] = "oldest"`` anchors
  at ``start``. Only ``start``: the oldest ``limit`` from it (what ccxt's forward
  pagination needs). Only ``end``: the newest up to it.
* ``limit`` above 1000 is served as 1000, below 1 as the default 200;
  ``options["limit_out_of_range"] = "error"`` answers ``10001`` instead.
* Error texts other than the captured ones (malformed numbers, missing symbol,
  ``category``), and the WebSocket error texts (``error:handler not found,topic:..``,
  ``error:already subscribed,topic:..``, ``error:args size >10``,
  ``error:request not supported``), and that one bad topic fails the whole request.
* Unknown paths: 404 with an empty body; an unexpected failure: HTTP 200
  ``retCode 10016``.

Rate limits (:data:`LIMITS`; docs/rate-limits.md): bybit-exchange docs v5/rate-limit
("HTTP IP limit": 600 requests per 5 s per IP, 403 "access too frequent", wait at least
10 minutes; "Websocket IP limit": 500 connections per 5 minutes, 1,000 market-data
connections per IP); ccxt bybit maps HTTP 403 to RateLimitExceeded; pybit raises "You
have breached the IP rate limit" on a 403. Unverified: the 403 body's exact bytes
(``access too frequent``, text/plain), that the window is fixed (aligned on 5 s), that
the ban starts with the first request over the limit and lasts exactly 10 minutes, and
HTTP 429 for a refused WebSocket upgrade.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer

from mockex.fmt import fixed, plain
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
from mockex.intervals import CANONICAL, DAY_MS, Interval, days_from_civil
from mockex.market import QUOTE_DECIMALS, Candle, Market, window
from mockex.ratelimit import SECOND, REQUESTS, BanPolicy, Limits, RestLimits, RestWindow, WsLimits
from mockex.venues.common import split_symbol

JSON = "application/json"
DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
#: spot accepts at most this many topics in one subscribe request
SPOT_MAX_ARGS = 10

#: Bybit's interval codes.
INTERVALS: dict[str, Interval] = {
    "1": CANONICAL["1m"],
    "3": CANONICAL["3m"],
    "5": CANONICAL["5m"],
    "15": CANONICAL["15m"],
    "30": CANONICAL["30m"],
    "60": CANONICAL["1h"],
    "120": CANONICAL["2h"],
    "240": CANONICAL["4h"],
    "360": CANONICAL["6h"],
    "720": CANONICAL["12h"],
    "D": CANONICAL["1d"],
    "W": CANONICAL["1w"],
    "M": CANONICAL["1M"],
}

#: What bybit_spot and bybit_perpetual enforce (one server is one host, so both
#: categories' endpoints share the IP window, as on api.bybit.com):
#:
#: * HTTP: 600 requests per 5 s per IP (v5/rate-limit "HTTP IP limit"). Going over is
#:   answered with HTTP 403 "access too frequent" and the IP is locked out: "wait for at
#:   least 10 minutes. The ban will be lifted automatically" -- so the first request over
#:   the limit starts a 10-minute ban (``after_rejections=0``, no growth), and every
#:   request meanwhile gets the same 403. No ``Retry-After`` (none documented).
#: * WebSocket: at most 500 connections per 5 minutes per IP, and 1,000 market-data
#:   connections per IP (v5/rate-limit "Websocket IP limit"); no message rate is
#:   documented for public streams. The spot limit of 10 topics per subscribe request is
#:   the session's (``SPOT_MAX_ARGS``).
#: * ``X-Bapi-Limit``, ``X-Bapi-Limit-Status``, ``X-Bapi-Limit-Reset-Timestamp`` belong to
#:   the per-UID "API rate limit" of authenticated endpoints (retCode 10006 "Too many
#:   visits!"); mockex serves public endpoints only, so it sends none of them.
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("IP", SECOND, 5, 600, REQUESTS),),
        ban=BanPolicy(after_rejections=0, first_ms=600_000, factor=1, max_ms=600_000, forgive_ms=600_000),
        retry_after=None,
    ),
    ws=WsLimits(connection_attempts=500, attempts_window_ms=300_000, max_connections=1000),
)

#: The body of the 403 (docs: "403, access too frequent"; unverified: exact bytes, type).
ACCESS_TOO_FREQUENT = RestResponse(403, b"access too frequent", content_type="text/plain; charset=utf-8")

_NUMBER_RE = re.compile(r"^-?[0-9]{1,19}$")
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,40}$")


def _listed(y: int, m: int, d: int) -> int:
    return days_from_civil(y, m, d) * DAY_MS


#: Spot markets as Bybit lists them (tick and base precision), late-2025 prices.
SPOT_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USDT", 90_000.0, price_decimals=2, qty_decimals=6, listed_ms=_listed(2021, 7, 5),
                  daily_volatility=0.025),
    Market.create("ETH", "USDT", 3_000.0, price_decimals=2, qty_decimals=5, listed_ms=_listed(2021, 7, 5),
                  daily_volatility=0.035),
    Market.create("SOL", "USDT", 140.0, price_decimals=2, qty_decimals=3, listed_ms=_listed(2021, 9, 8),
                  daily_volatility=0.045),
    Market.create("XRP", "USDT", 2.2, price_decimals=4, qty_decimals=2, listed_ms=_listed(2021, 7, 5),
                  daily_volatility=0.04),
    Market.create("DOGE", "USDT", 0.16, price_decimals=5, qty_decimals=1, listed_ms=_listed(2021, 7, 5),
                  daily_volatility=0.05),
)

#: USDT perpetuals (``linear``): tick and quantity step as Bybit lists them.
LINEAR_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USDT", 90_000.0, price_decimals=1, qty_decimals=3, listed_ms=_listed(2020, 3, 30),
                  daily_volatility=0.025),
    Market.create("ETH", "USDT", 3_000.0, price_decimals=2, qty_decimals=2, listed_ms=_listed(2020, 10, 21),
                  daily_volatility=0.035),
    Market.create("SOL", "USDT", 140.0, price_decimals=3, qty_decimals=1, listed_ms=_listed(2021, 6, 29),
                  daily_volatility=0.045),
    Market.create("XRP", "USDT", 2.2, price_decimals=4, qty_decimals=0, listed_ms=_listed(2021, 5, 12),
                  daily_volatility=0.04),
    Market.create("DOGE", "USDT", 0.16, price_decimals=5, qty_decimals=0, listed_ms=_listed(2021, 5, 12),
                  daily_volatility=0.05),
)


# ---------------------------------------------------------------------------
# Envelopes and errors


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def envelope(result: str, now_ms: int, code: int = 0, msg: str = "OK") -> bytes:
    """``{"retCode":..,"retMsg":..,"result":..,"retExtInfo":{},"time":..}``."""
    return (
        f'{{"retCode":{code},"retMsg":{_dumps(msg)},"result":{result},"retExtInfo":{{}},"time":{now_ms}}}'
    ).encode()


def _error(now_ms: int, code: int, msg: str) -> VenueError:
    return VenueError(RestResponse(200, envelope("{}", now_ms, code, msg), content_type=JSON))


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: RestResponse(404, b"", content_type="text/plain"),
    METHOD_NOT_ALLOWED: RestResponse(405, b"", content_type="text/plain"),
    INTERNAL: RestResponse(200, b'{"retCode":10016,"retMsg":"Internal server error.","result":{},"retExtInfo":{}}',
                           content_type=JSON),
    DISCONNECTED: RestResponse(503, b'{"retCode":10016,"retMsg":"Service unavailable.","result":{},"retExtInfo":{}}',
                               content_type=JSON),
    TIMEOUT: RestResponse(200, b'{"retCode":10000,"retMsg":"Server Timeout","result":{},"retExtInfo":{}}',
                          content_type=JSON),
    BUSY: RestResponse(200, b'{"retCode":10016,"retMsg":"System busy, please try again later.","result":{},"retExtInfo":{}}',
                       content_type=JSON),
}


# ---------------------------------------------------------------------------
# The venue family


@frozen
class Category:
    """What differs between Bybit's spot and linear venues."""

    name: str  # "spot" or "linear"
    markets: tuple[Market, ...]
    bad_symbol: str
    subscribe_ret_msg: str


SPOT = Category("spot", SPOT_MARKETS, "Not supported symbols", "subscribe")
LINEAR = Category("linear", LINEAR_MARKETS, "Symbol Is Invalid", "")


def _int(request: RestRequest, name: str, now_ms: int) -> int | None:
    value = request.arg(name)
    if value is None or value == "":
        return None
    if not _NUMBER_RE.match(value):
        raise _error(now_ms, 10001, f"params error: {name} is invalid")
    return int(value)


def kline_row(candle: Candle, market: Market) -> bytes:
    """``["start","open","high","low","close","volume","turnover"]``, trailing zeros trimmed."""
    p, q = market.price_decimals, market.qty_decimals
    return (
        f'["{candle.open_ms}","{plain(candle.open, p)}","{plain(candle.high, p)}","{plain(candle.low, p)}",'
        f'"{plain(candle.close, p)}","{plain(candle.volume, q)}","{plain(candle.quote_volume, QUOTE_DECIMALS)}"]'
    ).encode()


def select(
    interval: Interval, first_available: int, now: int, start: int | None, end: int | None, limit: int,
    listed_ms: int, anchor_oldest: bool, offset: int = 0,
) -> tuple[int, int]:
    """
    Which candles a (start, end, limit) query selects, as ``(first_open, count)``: with
    ``anchor_oldest`` the oldest ``limit`` from ``start`` (:func:`mockex.market.window`),
    otherwise the newest ``limit`` up to ``end`` that open at or after ``start``.
    """
    if start is not None and not anchor_oldest:
        first, count = window(interval, offset, first_available, now, None, end, limit, listed_ms)
        lowest = interval.ceil(start, offset)
        if count and first < lowest:
            last = interval.shift(first, count - 1, offset)
            count = interval.count_between(lowest, last, offset) if last >= lowest else 0
            first = lowest
        return first, count
    return window(interval, offset, first_available, now, start, end, limit, listed_ms)


class BybitRest:
    """The REST handlers of one category (a venue)."""

    def __init__(self, category: Category) -> None:
        self.category = category

    def server_time(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        now = context.now_ms()
        result = f'{{"timeSecond":"{now // 1000}","timeNano":"{now * 1_000_000}"}}'
        return RestResponse(200, envelope(result, now), content_type=JSON)

    def instruments(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        now = context.now_ms()
        category = request.arg("category")
        if category not in ("spot", "linear", "inverse", "option"):
            raise _error(now, 10001, "Illegal category")
        symbol = request.arg("symbol")
        status = request.arg("status")
        base_coin = request.arg("baseCoin")
        limit = _int(request, "limit", now)
        if limit is not None and not 1 <= limit <= 1000:
            raise _error(now, 10001, "params error: limit is invalid")
        entries = []
        if category == self.category.name and status in (None, "", "Trading"):
            for name, market in context.markets.items():
                if symbol and symbol != name:
                    continue
                if base_coin and base_coin != market.base:
                    continue
                entries.append(self._instrument(name, market))
        if limit is not None:
            entries = entries[:limit]
        result = f'{{"category":"{category}","list":[{",".join(entries)}]'
        if category != "spot":
            result += ',"nextPageCursor":""'
        result += "}"
        return RestResponse(200, envelope(result, now), content_type=JSON)

    def _instrument(self, name: str, market: Market) -> str:
        p, q = market.price_decimals, market.qty_decimals
        tick = fixed(1, p, p)
        step = fixed(1, q, q)
        if self.category.name == "spot":
            max_qty = fixed(round(1e7 / market.price) * 10**q, q, q)
            entry: dict[str, Any] = {
                "symbol": name, "baseCoin": market.base, "quoteCoin": market.quote, "innovation": "0",
                "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
                "lotSizeFilter": {"basePrecision": step, "quotePrecision": "0.00000001", "minOrderQty": step,
                                  "maxOrderQty": max_qty, "minOrderAmt": "1", "maxOrderAmt": "2000000"},
                "priceFilter": {"tickSize": tick},
                "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
            }
        else:
            max_price = fixed(round(market.price * 20) * 10**p, p, p)
            max_qty = fixed(round(1e8 / market.price) * 10**q, q, q)
            entry = {
                "symbol": name, "contractType": "LinearPerpetual", "status": "Trading",
                "baseCoin": market.base, "quoteCoin": market.quote, "launchTime": str(market.listed_ms),
                "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": str(p),
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
                "priceFilter": {"minPrice": tick, "maxPrice": max_price, "tickSize": tick},
                "lotSizeFilter": {"maxOrderQty": max_qty, "minOrderQty": step, "qtyStep": step,
                                  "postOnlyMaxOrderQty": max_qty, "maxMktOrderQty": max_qty,
                                  "minNotionalValue": "5"},
                "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": market.quote,
                "copyTrading": "both", "upperFundingRate": "0.005", "lowerFundingRate": "-0.005",
                "isPreListing": False, "preListingInfo": None,
                "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            }
        return _dumps(entry)

    def kline(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        now = context.now_ms()
        options = context.options
        category = request.arg("category") or "linear"
        if category not in ("spot", "linear", "inverse"):
            raise _error(now, 10001, "Illegal category")
        symbol = request.arg("symbol")
        if not symbol:
            raise _error(now, 10001, "params error: symbol is required")
        interval_name = request.arg("interval")
        interval = INTERVALS.get(interval_name or "")
        if interval is None:
            raise _error(now, 10001, "params error: intervalTime is invalid")
        start = _int(request, "start", now)
        end = _int(request, "end", now)
        limit = _int(request, "limit", now)
        if limit is None:
            limit = DEFAULT_LIMIT
        elif not 1 <= limit <= MAX_LIMIT:
            if options.get("limit_out_of_range") == "error":
                raise _error(now, 10001, "params error: limit is invalid")
            limit = MAX_LIMIT if limit > MAX_LIMIT else DEFAULT_LIMIT
        market = context.markets.get(symbol) if category == self.category.name else None
        if market is None:
            bad = SPOT.bad_symbol if category == "spot" else LINEAR.bad_symbol
            raise _error(now, 10001, bad)
        # The envelope around the list, joined with the rows in one pass.
        prefix = b'{"retCode":0,"retMsg":"OK","result":{"symbol":"' + symbol.encode() + b'","category":"' \
            + category.encode() + b'","list":['
        suffix = b']},"retExtInfo":{},"time":%d}' % now
        out = prefix + suffix
        if start is None or end is None or start <= end:
            first_available = context.source.first_open(market, interval)
            # Only "start": the oldest from it; both: newest from "end" unless switched.
            first, count = select(
                interval, first_available, now, None if start is None else max(start, 0),
                end, limit, market.listed_ms, end is None or options.get("both_bounds") == "oldest",
            )
            out = context.rows.rows(
                market, interval, 0, first, count, now, ("bybit", self.category.name),
                lambda c: kline_row(c, market), newest_first=True, prefix=prefix, suffix=suffix,
            )
        return RestResponse(200, out, content_type=JSON)


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class KlineTopic:
    """``kline.<interval>.<symbol>``."""

    feed: Feed
    topic: str
    interval_name: str

    def render(self, update: CandleUpdate) -> bytes:
        c = update.candle
        market = update.feed.market
        p, q = market.price_decimals, market.qty_decimals
        return (
            f'{{"topic":"{self.topic}","data":[{{"start":{c.open_ms},"end":{c.end_ms - 1},'
            f'"interval":"{self.interval_name}","open":"{plain(c.open, p)}","close":"{plain(c.close, p)}",'
            f'"high":"{plain(c.high, p)}","low":"{plain(c.low, p)}","volume":"{plain(c.volume, q)}",'
            f'"turnover":"{plain(c.quote_volume, QUOTE_DECIMALS)}","confirm":{"true" if c.closed else "false"},'
            f'"timestamp":{update.event_ms}}}],"ts":{update.event_ms},"type":"snapshot"}}'
        ).encode()


_CONNECTIONS = itertools.count(1)


@implementer(IStreamSession)
class BybitSession:
    """One connection to ``/v5/public/<category>``."""

    def __init__(self, context: IVenueContext, category: Category) -> None:
        self.context = context
        self.category = category
        n = next(_CONNECTIONS)
        self.conn_id = f"mx{n:08x}-{category.name}"
        self.topics: dict[str, KlineTopic] = {}
        self.link: IStreamLink | None = None

    def ping_payload(self) -> bytes | None:
        return None

    def opened(self, link: IStreamLink) -> None:
        self.link = link

    def _answer(self, op: str, success: bool, ret_msg: str, req_id: Any) -> bytes:
        reply: dict[str, Any] = {"success": success, "ret_msg": ret_msg, "conn_id": self.conn_id}
        if req_id is not None:
            reply["req_id"] = req_id
        reply["op"] = op
        return _dumps(reply).encode()

    def _topic(self, name: Any) -> KlineTopic | None:
        if not isinstance(name, str):
            return None
        parts = name.split(".")
        if len(parts) != 3 or parts[0] != "kline":
            return None
        interval = INTERVALS.get(parts[1])
        market = self.context.markets.get(parts[2])
        if interval is None or market is None:
            return None
        return KlineTopic(Feed(market, interval), name, parts[1])

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            link.send(self._answer("", False, "error:invalid request", None))
            return
        if not isinstance(request, dict):
            link.send(self._answer("", False, "error:invalid request", None))
            return
        op = request.get("op")
        req_id = request.get("req_id")
        if req_id is not None and not isinstance(req_id, str):
            req_id = _dumps(req_id)
        if op == "ping":
            now = link.now_ms()
            if self.category.name == "spot":
                reply: dict[str, Any] = {}
                if req_id is not None:
                    reply["req_id"] = req_id
                reply.update({"op": "pong", "args": [str(now)], "conn_id": self.conn_id})
                link.send(_dumps(reply).encode())
            else:
                link.send(self._answer("ping", True, "pong", req_id))
            return
        if op not in ("subscribe", "unsubscribe"):
            shown = op if isinstance(op, str) else _dumps(op)
            link.send(self._answer(shown if isinstance(op, str) else "", False,
                                   f"error:request not supported, op: {shown}", req_id))
            return
        args = request.get("args")
        if not isinstance(args, list) or not args:
            link.send(self._answer(op, False, "error:args is empty", req_id))
            return
        if self.category.name == "spot" and len(args) > SPOT_MAX_ARGS:
            link.send(self._answer(op, False, f"error:args size >{SPOT_MAX_ARGS}", req_id))
            return
        topics = []
        for name in args:
            topic = self._topic(name)
            if topic is None:
                shown = name if isinstance(name, str) else _dumps(name)
                link.send(self._answer(op, False, f"error:handler not found,topic:{shown}", req_id))
                return
            if op == "subscribe" and name in self.topics:
                link.send(self._answer(op, False, f"error:already subscribed,topic:{name}", req_id))
                return
            topics.append(topic)
        if op == "subscribe":
            link.send(self._answer(op, True, self.category.subscribe_ret_msg, req_id))
            for topic in topics:
                self.topics[topic.topic] = topic
                link.subscribe(topic)
        else:
            link.send(self._answer(op, True, "", req_id))
            for topic in topics:
                if self.topics.pop(topic.topic, None) is not None:
                    link.unsubscribe(topic)


# ---------------------------------------------------------------------------
# The plugins


@implementer(IExchange)
class Bybit:
    """A Bybit venue: one category of instruments."""

    intervals: Mapping[str, Interval] = INTERVALS
    # Bybit sends no pings; clients ping with {"op":"ping"} (and WebSocket pings, which
    # are answered).
    keepalive = Keepalive()
    limits = LIMITS

    def __init__(self, name: str, category: Category, description: str) -> None:
        self.name = name
        self.category = category
        self.description = description
        self._rest = BybitRest(category)

    def default_markets(self) -> Sequence[Market]:
        return self.category.markets

    def market_for(self, symbol: str, price: float) -> Market:
        base, quote = split_symbol(symbol)
        if not _SYMBOL_RE.match(base + quote):
            raise ValueError(f"{symbol!r} is not a Bybit symbol")
        for market in self.category.markets:
            if (market.base, market.quote) == (base, quote):
                return Market.create(
                    base, quote, price, price_decimals=market.price_decimals,
                    qty_decimals=market.qty_decimals, listed_ms=market.listed_ms,
                    daily_volatility=market.daily_volatility,
                )
        return Market.create(base, quote, price)

    def symbol(self, market: Market) -> str:
        return market.base + market.quote

    def rest_routes(self) -> Sequence[RestRoute]:
        rest = self._rest
        return (
            RestRoute("GET", "/v5/market/time", rest.server_time, "time"),
            RestRoute("GET", "/v5/market/instruments-info", rest.instruments, "instruments-info"),
            RestRoute("GET", "/v5/market/kline", rest.kline, "kline"),
        )

    def ws_paths(self) -> Sequence[str]:
        return (f"/v5/public/{self.category.name}",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            return ACCESS_TOO_FREQUENT
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return BybitSession(context, self.category)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_kline_answer(self.category.name, path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_kline_push(payload, binary)


bybit_spot = Bybit("bybit_spot", SPOT, "Bybit spot: /v5/market kline, instruments-info, time; /v5/public/spot")
bybit_perpetual = Bybit(
    "bybit_perpetual", LINEAR, "Bybit USDT perpetuals: /v5/market (category=linear); /v5/public/linear"
)


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402


@tolerant
def recorded_kline_answer(
    category: str, path: str, args: Mapping[str, Sequence[str]], answer: bytes
) -> Sequence[RecordedCandle]:
    """``/v5/market/kline``: ``{"retCode":0,"result":{"symbol","category","list":[rows]}}``,
    rows newest first ``[startTime, open, high, low, close, volume, turnover]``
    (v5/market/kline). Only this venue's category: Bybit serves spot and linear
    klines on one host, under the same symbols. No trade counts or taker volumes."""
    if path != "/v5/market/kline":
        return ()
    envelope = load_json(answer)
    result = envelope["result"]
    if envelope["retCode"] != 0 or result["category"] != category:
        return ()
    symbol = text(result["symbol"])
    interval = text(first_arg(args, "interval"))
    return [
        RecordedCandle(
            symbol, interval, whole(r[0]), decimal_text(r[1]), decimal_text(r[2]), decimal_text(r[3]),
            decimal_text(r[4]), decimal_text(r[5]), decimal_text(r[6]),
        )
        for r in result["list"]
    ]


@tolerant
def recorded_kline_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``{"topic":"kline.<interval>.<symbol>","data":[{start,end,interval,open,close,high,
    low,volume,turnover,confirm,timestamp}]}`` (v5/websocket/public/kline), closed per
    ``confirm``."""
    if binary:
        return ()
    message = load_json(payload)
    kind, interval, symbol = text(message["topic"]).split(".")
    if kind != "kline" or interval not in INTERVALS:
        return ()
    out = []
    for k in message["data"]:
        if not isinstance(k["confirm"], bool):
            continue
        out.append(RecordedCandle(
            symbol, interval, whole(k["start"]), decimal_text(k["open"]), decimal_text(k["high"]),
            decimal_text(k["low"]), decimal_text(k["close"]), decimal_text(k["volume"]),
            decimal_text(k["turnover"]), closed=k["confirm"],
        ))
    return out


classImplements(Bybit, IKlineRecording)

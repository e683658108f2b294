"""
Binance spot market data: ``/api/v3`` REST and the kline streams of
``stream.binance.com``.

Sources, in order of authority (see ``../shared/reference/binance_spot.md``):

* binance/binance-spot-api-docs: rest-api.md (klines parameters, ``timeZone``, row
  layout, exchangeInfo filters), errors.md (codes and messages, "Last Updated
  2025-01-09"), web-socket-streams.md (paths, SUBSCRIBE and friends, the error table,
  kline payload, 20 s pings / 1 min pong timeout per the 2025-02-05 CHANGELOG),
  CHANGELOG 2024-11-27 (``X-MBX-TIME-UNIT``, ``timeUnit``; out-of-range
  ``startTime``/``endTime`` are adjusted, not rejected).
* Responses captured by client projects: ``-1104`` for unread parameters
  (python-binance #172, binance-connector-python #93: "read '2' parameter(s) but was
  sent '3'"); the 2025+ symbol pattern ``^[\\w\\-._&&[^a-z]]{1,50}$`` (live captures
  2025-12 and 2026-09; the older ``^[A-Z0-9-_.]{1,20}$`` text is pre-2025); nested
  WebSocket errors ``{"error":{...},"id":..}`` and ``Invalid request: invalid stream``
  followed by a close (ccxt.pro's handle_ws_error, live capture 2026-08).
* ccxt 4.5 (binance.py / pro/binance.py): what ``load_markets`` and ``fetch_ohlcv``
  request, which exchangeInfo fields ``parse_market`` reads.

Unverified choices, each switchable through ``options`` (see docs/venues/binance_spot.md):

* ``limit`` above 1000 is clamped to 1000 (spot answered so for ccxt's ``limit=1500``
  for years); ``options["limit_over_max"] = "error"`` answers ``-1130`` instead.
  ``limit=0`` answers ``-1130`` "Data sent for parameter 'limit' is not valid.".
* Parameter check order: duplicates (-1101), missing mandatory ``symbol`` then
  ``interval`` (-1102), more keys than the endpoint takes (-1101, "Too many parameters";
  these three as a 2018 side-by-side test of the live API found), then each parameter in
  the documented order (malformed: -1100, bad interval: -1120, bad timeZone: -1130),
  then unread parameters (-1104), then the symbol lookup (-1121).
* ``3d`` candles open on days divisible by three since the epoch (ccxt's model).
* A kline with no trades has ``f`` = ``L`` = -1 and ``n`` = 0 (W12).

Rate limits (:data:`LIMITS`, enforced by :mod:`mockex.ratelimit`; docs/rate-limits.md):

* Documented (rest-api.md "LIMITS", web-socket-streams.md "WebSocket Limits",
  errors.md -1003): REQUEST_WEIGHT 6000 / 1 MINUTE and RAW_REQUESTS 61000 / 5 MINUTE
  per IP; weights ping 1, time 1, exchangeInfo 20, klines 2, uiKlines 2; every
  response carries ``x-mbx-used-weight`` and ``x-mbx-used-weight-1m`` (lower case,
  binance-connector-python #93); 429 then 418 with ``Retry-After``; bans "scale in
  duration for repeat offenders, from 2 minutes to 3 days". Streams: 5 incoming
  messages per second (ping, pong, JSON), 1024 streams per connection, 300
  connection attempts per 5 minutes per IP.
* Observed by users: over the message rate the server closes with 1008 "Too many
  requests" (binance-connector-js #530, binance-connector-go #90) and the window is
  a strict sliding second (nautilus_trader #5012); subscribing past the stream limit
  answers ``{"error":{"code":4,"msg":"Too many subscriptions"},"id":..}``
  (unicorn-binance-websocket-api #17).
* Unverified, declared here as parameters: a ban comes after 10 rejected (429)
  requests in a row, doubling from 2 minutes to at most 3 days, forgotten after a
  day without one; the RAW_REQUESTS message; streams named in the URL beyond the
  limit (error frame with ``"id":null``, then close 1008); refused upgrades
  (HTTP 429); 404/405 answers are neither counted nor given headers.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer, provider

from mockex.fmt import fixed, fixed_piece
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
    IShutdownNoticeSession,
    IStreamSession,
    ITopic,
    IVenueContext,
    Keepalive,
    RestRequest,
    RestResponse,
    RestRoute,
    VenueError,
)
from mockex.intervals import CANONICAL, HOUR_MS, MINUTE_MS, Interval
from mockex.market import QUOTE_DECIMALS, Candle, Market, window
from mockex.venues.common import DEFAULT_MARKETS, QUOTES, reference_market, split_symbol  # noqa: F401 (re-exported)
from mockex.rows import row_formatter
from mockex.ratelimit import (
    DAY,
    MINUTE,
    ORDERS,
    REQUESTS,
    SECOND,
    WEIGHT,
    BanPolicy,
    Limits,
    RestLimits,
    RestWindow,
    WsLimits,
)

NAME = "binance_spot"
#: Binance writes every decimal of klines with 8 places ("50000.01000000").
PLACES = 8
KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1000
JSON = "application/json;charset=UTF-8"

SYMBOL_PATTERN = r"^[\w\-._&&[^a-z]]{1,50}$"
_SYMBOL_RE = re.compile(r"^[A-Z0-9_.\-]{1,50}$")
_NUMBER_PATTERN = "^[0-9]{1,20}$"
_NUMBER_RE = re.compile(r"^[0-9]{1,20}$")
_TZ_RE = re.compile(r"^([+-]?)([0-9]{1,2})(?::([0-9]{2}))?$")
_STREAM_RE = re.compile(r"^[A-Za-z0-9!][A-Za-z0-9_.!\-]*(@[A-Za-z0-9_.:+!\-]+)*$")
_KLINE_RE = re.compile(r"^([a-z0-9_.\-]+)@kline_([0-9]+[smhdwM])(@\+08:00)?$")

#: What binance_spot enforces, and (through exchangeInfo ``rateLimits``) advertises.
#: ORDERS windows are advertised as Binance does; mockex has no order endpoints.
LIMITS = Limits(
    rest=RestLimits(
        windows=(
            RestWindow("REQUEST_WEIGHT", MINUTE, 1, 6000, WEIGHT,
                       headers=("x-mbx-used-weight", "x-mbx-used-weight-{num}{letter}")),
            RestWindow("ORDERS", SECOND, 10, 100, ORDERS),
            RestWindow("ORDERS", DAY, 1, 200000, ORDERS),
            RestWindow("RAW_REQUESTS", MINUTE, 5, 61000, REQUESTS),
        ),
        weights={
            "ping": 1, "time": 1, "exchangeInfo": 20, "klines": 2, "uiKlines": 2,
            "fapi.exchangeInfo": 1, "dapi.exchangeInfo": 1,
        },
        ban=BanPolicy(after_rejections=10, first_ms=120_000, factor=2, max_ms=259_200_000,
                      forgive_ms=86_400_000),
        retry_after="Retry-After",
    ),
    ws=WsLimits(
        messages=5, message_window_ms=1000, max_streams=1024,
        connection_attempts=300, attempts_window_ms=300_000, max_connections=None,
        close_code=1008, close_reason="Too many requests", refuse_status=429,
    ),
)


def rate_limits_json(limits: Limits) -> list[dict[str, Any]]:
    """exchangeInfo's ``rateLimits``: the windows of ``limits``, in declaration order."""
    return [
        {"rateLimitType": w.type, "interval": w.interval, "intervalNum": w.interval_num, "limit": w.limit}
        for w in limits.rest.windows
    ]


#: The advertised limits as declared (before any run-time change).
RATE_LIMITS: tuple[dict[str, Any], ...] = tuple(rate_limits_json(LIMITS))

# ---------------------------------------------------------------------------
# Errors


def error(code: int, msg: str, status: int = 400) -> RestResponse:
    body = json.dumps({"code": code, "msg": msg}, separators=(",", ":")).encode()
    return RestResponse(status, body, content_type=JSON)


def fail(code: int, msg: str, status: int = 400) -> VenueError:
    return VenueError(error(code, msg, status))


def rate_limited(detail: str) -> RestResponse:
    """429 -1003 for a window given as ``"<type> <limit> <num> <INTERVAL>"``."""
    kind, limit, num, unit = (detail.split() + ["", "", "", ""])[:4]
    if kind == "RAW_REQUESTS":
        # unverified: errors.md has no text for it; the pre-2019 request-count message
        msg = (f"Too many requests; current limit is {limit} requests per {num} {unit}. "
               "Please use WebSocket Streams for live updates to avoid polling the API.")
    else:
        msg = (f"Too much request weight used; current limit is {limit} request weight per {num} {unit}. "
               "Please use WebSocket Streams for live updates to avoid polling the API.")
    return error(-1003, msg, 429)


def banned(until_ms: str) -> RestResponse:
    """418 -1003: banned until ``until_ms``."""
    return error(
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use WebSocket Streams for live updates to avoid bans.",
        418,
    )


def illegal(name: str, pattern: str) -> VenueError:
    return fail(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{pattern}'.")


def mandatory_error(name: str) -> VenueError:
    return fail(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def invalid_data(name: str) -> VenueError:
    return fail(-1130, f"Data sent for parameter '{name}' is not valid.")


ERRORS: dict[str, RestResponse] = {
    # Binance answers unknown paths with an empty-bodied 404 (clients see a network /
    # exchange error: ccxt raises ExchangeNotAvailable).
    NOT_FOUND: RestResponse(404, b"", content_type="text/plain"),
    METHOD_NOT_ALLOWED: RestResponse(405, b"", content_type="text/plain"),
    INTERNAL: error(-1000, "An unknown error occurred while processing the request.", 500),
    DISCONNECTED: error(-1001, "Internal error; unable to process your request. Please try again.", 500),
    TIMEOUT: error(
        -1007,
        "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
        503,
    ),
    BUSY: error(
        -1008,
        "Server is currently overloaded with other requests. Please try again in a few minutes.",
        503,
    ),
}



def shutdown_notice(now_ms: int, combined: bool, scale: int = 1) -> bytes:
    """W9: ``{"e":"serverShutdown","E":ms}``, combined ``{"stream":"!serverShutdown","data":...}``."""
    payload = f'{{"e":"serverShutdown","E":{now_ms * scale}}}'
    if combined:
        payload = f'{{"stream":"!serverShutdown","data":{payload}}}'
    return payload.encode()


# ---------------------------------------------------------------------------
# Request parsing


class Params:
    """
    Query parameters read with Binance's discipline: a repeated key is -1101; the
    mandatory ones (in order) are -1102 when absent; more distinct keys than the
    endpoint accepts is -1101 "Too many parameters"; keys it never read are -1104.
    """

    def __init__(
        self, request: RestRequest, accepted: int | None = None, mandatory: Sequence[str] = ()
    ) -> None:
        self.args = request.args
        self.read: set[str] = set()
        for values in self.args.values():
            if len(values) > 1:
                raise fail(-1101, "Duplicate values for a parameter detected.")
        for name in mandatory:
            if not self.args.get(name, [""])[0]:
                raise mandatory_error(name)
        if accepted is not None and len(self.args) > accepted:
            raise fail(-1101, f"Too many parameters; expected '{accepted}' and received '{len(self.args)}'.")

    def get(self, name: str) -> str | None:
        values = self.args.get(name)
        if values is None:
            return None
        self.read.add(name)
        return values[0]

    def required(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise mandatory_error(name)
        return value

    def number(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not _NUMBER_RE.match(value):
            raise illegal(name, _NUMBER_PATTERN)
        return int(value)

    def symbol(self, name: str = "symbol") -> str:
        value = self.required(name)
        if not _SYMBOL_RE.match(value):
            raise illegal(name, SYMBOL_PATTERN)
        return value

    def all_read(self) -> None:
        sent = len(self.args)
        if len(self.read) != sent:
            raise fail(
                -1104,
                f"Not all sent parameters were read; read '{len(self.read)}' parameter(s) but was sent '{sent}'.",
            )


def parse_time_zone(text: str) -> int:
    """A ``timeZone`` (``-1:00``, ``05:45``, ``8``, ``+8``) as an offset in ms."""
    m = _TZ_RE.match(text.strip())
    if not m:
        raise invalid_data("timeZone")
    sign, hours, minutes = m.group(1), int(m.group(2)), int(m.group(3) or 0)
    if minutes >= 60:
        raise invalid_data("timeZone")
    offset = (hours * 60 + minutes) * MINUTE_MS
    if sign == "-":
        offset = -offset
    if not -12 * HOUR_MS <= offset <= 14 * HOUR_MS:
        raise invalid_data("timeZone")
    return offset


def time_unit_scale(value: str | None) -> int:
    """1 for milliseconds, 1000 for microseconds (``X-MBX-TIME-UNIT`` / ``timeUnit``)."""
    if value is None or value in ("MILLISECOND", "millisecond"):
        return 1
    if value in ("MICROSECOND", "microsecond"):
        return 1000
    raise fail(-1194, "Invalid value for time unit; expected either MICROSECOND or MILLISECOND.")


def _market(context: IVenueContext, symbol: str) -> Market:
    market = context.markets.get(symbol)
    if market is None:
        raise fail(-1121, "Invalid symbol.")
    return market


# ---------------------------------------------------------------------------
# Formatting


#: How many decimals a venue writes for (prices, base volumes, quote volumes) of a
#: market: spot pads everything to 8; USDⓈ-M futures write the symbol's own precision.
Places = tuple[int, int, int]


def spot_places(market: Market) -> Places:
    return (PLACES, PLACES, PLACES)


def kline_row(candle: Candle, market: Market, scale: int, places: Places = (PLACES, PLACES, PLACES)) -> bytes:
    """One REST row: 12 fields, times as integers, decimals as strings (8 places on spot)."""
    return kline_formatter(market.price_decimals, market.qty_decimals, scale, places)(candle)


@lru_cache(maxsize=256)
def kline_formatter(
    price_decimals: int, qty_decimals: int, scale: int, places: Places = (PLACES, PLACES, PLACES)
) -> Callable[[Candle], bytes]:
    """
    :func:`kline_row` for one market's decimals: one ``%`` template per row instead of a
    :func:`~mockex.fmt.fixed` call per field, and many rows in one comprehension
    (:func:`~mockex.rows.row_formatter`; same bytes; negative values, which the model
    never makes, take the plain path).
    """
    p, q = price_decimals, qty_decimals
    pp, qp, vp = places
    tables: dict[str, Any] = {}
    pieces = [
        fixed_piece(f"{{{name}}}", p, pp, tables) for name in ("open", "high", "low", "close")
    ] + [fixed_piece("{volume}", q, qp, tables)]
    quote = fixed_piece("{quote_volume}", QUOTE_DECIMALS, vp, tables)
    taker = fixed_piece("{taker_base}", q, qp, tables)
    taker_quote = fixed_piece("{taker_quote}", QUOTE_DECIMALS, vp, tables)
    template = (
        '[%d,"' + '","'.join(t for t, _ in pieces) + '",%d,"' + quote[0] + '",%d,"'
        + taker[0] + '","' + taker_quote[0] + '","0"]'
    )
    times = "" if scale == 1 else f" * {scale}"
    args = (
        f"{{open_ms}}{times}, " + " ".join(a for _, a in pieces) + f" {{end_ms}}{times} - 1, "
        + quote[1] + " {trades}, " + taker[1] + " " + taker_quote[1]
    )

    def slow(c: Candle) -> bytes:
        return (
            f'[{c.open_ms * scale},"{fixed(c.open, p, pp)}","{fixed(c.high, p, pp)}",'
            f'"{fixed(c.low, p, pp)}","{fixed(c.close, p, pp)}","{fixed(c.volume, q, qp)}",'
            f'{c.end_ms * scale - 1},"{fixed(c.quote_volume, QUOTE_DECIMALS, vp)}",{c.trades},'
            f'"{fixed(c.taker_base, q, qp)}","{fixed(c.taker_quote, QUOTE_DECIMALS, vp)}","0"]'
        ).encode()

    return row_formatter(template, args, slow, tables)


def kline_event(
    symbol: str, interval_name: str, update: CandleUpdate, scale: int, places: Places = (PLACES, PLACES, PLACES)
) -> str:
    """The ``kline`` event payload of the streams (field order as documented)."""
    c = update.candle
    market = update.feed.market
    p, q = market.price_decimals, market.qty_decimals
    pp, qp, vp = places
    return (
        f'{{"e":"kline","E":{update.event_ms * scale},"s":"{symbol}","k":{{'
        f'"t":{c.open_ms * scale},"T":{c.end_ms * scale - 1},"s":"{symbol}","i":"{interval_name}",'
        f'"f":{c.first_trade_id},"L":{c.last_trade_id},"o":"{fixed(c.open, p, pp)}",'
        f'"c":"{fixed(c.close, p, pp)}","h":"{fixed(c.high, p, pp)}","l":"{fixed(c.low, p, pp)}",'
        f'"v":"{fixed(c.volume, q, qp)}","n":{c.trades},"x":{"true" if c.closed else "false"},'
        f'"q":"{fixed(c.quote_volume, QUOTE_DECIMALS, vp)}","V":"{fixed(c.taker_base, q, qp)}",'
        f'"Q":"{fixed(c.taker_quote, QUOTE_DECIMALS, vp)}","B":"0"}}}}'
    )


def _filters(market: Market) -> list[dict[str, Any]]:
    p, q = market.price_decimals, market.qty_decimals
    tick = fixed(1, p, PLACES)
    step = fixed(1, q, PLACES)
    max_price = fixed(round(market.price * 100) * 10**p, p, PLACES)
    # BTCUSDT lists maxQty 9000; cheaper assets proportionally more.
    max_qty = fixed(max(9_000, round(9e7 / market.price)) * 10**q, q, PLACES)
    return [
        {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": max_price, "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": step, "maxQty": max_qty, "stepSize": step},
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": max_qty, "stepSize": "0.00000000"},
        {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
         "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
        {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
         "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
        {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
         "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": 20},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": 10},
    ]


PERMISSION_SET = ["SPOT", "MARGIN", "TRD_GRP_004", "TRD_GRP_005", "TRD_GRP_006"]
PERMISSIONS = frozenset({"SPOT", "MARGIN", "LEVERAGED"} | set(PERMISSION_SET))


def symbol_info(symbol: str, market: Market, show_permission_sets: bool = True) -> dict[str, Any]:
    """One ``symbols[]`` entry of exchangeInfo, keys in Binance's order (2025-2026)."""
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "opoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "pegInstructionsAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": _filters(market),
        "permissions": [],
        "permissionSets": [PERMISSION_SET] if show_permission_sets else [],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT",
                                            "TRANSFER"],
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------------------
# REST handlers


def _ok(body: str | bytes) -> RestResponse:
    return RestResponse(200, body if isinstance(body, bytes) else body.encode(), content_type=JSON)


def _request_scale(request: RestRequest) -> int:
    return time_unit_scale(request.headers.get("x-mbx-time-unit"))


def ping(request: RestRequest, context: IVenueContext) -> RestResponse:
    _request_scale(request)
    Params(request, accepted=0)
    return _ok(b"{}")


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    scale = _request_scale(request)
    Params(request, accepted=0)
    return _ok(f'{{"serverTime":{context.now_ms() * scale}}}')


def _json_symbol_list(params: Params, name: str) -> list[str] | None:
    text = params.get(name)
    if text is None:
        return None
    item = r'"[A-Z0-9_.\-]{1,50}"'
    if not re.match(rf"^\[({item}(,{item})*)?\]$", text):
        raise illegal(
            name,
            r'^\[("[\w\-._&&[^a-z]]{1,50}"(,"[\w\-._&&[^a-z]]{1,50}"){0,}){0,1}\]$',
        )
    names = json.loads(text)
    if len(set(names)) != len(names):
        raise fail(-1151, "Symbol is present multiple times in the list.")
    return names


def _permissions(params: Params) -> list[str] | None:
    text = params.get("permissions")
    if text is None:
        return None
    if text.startswith("["):
        try:
            values = json.loads(text)
        except (ValueError, RecursionError):
            raise fail(-1135, "JSON sent for parameter 'permissions' is not valid") from None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise fail(-1135, "JSON sent for parameter 'permissions' is not valid")
    else:
        values = [text]
    for value in values:
        if value not in PERMISSIONS:
            raise invalid_data("permissions")
    return values


def exchange_info(request: RestRequest, context: IVenueContext) -> RestResponse:
    scale = _request_scale(request)
    params = Params(request, accepted=5)
    single = params.get("symbol")
    if single is not None and not _SYMBOL_RE.match(single):
        raise illegal("symbol", SYMBOL_PATTERN)
    several = _json_symbol_list(params, "symbols")
    permissions = _permissions(params)
    status = params.get("symbolStatus")
    show = params.get("showPermissionSets")
    if show is not None and show not in ("true", "false"):
        raise invalid_data("showPermissionSets")
    params.all_read()
    if status is not None and status not in ("TRADING", "HALT", "BREAK", "CANCEL_ONLY"):
        raise fail(-1122, "Invalid symbolStatus.")
    chosen = [name for name in (single is not None and "symbol", several is not None and "symbols",
                                permissions is not None and "permissions",
                                status is not None and "symbolStatus") if name]
    if len(chosen) > 1:
        raise fail(
            -1128,
            f"Combination of optional parameters invalid. Recommendation: '{chosen[0]}' and "
            f"'{chosen[1]}' cannot both be sent.",
        )
    if single is not None:
        names = [single]
    elif several is not None:
        names = several
    else:
        names = list(context.markets)
    for name in names:
        if name not in context.markets:
            raise fail(-1121, "Invalid symbol.")
    if status is not None and status != "TRADING":
        names = []
    symbols = [symbol_info(name, context.markets[name], show != "false") for name in names]
    # what is advertised is what the rate limiter enforces now
    rate_limits = rate_limits_json(getattr(context, "limits", LIMITS))
    body = (
        f'{{"timezone":"UTC","serverTime":{context.now_ms() * scale},'
        f'"rateLimits":{_dumps(rate_limits)},"exchangeFilters":[],'
        f'"symbols":{_dumps(symbols)}}}'
    )
    return _ok(body)


def derivatives_exchange_info(futures_type: str | None) -> Any:
    """``/fapi`` and ``/dapi`` exchangeInfo with no symbols, so ccxt's defaults load."""

    def handler(request: RestRequest, context: IVenueContext) -> RestResponse:
        head = f'{{"timezone":"UTC","serverTime":{context.now_ms()},'
        if futures_type:
            head += f'"futuresType":"{futures_type}",'
        limits = _dumps([
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ])
        tail = '"assets":[],"symbols":[]}' if futures_type else '"symbols":[]}'
        return _ok(f'{head}"rateLimits":{limits},"exchangeFilters":[],{tail}')

    return handler


def klines(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v3/klines`` and ``/api/v3/uiKlines`` (R1-R8)."""
    scale = _request_scale(request)
    params = Params(request, accepted=6, mandatory=("symbol", "interval"))
    symbol = params.symbol()
    interval_name = params.required("interval")
    interval = CANONICAL.get(interval_name)
    if interval is None:
        raise fail(-1120, "Invalid interval.")
    start = params.number("startTime")
    end = params.number("endTime")
    limit = params.number("limit")
    tz_text = params.get("timeZone")
    offset = parse_time_zone(tz_text) if tz_text is not None else 0
    params.all_read()
    market = _market(context, symbol)
    if limit is None:
        limit = KLINES_DEFAULT_LIMIT
    elif limit == 0:
        raise invalid_data("limit")
    elif limit > KLINES_MAX_LIMIT:
        if context.options.get("limit_over_max") == "error":
            raise invalid_data("limit")
        limit = KLINES_MAX_LIMIT
    if scale != 1:
        # startTime rounds up and endTime down: never a candle outside the bounds.
        start = None if start is None else -(-start // scale)
        end = None if end is None else end // scale
    now = context.now_ms()
    first_available = context.source.first_open(market, interval, offset)
    first, count = window(interval, offset, first_available, now, start, end, limit, market.listed_ms)
    return _ok(context.rows.rows(
        market, interval, offset, first, count, now,
        (NAME, scale), kline_formatter(market.price_decimals, market.qty_decimals, scale),
        prefix=b"[", suffix=b"]",
    ))


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class KlineTopic:
    """A kline stream as one connection receives it (raw or combined, ms or µs)."""

    feed: Feed
    stream: str
    symbol: str
    interval_name: str
    combined: bool
    scale: int
    #: decimal places of (prices, volumes, quote volumes); spot's 8 by default
    places: Places = (PLACES, PLACES, PLACES)

    def render(self, update: CandleUpdate) -> bytes:
        payload = kline_event(self.symbol, self.interval_name, update, self.scale, self.places)
        if self.combined:
            payload = f'{{"stream":"{self.stream}","data":{payload}}}'
        return payload.encode()


def _ws_error(code: int, msg: str, request_id: Any = None, with_id: bool = True) -> bytes:
    error_object: dict[str, Any] = {"error": {"code": code, "msg": msg}}
    if with_id:
        error_object["id"] = request_id
    return _dumps(error_object).encode()


#: The error (code 4) for subscribing past ``max_streams`` (unicorn-binance-websocket-api #17).
TOO_MANY_STREAMS = "Too many subscriptions"

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


def _serde_position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[index]``, as serde_json reports them."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, _HugeInt):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, str):
        return len(value) <= 36 and value.isascii() and (value == "" or value.replace("-", "").replace("_", "").isalnum())
    return False


@implementer(IShutdownNoticeSession)
class BinanceSession:
    """
    One connection to the market streams. ``intervals`` and ``places`` are the venue's
    (spot: every interval, 8 decimals); ``silent`` connections acknowledge everything and
    carry no klines (a USDⓈ-M futures route that does not serve them).
    """

    def __init__(
        self,
        context: IVenueContext,
        combined: bool,
        scale: int,
        streams: Sequence[str],
        intervals: Mapping[str, Interval] = CANONICAL,
        places: Any = spot_places,
        time_zones: bool = True,
        silent: bool = False,
    ) -> None:
        self.context = context
        self.combined = combined
        self.scale = scale
        self._intervals = intervals
        self._places = places
        self._time_zones = time_zones
        self._silent = silent
        self._initial = list(streams)
        #: stream name -> topic (None: a valid name that carries no data here)
        self.streams: dict[str, KlineTopic | None] = {}
        self.link: IStreamLink | None = None

    def ping_payload(self) -> bytes:
        return b""

    def shutdown_notice(self, now_ms: int) -> bytes:
        return shutdown_notice(now_ms, self.combined, self.scale)

    def opened(self, link: IStreamLink) -> None:
        self.link = link
        limit = getattr(link, "max_streams", None)
        if limit is not None and len(set(self._initial)) > limit:
            # unverified: Binance does not say; the SUBSCRIBE error, then a close
            link.send(_ws_error(4, TOO_MANY_STREAMS, None))
            link.close(1008, TOO_MANY_STREAMS)
            return
        for name in self._initial:
            self._add(name)

    # -- subscriptions ----------------------------------------------------------

    def _topic(self, name: str) -> KlineTopic | None:
        m = _KLINE_RE.match(name)
        if m is None or self._silent or (m.group(3) and not self._time_zones):
            return None
        market = self.context.markets.get(m.group(1).upper())
        interval = self._intervals.get(m.group(2))
        if market is None or interval is None:
            return None
        offset = 8 * HOUR_MS if m.group(3) else 0
        feed = Feed(market, interval, offset)
        return KlineTopic(
            feed, name, m.group(1).upper(), m.group(2), self.combined, self.scale, self._places(market)
        )

    def _add(self, name: str) -> None:
        if name in self.streams:
            return
        topic = self._topic(name)
        self.streams[name] = topic
        if topic is not None and self.link is not None:
            self.link.subscribe(topic)

    def _remove(self, name: str) -> None:
        topic = self.streams.pop(name, None)
        if topic is not None and self.link is not None:
            self.link.unsubscribe(topic)

    def _set_combined(self, combined: bool) -> None:
        """Re-form every subscription; the new topic joins before the old one leaves,
        so the feed (and the candle in progress) is never dropped."""
        if combined == self.combined:
            return
        self.combined = combined
        for name, old in list(self.streams.items()):
            new = self._topic(name)
            self.streams[name] = new
            if self.link is not None:
                if new is not None:
                    self.link.subscribe(new)
                if old is not None:
                    self.link.unsubscribe(old)

    # -- requests ---------------------------------------------------------------

    def received(self, payload: bytes, is_binary: bool) -> None:
        assert self.link is not None
        reply = self._reply(payload)
        if reply is not None:
            self.link.send(reply)

    def _reply(self, payload: bytes) -> bytes | None:
        link = self.link
        assert link is not None
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return _ws_error(3, "Invalid JSON: expected value at line 1 column 1", with_id=False)
        problem = _json_problem(text)
        if problem is not None:
            return _ws_error(3, f"Invalid JSON: {problem}", with_id=False)
        try:
            request = json.loads(text, parse_int=_parse_int, parse_constant=_reject_constant)
        except _Constant as e:
            line, column = _serde_position(text, max(0, text.find(e.args[0])))
            return _ws_error(3, f"Invalid JSON: expected value at line {line} column {column}", with_id=False)
        except json.JSONDecodeError as e:
            return _ws_error(3, f"Invalid JSON: expected value at line {e.lineno} column {e.colno}", with_id=False)
        if not isinstance(request, dict):
            return _ws_error(2, "Invalid request: request must be a JSON object", with_id=False)
        request_id = request.get("id")
        if "method" not in request:
            line, column = _serde_position(text, len(text.rstrip()) - 1)
            return _ws_error(2, f"Invalid request: missing field `method` at line {line} column {column}",
                             request_id if _valid_id(request_id) else None)
        method = request["method"]
        if method not in METHODS or not isinstance(method, str):
            shown = f"`{method}`" if isinstance(method, str) else _dumps(method)
            index = _method_value_end(text)
            line, column = _serde_position(text, index)
            return _ws_error(
                2,
                f"Invalid request: unknown variant {shown}, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, "
                f"`LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line {line} column {column}",
                request_id if _valid_id(request_id) else None,
            )
        if "id" not in request or not _valid_id(request_id):
            return _ws_error(2, "Invalid request: request ID must be an unsigned integer", None)
        params = request.get("params", [])
        if not isinstance(params, list):
            return _ws_error(2, "Invalid request: invalid params", request_id)

        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not params or not all(isinstance(p, str) and _STREAM_RE.match(p) for p in params):
                link.send(_ws_error(2, "Invalid request: invalid stream", request_id))
                link.close(1008, "invalid stream")
                return None
            limit = getattr(link, "max_streams", None)
            if method == "SUBSCRIBE" and limit is not None and len(self.streams.keys() | set(params)) > limit:
                return _ws_error(4, TOO_MANY_STREAMS, request_id)
            for name in params:
                (self._add if method == "SUBSCRIBE" else self._remove)(name)
            return _dumps({"result": None, "id": request_id}).encode()
        if method == "LIST_SUBSCRIPTIONS":
            if params:
                return _ws_error(2, "Invalid request: too many parameters", request_id)
            return _dumps({"result": list(self.streams), "id": request_id}).encode()
        if method == "GET_PROPERTY":
            if len(params) > 1:
                return _ws_error(2, "Invalid request: too many parameters", request_id)
            if not params or not isinstance(params[0], str):
                return _ws_error(2, "Invalid request: property name must be a string", request_id)
            if params[0] != "combined":
                return _ws_error(0, "Unknown property", request_id)
            return _dumps({"result": self.combined, "id": request_id}).encode()
        # SET_PROPERTY
        if len(params) > 2:
            return _ws_error(2, "Invalid request: too many parameters", request_id)
        if not params or not isinstance(params[0], str):
            return _ws_error(2, "Invalid request: property name must be a string", request_id)
        if params[0] != "combined":
            return _ws_error(0, "Unknown property", request_id)
        if len(params) < 2 or not isinstance(params[1], bool):
            return _ws_error(1, "Invalid value type: expected Boolean", request_id)
        self._set_combined(params[1])
        return _dumps({"result": None, "id": request_id}).encode()


class _Constant(ValueError):
    """NaN, Infinity or -Infinity: not JSON to serde_json."""


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


class _HugeInt(int):
    """An integer literal beyond 64 bits: never a valid id or value."""


def _parse_int(digits: str) -> int:
    if len(digits) > 20:
        return _HugeInt(0)
    return int(digits)


#: serde_json's default nesting limit.
_MAX_DEPTH = 128


def _json_problem(text: str) -> str | None:
    """What serde_json would object to before parsing values: nesting too deep."""
    if text.count("[") + text.count("{") <= _MAX_DEPTH:
        return None
    depth = 0
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                line, column = _serde_position(text, index)
                return f"recursion limit exceeded at line {line} column {column}"
        elif char in "]}":
            depth -= 1
    return None


def _method_value_end(text: str) -> int:
    """Index of the last character of the ``method`` value (for serde's column)."""
    m = re.search(r'"method"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)', text)
    return m.end(1) - 1 if m else 0


def stream_request(handshake: Handshake, prefix: str = "") -> tuple[bool, int, list[str]]:
    """
    ``(combined, time scale, stream names)`` of a stream URL: ``<prefix>/ws/<s1>/<s2>``
    or ``<prefix>/stream?streams=<s1>/<s2>``, with ``?timeUnit=``. A bad time unit
    refuses the upgrade with 400.
    """
    units = handshake.params.get("timeUnit")
    try:
        scale = time_unit_scale(units[0] if units else None)
    except VenueError as e:
        raise VenueError(RestResponse(400, e.response.body, content_type=JSON)) from None
    path = handshake.path.rstrip("/")[len(prefix):]
    if path == "/stream":
        # From the raw query: clients write "@+08:00" unescaped, and a "+" in a
        # stream name is a plus sign, not a space.
        given = ""
        for part in handshake.query.split("&"):
            name, _, value = part.partition("=")
            if name == "streams":
                given = unquote(value)
                break
        return True, scale, [s for s in given.split("/") if s]
    return False, scale, [s for s in path[len("/ws"):].split("/") if s]


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class BinanceSpot:
    """The ``binance_spot`` venue."""

    name = NAME
    description = "Binance spot: /api/v3 klines, exchangeInfo, kline streams"
    intervals: Mapping[str, Interval] = CANONICAL
    keepalive = Keepalive(ping_interval=20.0, pong_timeout=60.0)
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        base, quote = split_symbol(symbol)
        if not _SYMBOL_RE.match(base + quote):
            raise ValueError(f"{symbol!r} is not a Binance symbol")
        return reference_market(base, quote, price)

    def symbol(self, market: Market) -> str:
        return market.base + market.quote

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v3/ping", ping, "ping"),
            RestRoute("GET", "/api/v3/time", server_time, "time"),
            RestRoute("GET", "/api/v3/exchangeInfo", exchange_info, "exchangeInfo"),
            RestRoute("GET", "/api/v3/klines", klines, "klines"),
            RestRoute("GET", "/api/v3/uiKlines", klines, "uiKlines"),
            RestRoute("GET", "/fapi/v1/exchangeInfo", derivatives_exchange_info("U_MARGINED"), "fapi.exchangeInfo"),
            RestRoute("GET", "/dapi/v1/exchangeInfo", derivatives_exchange_info(None), "dapi.exchangeInfo"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/ws", "/ws/", "/ws/<path:streams>", "/stream", "/stream/")

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind == RATE_LIMITED:
            return rate_limited(detail)
        if kind == BANNED:
            return banned(detail)
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        combined, scale, streams = stream_request(handshake)
        return BinanceSession(context, combined, scale, streams)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000 if interval.ms == 1000 and not interval.months else 2000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_klines_answer(path, args, answer, SPOT_KLINE_PATHS)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_kline_events(payload, binary)


binance_spot = BinanceSpot()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and events this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402

#: the REST kline routes of this venue (rest-api.md: ``uiKlines`` has the same rows)
SPOT_KLINE_PATHS = ("/api/v3/klines", "/api/v3/uiKlines")


def _ms(value: Any) -> int:
    """An open time in ms: rows and events are µs with ``timeUnit=MICROSECOND``
    (CHANGELOG 2024-11-27), told apart by magnitude as mockex.replay does."""
    t = whole(value)
    return t // 1000 if t >= 10**14 else t


@tolerant
def recorded_klines_answer(
    path: str, args: Mapping[str, Sequence[str]], answer: bytes, paths: Sequence[str]
) -> Sequence[RecordedCandle]:
    """A klines answer: rows ``[t, o, h, l, c, v, T, q, n, V, Q, "0"]`` (rest-api.md
    "Kline/Candlestick data"); the symbol and interval are the request's. Rows of a
    ``timeZone`` request are on another grid: not recorded."""
    if path not in paths or first_arg(args, "timeZone") not in (None, "0", "+0", "-0", "0:00", "+00:00"):
        return ()
    symbol = text(first_arg(args, "symbol"))
    interval = text(first_arg(args, "interval"))
    rows = load_json(answer)
    return [
        RecordedCandle(
            symbol, interval, _ms(r[0]), decimal_text(r[1]), decimal_text(r[2]), decimal_text(r[3]),
            decimal_text(r[4]), decimal_text(r[5]), decimal_text(r[7]), whole(r[8]),
            decimal_text(r[9]), decimal_text(r[10]),
        )
        for r in rows
    ]


@tolerant
def recorded_kline_events(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """A ``kline`` event, raw or combined (``{"stream":..,"data":..}``), closed per
    its ``"x"`` (web-socket-streams.md "Kline/Candlestick Streams")."""
    if binary:
        return ()
    message = load_json(payload)
    if isinstance(message.get("data"), dict):
        message = message["data"]
    if message.get("e") != "kline":
        return ()
    k = message["k"]
    closed = k["x"]
    if not isinstance(closed, bool):
        return ()
    return [RecordedCandle(
        text(k["s"]), text(k["i"]), _ms(k["t"]), decimal_text(k["o"]), decimal_text(k["h"]),
        decimal_text(k["l"]), decimal_text(k["c"]), decimal_text(k["v"]), decimal_text(k["q"]),
        whole(k["n"]), decimal_text(k["V"]), decimal_text(k["Q"]), closed,
    )]


classImplements(BinanceSpot, IKlineRecording)

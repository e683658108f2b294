"""
Binance USDⓈ-M perpetual futures market data (``binance_perpetual``): ``/fapi/v1`` REST
and the kline streams of ``fstream.binance.com``.

Shares Binance's machinery with :mod:`mockex.venues.binance` (parameter discipline,
error format, kline payload, stream sessions and their control messages); what differs
is written here.

Sources, in order of authority:

* Binance's derivatives docs (developers.binance.com, USDⓈ-M Futures: "Kline/Candlestick
  Data", "Continuous Contract Kline/Candlestick Data", "Exchange Information", "Check
  Server Time", "Test Connectivity", "Websocket Market Streams", "Kline/Candlestick
  Streams", error codes): ``limit`` default 500, max 1500, request weight by limit (1 for
  [1,100), 2 for [100,500), 5 for [500,1000], 10 above); intervals ``1m`` .. ``1M``
  (no ``1s``); exchangeInfo with ``futuresType``, ``rateLimits`` (REQUEST_WEIGHT
  2400/1m, ORDERS 1200/1m and 300/10s), ``assets`` and ``symbols`` (``contractType``
  ``PERPETUAL``, ``deliveryDate`` 4133404800000, ``pricePrecision``,
  ``quantityPrecision``, filters); streams on ``/ws`` and ``/stream`` with the same
  kline payload as spot, pushed every 250 ms; the server pings every 3 minutes and
  drops a connection with no pong for 10 minutes; the 2025-2026 routing of
  ``fstream.binance.com`` into ``/public``, ``/market`` and ``/private`` (klines are
  "regular market data", on ``/market``).
* ccxt 4.5 (binance.py, pro/binance.py): ``load_markets`` with type ``linear`` reads
  ``/fapi/v1/exchangeInfo`` (``symbol``, ``baseAsset``, ``quoteAsset``, ``marginAsset``,
  ``contractType``, ``status``, ``pricePrecision``, ``quantityPrecision``, filters);
  ``fetch_time`` asks ``/fapi/v1/time``; ``fetch_ohlcv`` sends ``symbol``, ``interval``,
  ``limit`` (at most 1000), ``startTime``, ``endTime``; ccxt.pro rewrites a linear
  ``.../ws`` URL to ``.../market/ws`` for klines and subscribes with ``SUBSCRIBE`` on
  ``/market/ws/<n>``.
* Responses captured by client projects: futures klines write prices and quantities
  with the symbol's own precision (``"9640.7"``, ``"206"``), not spot's 8 places.

Unverified choices (see docs/venues/binance_perpetual.md), switchable through
``options``:

* ``limit`` above 1500 answers ``-1130`` (``options["limit_over_max"] = "clamp"``
  serves 1500); ``limit=0`` answers ``-1130``.
* Quote volumes are written with price + quantity precision decimals (``"1986.97"``
  for a 2 + 3 decimal symbol would be 5 places).
* ``options["futures_routes"]``: ``legacy`` (default: klines on ``/ws``, ``/stream``
  and ``/market/...``; ``/public/...`` acknowledges kline subscriptions and stays
  silent) or ``strict`` (klines only on ``/market/...``).
* The parameter discipline (-1101, -1102, -1104 order) is spot's; ``timeZone`` and
  ``X-MBX-TIME-UNIT`` are not futures parameters (``timeZone`` is -1104 here).
* ``continuousKlines`` serves ``contractType=PERPETUAL`` only; other contract types
  answer ``-1121``.
* ``tickSize`` is one unit of ``pricePrecision`` (real BTCUSDT lists ``0.10`` with
  ``pricePrecision`` 2).

Rate limits (:data:`LIMITS`, enforced by :mod:`mockex.ratelimit`; docs/rate-limits.md):

* Documented (USDⓈ-M "General Info" LIMITS, "Kline/Candlestick Data", error-code page
  -1003, "Websocket Market Streams"): REQUEST_WEIGHT 2400 per minute per IP (also in
  exchangeInfo ``rateLimits``, which is read from the enforced limits); klines and
  continuousKlines weigh 1, 2, 5, 10 by ``limit`` ([1,100), [100,500), [500,1000],
  above); ``X-MBX-USED-WEIGHT-1M`` on every response; 429 ``-1003`` "Too many requests;
  current limit is %s requests per minute. Please use the websocket for live updates to
  avoid polling the API." then 418 "Way too many requests; IP banned until %s. ...";
  bans "from 2 minutes to 3 days"; 10 incoming WebSocket messages per second (ping,
  pong, JSON), "a connection that goes beyond the limit will be disconnected"; 1024
  streams per connection (200 before 2021).
* Observed: the live 429 text names the IP ("current limit of IP(1.2.3.4) is 2400
  requests per minute", a client project's comment); mockex writes the documented one.
* Unverified: the header is written lower case and alone (``x-mbx-used-weight-1m``,
  as spot writes its headers); the ban policy, the close (1008 "Too many requests") and
  the stream-limit error are spot's; no connection-attempt limit is documented for
  fstream, so none is enforced.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from zope.interface import implementer

from mockex.fmt import fixed
from mockex.interfaces import (
    BANNED,
    INTERNAL,
    RATE_LIMITED,
    Handshake,
    IExchange,
    IStreamSession,
    IVenueContext,
    Keepalive,
    RestRequest,
    RestResponse,
    RestRoute,
)
from mockex.intervals import CANONICAL, DAY_MS, Interval, days_from_civil
from mockex.market import Market, window
from mockex.ratelimit import (
    MINUTE,
    ORDERS,
    SECOND,
    WEIGHT,
    BanPolicy,
    Limits,
    RestLimits,
    RestWindow,
    WsLimits,
)
from mockex.venues.binance import (
    ERRORS,
    JSON,
    _SYMBOL_RE,
    BinanceSession,
    Params,
    Places,
    _dumps,
    derivatives_exchange_info,
    error,
    exchange_info,
    fail,
    invalid_data,
    kline_formatter,
    rate_limits_json,
    split_symbol,
    stream_request,
)

NAME = "binance_perpetual"
KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1500
#: 2100-12-25 08:00 UTC: what Binance writes as a perpetual's delivery date.
PERPETUAL_DELIVERY_MS = 4_133_404_800_000

#: Every interval but ``1s``.
INTERVALS: dict[str, Interval] = {k: v for k, v in CANONICAL.items() if k != "1s"}

#: Request weight of a klines request by its ``limit`` (upper bound exclusive, weight),
#: for the shared rate limiter: [1,100) 1, [100,500) 2, [500,1000] 5, above 10.
KLINES_WEIGHT: tuple[tuple[int, int], ...] = ((100, 1), (500, 2), (1001, 5), (1501, 10))
#: Weights of the other endpoints.
WEIGHTS: dict[str, int] = {"ping": 1, "time": 1, "exchangeInfo": 1}


def klines_weight(limit: int | None) -> int:
    """The request weight of ``/fapi/v1/klines`` with this ``limit`` (default 500)."""
    value = KLINES_DEFAULT_LIMIT if limit is None else limit
    for bound, weight in KLINES_WEIGHT:
        if value < bound:
            return weight
    return KLINES_WEIGHT[-1][1]


def _klines_request_weight(request: RestRequest) -> int:
    """The weight of a klines request (a malformed ``limit`` raises: the default weight)."""
    values = request.args.get("limit")
    return klines_weight(int(values[0]) if values else None)


#: What binance_perpetual enforces, and advertises in exchangeInfo ``rateLimits``:
#: REQUEST_WEIGHT 2400 per minute per IP, weights as documented (klines and
#: continuousKlines by ``limit``), ``x-mbx-used-weight-1m`` on every answer, 429 then
#: 418 bans growing from 2 minutes to 3 days (the policy is spot's: unverified for
#: futures); 10 incoming WebSocket messages per second, 1024 streams per connection.
LIMITS = Limits(
    rest=RestLimits(
        windows=(
            RestWindow("REQUEST_WEIGHT", MINUTE, 1, 2400, WEIGHT, headers=("x-mbx-used-weight-{num}{letter}",)),
            RestWindow("ORDERS", MINUTE, 1, 1200, ORDERS),
            RestWindow("ORDERS", SECOND, 10, 300, ORDERS),
        ),
        weights={
            **WEIGHTS, "klines": _klines_request_weight, "continuousKlines": _klines_request_weight,
            "spot.exchangeInfo": 1, "dapi.exchangeInfo": 1,
        },
        ban=BanPolicy(after_rejections=10, first_ms=120_000, factor=2, max_ms=259_200_000,
                      forgive_ms=86_400_000),
        retry_after="Retry-After",
    ),
    ws=WsLimits(messages=10, message_window_ms=1000, max_streams=1024,
                close_code=1008, close_reason="Too many requests"),
)

#: The advertised limits as declared (before any run-time change).
RATE_LIMITS: tuple[dict[str, Any], ...] = tuple(rate_limits_json(LIMITS))


def rate_limited(detail: str) -> RestResponse:
    """429 -1003 with the futures error table's text (the violated window's limit)."""
    limit = (detail.split() + ["", ""])[1]
    return error(-1003, f"Too many requests; current limit is {limit} requests per minute. "
                        "Please use the websocket for live updates to avoid polling the API.", 429)


def banned(until_ms: str) -> RestResponse:
    """418 -1003: banned until ``until_ms``."""
    return error(-1003, f"Way too many requests; IP banned until {until_ms}. "
                        "Please use the websocket for live updates to avoid bans.", 418)


def _listed(y: int, m: int, d: int) -> int:
    return days_from_civil(y, m, d) * DAY_MS


#: USDⓈ-M perpetuals: pricePrecision and quantityPrecision as listed, onboard dates.
DEFAULT_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USDT", 90_000.0, price_decimals=2, qty_decimals=3, listed_ms=_listed(2019, 9, 25),
                  daily_volume=150_000.0, daily_trades=4_000_000, daily_volatility=0.025),
    Market.create("ETH", "USDT", 3_000.0, price_decimals=2, qty_decimals=3, listed_ms=_listed(2019, 11, 27),
                  daily_volume=3_000_000.0, daily_trades=3_000_000, daily_volatility=0.035),
    Market.create("BNB", "USDT", 900.0, price_decimals=3, qty_decimals=2, listed_ms=_listed(2020, 2, 10),
                  daily_volatility=0.03),
    Market.create("SOL", "USDT", 140.0, price_decimals=4, qty_decimals=0, listed_ms=_listed(2020, 9, 14),
                  daily_volatility=0.045),
    Market.create("XRP", "USDT", 2.2, price_decimals=4, qty_decimals=1, listed_ms=_listed(2020, 1, 6),
                  daily_volatility=0.04),
    Market.create("DOGE", "USDT", 0.16, price_decimals=6, qty_decimals=0, listed_ms=_listed(2020, 7, 10),
                  daily_volatility=0.05),
)


def futures_places(market: Market) -> Places:
    """Futures write prices, quantities and quote volumes with the symbol's precision."""
    p, q = market.price_decimals, market.qty_decimals
    return (p, q, p + q)


def symbol_info(symbol: str, market: Market) -> dict[str, Any]:
    """One ``symbols[]`` entry of ``/fapi/v1/exchangeInfo``, keys in Binance's order."""
    p, q = market.price_decimals, market.qty_decimals
    tick = fixed(1, p, p)
    step = fixed(1, q, q)
    max_qty = fixed(round(1e8 / market.price) * 10**q, q, q)
    market_max = fixed(round(1e7 / market.price) * 10**q, q, q)
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS,
        "onboardDate": market.listed_ms,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": market.base,
        "quoteAsset": market.quote,
        "marginAsset": market.quote,
        "pricePrecision": p,
        "quantityPrecision": q,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": tick,
             "maxPrice": fixed(round(market.price * 50) * 10**p, p, p), "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": step, "maxQty": max_qty, "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": step, "maxQty": market_max, "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "5"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


# ---------------------------------------------------------------------------
# REST handlers


def _ok(body: str | bytes) -> RestResponse:
    return RestResponse(200, body if isinstance(body, bytes) else body.encode(), content_type=JSON)


def ping(request: RestRequest, context: IVenueContext) -> RestResponse:
    Params(request, accepted=0)
    return _ok(b"{}")


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    Params(request, accepted=0)
    return _ok(f'{{"serverTime":{context.now_ms()}}}')


def futures_exchange_info(request: RestRequest, context: IVenueContext) -> RestResponse:
    Params(request, accepted=0)
    quotes = list(dict.fromkeys(m.quote for m in context.markets.values()))
    assets = [{"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"} for q in quotes]
    symbols = [symbol_info(name, market) for name, market in context.markets.items()]
    body = (
        f'{{"timezone":"UTC","serverTime":{context.now_ms()},"futuresType":"U_MARGINED",'
        f'"rateLimits":{_dumps(rate_limits_json(getattr(context, "limits", LIMITS)))},"exchangeFilters":[],'
        f'"assets":{_dumps(assets)},"symbols":{_dumps(symbols)}}}'
    )
    return _ok(body)


def _limit(params: Params, context: IVenueContext) -> int:
    limit = params.number("limit")
    if limit is None:
        return KLINES_DEFAULT_LIMIT
    if limit == 0:
        raise invalid_data("limit")
    if limit > KLINES_MAX_LIMIT:
        if context.options.get("limit_over_max", "error") == "clamp":
            return KLINES_MAX_LIMIT
        raise invalid_data("limit")
    return limit


def _serve_klines(
    context: IVenueContext, market: Market, interval: Interval, start: int | None, end: int | None, limit: int
) -> RestResponse:
    now = context.now_ms()
    first_available = context.source.first_open(market, interval)
    first, count = window(interval, 0, first_available, now, start, end, limit, market.listed_ms)
    fmt = kline_formatter(market.price_decimals, market.qty_decimals, 1, futures_places(market))
    return _ok(context.rows.rows(
        market, interval, 0, first, count, now, (NAME,), fmt, prefix=b"[", suffix=b"]",
    ))


def _interval(params: Params) -> Interval:
    interval = INTERVALS.get(params.required("interval"))
    if interval is None:
        raise fail(-1120, "Invalid interval.")
    return interval


def klines(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /fapi/v1/klines``: ``symbol``, ``interval``, ``startTime``, ``endTime``, ``limit``."""
    params = Params(request, accepted=5, mandatory=("symbol", "interval"))
    symbol = params.symbol()
    interval = _interval(params)
    start = params.number("startTime")
    end = params.number("endTime")
    limit = _limit(params, context)
    params.all_read()
    market = context.markets.get(symbol)
    if market is None:
        raise fail(-1121, "Invalid symbol.")
    return _serve_klines(context, market, interval, start, end, limit)


def continuous_klines(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /fapi/v1/continuousKlines``: ``pair``, ``contractType``, ``interval``, ...."""
    params = Params(request, accepted=6, mandatory=("pair", "contractType", "interval"))
    pair = params.symbol("pair")
    contract = params.required("contractType")
    interval = _interval(params)
    start = params.number("startTime")
    end = params.number("endTime")
    limit = _limit(params, context)
    params.all_read()
    if contract not in ("PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER", "TRADIFI_PERPETUAL"):
        raise invalid_data("contractType")
    market = context.markets.get(pair)
    if market is None or contract != "PERPETUAL":
        raise fail(-1121, "Invalid symbol.")
    return _serve_klines(context, market, interval, start, end, limit)


# ---------------------------------------------------------------------------
# The plugin


#: Stream routes of fstream.binance.com: prefix -> does it carry klines (legacy, strict).
ROUTES: dict[str, tuple[bool, bool]] = {"": (True, False), "/market": (True, True), "/public": (False, False)}


@implementer(IExchange)
class BinancePerpetual:
    """The ``binance_perpetual`` venue."""

    name = NAME
    description = "Binance USD-M perpetuals: /fapi/v1 klines, continuousKlines, exchangeInfo; fstream kline streams"
    intervals: Mapping[str, Interval] = INTERVALS
    keepalive = Keepalive(ping_interval=180.0, pong_timeout=600.0)
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        base, quote = split_symbol(symbol)
        if not _SYMBOL_RE.match(base + quote):
            raise ValueError(f"{symbol!r} is not a Binance symbol")
        for market in DEFAULT_MARKETS:
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
        return (
            RestRoute("GET", "/fapi/v1/ping", ping, "ping"),
            RestRoute("GET", "/fapi/v1/time", server_time, "time"),
            RestRoute("GET", "/fapi/v1/exchangeInfo", futures_exchange_info, "exchangeInfo"),
            RestRoute("GET", "/fapi/v1/klines", klines, "klines"),
            RestRoute("GET", "/fapi/v1/continuousKlines", continuous_klines, "continuousKlines"),
            # The other markets of the same ccxt client, listed empty so that a default
            # load_markets (spot, linear, inverse) succeeds.
            RestRoute("GET", "/api/v3/exchangeInfo", _empty_spot_info, "spot.exchangeInfo"),
            RestRoute("GET", "/dapi/v1/exchangeInfo", derivatives_exchange_info(None), "dapi.exchangeInfo"),
        )

    def ws_paths(self) -> Sequence[str]:
        paths = []
        for prefix in ROUTES:
            paths += [f"{prefix}/ws", f"{prefix}/ws/", f"{prefix}/ws/<path:streams>", f"{prefix}/stream",
                      f"{prefix}/stream/"]
        return tuple(paths)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind == RATE_LIMITED:
            return rate_limited(detail)
        if kind == BANNED:
            return banned(detail)
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        prefix = ""
        for candidate in ("/market", "/public"):
            if handshake.path.startswith(candidate + "/"):
                prefix = candidate
        legacy, strict = ROUTES[prefix]
        carries = strict if context.options.get("futures_routes") == "strict" else legacy
        combined, scale, streams = stream_request(handshake, prefix)
        return BinanceSession(
            context, combined, scale, streams, intervals=INTERVALS, places=futures_places,
            time_zones=False, silent=not carries,
        )

    def stream_period_ms(self, interval: Interval) -> int:
        return 250

    # IKlineRecording (declared at the end of the module): the rows and events are
    # spot's (binance-futures docs "Kline/Candlestick Data", "Kline/Candlestick Streams")

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence[Any]:
        from mockex.venues.binance import recorded_klines_answer

        return recorded_klines_answer(path, args, answer, ("/fapi/v1/klines",))

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence[Any]:
        from mockex.venues.binance import recorded_kline_events

        return recorded_kline_events(payload, binary)


def _empty_spot_info(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``/api/v3/exchangeInfo`` of a futures-only server: no symbols."""
    return exchange_info(request, _NoMarkets(context))


class _NoMarkets:
    """A context whose market list is empty (for the other venue's exchangeInfo)."""

    def __init__(self, context: IVenueContext) -> None:
        self._context = context
        self.markets: dict[str, Market] = {}
        self.options = context.options
        self.source = context.source
        self.rows = context.rows

    def now_ms(self) -> int:
        return self._context.now_ms()


binance_perpetual = BinancePerpetual()


from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording  # noqa: E402

classImplements(BinancePerpetual, IKlineRecording)

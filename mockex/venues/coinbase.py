"""
Coinbase Advanced Trade market data: the public ``/api/v3/brokerage`` endpoints of
``api.coinbase.com`` (plus the ``/v2`` time and currency endpoints ccxt loads), and the
``candles`` and ``heartbeats`` channels of ``wss://advanced-trade-ws.coinbase.com``.

Sources:

* Coinbase's Advanced Trade API reference (docs.cdp.coinbase.com): "Get Public Product
  Candles" (``start``/``end`` unix seconds, ``granularity`` enum, ``limit``, rows
  ``{start, low, high, open, close, volume}`` as strings, newest first), "List Public
  Products", "Get Server Time"; the WebSocket channels page (candles: 5-minute candles,
  updated every second, ``snapshot`` then ``update`` events; heartbeats once a second;
  the ``subscriptions`` message).
* Live captures recorded by client projects (2026-09): at most 350 candles, more is
  ``400 {"error":"INVALID_ARGUMENT","error_details":"start and end argument is invalid -
  number of candles requested should be less than 350",...}``; an unknown product is
  ``404 {"error":"NOT_FOUND","message":"Product NOPE-USD not supported"}``; ``granularity
  argument is invalid`` (coinbase-samples/advanced-sdk-ts #10,
  rhettre/coinbase-advancedtrade-python #12).
* coinbase-advanced-py 1.8 (``rest/public.py``: paths and parameters; ``websocket``:
  ``{"type":"subscribe","product_ids":[..],"channel":".."}``; the ``Candle`` type).
* ccxt 4.5 ``coinbase.py`` (``fetch_markets_v3``: ``market/products`` and
  ``product_type=FUTURE``; ``fetch_currencies``: ``/v2/currencies``,
  ``/v2/currencies/crypto``; ``fetch_time``: ``/v2/time``; ``fetch_ohlcv``: at most 300
  per request, ``start``/``end`` in seconds; timeframes) and ``pro/coinbase.py``
  (subscribe message, ``subscriptions`` and ``heartbeats`` handling; it has no
  ``watchOHLCV``).

Unverified choices (docs/venues/coinbase_advanced_trade.md, with switches):

* The 350 rule counts ``(end - start) / granularity`` candles (350 passes, 351 fails);
  without ``start``/``end`` the latest ``limit`` (default 350) candles; with more candles
  in the range than ``limit``, the newest ``limit``.
* Texts of the other INVALID_ARGUMENT errors (``start argument is invalid``, ...), the
  404 for candles of an unknown product (that of ``/market/products/{id}``), Go's
  ``404 page not found`` for unknown paths.
* Decimal strings without trailing zeros; FOUR_HOUR is served, ONE_WEEK is not.
* WebSocket: the snapshot carries the current candle only; ``sequence_num`` counts
  seconds of market time per channel, not messages per connection (mockex renders each
  update once for all subscribers); error texts ``Failed to subscribe`` /
  ``Failed to parse message``; the 5-second subscribe deadline is not enforced.

Rate limits (:data:`LIMITS`; docs/rate-limits.md): Advanced Trade "REST API Rate
Limits" (public endpoints 10 requests per second per IP, 429) and "WebSocket Rate
Limits" (750 connections per second per IP, 8 messages per second unauthenticated);
Exchange's page (public 10/s, bursts 15); ccxt coinbase's exceptions table
(``rate_limit_exceeded`` -> RateLimitExceeded). Unverified: the 429 body (one client
reports an HTML page from the gateway for order endpoints), fixed 1 s windows, the
close on the message rate (1008), the per-connection message count.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer

from mockex.fmt import plain
from mockex.interfaces import (
    BANNED,
    RATE_LIMITED,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
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
from mockex.intervals import CANONICAL, DAY_MS, HOUR_MS, MINUTE_MS, Interval, civil_from_days, days_from_civil
from mockex.ratelimit import REQUESTS, SECOND, Limits, RestLimits, RestWindow, WsLimits
from mockex.market import Candle, Market, window

NAME = "coinbase_advanced_trade"
JSON = "application/json; charset=utf-8"
MAX_CANDLES = 350
#: The WebSocket candles channel serves 5-minute candles (docs).
WS_INTERVAL = CANONICAL["5m"]

GRANULARITIES: dict[str, Interval] = {
    "ONE_MINUTE": CANONICAL["1m"],
    "FIVE_MINUTE": CANONICAL["5m"],
    "FIFTEEN_MINUTE": CANONICAL["15m"],
    "THIRTY_MINUTE": CANONICAL["30m"],
    "ONE_HOUR": CANONICAL["1h"],
    "TWO_HOUR": CANONICAL["2h"],
    "FOUR_HOUR": CANONICAL["4h"],
    "SIX_HOUR": CANONICAL["6h"],
    "ONE_DAY": CANONICAL["1d"],
}

#: What coinbase_advanced_trade enforces: public REST endpoints 10 requests per second
#: per IP (Advanced Trade "REST API Rate Limits"; Exchange adds bursts of 15, Advanced
#: Trade publishes none), beyond it HTTP 429; no ban, no headers. WebSocket: 8 messages
#: per second for unauthenticated connections (per connection here; Coinbase counts per
#: IP) and 750 connections per second per IP ("WebSocket Rate Limits").
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("public", SECOND, 1, 10, REQUESTS),),
        ban=None,
        retry_after=None,
    ),
    ws=WsLimits(messages=8, message_window_ms=1_000, connection_attempts=750, attempts_window_ms=1_000,
                close_code=1008, close_reason="Too many requests"),
)

#: The 429 (unverified bytes: Advanced Trade documents the status only; ccxt coinbase
#: maps ``error`` ``rate_limit_exceeded`` to RateLimitExceeded; the v2 API documents
#: ``{"errors":[{"id":"rate_limit_exceeded","message":"Too many requests"}]}``).
RATE_LIMITED_RESPONSE = RestResponse(
    429, b'{"error":"rate_limit_exceeded","error_details":"Too many requests","message":"Too many requests"}',
    content_type=JSON)

_INT_RE = re.compile(r"^-?[0-9]{1,12}$")


def _listed(y: int, m: int, d: int) -> int:
    return days_from_civil(y, m, d) * DAY_MS


#: (base, name, price, price decimals, base decimals, listed)
PRODUCTS: tuple[tuple[str, str, float, int, int, int], ...] = (
    ("BTC", "Bitcoin", 90_000.0, 2, 8, _listed(2016, 5, 18)),
    ("ETH", "Ethereum", 3_000.0, 2, 8, _listed(2016, 5, 18)),
    ("SOL", "Solana", 140.0, 2, 8, _listed(2021, 6, 17)),
    ("XRP", "XRP", 2.2, 4, 6, _listed(2019, 2, 25)),
    ("DOGE", "Dogecoin", 0.16, 5, 1, _listed(2021, 6, 3)),
)
NAMES = {base: name for base, name, *_ in PRODUCTS}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _ok(body: str | bytes) -> RestResponse:
    return RestResponse(200, body if isinstance(body, bytes) else body.encode(), content_type=JSON)


def invalid(details: str) -> VenueError:
    body = _dumps({"error": "INVALID_ARGUMENT", "error_details": details, "message": details})
    return VenueError(RestResponse(400, body.encode(), content_type=JSON))


def not_supported(product_id: str) -> VenueError:
    body = _dumps({"error": "NOT_FOUND", "message": f"Product {product_id} not supported"})
    return VenueError(RestResponse(404, body.encode(), content_type=JSON))


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: RestResponse(404, b"404 page not found\n", content_type="text/plain; charset=utf-8"),
    METHOD_NOT_ALLOWED: RestResponse(405, b"405 method not allowed\n", content_type="text/plain; charset=utf-8"),
    INTERNAL: RestResponse(500, b'{"error":"INTERNAL","message":"internal error"}', content_type=JSON),
    "disconnected": RestResponse(502, b'{"error":"UNAVAILABLE","message":"upstream unavailable"}', content_type=JSON),
    "timeout": RestResponse(504, b'{"error":"DEADLINE_EXCEEDED","message":"deadline exceeded"}', content_type=JSON),
    "busy": RestResponse(429, b'{"error":"RESOURCE_EXHAUSTED","message":"Too many requests"}', content_type=JSON),
}


def iso(ms: int, fraction: bool = False) -> str:
    """RFC 3339 in UTC; with ``fraction``, Go's RFC3339Nano (trailing zeros trimmed)."""
    days, rest = divmod(ms, DAY_MS)
    y, m, d = civil_from_days(days)
    h, rest = divmod(rest, HOUR_MS)
    mi, rest = divmod(rest, MINUTE_MS)
    s, milli = divmod(rest, 1000)
    text = f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"
    if fraction and milli:
        text += f".{milli:03d}".rstrip("0")
    return text + "Z"


# ---------------------------------------------------------------------------
# Formatting


def candle_fields(candle: Candle, market: Market, ws: bool = False) -> str:
    p, q = market.price_decimals, market.qty_decimals
    start = f'"start":"{candle.open_ms // 1000}"'
    low, high = f'"low":"{plain(candle.low, p)}"', f'"high":"{plain(candle.high, p)}"'
    rest = (f'"open":"{plain(candle.open, p)}","close":"{plain(candle.close, p)}",'
            f'"volume":"{plain(candle.volume, q)}"')
    # REST: start, low, high, ...; WebSocket: start, high, low, ... (as documented)
    return f"{start},{high},{low},{rest}" if ws else f"{start},{low},{high},{rest}"


def product(product_id: str, market: Market, context: IVenueContext) -> dict[str, Any]:
    now = context.now_ms()
    p, q = market.price_decimals, market.qty_decimals
    price = volume = change = ""
    if now >= market.listed_ms:
        day = context.source.candle(market, CANONICAL["1d"], CANONICAL["1d"].floor(now), now)
        assert day is not None
        price, volume = plain(day.close, p), plain(day.volume, q)
        change = repr(round((day.close - day.open) / day.open * 100, 8))
    base, quote = market.base, market.quote
    tick = plain(1, p)
    return {
        "product_id": product_id, "price": price, "price_percentage_change_24h": change,
        "volume_24h": volume, "volume_percentage_change_24h": "0",
        "base_increment": plain(1, q), "quote_increment": tick, "quote_min_size": "1",
        "quote_max_size": "150000000", "base_min_size": plain(1, q),
        "base_max_size": plain(round(1.5e8 / market.price * 10**q), q) if market.price else "0",
        "base_name": NAMES.get(base, base), "quote_name": "US Dollar" if quote == "USD" else quote,
        "watched": False, "is_disabled": False, "new": False, "status": "online", "cancel_only": False,
        "limit_only": False, "post_only": False, "trading_disabled": False, "auction_mode": False,
        "product_type": "SPOT", "quote_currency_id": quote, "base_currency_id": base,
        "fcm_trading_session_details": None, "mid_market_price": "", "alias": "", "alias_to": [],
        "base_display_symbol": base, "quote_display_symbol": quote, "view_only": False,
        "price_increment": tick, "display_name": product_id, "product_venue": "CBE",
        "approximate_quote_24h_volume": "",
    }


# ---------------------------------------------------------------------------
# REST handlers


def _single(request: RestRequest, name: str) -> str | None:
    values = request.args.get(name)
    return None if not values else values[0]


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    now = context.now_ms()
    return _ok(_dumps({"iso": iso(now), "epochSeconds": str(now // 1000), "epochMillis": str(now)}))


def v2_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    now = context.now_ms()
    return _ok(_dumps({"data": {"epoch": now // 1000, "iso": iso(now)}}))


def v2_currencies(request: RestRequest, context: IVenueContext) -> RestResponse:
    quotes = sorted({m.quote for m in context.markets.values()})
    data = [{"id": q, "name": "US Dollar" if q == "USD" else q, "min_size": "0.01"} for q in quotes]
    return _ok(_dumps({"data": data}))


def v2_crypto(request: RestRequest, context: IVenueContext) -> RestResponse:
    bases = list(dict.fromkeys(m.base for m in context.markets.values()))
    data = [
        {"asset_id": "", "code": b, "name": NAMES.get(b, b), "color": "#000000", "sort_index": 100 + i,
         "exponent": 8, "type": "crypto", "address_regex": ""}
        for i, b in enumerate(bases)
    ]
    return _ok(_dumps({"data": data}))


def v2_exchange_rates(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``/v2/exchange-rates``: units of each asset per 1 USD, from the live prices."""
    now = context.now_ms()
    rates: dict[str, str] = {"USD": "1.0"}
    for market in context.markets.values():
        if market.quote == "USD" and now >= market.listed_ms:
            minute = context.source.candle(market, CANONICAL["1m"], CANONICAL["1m"].floor(now), now)
            if minute is not None and minute.close:
                rates[market.base] = repr(10**market.price_decimals / minute.close)
    return _ok(_dumps({"data": {"currency": "USD", "rates": rates}}))


def products(request: RestRequest, context: IVenueContext) -> RestResponse:
    kind = _single(request, "product_type")
    wanted = request.args.get("product_ids")
    if kind not in (None, "", "SPOT", "FUTURE", "UNKNOWN_PRODUCT_TYPE"):
        raise invalid(f"invalid value for enum type: {json.dumps(kind)}")
    chosen = [] if kind == "FUTURE" else [
        (pid, m) for pid, m in context.markets.items() if not wanted or pid in wanted
    ]
    limit_text = _single(request, "limit")
    if limit_text:
        if not _INT_RE.match(limit_text):
            raise invalid("limit argument is invalid")
        if int(limit_text) > 0:
            chosen = chosen[: int(limit_text)]
    items = [product(pid, m, context) for pid, m in chosen]
    return _ok(_dumps({"products": items, "num_products": len(items)}))


def one_product(request: RestRequest, context: IVenueContext) -> RestResponse:
    product_id = request.path_args["product_id"]
    market = context.markets.get(product_id)
    if market is None:
        raise not_supported(product_id)
    return _ok(_dumps(product(product_id, market, context)))


def _seconds(request: RestRequest, name: str) -> int | None:
    text = _single(request, name)
    if text is None or text == "":
        return None
    if not _INT_RE.match(text):
        raise invalid(f"{name} argument is invalid")
    return int(text)


def candles(request: RestRequest, context: IVenueContext) -> RestResponse:
    product_id = request.path_args["product_id"]
    granularity = _single(request, "granularity")
    interval = GRANULARITIES.get(granularity or "")
    if interval is None:
        raise invalid("granularity argument is invalid")
    start = _seconds(request, "start")
    end = _seconds(request, "end")
    limit = _seconds(request, "limit")
    if limit is None or limit == 0:
        limit = MAX_CANDLES
    elif not 0 < limit <= MAX_CANDLES:
        raise invalid("limit argument is invalid")
    if start is not None and end is not None:
        if end < start:
            raise invalid("start and end argument is invalid - start must be before end")
        if (end - start) * 1000 // interval.ms > MAX_CANDLES:
            raise invalid(
                f"start and end argument is invalid - number of candles requested should be less than {MAX_CANDLES}"
            )
    market = context.markets.get(product_id)
    if market is None:
        raise not_supported(product_id)
    now = context.now_ms()
    first_available = context.source.first_open(market, interval)
    start_ms = None if start is None else max(0, start) * 1000
    end_ms = None if end is None else max(0, end) * 1000
    # The newest ``limit`` in the range: select by the end, then clip at the start.
    first, count = window(interval, 0, first_available, now, None, end_ms, limit, market.listed_ms)
    if start_ms is not None and count:
        skip = 0 if start_ms <= first else min(count, -(-(start_ms - first) // interval.ms))
        first, count = interval.shift(first, skip), count - skip
    # Newest first (the cache keeps the reversed block too).
    return _ok(context.rows.rows(
        market, interval, 0, first, count, now, (NAME, "rest"),
        lambda c: b"{" + candle_fields(c, market).encode() + b"}", newest_first=True,
        prefix=b'{"candles":[', suffix=b"]}",
    ))


# ---------------------------------------------------------------------------
# WebSocket


def _envelope(channel: str, event_ms: int, sequence: int, events: str) -> bytes:
    return (
        f'{{"channel":"{channel}","client_id":"","timestamp":"{iso(event_ms, True)}",'
        f'"sequence_num":{sequence},"events":{events}}}'
    ).encode()


def candles_message(kind: str, product_id: str, candle: Candle, market: Market, event_ms: int) -> bytes:
    row = "{" + candle_fields(candle, market, ws=True) + f',"product_id":"{product_id}"}}'
    return _envelope("candles", event_ms, event_ms // 1000, f'[{{"type":"{kind}","candles":[{row}]}}]')


@implementer(ITopic)
@frozen
class CandlesTopic:
    feed: Feed
    product_id: str

    def render(self, update: CandleUpdate) -> bytes:
        return candles_message("update", self.product_id, update.candle, update.feed.market, update.event_ms)


@implementer(ITopic)
@frozen
class HeartbeatsTopic:
    """The heartbeats channel, clocked by a 1-minute feed's once-a-second ticks."""

    feed: Feed

    def render(self, update: CandleUpdate) -> bytes | None:
        if update.candle.closed and update.event_ms != update.candle.end_ms:
            return None  # a late tick pushes the closed candle and the next one: beat once
        now = update.event_ms
        counter = now // 1000
        days, rest = divmod(now, DAY_MS)
        y, m, d = civil_from_days(days)
        clock = f"{y:04d}-{m:02d}-{d:02d} {rest // HOUR_MS:02d}:{rest // MINUTE_MS % 60:02d}:{rest // 1000 % 60:02d}"
        event = f'[{{"current_time":"{clock}.{rest % 1000:03d}000000 +0000 UTC","heartbeat_counter":"{counter}"}}]'
        return _envelope("heartbeats", now, counter, event)


CHANNELS = ("candles", "heartbeats")


@implementer(IStreamSession)
class CoinbaseSession:
    def __init__(self, context: IVenueContext) -> None:
        self.context = context
        self.link: IStreamLink | None = None
        #: channel -> product id -> topic
        self.channels: dict[str, dict[str, ITopic]] = {}

    def opened(self, link: IStreamLink) -> None:
        self.link = link

    def ping_payload(self) -> bytes | None:
        return b""

    def _error(self, message: str) -> None:
        assert self.link is not None
        self.link.send(_dumps({"type": "error", "message": message}).encode())

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return self._error("Failed to parse message")
        if not isinstance(request, dict) or request.get("type") not in ("subscribe", "unsubscribe"):
            return self._error("Failed to parse message")
        channel = request.get("channel")
        ids = request.get("product_ids", [])
        if channel not in CHANNELS or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return self._error("Failed to subscribe")
        subscribing = request["type"] == "subscribe"
        now = link.now_ms()
        current = self.channels.setdefault(channel, {})
        if channel == "heartbeats":
            ids = [""]
        elif subscribing and (not ids or any(i not in self.context.markets for i in ids)):
            return self._error("Failed to subscribe")
        snapshots = []
        for product_id in ids:
            if not subscribing:
                topic = current.pop(product_id, None)
                if topic is not None:
                    link.unsubscribe(topic)
                continue
            if product_id in current:
                continue
            if channel == "heartbeats":
                market = next(iter(self.context.markets.values()))
                topic = HeartbeatsTopic(Feed(market, CANONICAL["1m"]))
            else:
                market = self.context.markets[product_id]
                topic = CandlesTopic(Feed(market, WS_INTERVAL), product_id)
                live = self.context.source.candle(market, WS_INTERVAL, WS_INTERVAL.floor(now), now)
                if live is not None and now >= market.listed_ms:
                    snapshots.append(candles_message("snapshot", product_id, live, market, now))
            current[product_id] = topic
            link.subscribe(topic)
        if not current:
            del self.channels[channel]
        listing = {name: [i for i in topics if i] for name, topics in self.channels.items()}
        link.send(_envelope("subscriptions", now, now // 1000, _dumps([{"subscriptions": listing}])))
        for message in snapshots:
            link.send(message)


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class CoinbaseAdvancedTrade:
    name = NAME
    description = "Coinbase Advanced Trade: /api/v3/brokerage/market candles and products, candles channel"
    intervals: Mapping[str, Interval] = GRANULARITIES
    keepalive = Keepalive()
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return [
            Market.create(base, "USD", price, price_decimals=p, qty_decimals=q, listed_ms=listed)
            for base, _name, price, p, q, listed in PRODUCTS
        ]

    def market_for(self, symbol: str, price: float) -> Market:
        text = symbol.upper().replace("/", "-").replace("_", "-")
        base, _, quote = text.partition("-")
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"{symbol!r} is not a Coinbase product id (BTC-USD)")
        for b, _name, _price, p, q, listed in PRODUCTS:
            if b == base:
                return Market.create(base, quote, price, price_decimals=p, qty_decimals=q, listed_ms=listed)
        return Market.create(base, quote, price)

    def symbol(self, market: Market) -> str:
        return f"{market.base}-{market.quote}"

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v3/brokerage/time", server_time, "time"),
            RestRoute("GET", "/api/v3/brokerage/market/products", products, "products"),
            RestRoute("GET", "/api/v3/brokerage/market/products/<product_id>", one_product, "product"),
            RestRoute("GET", "/api/v3/brokerage/market/products/<product_id>/candles", candles, "candles"),
            RestRoute("GET", "/v2/time", v2_time, "v2.time"),
            RestRoute("GET", "/v2/currencies", v2_currencies, "v2.currencies"),
            RestRoute("GET", "/v2/currencies/crypto", v2_crypto, "v2.currencies.crypto"),
            RestRoute("GET", "/v2/exchange-rates", v2_exchange_rates, "v2.exchange-rates"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            return RATE_LIMITED_RESPONSE
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return CoinbaseSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_candles_answer(path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_candles_push(payload, binary)


coinbase_advanced_trade = CoinbaseAdvancedTrade()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the candles this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402

_CANDLES_PATH = re.compile(r"^/api/v3/brokerage/market/products/([A-Za-z0-9-]{1,40})/candles$")
#: the candles channel's only interval, by its REST name ("5-minute candles")
_WS_GRANULARITY = next(name for name, interval in GRANULARITIES.items() if interval == WS_INTERVAL)


def _recorded(product_id: str, granularity: str, k: Mapping[str, Any]) -> RecordedCandle:
    """``{start (s), low, high, open, close, volume}`` ("Get Public Product Candles"; the
    channel's order differs): Coinbase shows no quote volume, trades or taker volumes."""
    return RecordedCandle(
        product_id, granularity, whole(k["start"]) * 1000, decimal_text(k["open"]), decimal_text(k["high"]),
        decimal_text(k["low"]), decimal_text(k["close"]), decimal_text(k["volume"]),
    )


@tolerant
def recorded_candles_answer(path: str, args: Mapping[str, Sequence[str]], answer: bytes) -> Sequence[RecordedCandle]:
    """``/market/products/{id}/candles``: ``{"candles":[..]}``, newest first."""
    match = _CANDLES_PATH.match(path)
    granularity = first_arg(args, "granularity")
    if match is None or granularity not in GRANULARITIES:
        return ()
    return [_recorded(match.group(1), text(granularity), k) for k in load_json(answer)["candles"]]


@tolerant
def recorded_candles_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """The ``candles`` channel: ``events`` of ``snapshot``/``update`` with 5-minute
    candles carrying ``product_id``. No closed flag: ``closed`` None (the recorder's
    next-open-time rule)."""
    if binary:
        return ()
    message = load_json(payload)
    if message["channel"] != "candles":
        return ()
    return [
        _recorded(text(k["product_id"]), _WS_GRANULARITY, k)
        for event in message["events"] if event["type"] in ("snapshot", "update")
        for k in event["candles"]
    ]


classImplements(CoinbaseAdvancedTrade, IKlineRecording)

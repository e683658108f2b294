"""
The generic ``mock`` venue: a small, documented JSON candles API of mockex's own.

The seed's ``ExchangeType.MOCK`` is a venue for users who have no particular exchange in
mind: they want candles over HTTP and a live stream with the least ceremony. No real venue
is imitated, so there is no outside source to follow: **docs/venues/mock.md is the
specification**, and this module implements exactly it. The design borrows what most
venues agree on (and what a reader of any of them expects):

* REST under ``/api/v1``: ``time``, ``markets``, ``candles`` (``symbol=BTC-USDT``,
  ``interval`` with Binance's names, ``start``/``end`` in epoch ms, ``limit`` 1..1000,
  default 500), with the selection rules of :func:`mockex.market.window` (Binance's):
  no bounds, the latest ``limit``; a start, the oldest from it; an end only, the latest
  up to it.
* Rows are arrays, oldest first:
  ``[open_time, "open", "high", "low", "close", "volume", close_time, "quote_volume",
  trades, closed]``; times are integer epoch ms (``close_time`` = next open - 1), prices and
  volumes strings with the market's own decimals, ``closed`` a boolean (the live candle is
  the last row, ``false``).
* Errors: an HTTP 4xx/5xx with ``{"error":{"code":"<snake_case>","message":".."}}``.
  Parameters are strict: an unknown or repeated parameter is an error, so a typo never
  silently changes the answer.
* WebSocket ``/ws``: JSON ops ``subscribe``/``unsubscribe``/``list``/``ping`` with an
  optional client ``id`` echoed in the reply; pushes ``{"channel":"candles",...,
  "candle":<row>}`` every second while subscribed (and exactly one ``closed: true`` push
  per candle); errors ``{"op":"error","id":..,"error":{...}}`` leave the connection open.
  The server sends WebSocket pings every 30 s and drops a client silent for 90 s.

Switches (``context.options``): none needed; the API is what the page says.

Rate limits (:data:`LIMITS`): mockex's own, documented in docs/venues/mock.md.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer

from mockex.fmt import fixed, plain
from mockex.interfaces import (
    BANNED,
    RATE_LIMITED,
    BUSY,
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
    IVenueContext,
    ITopic,
    Keepalive,
    RestRequest,
    RestResponse,
    RestRoute,
    VenueError,
)
from mockex.intervals import CANONICAL, Interval, days_from_civil, DAY_MS
from mockex.ratelimit import MINUTE, REMAINING, REQUESTS, RESET_MS, Limits, RestLimits, RestWindow, WsLimits
from mockex.market import QUOTE_DECIMALS, Candle, Market, window
from mockex.venues.common import split_symbol

NAME = "mock"
JSON = "application/json"
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
#: Most subscriptions one connection may hold.
MAX_SUBSCRIPTIONS = 100

#: What the mock venue enforces (mockex's own choice, docs/venues/mock.md): 1200
#: requests per minute per IP, headers ``X-Mock-RateLimit-Remaining`` and
#: ``X-Mock-RateLimit-Reset`` (ms), then 429 ``rate_limited`` with ``Retry-After``; no
#: ban; 10 WebSocket messages per second per connection, then close 1008.
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("requests", MINUTE, 1, 1200, REQUESTS, headers=(
            ("X-Mock-RateLimit-Remaining", REMAINING), ("X-Mock-RateLimit-Reset", RESET_MS))),),
        ban=None,
        retry_after="Retry-After",
    ),
    ws=WsLimits(messages=10, message_window_ms=1_000, close_code=1008, close_reason="rate_limited"),
)

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$")
_INT_RE = re.compile(r"^[0-9]{1,15}$")

DEFAULT_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USDT", 90_000.0, price_decimals=2, qty_decimals=5,
                  listed_ms=days_from_civil(2020, 1, 1) * DAY_MS),
    Market.create("ETH", "USDT", 3_000.0, price_decimals=2, qty_decimals=4,
                  listed_ms=days_from_civil(2020, 1, 1) * DAY_MS),
    Market.create("SOL", "USDT", 140.0, price_decimals=3, qty_decimals=2,
                  listed_ms=days_from_civil(2021, 1, 1) * DAY_MS),
)


# ---------------------------------------------------------------------------
# Errors


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def error(status: int, code: str, message: str) -> RestResponse:
    body = _dumps({"error": {"code": code, "message": message}}).encode()
    return RestResponse(status, body, content_type=JSON)


def fail(code: str, message: str, status: int = 400) -> VenueError:
    return VenueError(error(status, code, message))


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: error(404, "not_found", "No such endpoint."),
    METHOD_NOT_ALLOWED: error(405, "method_not_allowed", "This endpoint does not accept that method."),
    INTERNAL: error(500, "internal", "Internal error."),
    DISCONNECTED: error(502, "unavailable", "Backend unavailable; try again."),
    TIMEOUT: error(504, "timeout", "Backend timed out; try again."),
    BUSY: error(503, "busy", "Server busy; try again."),
}


# ---------------------------------------------------------------------------
# Parameters


class Params:
    """Strict query parameters: each at most once, none the endpoint does not know."""

    def __init__(self, request: RestRequest, known: Sequence[str]) -> None:
        self.args = request.args
        for name, values in self.args.items():
            if name not in known:
                raise fail("unknown_parameter", f"Unknown parameter '{name}'.")
            if len(values) > 1:
                raise fail("invalid_parameter", f"Parameter '{name}' was sent more than once.")

    def get(self, name: str) -> str | None:
        values = self.args.get(name)
        return None if values is None else values[0]

    def required(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise fail("missing_parameter", f"Parameter '{name}' is required.")
        return value

    def integer(self, name: str, low: int, high: int) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if not _INT_RE.match(value) or not low <= int(value) <= high:
            raise fail("invalid_parameter", f"Parameter '{name}' must be an integer from {low} to {high}.")
        return int(value)


def _market(context: IVenueContext, symbol: str) -> Market:
    market = context.markets.get(symbol)
    if market is None:
        raise fail("unknown_symbol", f"Unknown symbol '{symbol}'; see /api/v1/markets.", 404)
    return market


def _interval(name: str) -> Interval:
    interval = CANONICAL.get(name)
    if interval is None:
        raise fail("invalid_interval", f"Unknown interval '{name}'; use one of {', '.join(CANONICAL)}.")
    return interval


# ---------------------------------------------------------------------------
# Formatting


def candle_row(candle: Candle, market: Market) -> bytes:
    p, q = market.price_decimals, market.qty_decimals
    return (
        f'[{candle.open_ms},"{fixed(candle.open, p, p)}","{fixed(candle.high, p, p)}",'
        f'"{fixed(candle.low, p, p)}","{fixed(candle.close, p, p)}","{fixed(candle.volume, q, q)}",'
        f'{candle.end_ms - 1},"{fixed(candle.quote_volume, QUOTE_DECIMALS, p)}",{candle.trades},'
        f'{"true" if candle.closed else "false"}]'
    ).encode()


def market_info(symbol: str, market: Market) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "base": market.base,
        "quote": market.quote,
        "status": "trading",
        "price_decimals": market.price_decimals,
        "qty_decimals": market.qty_decimals,
        "tick_size": plain(1, market.price_decimals),
        "lot_size": plain(1, market.qty_decimals),
        "listed_at": market.listed_ms,
    }


def _ok(body: str | bytes) -> RestResponse:
    return RestResponse(200, body if isinstance(body, bytes) else body.encode(), content_type=JSON)


# ---------------------------------------------------------------------------
# REST handlers


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    Params(request, ())
    return _ok(f'{{"time":{context.now_ms()}}}')


def markets(request: RestRequest, context: IVenueContext) -> RestResponse:
    Params(request, ())
    body = {
        "time": context.now_ms(),
        "intervals": list(CANONICAL),
        "markets": [market_info(s, m) for s, m in context.markets.items()],
    }
    return _ok(_dumps(body))


def candles(request: RestRequest, context: IVenueContext) -> RestResponse:
    params = Params(request, ("symbol", "interval", "start", "end", "limit"))
    symbol = params.required("symbol")
    interval_name = params.required("interval")
    interval = _interval(interval_name)
    start = params.integer("start", 0, 10**15)
    end = params.integer("end", 0, 10**15)
    limit = params.integer("limit", 1, MAX_LIMIT)
    if start is not None and end is not None and end < start:
        raise fail("invalid_parameter", "Parameter 'end' must not be before 'start'.")
    market = _market(context, symbol)
    now = context.now_ms()
    first, count = window(
        interval, 0, context.source.first_open(market, interval), now, start, end,
        DEFAULT_LIMIT if limit is None else limit, market.listed_ms,
    )
    head = f'{{"symbol":"{symbol}","interval":"{interval_name}","candles":['
    return _ok(context.rows.rows(
        market, interval, 0, first, count, now, NAME, lambda c: candle_row(c, market),
        prefix=head.encode(), suffix=b"]}",
    ))


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class CandleTopic:
    feed: Feed
    symbol: str
    interval_name: str

    def render(self, update: CandleUpdate) -> bytes:
        row = candle_row(update.candle, update.feed.market).decode()
        return (
            f'{{"channel":"candles","symbol":"{self.symbol}","interval":"{self.interval_name}",'
            f'"time":{update.event_ms},"candle":{row}}}'
        ).encode()


def ws_error(request_id: Any, code: str, message: str) -> bytes:
    return _dumps({"op": "error", "id": request_id, "error": {"code": code, "message": message}}).encode()


def _valid_id(value: Any) -> bool:
    if value is None or isinstance(value, str) and len(value) <= 64:
        return True
    return type(value) is int and -(2**63) <= value < 2**63


@implementer(IStreamSession)
class MockSession:
    """One ``/ws`` connection."""

    def __init__(self, context: IVenueContext) -> None:
        self.context = context
        self.link: IStreamLink | None = None
        self.topics: dict[tuple[str, str], CandleTopic] = {}

    def opened(self, link: IStreamLink) -> None:
        self.link = link

    def ping_payload(self) -> bytes:
        return b""

    def received(self, payload: bytes, is_binary: bool) -> None:
        assert self.link is not None
        reply = self._reply(payload, is_binary)
        if reply is not None:
            self.link.send(reply)

    def _reply(self, payload: bytes, is_binary: bool) -> bytes | None:
        if is_binary:
            return ws_error(None, "invalid_message", "Messages must be JSON text.")
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return ws_error(None, "invalid_message", "Messages must be JSON objects.")
        if not isinstance(request, dict):
            return ws_error(None, "invalid_message", "Messages must be JSON objects.")
        request_id = request.get("id")
        if not _valid_id(request_id):
            return ws_error(None, "invalid_id", "'id' must be a string, an integer or null.")
        op = request.get("op")
        if op == "ping":
            return _dumps({"op": "pong", "id": request_id, "time": self.context.now_ms()}).encode()
        if op == "list":
            subscriptions = [
                {"channel": "candles", "symbol": s, "interval": i} for s, i in self.topics
            ]
            return _dumps({"op": "subscriptions", "id": request_id, "subscriptions": subscriptions}).encode()
        if op not in ("subscribe", "unsubscribe"):
            return ws_error(request_id, "unknown_op",
                            "'op' must be one of subscribe, unsubscribe, list, ping.")
        channel = request.get("channel")
        if channel != "candles":
            return ws_error(request_id, "unknown_channel", "'channel' must be 'candles'.")
        symbol, interval_name = request.get("symbol"), request.get("interval")
        if not isinstance(symbol, str) or not symbol:
            return ws_error(request_id, "missing_parameter", "'symbol' is required.")
        if not isinstance(interval_name, str) or not interval_name:
            return ws_error(request_id, "missing_parameter", "'interval' is required.")
        key = (symbol, interval_name)
        ack = {"op": op + "d", "id": request_id, "channel": "candles", "symbol": symbol,
               "interval": interval_name}
        link = self.link
        assert link is not None
        if op == "unsubscribe":
            topic = self.topics.pop(key, None)
            if topic is None:
                return ws_error(request_id, "not_subscribed", f"Not subscribed to {symbol} {interval_name}.")
            link.unsubscribe(topic)
            return _dumps(ack).encode()
        market = self.context.markets.get(symbol)
        if market is None:
            return ws_error(request_id, "unknown_symbol", f"Unknown symbol '{symbol}'; see /api/v1/markets.")
        interval = CANONICAL.get(interval_name)
        if interval is None:
            return ws_error(request_id, "invalid_interval", f"Unknown interval '{interval_name}'.")
        if key not in self.topics:
            if len(self.topics) >= MAX_SUBSCRIPTIONS:
                return ws_error(request_id, "too_many_subscriptions",
                                f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection.")
            # The ack goes first, then the candle in progress (a subscriber never
            # waits a period for its first push).
            link.send(_dumps(ack).encode())
            topic = self.topics[key] = CandleTopic(Feed(market, interval), symbol, interval_name)
            link.subscribe(topic)
            now = self.context.now_ms()
            live = self.context.source.candle(market, interval, interval.floor(now), now)
            if live is None or now < market.listed_ms:
                return None
            return topic.render(CandleUpdate(topic.feed, live, now))
        return _dumps(ack).encode()


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class MockVenue:
    """The ``mock`` venue."""

    name = NAME
    description = "Generic mock venue: /api/v1/candles, /api/v1/markets, /ws candles channel"
    intervals: Mapping[str, Interval] = CANONICAL
    keepalive = Keepalive(ping_interval=30.0, pong_timeout=90.0)
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        base, quote = split_symbol(symbol)
        if not _SYMBOL_RE.match(f"{base}-{quote}"):
            raise ValueError(f"{symbol!r} is not a symbol like BTC-USDT")
        for market in DEFAULT_MARKETS:
            if (market.base, market.quote) == (base, quote):
                return Market.create(base, quote, price, price_decimals=market.price_decimals,
                                     qty_decimals=market.qty_decimals, listed_ms=market.listed_ms)
        return Market.create(base, quote, price, listed_ms=days_from_civil(2020, 1, 1) * DAY_MS)

    def symbol(self, market: Market) -> str:
        return f"{market.base}-{market.quote}"

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v1/time", server_time, "time"),
            RestRoute("GET", "/api/v1/markets", markets, "markets"),
            RestRoute("GET", "/api/v1/candles", candles, "candles"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/ws",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            return error(429, "rate_limited", f"Too many requests: {detail or 'over the limit'}; retry later.")
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return MockSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_candles_answer(path, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_candles_push(payload, binary)


mock = MockVenue()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, load_json, text, tolerant, whole  # noqa: E402


def _recorded_row(symbol: str, interval: str, r: Sequence[Any]) -> RecordedCandle | None:
    """``[open_time, open, high, low, close, volume, close_time, quote_volume, trades,
    closed]`` (docs/venues/mock.md): no taker volumes."""
    closed = r[9]
    if interval not in CANONICAL or not isinstance(closed, bool):
        return None
    return RecordedCandle(
        symbol, interval, whole(r[0]), decimal_text(r[1]), decimal_text(r[2]), decimal_text(r[3]),
        decimal_text(r[4]), decimal_text(r[5]), decimal_text(r[7]), whole(r[8]), closed=closed,
    )


@tolerant
def recorded_candles_answer(path: str, answer: bytes) -> Sequence[RecordedCandle]:
    """``/api/v1/candles``: ``{"symbol","interval","candles":[rows]}``, oldest first."""
    if path != "/api/v1/candles":
        return ()
    body = load_json(answer)
    symbol, interval = text(body["symbol"]), text(body["interval"])
    return [c for c in (_recorded_row(symbol, interval, r) for r in body["candles"]) if c is not None]


@tolerant
def recorded_candles_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``{"channel":"candles","symbol","interval","time","candle":<row>}``, closed per
    the row's ``closed`` (exactly one ``true`` push per candle)."""
    if binary:
        return ()
    message = load_json(payload)
    if message["channel"] != "candles":
        return ()
    candle = _recorded_row(text(message["symbol"]), text(message["interval"]), message["candle"])
    return () if candle is None else (candle,)


classImplements(MockVenue, IKlineRecording)

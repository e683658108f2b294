"""
Gate spot market data: the ``api.gateio.ws/api/v4`` REST endpoints a candle client
uses, and the spot WebSocket ``api.gateio.ws/ws/v4/``.

Sources:

* Gate's API v4 docs (gate.com/docs/developers/apiv4): Market candlesticks
  (``GET /spot/candlesticks``: ``currency_pair``, ``interval`` (default ``30m``),
  ``limit`` (default 100, max 1000, "conflicted with from and to"), ``from``/``to`` in
  seconds; rows of 8 strings ``[t, quote volume, close, high, low, open, base volume,
  window closed]``, oldest first; ``30d`` is a calendar month), Get server current time
  (``{"server_time": <ms>}``), List all currency pairs, List all currencies, the error
  format ``{"label":..,"message":..}``, rate limits (public endpoints 200 requests per
  10 s per endpoint per IP; ``X-Gate-RateLimit-*`` headers; 429 ``TOO_MANY_REQUESTS``).
* Gate's spot WebSocket v4 docs: the request ``{"time","id","channel","event","payload"}``,
  the subscribe/unsubscribe answers (``result: {"status": "success"}``, errors as
  ``{"code","message"}``: 1 invalid argument struct, 2 invalid argument), the
  ``spot.candlesticks`` channel (payload ``[interval, pair]``, pushes
  ``{"t","v","c","h","l","o","n","a","w"}``), the application-level ``spot.ping`` ->
  ``spot.pong``.
* A captured error: ``{"label":"INVALID_PARAM_VALUE","message":"Candlestick too long
  ago. Maximum 10000 points ago are allowed"}`` (ccxt's exceptions table comments).
* ccxt 4.5 (gate.py, pro/gate.py): what ``load_markets`` requests (spot currencies,
  spot and margin currency pairs, futures/delivery contracts, options underlyings),
  ``fetch_ohlcv`` (``from``/``to`` = from + (limit-1) candles, or ``limit`` alone),
  ``handle_ohlcv`` / ``handle_message`` / ``handle_error_message``; the subscribe and
  unsubscribe answers with ``time_ms``, ``conn_id``, ``trace_id``, ``requestId``.

Unverified choices (docs/venues/gate_io_spot.md), with switches where useful:

* ``from`` selects the candle that contains it, ``to`` likewise (both inclusive).
* ``limit`` with ``from`` is rejected; with ``to`` alone it is accepted (ccxt sends it
  so); a ``from``..``to`` range of more than 1000 candles yields its first 1000.
* Candles further back than 10000 points of the interval are refused
  (``gate_history_points``, default 10000; 0: no limit).
* Error texts other than the captured one; WebSocket error texts.
* Weeks (``7d``) open on Mondays 00:00 UTC; days at 00:00 UTC.
* Pushes every second.

Rate limits (:data:`LIMITS`; docs/rate-limits.md): Gate API v4 "Frequency limit rule"
(200 requests per 10 s per endpoint per IP for public endpoints; the
``X-Gate-RateLimit-*`` headers); ccxt gate maps ``TOO_MANY_REQUESTS`` to
RateLimitExceeded (``rateLimit`` 50 ms: "200 requests per 10 second"); a live header
capture quoted by a client project (``x-gate-ratelimit-limit: 200``,
``x-gate-ratelimit-requests-remain: 199``, ``x-gate-ratelimit-reset-timestamp:
1787160954``, seconds). Unverified: the 429 message text; fixed windows aligned on 10 s
(the capture suggests the window may slide); the 300 connections per IP (declared
before, source not found); no ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from typing import Any, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer

from mockex.fmt import plain
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
    ITopic,
    IVenueContext,
    Keepalive,
    RestRequest,
    RestResponse,
    RestRoute,
    VenueError,
)
from mockex.intervals import CANONICAL, SECOND_MS, Interval
from mockex.ratelimit import LIMIT, NOW_OR_RESET_S, REMAINING, REQUESTS, SECOND, Limits, RestLimits, RestWindow, WsLimits
from mockex.market import QUOTE_DECIMALS, Candle, Market
from mockex.venues.common import DEFAULT_MARKETS as _REFERENCE_MARKETS
from mockex.venues.common import reference_market, split_symbol

NAME = "gate_io_spot"
JSON = "application/json"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_HISTORY_POINTS = 10_000

#: REST intervals (``30d`` is a calendar month).
INTERVALS: dict[str, Interval] = {
    "1s": CANONICAL["1s"],
    "10s": Interval.fixed(10 * SECOND_MS),
    "1m": CANONICAL["1m"],
    "5m": CANONICAL["5m"],
    "15m": CANONICAL["15m"],
    "30m": CANONICAL["30m"],
    "1h": CANONICAL["1h"],
    "4h": CANONICAL["4h"],
    "8h": CANONICAL["8h"],
    "1d": CANONICAL["1d"],
    "7d": CANONICAL["1w"],
    "30d": CANONICAL["1M"],
}
#: The spot.candlesticks channel's intervals (no 1s).
WS_INTERVALS: dict[str, Interval] = {k: v for k, v in INTERVALS.items() if k != "1s"}

#: What gate_io_spot enforces (API v4 docs "Frequency limit rule": public endpoints 200
#: requests per 10 s per endpoint per IP; every response carries
#: ``X-Gate-RateLimit-Requests-Remain``, ``-Limit`` and ``-Reset-Timestamp``, "the
#: timestamp when your request limit resets if you have exceeded your rate_limit.
#: Otherwise, this is just the current timestamp"; a live capture shows them lower case,
#: the timestamp in seconds). Beyond: HTTP 429 ``TOO_MANY_REQUESTS``; no ban.
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("endpoint", SECOND, 10, 200, REQUESTS, per_route=True, headers=(
            ("x-gate-ratelimit-requests-remain", REMAINING), ("x-gate-ratelimit-limit", LIMIT),
            ("x-gate-ratelimit-reset-timestamp", NOW_OR_RESET_S))),),
        ban=None,
        retry_after=None,
    ),
    ws=WsLimits(max_connections=300),
)

_INT_RE = re.compile(r"^-?[0-9]{1,18}$")
_connections = itertools.count(1)

DEFAULT_MARKETS: tuple[Market, ...] = tuple(_REFERENCE_MARKETS)


def gate_symbol(market: Market) -> str:
    return f"{market.base}_{market.quote}"


# ---------------------------------------------------------------------------
# Errors


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def error(label: str, message: str, status: int = 400) -> RestResponse:
    return RestResponse(status, _dumps({"label": label, "message": message}).encode(), content_type=JSON)


def fail(label: str, message: str, status: int = 400) -> VenueError:
    return VenueError(error(label, message, status))


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: error("NOT_FOUND", "Not Found", 404),
    METHOD_NOT_ALLOWED: error("METHOD_NOT_ALLOWED", "Method Not Allowed", 405),
    INTERNAL: error("SERVER_ERROR", "Internal server error", 500),
    DISCONNECTED: error("SERVER_ERROR", "Internal server error", 500),
    TIMEOUT: error("SERVER_ERROR", "Server timeout", 504),
    BUSY: error("SERVER_ERROR", "Server is busy, please try again later", 503),
}


def _int(request: RestRequest, name: str) -> int | None:
    text = request.arg(name)
    if text is None:
        return None
    if not _INT_RE.match(text):
        raise fail("INVALID_PARAM_VALUE", f"Invalid {name}: {text}")
    return int(text)


# ---------------------------------------------------------------------------
# Formatting


def candle_row(candle: Candle, market: Market) -> bytes:
    p, q = market.price_decimals, market.qty_decimals
    return (
        f'["{candle.open_ms // 1000}","{plain(candle.quote_volume, QUOTE_DECIMALS)}",'
        f'"{plain(candle.close, p)}","{plain(candle.high, p)}","{plain(candle.low, p)}",'
        f'"{plain(candle.open, p)}","{plain(candle.volume, q)}","{"true" if candle.closed else "false"}"]'
    ).encode()


def pair_entry(symbol: str, market: Market) -> dict[str, Any]:
    """One ``/spot/currency_pairs`` entry, keys in Gate's order."""
    return {
        "id": symbol,
        "base": market.base,
        "base_name": market.base,
        "quote": market.quote,
        "quote_name": market.quote,
        "fee": "0.2",
        "min_base_amount": plain(1, market.qty_decimals),
        "min_quote_amount": "3",
        "max_base_amount": "",
        "max_quote_amount": "5000000",
        "amount_precision": market.qty_decimals,
        "precision": market.price_decimals,
        "trade_status": "tradable",
        "sell_start": market.listed_ms // 1000,
        "buy_start": market.listed_ms // 1000,
        "delisting_time": 0,
        "type": "normal",
        "trade_url": f"https://www.gate.com/trade/{symbol}",
        "st_tag": False,
    }


# ---------------------------------------------------------------------------
# REST handlers


def candlestick_args(request: RestRequest) -> tuple[int | None, int | None, int | None]:
    """``limit``, ``from``, ``to``, checked as Gate checks them (shared by spot and futures)."""
    limit = _int(request, "limit")
    start = _int(request, "from")
    end = _int(request, "to")
    if limit is not None and start is not None:
        raise fail("INVALID_PARAM_VALUE", "limit is conflicted with from and to")
    return limit, start, end


def candle_window(
    context: IVenueContext, market: Market, interval: Interval, limit: int | None, start: int | None,
    end: int | None, max_limit: int,
) -> tuple[int, int]:
    """
    Which candles a candlesticks query selects, as ``(first open, count)``: the spot
    and futures rules (``from``/``to`` in seconds, both inclusive, the candle that
    contains each; no ``from``: the last ``limit``; history limited to
    ``gate_history_points``).
    """
    if limit is not None and not 1 <= limit <= max_limit:
        raise fail("INVALID_PARAM_VALUE", f"limit must be between 1 and {max_limit}")
    now = context.now_ms()
    if start is not None and end is not None and start > end:
        raise fail("INVALID_PARAM_VALUE", "from must be earlier than to")
    last = interval.floor(now)
    if end is not None:
        last = min(last, interval.floor(end * 1000))
    history = int(context.options.get("gate_history_points", DEFAULT_HISTORY_POINTS))
    oldest = interval.shift(interval.floor(now), -(history - 1)) if history > 0 else None
    first_available = context.source.first_open(market, interval)
    if start is not None:
        # The candle that contains ``from`` is the first (unverified).
        first = interval.floor(start * 1000)
        if oldest is not None and first < oldest:
            raise fail("INVALID_PARAM_VALUE", f"Candlestick too long ago. Maximum {history} points ago are allowed")
        first = max(first, first_available)
        count = min(max_limit, interval.count_between(first, last)) if last >= first else 0
    else:
        wanted = DEFAULT_LIMIT if limit is None else limit
        if oldest is not None and last < oldest:
            raise fail("INVALID_PARAM_VALUE", f"Candlestick too long ago. Maximum {history} points ago are allowed")
        floor = max(first_available, oldest) if oldest is not None else first_available
        count = min(wanted, interval.count_between(floor, last)) if last >= floor else 0
        first = interval.shift(last, -(count - 1)) if count else last
    if now < market.listed_ms or count <= 0:
        return first, 0
    return first, count


def candlesticks(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v4/spot/candlesticks``: oldest first, times in seconds."""
    pair = request.arg("currency_pair")
    if not pair:
        raise fail("MISSING_REQUIRED_PARAM", "Missing required parameter: currency_pair")
    interval_name = request.arg("interval") or "30m"
    interval = INTERVALS.get(interval_name)
    if interval is None:
        raise fail("INVALID_PARAM_VALUE", f"Invalid interval: {interval_name}")
    limit, start, end = candlestick_args(request)
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise fail("INVALID_PARAM_VALUE", f"limit must be between 1 and {MAX_LIMIT}")
    market = context.markets.get(pair)
    if market is None:
        raise fail("INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair}")
    first, count = candle_window(context, market, interval, limit, start, end, MAX_LIMIT)
    if not count:
        return RestResponse(200, b"[]", content_type=JSON)
    now = context.now_ms()
    body = context.rows.rows(
        market, interval, 0, first, count, now, (NAME,), lambda c: candle_row(c, market), prefix=b"[", suffix=b"]"
    )
    return RestResponse(200, body, content_type=JSON)


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    return RestResponse(200, f'{{"server_time":{context.now_ms()}}}'.encode(), content_type=JSON)


def currency_pairs(request: RestRequest, context: IVenueContext) -> RestResponse:
    entries = [pair_entry(name, market) for name, market in context.markets.items()]
    return RestResponse(200, _dumps(entries).encode(), content_type=JSON)


def currency_pair(request: RestRequest, context: IVenueContext) -> RestResponse:
    name = request.path_args.get("currency_pair", "")
    market = context.markets.get(name)
    if market is None:
        raise fail("INVALID_CURRENCY_PAIR", f"Invalid currency pair {name}")
    return RestResponse(200, _dumps(pair_entry(name, market)).encode(), content_type=JSON)


def currencies(request: RestRequest, context: IVenueContext) -> RestResponse:
    seen: dict[str, None] = {}
    for market in context.markets.values():
        seen.setdefault(market.base)
        seen.setdefault(market.quote)
    entries = [
        {"currency": c, "name": c, "delisted": False, "withdraw_disabled": False, "withdraw_delayed": False,
         "deposit_disabled": False, "trade_disabled": False, "chain": c, "chains": []}
        for c in seen
    ]
    return RestResponse(200, _dumps(entries).encode(), content_type=JSON)


def empty_list(request: RestRequest, context: IVenueContext) -> RestResponse:
    """Margin pairs, futures and delivery contracts, options underlyings: none here."""
    return RestResponse(200, b"[]", content_type=JSON)


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class CandleTopic:
    """``spot.candlesticks`` for one ``[interval, pair]``."""

    feed: Feed
    name: str  # "1m_BTC_USDT"

    def render(self, update: CandleUpdate) -> bytes:
        c = update.candle
        market = self.feed.market
        p, q = market.price_decimals, market.qty_decimals
        return (
            f'{{"time":{update.event_ms // 1000},"time_ms":{update.event_ms},"channel":"spot.candlesticks",'
            f'"event":"update","result":{{"t":"{c.open_ms // 1000}","v":"{plain(c.quote_volume, QUOTE_DECIMALS)}",'
            f'"c":"{plain(c.close, p)}","h":"{plain(c.high, p)}","l":"{plain(c.low, p)}","o":"{plain(c.open, p)}",'
            f'"n":"{self.name}","a":"{plain(c.volume, q)}","w":{"true" if c.closed else "false"}}}}}'
        ).encode()


@frozen
class CandleChannel:
    """A Gate WebSocket's candlestick channel: the channel prefix, intervals, topic maker."""

    prefix: str  # "spot" or "futures"
    intervals: Mapping[str, Interval]
    #: ``make(feed, name, handshake headers)`` -> the topic
    make: Any


SPOT_CHANNEL = CandleChannel("spot", WS_INTERVALS, lambda feed, name, headers: CandleTopic(feed, name))


@implementer(IStreamSession)
class GateSession:
    """One connection to the spot WebSocket (or, with another channel, a futures one)."""

    def __init__(self, context: IVenueContext, channel: CandleChannel = SPOT_CHANNEL,
                 headers: Mapping[str, str] | None = None) -> None:
        self.context = context
        self.channel = channel
        self.headers = headers or {}
        self.link: IStreamLink | None = None
        number = next(_connections)
        self.conn_id = hashlib.blake2b(f"gate-conn:{number}".encode(), digest_size=8).hexdigest()
        self._traces = itertools.count(1)
        self.subscriptions: dict[str, ITopic] = {}

    def ping_payload(self) -> None:
        return None

    def opened(self, link: IStreamLink) -> None:
        self.link = link

    def _trace(self) -> str:
        return hashlib.blake2b(f"{self.conn_id}:{next(self._traces)}".encode(), digest_size=16).hexdigest()

    def _answer(self, request: dict[str, Any], channel: str, event: str, payload: Any,
                problem: tuple[int, str] | None) -> None:
        assert self.link is not None
        now = self.link.now_ms()
        trace = self._trace()
        answer: dict[str, Any] = {"time": now // 1000, "time_ms": now}
        if "id" in request:
            answer["id"] = request["id"]
        answer.update(conn_id=self.conn_id, trace_id=trace, channel=channel, event=event)
        if payload is not None:
            answer["payload"] = payload
        if problem is not None:
            answer["error"] = {"code": problem[0], "message": problem[1]}
            answer["result"] = {"status": "fail"}
        else:
            answer["result"] = {"status": "success"}
        answer["requestId"] = trace
        self.link.send(_dumps(answer).encode())

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            request = None
        if not isinstance(request, dict):
            self._answer({}, "", "", None, (1, "invalid argument struct"))
            return
        channel = request.get("channel")
        event = request.get("event")
        prefix = self.channel.prefix
        if channel == f"{prefix}.ping":
            now = link.now_ms()
            pong: dict[str, Any] = {"time": now // 1000, "time_ms": now}
            if "id" in request:
                pong["id"] = request["id"]
            pong.update(conn_id=self.conn_id, trace_id=self._trace(), channel=f"{prefix}.pong", event="", result=None)
            link.send(_dumps(pong).encode())
            return
        if not isinstance(channel, str) or not isinstance(event, str):
            self._answer(request, channel if isinstance(channel, str) else "", event if isinstance(event, str) else "",
                         None, (1, "invalid argument struct"))
            return
        args = request.get("payload")
        if channel != f"{prefix}.candlesticks":
            self._answer(request, channel, event, args, (2, f"unknown channel {channel}"))
            return
        if event not in ("subscribe", "unsubscribe"):
            self._answer(request, channel, event, args, (2, f"unknown event {event}"))
            return
        if not isinstance(args, list) or len(args) != 2 or not all(isinstance(a, str) for a in args):
            self._answer(request, channel, event, args, (2, "invalid argument"))
            return
        interval_name, pair = args
        interval = self.channel.intervals.get(interval_name)
        if interval is None:
            self._answer(request, channel, event, args, (2, f"invalid interval: {interval_name}"))
            return
        market = self.context.markets.get(pair)
        if market is None:
            what = "currency pair" if prefix == "spot" else "contract"
            self._answer(request, channel, event, args, (2, f"unknown {what}: {pair}"))
            return
        name = f"{interval_name}_{pair}"
        if event == "subscribe":
            self._answer(request, channel, event, args, None)
            if name not in self.subscriptions:
                topic = self.channel.make(Feed(market, interval), name, self.headers)
                self.subscriptions[name] = topic
                link.subscribe(topic)
        else:
            old = self.subscriptions.pop(name, None)
            if old is not None:
                link.unsubscribe(old)
            self._answer(request, channel, event, args, None)


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class GateSpot:
    """The ``gate_io_spot`` venue."""

    name = NAME
    description = "Gate spot: /api/v4/spot/candlesticks, currency_pairs, time; spot.candlesticks on /ws/v4/"
    intervals: Mapping[str, Interval] = INTERVALS
    keepalive = Keepalive()
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        base, quote = split_symbol(symbol)
        if not re.match(r"^[A-Z0-9]{1,20}$", base) or not re.match(r"^[A-Z0-9]{1,20}$", quote):
            raise ValueError(f"{symbol!r} is not a Gate currency pair")
        return reference_market(base, quote, price)

    def symbol(self, market: Market) -> str:
        return gate_symbol(market)

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v4/spot/candlesticks", candlesticks, "candlesticks"),
            RestRoute("GET", "/api/v4/spot/time", server_time, "time"),
            RestRoute("GET", "/api/v4/spot/currency_pairs", currency_pairs, "currency_pairs"),
            RestRoute("GET", "/api/v4/spot/currency_pairs/<currency_pair>", currency_pair, "currency_pair"),
            RestRoute("GET", "/api/v4/spot/currencies", currencies, "currencies"),
            RestRoute("GET", "/api/v4/margin/currency_pairs", empty_list, "margin.currency_pairs"),
            RestRoute("GET", "/api/v4/futures/<settle>/contracts", empty_list, "futures.contracts"),
            RestRoute("GET", "/api/v4/delivery/<settle>/contracts", empty_list, "delivery.contracts"),
            RestRoute("GET", "/api/v4/options/underlyings", empty_list, "options.underlyings"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/ws/v4/", "/ws/v4")

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            return error("TOO_MANY_REQUESTS", "Request Rate limit Exceeded", 429)
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return GateSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_candlesticks_answer(path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_candlesticks_push(payload, binary)


gate_io_spot = GateSpot()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

from typing import Callable  # noqa: E402

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402


@tolerant
def recorded_candlesticks_answer(
    path: str, args: Mapping[str, Sequence[str]], answer: bytes
) -> Sequence[RecordedCandle]:
    """``/spot/candlesticks``: rows ``[t s, quote volume, close, high, low, open, base
    volume, window closed]``, oldest first (Market candlesticks); ``interval`` defaults
    to ``30m``. No trade counts or taker volumes."""
    if path != "/api/v4/spot/candlesticks":
        return ()
    pair = text(first_arg(args, "currency_pair"))
    interval = first_arg(args, "interval") or "30m"
    if interval not in INTERVALS:
        return ()
    out = []
    for r in load_json(answer):
        closed = {"true": True, "false": False}[r[7]]
        out.append(RecordedCandle(
            pair, interval, whole(r[0]) * 1000, decimal_text(r[5]), decimal_text(r[3]), decimal_text(r[4]),
            decimal_text(r[2]), decimal_text(r[6]), decimal_text(r[1]), closed=closed,
        ))
    return out


def channel_candle(
    result: Mapping[str, Any], intervals: Mapping[str, Interval], volume: Callable[[str, Mapping[str, Any]], str],
    quote: str | None,
) -> RecordedCandle | None:
    """One ``{"t","v","c","h","l","o","n","a","w"}`` push object (spot.candlesticks,
    futures.candlesticks): ``n`` is ``<interval>_<pair>``, ``w`` the window closed."""
    interval, _, pair = text(result["n"]).partition("_")
    closed = result["w"]
    if interval not in intervals or not isinstance(closed, bool):
        return None
    return RecordedCandle(
        pair, interval, whole(result["t"]) * 1000, decimal_text(result["o"]), decimal_text(result["h"]),
        decimal_text(result["l"]), decimal_text(result["c"]), volume(pair, result),
        None if quote is None else decimal_text(result[quote]), closed=closed,
    )


@tolerant
def recorded_candlesticks_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``spot.candlesticks`` updates: ``a`` is the base volume, ``v`` the quote volume."""
    if binary:
        return ()
    message = load_json(payload)
    if message.get("channel") != "spot.candlesticks" or message.get("event") != "update":
        return ()
    candle = channel_candle(message["result"], WS_INTERVALS, lambda pair, r: decimal_text(r["a"]), "v")
    return () if candle is None else (candle,)


classImplements(GateSpot, IKlineRecording)

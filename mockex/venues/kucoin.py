"""
KuCoin spot market data: the ``api.kucoin.com`` REST endpoints a candle client uses,
and the public WebSocket of ``ws-api-spot.kucoin.com`` with its token handshake.

Sources:

* KuCoin's API docs (kucoin.com/docs-new, and the older docs.kucoin.com mirrored as
  kucoin.btc-store.de): Get Klines (``/api/v1/market/candles``: ``symbol``, ``type``,
  ``startAt``/``endAt`` in seconds, default 0; at most 1500 rows; rows
  ``[time, open, close, high, low, volume, turnover]``, all strings, newest first),
  Get Server Time, Get All Symbols (v2), Get All Tickers, Get All Currencies (v3),
  Get Public Token (``POST /api/v1/bullet-public``: ``token`` and ``instanceServers``
  with ``pingInterval`` 18000 and ``pingTimeout`` 10000), the WebSocket introduction
  (``?token=..&connectId=..``, the ``welcome`` message whose id is the connectId,
  ``ping``/``pong``, ``subscribe``/``unsubscribe`` with ``response: true`` acked as
  ``{"id":"..","type":"ack"}``), the Klines channel (``/market/candles:{symbol}_{type}``,
  subject ``trade.candles.update``, ``time`` in nanoseconds), and the WebSocket error
  codes page (401 token is invalid, 400 topic is invalid, 404 topic does not exist,
  406 topic is required, 415 command type is invalid).
* Responses captured by users: ``{"msg":"This type of Candlestick is currently not
  provided.","code":"400100"}`` for an unknown ``type`` (Kucoin/kucoin-api-docs #450),
  ``{"msg":"Unsupported trading pair.","code":"400100"}`` (ccxt's exceptions table).
* ccxt 4.5 (kucoin.py, pro/kucoin.py): what ``load_markets`` requests (v3 currencies,
  v2 symbols, allTickers, and the futures host's ``/api/v1/contracts/active``), how
  ``fetch_ohlcv`` pages (``startAt = since/1000``, ``endAt = startAt + 1500 candles``),
  what ``negotiate``/``subscribe``/``handle_ohlcv``/``handle_message`` expect.

Unverified choices (see docs/venues/kucoin_spot.md), switchable through ``options``:

* Business errors are HTTP 400 (``kucoin_error_status=200`` answers them with 200).
* ``endAt`` is inclusive. ccxt's ``fetch_ohlcv(limit=n)`` asks for ``startAt = (now -
  n candles) // 1000``, ``endAt = now // 1000`` and keeps the rows from ``now - n
  candles`` on: it gets its ``n`` candles at every instant only if ``endAt`` is
  inclusive (an exclusive ``endAt`` loses the live candle during the first second of
  each candle).
* A range longer than 1500 candles yields its first 1500 when ``startAt`` is given (so
  ccxt's ``since`` pages, ``endAt = startAt + 1500 candles``, start at ``since`` and
  meet exactly) and the newest 1500 before ``endAt`` otherwise.
* A ``startAt``/``endAt`` that is not a whole non-negative number of seconds counts as
  absent: kucoin-python-sdk #47 captured ``startAt=endAt=1609459200.0`` answered with
  the newest 1500 candles, not an error.
* Error texts other than the two captured ones, and the WebSocket error ``data``
  texts, are mockex's.
* A connection silent for ``pingInterval + pingTimeout`` (28 s) is dropped.
* Weeks open on Mondays 00:00 UTC.

Rate limits (:data:`LIMITS`; docs/rate-limits.md): docs-new "Rate Limit" (resource
pools per VIP level, Public 2000/30s; weight "deducted and updated every 30s (starting
from the arrival time of the user's first request)"; "http code:429, error code:429000";
the ``gw-ratelimit-limit``, ``-remaining``, ``-reset`` headers, reset in milliseconds),
each endpoint's weight; live header captures quoted by client projects (``remaining
1997``, ``limit 2000``, ``reset 29994`` after one weight-3 call); the WebSocket limits
("Message limit sent to the server: 100 per 10 seconds", 100 topics per subscribe, 400
per connection). Unverified: the 429 text (ccxt's table: "Too many requests.
System-level rate limit exceeded."), the header order, no ``Retry-After``; over the
message rate the connection is closed with 1008 "Too many requests"; the error for the
401st topic (509, "... of 400 per session").
"""

from __future__ import annotations

import base64
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
from mockex.intervals import CANONICAL, Interval
from mockex.ratelimit import LIMIT, REMAINING, RESET_MS, SECOND, WEIGHT, Limits, RestLimits, RestWindow, WsLimits
from mockex.market import QUOTE_DECIMALS, Candle, Market
from mockex.venues.common import DEFAULT_MARKETS as _REFERENCE_MARKETS
from mockex.venues.common import reference_market, split_symbol

NAME = "kucoin_spot"
JSON = "application/json"
MAX_ROWS = 1500
SUCCESS = "200000"

#: KuCoin's candle types and what they mean.
INTERVALS: dict[str, Interval] = {
    "1min": CANONICAL["1m"],
    "3min": CANONICAL["3m"],
    "5min": CANONICAL["5m"],
    "15min": CANONICAL["15m"],
    "30min": CANONICAL["30m"],
    "1hour": CANONICAL["1h"],
    "2hour": CANONICAL["2h"],
    "4hour": CANONICAL["4h"],
    "6hour": CANONICAL["6h"],
    "8hour": CANONICAL["8h"],
    "12hour": CANONICAL["12h"],
    "1day": CANONICAL["1d"],
    "1week": CANONICAL["1w"],
    "1month": CANONICAL["1M"],
}

#: WebSocket keep-alive as ``bullet-public`` advertises it (milliseconds).
PING_INTERVAL_MS = 18_000
PING_TIMEOUT_MS = 10_000
#: A token is valid for 24 hours (docs-new, "Apply Connect Token").
TOKEN_LIFETIME_MS = 24 * 3_600_000

#: KuCoin's public REST pool and each endpoint's weight (docs-new "Rate Limit", VIP0:
#: "Public 2000/30s"; the weights are each endpoint's "API-RATE-LIMIT-WEIGHT", the same
#: numbers as ccxt's ``describe()['api']`` costs).
PUBLIC_POOL = 2000
WEIGHTS: Mapping[str, int] = {
    "candles": 3, "timestamp": 3, "status": 3, "symbols": 4, "symbols.v1": 4, "allTickers": 15,
    "currencies": 3, "bullet-public": 10, "contracts.active": 3,
}

#: What kucoin_spot enforces. REST: the public pool, per IP, 2000 weight per 30 s
#: "starting from the arrival time of the user's first request" (not aligned);
#: ``gw-ratelimit-remaining``, ``gw-ratelimit-limit`` and ``gw-ratelimit-reset``
#: (milliseconds to the reset) on every answer; beyond, HTTP 429 code 429000 and no ban.
#: WebSocket: 100 messages per 10 s per connection ("Message limit sent to the server"),
#: at most 400 topics per connection (the session answers beyond), 100 per request.
LIMITS = Limits(
    rest=RestLimits(
        windows=(
            RestWindow("public", SECOND, 30, PUBLIC_POOL, WEIGHT, aligned=False, headers=(
                ("gw-ratelimit-remaining", REMAINING), ("gw-ratelimit-limit", LIMIT),
                ("gw-ratelimit-reset", RESET_MS))),
        ),
        weights=WEIGHTS,
        ban=None,
        retry_after=None,
    ),
    ws=WsLimits(messages=100, message_window_ms=10_000, max_streams=400,
                close_code=1008, close_reason="Too many requests"),
)

_NUMBER_RE = re.compile(r"^[0-9]{1,19}$")
#: Numbers connections that name no connectId (deterministic within a process).
_connections = itertools.count(1)


# ---------------------------------------------------------------------------
# Markets


#: The default listing: the same markets (and so the same prices) as the other venues.
DEFAULT_MARKETS: tuple[Market, ...] = tuple(_REFERENCE_MARKETS)


def kucoin_symbol(market: Market) -> str:
    return f"{market.base}-{market.quote}"


# ---------------------------------------------------------------------------
# Errors and answers


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


#: What every successful answer starts with (its ``data`` follows, then ``}``).
_OK_HEAD = f'{{"code":"{SUCCESS}","data":'.encode()


def _ok(data: str) -> RestResponse:
    return RestResponse(200, f'{{"code":"{SUCCESS}","data":{data}}}'.encode(), content_type=JSON)


def _error(context: IVenueContext | None, code: str, msg: str, status: int = 400) -> VenueError:
    if context is not None and status == 400 and context.options.get("kucoin_error_status") == "200":
        status = 200
    body = _dumps({"msg": msg, "code": code}).encode()
    return VenueError(RestResponse(status, body, content_type=JSON))


def _plain_error(code: str, msg: str, status: int) -> RestResponse:
    return RestResponse(status, _dumps({"code": code, "msg": msg}).encode(), content_type=JSON)


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: _plain_error("404000", "Url Not Found", 404),
    METHOD_NOT_ALLOWED: _plain_error("405000", "Method Not Allowed", 405),
    INTERNAL: _plain_error("500000", "Internal Server Error", 500),
    DISCONNECTED: _plain_error("500000", "Internal Server Error", 500),
    TIMEOUT: _plain_error("503000", "Service Unavailable", 503),
    BUSY: _plain_error("503000", "Service Unavailable", 503),
    # the pool used up: HTTP 429, code 429000 (docs-new "Rate Limit"; the text is the
    # one ccxt's exceptions table quotes)
    RATE_LIMITED: _plain_error("429000", "Too many requests. System-level rate limit exceeded.", 429),
}


def _seconds(request: RestRequest, name: str) -> int:
    text = request.arg(name)
    if text is None or text == "":
        return 0
    if not _NUMBER_RE.match(text):
        return 0  # not a whole number of seconds: absent (kucoin-python-sdk #47)
    return int(text)


# ---------------------------------------------------------------------------
# Formatting


def candle_fields(candle: Candle, market: Market) -> str:
    """The seven strings of a candle, comma-joined: time (s), open, close, high, low, volume, turnover."""
    p, q = market.price_decimals, market.qty_decimals
    return (
        f'"{candle.open_ms // 1000}","{plain(candle.open, p)}","{plain(candle.close, p)}",'
        f'"{plain(candle.high, p)}","{plain(candle.low, p)}","{plain(candle.volume, q)}",'
        f'"{plain(candle.quote_volume, QUOTE_DECIMALS)}"'
    )


def candle_row(candle: Candle, market: Market) -> bytes:
    return f"[{candle_fields(candle, market)}]".encode()


def _increment(decimals: int) -> str:
    return plain(1, decimals)


def symbol_entry(symbol: str, market: Market) -> dict[str, Any]:
    """One entry of ``/api/v2/symbols``, keys in KuCoin's order (docs-new, 2025)."""
    p, q = market.price_decimals, market.qty_decimals
    return {
        "symbol": symbol,
        "name": symbol,
        "baseCurrency": market.base,
        "quoteCurrency": market.quote,
        "feeCurrency": market.quote,
        "market": "USDS" if market.quote in ("USDT", "USDC") else market.quote,
        "baseMinSize": _increment(q),
        "quoteMinSize": "0.1",
        "baseMaxSize": "10000000000",
        "quoteMaxSize": "99999999",
        "baseIncrement": _increment(q),
        "quoteIncrement": _increment(min(8, p + q)),
        "priceIncrement": _increment(p),
        "priceLimitRate": "0.1",
        "minFunds": "0.1",
        "isMarginEnabled": True,
        "enableTrading": True,
        "feeCategory": 1,
        "makerFeeCoefficient": "1.00",
        "takerFeeCoefficient": "1.00",
        "st": False,
        "callauctionIsEnabled": False,
        "callauctionPriceFloor": None,
        "callauctionPriceCeiling": None,
        "callauctionFirstStageStartTime": None,
        "callauctionSecondStageStartTime": None,
        "callauctionThirdStageStartTime": None,
        "tradingStartTime": None,
    }


# ---------------------------------------------------------------------------
# REST handlers


def candles(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/market/candles``: newest first, at most 1500, times in seconds."""
    symbol = request.arg("symbol") or ""
    type_name = request.arg("type") or ""
    start_s = _seconds(request, "startAt")
    end_s = _seconds(request, "endAt")
    interval = INTERVALS.get(type_name)
    if interval is None:
        raise _error(context, "400100", "This type of Candlestick is currently not provided.")
    market = context.markets.get(symbol)
    if market is None:
        raise _error(context, "400100", "Unsupported trading pair.")
    now = context.now_ms()
    if now < market.listed_ms:
        return _ok("[]")
    first_available = context.source.first_open(market, interval)
    last = interval.floor(now)
    if end_s:
        # endAt is inclusive: a candle opening at endAt is in (see the module docstring).
        last = min(last, interval.floor(end_s * 1000))
    first = max(first_available, interval.ceil(start_s * 1000))
    if last < first:
        return _ok("[]")
    count = interval.count_between(first, last)
    if count > MAX_ROWS:
        if not start_s:
            first = interval.shift(last, -(MAX_ROWS - 1))
        count = MAX_ROWS
    body = context.rows.rows(
        market, interval, 0, first, count, now, (NAME,), lambda c: candle_row(c, market),
        newest_first=True, prefix=_OK_HEAD + b"[", suffix=b"]}",
    )
    return RestResponse(200, body, content_type=JSON)


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/timestamp``: milliseconds, with ``msg``."""
    return RestResponse(
        200, f'{{"code":"{SUCCESS}","msg":"success","data":{context.now_ms()}}}'.encode(), content_type=JSON
    )


def status(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/status``."""
    return _ok('{"status":"open","msg":""}')


def symbols(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v2/symbols`` (and the older ``/api/v1/symbols``), ``market`` filter."""
    wanted = request.arg("market")
    entries = []
    for name, market in context.markets.items():
        entry = symbol_entry(name, market)
        if wanted and entry["market"] != wanted:
            continue
        entries.append(entry)
    return _ok(_dumps(entries))


def _day_stats(context: IVenueContext, market: Market, now: int) -> Candle | None:
    """The last 24 hours, as 24 hourly candles ending with the current one."""
    hour = CANONICAL["1h"]
    last = hour.floor(now)
    first = max(context.source.first_open(market, hour), hour.shift(last, -23))
    if last < first:
        return None
    got = context.source.candles(market, hour, first, hour.count_between(first, last), now)
    if not got:
        return None
    return Candle(
        got[0].open_ms, got[-1].end_ms, got[0].open, max(c.high for c in got), min(c.low for c in got),
        got[-1].close, sum(c.volume for c in got), sum(c.quote_volume for c in got),
        sum(c.trades for c in got), 0, 0, -1, -1, False,
    )


def all_tickers(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/market/allTickers``: 24 h statistics, fee rates (ccxt's load_markets reads them)."""
    now = context.now_ms()
    tickers = []
    for name, market in context.markets.items():
        day = _day_stats(context, market, now)
        if day is None:
            continue
        p, q = market.price_decimals, market.qty_decimals
        change = day.close - day.open
        rate = f"{change / day.open:.4f}" if day.open else "0"
        average = (day.quote_volume * 10**p) // (day.volume * 10 ** (QUOTE_DECIMALS - q)) if day.volume else day.close
        tick = 1
        tickers.append({
            "symbol": name,
            "symbolName": name,
            "buy": plain(day.close - tick, p),
            "bestBidSize": plain(10**q, q),
            "sell": plain(day.close, p),
            "bestAskSize": plain(10**q, q),
            "changeRate": rate,
            "changePrice": plain(change, p),
            "high": plain(day.high, p),
            "low": plain(day.low, p),
            "vol": plain(day.volume, q),
            "volValue": plain(day.quote_volume, QUOTE_DECIMALS),
            "last": plain(day.close, p),
            "averagePrice": plain(average, p),
            "takerFeeRate": "0.001",
            "makerFeeRate": "0.001",
            "takerCoefficient": "1",
            "makerCoefficient": "1",
        })
    return _ok(f'{{"time":{now},"ticker":{_dumps(tickers)}}}')


def currencies(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v3/currencies``: every asset of the listed markets (no chains)."""
    seen: dict[str, None] = {}
    for market in context.markets.values():
        seen.setdefault(market.base)
        seen.setdefault(market.quote)
    entries = [
        {"currency": c, "name": c, "fullName": c, "precision": 8, "confirms": None, "contractAddress": None,
         "isMarginEnabled": True, "isDebitEnabled": True, "chains": []}
        for c in seen
    ]
    return _ok(_dumps(entries))


def contracts_active(request: RestRequest, context: IVenueContext) -> RestResponse:
    """The futures host's ``/api/v1/contracts/active`` with no contracts (ccxt's load_markets asks)."""
    return _ok("[]")


def _token_key(context: IVenueContext) -> bytes:
    return hashlib.blake2b(f"mockex-kucoin-token:{context.source.seed}".encode(), digest_size=32).digest()


def issue_token(context: IVenueContext, issued_ms: int) -> str:
    """A token shaped like KuCoin's (``<base64>.<base64>``) that this server can check."""
    stamp = issued_ms.to_bytes(8, "big", signed=True)
    mac = hashlib.blake2b(stamp, key=_token_key(context), digest_size=16).digest()
    head = base64.urlsafe_b64encode(b"mockex-public-token:" + stamp).decode()
    return f"2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2LEsEWU64mdzUOPusi34M_wGoSf7iNyEWJ{head}.{base64.b64encode(mac).decode()}"


def check_token(context: IVenueContext, token: str, now_ms: int) -> str | None:
    """None if ``token`` is good; otherwise the WebSocket error text."""
    prefix = "2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2LEsEWU64mdzUOPusi34M_wGoSf7iNyEWJ"
    head, dot, mac_text = token.partition(".")
    if not dot or not head.startswith(prefix):
        return "token is invalid"
    try:
        raw = base64.urlsafe_b64decode(head[len(prefix):].encode("ascii"))
        mac = base64.b64decode(mac_text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return "token is invalid"
    marker = b"mockex-public-token:"
    if not raw.startswith(marker) or len(raw) != len(marker) + 8:
        return "token is invalid"
    stamp = raw[len(marker):]
    expected = hashlib.blake2b(stamp, key=_token_key(context), digest_size=16).digest()
    if mac != expected:
        return "token is invalid"
    issued = int.from_bytes(stamp, "big", signed=True)
    if now_ms - issued > TOKEN_LIFETIME_MS:
        return "token is expired"
    return None


def bullet_public(request: RestRequest, context: IVenueContext) -> RestResponse:
    """
    ``POST /api/v1/bullet-public``: a token and the WebSocket endpoint, which is this
    server (from the request's ``Host``), ``ws://`` since mockex does not speak TLS.
    """
    host = request.headers.get("host") or "127.0.0.1"
    endpoint = f"ws://{host}/"
    token = issue_token(context, context.now_ms())
    server = {
        "endpoint": endpoint,
        "encrypt": False,
        "protocol": "websocket",
        "pingInterval": PING_INTERVAL_MS,
        "pingTimeout": PING_TIMEOUT_MS,
    }
    return _ok(_dumps({"token": token, "instanceServers": [server]}))


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class CandleTopic:
    """``/market/candles:{symbol}_{type}`` as KuCoin pushes it."""

    feed: Feed
    symbol: str
    type_name: str

    def render(self, update: CandleUpdate) -> bytes:
        fields = candle_fields(update.candle, self.feed.market)
        return (
            f'{{"topic":"/market/candles:{self.symbol}_{self.type_name}","type":"message",'
            f'"subject":"trade.candles.update","data":{{"symbol":"{self.symbol}",'
            f'"candles":[{fields}],"time":{update.event_ms * 1_000_000}}}}}'
        ).encode()


def _message(**fields: Any) -> bytes:
    return _dumps(fields).encode()


@frozen
class TopicFamily:
    """A candle channel of a KuCoin WebSocket: its topic prefix, type names and topic class."""

    prefix: str
    intervals: Mapping[str, Interval]
    #: ``make(feed, symbol, type_name)`` -> the topic
    make: Any


SPOT_CANDLES = TopicFamily("/market/candles:", INTERVALS, CandleTopic)


@implementer(IStreamSession)
class KucoinSession:
    """One connection to a public WebSocket (spot's, or the futures one with another family)."""

    def __init__(self, context: IVenueContext, token: str, connect_id: str | None,
                 family: TopicFamily = SPOT_CANDLES) -> None:
        self.context = context
        self.token = token
        self.connect_id = connect_id
        self.family = family
        self.link: IStreamLink | None = None
        #: topic string (one symbol) -> topic
        self.subscriptions: dict[str, ITopic] = {}

    def ping_payload(self) -> None:
        return None

    def opened(self, link: IStreamLink) -> None:
        self.link = link
        connect_id = self.connect_id
        if connect_id is None:
            connect_id = hashlib.blake2b(f"kucoin-conn:{next(_connections)}".encode(), digest_size=6).hexdigest()
            self.connect_id = connect_id
        problem = check_token(self.context, self.token, link.now_ms())
        if problem is not None:
            link.send(_message(id=connect_id, type="error", code=401, data=problem))
            link.close(1000, problem)
            return
        link.send(_message(id=connect_id, type="welcome"))

    def _error(self, request_id: Any, code: int, data: str) -> None:
        assert self.link is not None
        self.link.send(_message(id=request_id, type="error", code=code, data=data))

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self._error(self.connect_id, 400, "message is not a valid json")
            return
        if not isinstance(request, dict):
            self._error(self.connect_id, 400, "message is not a valid json")
            return
        raw_id = request.get("id")
        request_id = raw_id if isinstance(raw_id, str) else (_dumps(raw_id) if raw_id is not None else None)
        kind = request.get("type")
        if kind == "ping":
            link.send(_message(id=request_id, type="pong"))
            return
        if kind not in ("subscribe", "unsubscribe"):
            self._error(request_id, 415, "type is not supported")
            return
        topic = request.get("topic")
        if not isinstance(topic, str) or not topic:
            self._error(request_id, 406, "topic is required")
            return
        if request.get("privateChannel") is True:
            self._error(request_id, 403, "login is required")
            return
        family = self.family
        if not topic.startswith(family.prefix) or len(topic) == len(family.prefix):
            self._error(request_id, 404, f"topic {topic} is not found")
            return
        resolved: list[tuple[str, ITopic]] = []
        for item in topic[len(family.prefix):].split(","):
            symbol, _, type_name = item.rpartition("_")
            market = self.context.markets.get(symbol)
            interval = family.intervals.get(type_name)
            if market is None or interval is None:
                self._error(request_id, 404, f"topic {family.prefix}{item} is not found")
                return
            resolved.append((f"{family.prefix}{item}", family.make(Feed(market, interval), symbol, type_name)))
        if len(resolved) > 100:
            self._error(request_id, 509, "exceed max subscription count limitation of 100 per time")
            return
        limit = getattr(link, "max_streams", None)
        if kind == "subscribe" and limit is not None and \
                len(self.subscriptions.keys() | {name for name, _ in resolved}) > limit:
            # unverified text: KuCoin documents the 400-topic limit, not its answer
            self._error(request_id, 509, f"exceed max subscription count limitation of {limit} per session")
            return
        for name, candle_topic in resolved:
            if kind == "subscribe":
                if name not in self.subscriptions:
                    self.subscriptions[name] = candle_topic
                    link.subscribe(candle_topic)
            else:
                old = self.subscriptions.pop(name, None)
                if old is not None:
                    link.unsubscribe(old)
        if request.get("response") is True:
            link.send(_message(id=request_id, type="ack"))


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class KucoinSpot:
    """The ``kucoin_spot`` venue."""

    name = NAME
    description = "KuCoin spot: /api/v1/market/candles, symbols, bullet-public token, /market/candles channel"
    intervals: Mapping[str, Interval] = INTERVALS
    # KuCoin does not ping; the client must, and a silent connection is dropped.
    keepalive = Keepalive(
        ping_interval=PING_TIMEOUT_MS / 1000,
        pong_timeout=(PING_INTERVAL_MS + PING_TIMEOUT_MS) / 1000,
        any_message=True,
    )
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        base, quote = split_symbol(symbol)
        if not re.match(r"^[A-Z0-9]{1,20}$", base) or not re.match(r"^[A-Z0-9]{1,20}$", quote):
            raise ValueError(f"{symbol!r} is not a KuCoin symbol")
        return reference_market(base, quote, price)

    def symbol(self, market: Market) -> str:
        return kucoin_symbol(market)

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v1/market/candles", candles, "candles"),
            RestRoute("GET", "/api/v1/timestamp", server_time, "timestamp"),
            RestRoute("GET", "/api/v1/status", status, "status"),
            RestRoute("GET", "/api/v2/symbols", symbols, "symbols"),
            RestRoute("GET", "/api/v1/symbols", symbols, "symbols.v1"),
            RestRoute("GET", "/api/v1/market/allTickers", all_tickers, "allTickers"),
            RestRoute("GET", "/api/v3/currencies", currencies, "currencies"),
            RestRoute("POST", "/api/v1/bullet-public", bullet_public, "bullet-public"),
            RestRoute("GET", "/api/v1/contracts/active", contracts_active, "contracts.active"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/", "/endpoint")

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind == BANNED:  # KuCoin does not ban (no BanPolicy): only for completeness
            return ERRORS[RATE_LIMITED]
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        tokens = handshake.params.get("token") or [""]
        ids = handshake.params.get("connectId")
        return KucoinSession(context, tokens[0], ids[0] if ids and ids[0] else None)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_candles_answer(path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_candles_push(payload, binary)


kucoin_spot = KucoinSpot()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402


def _recorded(symbol: str, type_name: str, row: Sequence[Any]) -> RecordedCandle:
    """``[time s, open, close, high, low, volume, turnover]`` (Get Klines; the Klines
    channel's ``candles``): turnover is the quote volume; no trades or taker volumes."""
    return RecordedCandle(
        symbol, type_name, whole(row[0]) * 1000, decimal_text(row[1]), decimal_text(row[3]),
        decimal_text(row[4]), decimal_text(row[2]), decimal_text(row[5]), decimal_text(row[6]),
    )


@tolerant
def recorded_candles_answer(path: str, args: Mapping[str, Sequence[str]], answer: bytes) -> Sequence[RecordedCandle]:
    """``/api/v1/market/candles``: ``{"code":"200000","data":[rows]}``, newest first."""
    if path != "/api/v1/market/candles":
        return ()
    envelope = load_json(answer)
    type_name = text(first_arg(args, "type"))
    if envelope["code"] != SUCCESS or type_name not in INTERVALS:
        return ()
    symbol = text(first_arg(args, "symbol"))
    return [_recorded(symbol, type_name, row) for row in envelope["data"]]


@tolerant
def recorded_candles_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``{"topic":"/market/candles:{symbol}_{type}","subject":"trade.candles.update",
    "data":{"symbol","candles":[7 strings],"time"}}``. KuCoin does not say whether the
    candle closed: ``closed`` None (the recorder takes the last update of each open time)."""
    if binary:
        return ()
    message = load_json(payload)
    topic = text(message["topic"])
    if message.get("subject") != "trade.candles.update" or not topic.startswith("/market/candles:"):
        return ()
    symbol, _, type_name = topic[len("/market/candles:"):].rpartition("_")
    if type_name not in INTERVALS:
        return ()
    return [_recorded(symbol, type_name, message["data"]["candles"])]


classImplements(KucoinSpot, IKlineRecording)

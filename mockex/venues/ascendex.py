"""
AscendEX spot market data: the public ``/api/pro/v1`` REST endpoints of
``ascendex.com`` (plus the ``/api/pro/v2`` ones ccxt's ``load_markets`` reads), and the
``bar`` channel of the WebSocket ``wss://ascendex.com/api/pro/v2/stream`` (also
``/api/pro/v1/stream`` and the account-group forms ``/<grp>/api/pro/v{1,2}/stream``).

Sources:

* AscendEX's API docs (ascendex.github.io, "Futures Pro (v2) APIs", whose market-data
  and WebSocket sections are shared with cash/margin): *Bar Info* (``barhist/info``:
  names ``1 5 15 30 60 120 240 360 720 1d 1w 1m``; "the one-month bar always resets at
  the month start"); *Historical Bar Data* (``barhist``: ``symbol``, ``interval``,
  ``to`` (default now), ``from``, ``n`` (default 10, capped at 500); ``from``/``to`` are
  the start times of the first/last bar; ``from`` only: ``[from, to]`` with ``from``
  raised so that at most 500 bars come back; ``n`` only: the most recent ``n`` to
  ``to``; both: whichever gives fewer bars; rows oldest first as
  ``{"m":"bar","s":..,"data":{"i","ts","o","c","h","l","v"}}`` with decimal strings);
  *Exchange Latency Info* (``exchange-info?requestTime=``); the WebSocket section
  (``{"m":"connected","type":"unauth"}``; ``{"op":"sub","id":..,"ch":"bar:1:BTC/USDT"}``
  and ``unsub`` with the wildcards ``bar:*:<symbol>``, ``bar:<interval>``, ``bar``; the
  ``bar`` message; errors ``{"m":"error","id":..,"code":100005,"reason":
  "INVALID_WS_REQUEST_DATA","info":..}``; keep-alive: server ``{"m":"ping","hp":3}``,
  client ``{"op":"pong"}``, "If you missed two consecutive ping messages, the session
  will be disconnected"; client ``{"op":"ping"}`` answered ``{"m":"pong","code":0,
  "ts":..,"hp":..}``, and "The server will stop sending ping message for 30 seconds if a
  client initiated ping message is received").
* ccxt 4.5.63 (the last release with AscendEX; ``ascendex.py``, ``pro/ascendex.py``):
  ``fetch_markets`` reads ``v1/products``, ``v1/cash/products`` (fields as its comments
  show) and ``v2/futures/contract``; ``fetch_currencies`` ``v2/assets``; ``fetch_time``
  ``exchange-info``'s ``requestReceiveAt``; ``fetch_ohlcv`` sends ``from=since`` and
  ``to=since + limit * duration + 1`` (or ``n`` alone), ``parse_ohlcv`` reads ``v`` as
  the base volume; the error table (``100008`` SYMBOL_ERROR -> BadSymbol, ...) and the
  ``{"code":..,"message":..,"reason":..}`` bodies its comments capture; the public
  stream URL ``/api/pro/v2/stream``, the ack ``{"m":"sub","id":..,"ch":..,"code":0}``,
  the pong it sends (``{"op":"pong","hp":<hp>}``).
* hummingbot's ``ascend_ex`` connector: the public stream at ``/0/api/pro/v1/stream``,
  ``{"op":"pong"}``; its request-limit pools (see :data:`LIMITS`).

Unverified choices (docs/venues/ascend_ex_spot.md), switchable where it matters:

* Errors answer HTTP 200 with ``{"code","message","reason"}``; the codes and texts
  per case (100004 for missing or malformed parameters, 100013 for numbers, 100008 for
  an unknown symbol) follow the documented code table, not captures.
* ``v`` is the base volume (ccxt and the docs' sample sizes; the docs' table says
  "volume in quote asset"): ``options["bar_volume"] = "quote"`` writes the quote volume.
* The bar in progress is included (its start is not after ``to``).
* Weeks open on Mondays; decimals are written with the market's tick and lot places.
* WebSocket: pings every 15 s, ``hp`` counts down from 3 with each unanswered ping and
  the connection drops (no ``disconnected`` message) when the third is due; a bar is
  pushed every second; ``depth``, ``bbo``, ``trades``, ``summary`` and ``ref-px`` are
  acknowledged but carry nothing; a bar channel for an unknown symbol or interval is an
  error.

Rate limits (:data:`LIMITS`): hummingbot's constants (100 requests per second per IP
for all endpoints); the 429 body is :data:`ERRORS`' (unverified).
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
    IAppPingSession,
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
from mockex.ratelimit import REQUESTS, SECOND, Limits, RestLimits, RestWindow
from mockex.market import QUOTE_DECIMALS, Candle, Market
from mockex.venues.common import DEFAULT_MARKETS, split_symbol

NAME = "ascend_ex_spot"
JSON = "application/json"
MAX_BARS = 500
DEFAULT_BARS = 10

#: ``barhist/info``: name -> (interval, ``intervalInMillis`` as listed; 30 days for 1m).
INTERVALS: dict[str, tuple[Interval, int]] = {
    "1": (CANONICAL["1m"], 60_000),
    "5": (CANONICAL["5m"], 300_000),
    "15": (CANONICAL["15m"], 900_000),
    "30": (CANONICAL["30m"], 1_800_000),
    "60": (CANONICAL["1h"], 3_600_000),
    "120": (CANONICAL["2h"], 7_200_000),
    "240": (CANONICAL["4h"], 14_400_000),
    "360": (CANONICAL["6h"], 21_600_000),
    "720": (CANONICAL["12h"], 43_200_000),
    "1d": (CANONICAL["1d"], 86_400_000),
    "1w": (CANONICAL["1w"], 604_800_000),
    "1m": (CANONICAL["1M"], 2_592_000_000),
}

#: What ascend_ex_spot enforces: every call counts against the IP's ``all_endpoints``
#: pool of 100 requests per second (hummingbot ``ascend_ex_constants``
#: ``REQUEST_CALL_LIMITS``; AscendEX's own docs give no number). Beyond: HTTP 429 with
#: the body of :data:`ERRORS`; no ban, no headers. The per-account order pools do not
#: apply (no order endpoints).
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("all_endpoints", SECOND, 1, 100, REQUESTS),),
        ban=None,
        retry_after=None,
    ),
)

#: Asset names and the chain listed for deposits (``v2/assets``).
ASSET_NAMES: dict[str, tuple[str, str]] = {
    "BTC": ("Bitcoin", "Bitcoin"), "ETH": ("Ethereum", "ERC20"), "USDT": ("Tether", "ERC20"),
    "BNB": ("Binance Coin", "BEP20 (BSC)"), "SOL": ("Solana", "Solana"), "XRP": ("XRP", "Ripple"),
    "DOGE": ("Dogecoin", "Dogecoin"), "USDC": ("USD Coin", "ERC20"),
}

_INT_RE = re.compile(r"^-?[0-9]{1,19}$")
_SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}$")


# ---------------------------------------------------------------------------
# Answers


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


#: What every successful answer starts with (its ``data`` follows, then ``}``).
_OK_HEAD = b'{"code":0,"data":'


def _ok(data: str) -> RestResponse:
    return RestResponse(200, b"".join([_OK_HEAD, data.encode(), b"}"]), content_type=JSON)


def error(code: int, message: str, reason: str, status: int = 200) -> RestResponse:
    body = _dumps({"code": code, "message": message, "reason": reason}).encode()
    return RestResponse(status, body, content_type=JSON)


def fail(code: int, message: str, reason: str) -> VenueError:
    return VenueError(error(code, message, reason))


def missing(name: str) -> VenueError:
    return fail(100004, f"Missing required parameter: {name}", "INVALID_REQUEST_DATA")


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: error(100001, "URL Not Found", "INVALID_HTTP_INPUT", 404),
    METHOD_NOT_ALLOWED: error(100001, "Method Not Allowed", "INVALID_HTTP_INPUT", 405),
    INTERNAL: error(510001, "Something wrong with server.", "SERVER_ERROR", 500),
    DISCONNECTED: error(510001, "Something wrong with server.", "SERVER_ERROR", 503),
    TIMEOUT: error(510001, "Request timeout.", "SERVER_ERROR", 504),
    BUSY: error(510001, "Server is busy.", "SERVER_ERROR", 503),
    RATE_LIMITED: error(200002, "Too many requests", "TOO_MANY_ATTEMPTS", 429),
    BANNED: error(200002, "Too many requests", "TOO_MANY_ATTEMPTS", 429),
}


def _number(request: RestRequest, name: str) -> int | None:
    text = request.arg(name)
    if text is None or text == "":
        return None
    if not _INT_RE.match(text):
        raise fail(100013, f"Invalid number format for parameter: {name}", "INVALID_NUM_FORMAT")
    return int(text)


def _market(context: IVenueContext, symbol: str) -> Market:
    market = context.markets.get(symbol)
    if market is None:
        raise fail(100008, f"Symbol does not exist: {symbol}", "SYMBOL_ERROR")
    return market


# ---------------------------------------------------------------------------
# Bars


def bar_message(candle: Candle, market: Market, symbol: str, name: str, quote_volume: bool) -> bytes:
    """``{"m":"bar","s":..,"data":{..}}``: one REST row and the stream message alike."""
    p, q = market.price_decimals, market.qty_decimals
    volume = (fixed(candle.quote_volume, QUOTE_DECIMALS, p + q) if quote_volume
              else fixed(candle.volume, q, q))
    return (
        f'{{"m":"bar","s":"{symbol}","data":{{"i":"{name}","ts":{candle.open_ms},'
        f'"o":"{fixed(candle.open, p, p)}","c":"{fixed(candle.close, p, p)}",'
        f'"h":"{fixed(candle.high, p, p)}","l":"{fixed(candle.low, p, p)}","v":"{volume}"}}}}'
    ).encode()


def barhist(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/pro/v1/barhist``: ``from``/``to``/``n`` per the documented rules."""
    symbol = request.arg("symbol")
    if not symbol:
        raise missing("symbol")
    name = request.arg("interval")
    if not name:
        raise missing("interval")
    if name not in INTERVALS:
        raise fail(100004, f"Invalid interval: {name}", "INVALID_REQUEST_DATA")
    interval = INTERVALS[name][0]
    to = _number(request, "to")
    start = _number(request, "from")
    n = _number(request, "n")
    if n is not None and n < 0:
        raise fail(100006, "n must be a non-negative integer", "INVALID_ARGUMENT")
    market = _market(context, symbol)
    now = context.now_ms()
    last = interval.floor(now)
    if to is not None:
        if to < 0:
            raise fail(100011, f"Invalid timestamp: {to}", "INVALID_TIMESTAMP")
        last = min(last, interval.floor(to))
    first_available = context.source.first_open(market, interval)
    available = interval.count_between(first_available, last) if last >= first_available else 0
    if now < market.listed_ms:
        available = 0
    if start is not None:
        first = max(first_available, interval.ceil(max(start, 0)))
        by_range = interval.count_between(first, last) if last >= first else 0
        count = by_range if n is None else min(by_range, n)
    else:
        count = DEFAULT_BARS if n is None else n
    count = min(count, MAX_BARS, available)
    quote = context.options.get("bar_volume") == "quote"
    if count <= 0:
        return _ok("[]")
    first_open = interval.shift(last, -(count - 1))
    body = context.rows.rows(
        market, interval, 0, first_open, count, now, (NAME, name, quote),
        lambda c: bar_message(c, market, symbol, name, quote), prefix=_OK_HEAD + b"[", suffix=b"]}",
    )
    return RestResponse(200, body, content_type=JSON)


def barhist_info(request: RestRequest, context: IVenueContext) -> RestResponse:
    return _ok(_dumps([{"name": name, "intervalInMillis": ms} for name, (_, ms) in INTERVALS.items()]))


def exchange_info(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/pro/v1/exchange-info?requestTime=``: latency info (ccxt's fetch_time)."""
    sent = _number(request, "requestTime")
    if sent is None:
        raise missing("requestTime")
    now = context.now_ms()
    return _ok(_dumps({"requestTimeEcho": sent, "requestReceiveAt": now, "latency": now - sent}))


# ---------------------------------------------------------------------------
# Products and assets


def _notional(market: Market) -> tuple[str, str]:
    if market.quote in ("USDT", "USDC", "USD"):
        return "5", "400000"
    return plain(10 ** max(0, market.price_decimals - 4), market.price_decimals), "10"


def products(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/pro/v1/products`` (fields as ccxt's comment and the docs list them)."""
    out = []
    for symbol, market in context.markets.items():
        low, high = _notional(market)
        out.append({
            "symbol": symbol, "displayName": symbol, "baseAsset": market.base, "quoteAsset": market.quote,
            "status": "Normal", "minNotional": low, "maxNotional": high, "marginTradable": False,
            "commissionType": "Quote", "commissionReserveRate": "0.001",
            "tickSize": plain(1, market.price_decimals), "lotSize": plain(1, market.qty_decimals),
        })
    return _ok(_dumps(out))


def cash_products(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/pro/v1/cash/products`` (undocumented; fields as ccxt's comment shows)."""
    out = []
    for symbol, market in context.markets.items():
        p, q = market.price_decimals, market.qty_decimals
        low, high = _notional(market)
        collapse = ",".join(plain(1, d) for d in range(max(0, p - 4), p + 1, 2))
        out.append({
            "symbol": symbol, "displayName": symbol, "domain": market.quote,
            "tradingStartTime": market.listed_ms, "collapseDecimals": collapse,
            "minQty": plain(1, q), "maxQty": "1000000000", "minNotional": low, "maxNotional": high,
            "statusCode": "Normal", "statusMessage": "", "tickSize": plain(1, p), "useTick": False,
            "lotSize": plain(1, q), "useLot": False, "commissionType": "Quote",
            "commissionReserveRate": "0.001", "qtyScale": q, "priceScale": p, "notionalScale": 4,
        })
    return _ok(_dumps(out))


def futures_contracts(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/pro/v2/futures/contract``: mockex serves no AscendEX perpetuals."""
    return _ok("[]")


def _assets(context: IVenueContext) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    for market in context.markets.values():
        seen.setdefault(market.base, market.qty_decimals)
        seen.setdefault(market.quote, 6 if market.quote in ("USDT", "USDC") else 8)
    return list(seen.items())


def assets_v2(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/pro/v2/assets`` (ccxt's fetch_currencies)."""
    out = []
    for code, native in _assets(context):
        name, chain = ASSET_NAMES.get(code, (code, code))
        out.append({
            "assetCode": code, "assetName": name, "precisionScale": 9, "nativeScale": native,
            "blockChain": [{
                "chainName": chain, "withdrawFee": plain(1, max(0, native - 3)) if native else "1",
                "allowDeposit": True, "allowWithdraw": True, "minDepositAmt": plain(1, native),
                "minWithdrawal": plain(2, native), "numConfirmations": 12,
            }],
        })
    return _ok(_dumps(out))


def assets_v1(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/pro/v1/assets`` (the older, flat form)."""
    out = []
    for code, native in _assets(context):
        name, _chain = ASSET_NAMES.get(code, (code, code))
        out.append({
            "assetCode": code, "assetName": name, "precisionScale": 9, "nativeScale": native,
            "withdrawalFee": plain(1, max(0, native - 3)) if native else "1",
            "minWithdrawalAmt": plain(2, native), "status": "Normal",
        })
    return _ok(_dumps(out))


# ---------------------------------------------------------------------------
# WebSocket


@implementer(ITopic)
@frozen
class BarTopic:
    """One ``bar:<interval>:<symbol>`` channel."""

    feed: Feed
    symbol: str
    name: str
    quote_volume: bool = False

    def render(self, update: CandleUpdate) -> bytes:
        return bar_message(update.candle, self.feed.market, self.symbol, self.name, self.quote_volume)


#: Channels AscendEX has that mockex acknowledges without data.
SILENT_CHANNELS = ("depth", "bbo", "trades", "summary", "ref-px", "depth-realtime")
#: Health points of a fresh session; each unanswered server ping costs one.
HEALTH = 3
#: After a client ping the server does not ping for this long.
CLIENT_PING_QUIET_MS = 30_000


def ws_error(info: str, request_id: Any = None) -> bytes:
    out: dict[str, Any] = {"m": "error"}
    if request_id is not None:
        out["id"] = request_id
    out.update({"code": 100005, "reason": "INVALID_WS_REQUEST_DATA", "info": info})
    return _dumps(out).encode()


@implementer(IAppPingSession)
class AscendexSession:
    """One public stream connection."""

    def __init__(self, context: IVenueContext) -> None:
        self.context = context
        self.link: IStreamLink | None = None
        #: channel name -> topic (None: acknowledged, carries nothing)
        self.channels: dict[str, BarTopic | None] = {}
        self.health = HEALTH
        self._client_ping_ms: int | None = None
        self._quote = context.options.get("bar_volume") == "quote"

    def ping_payload(self) -> None:
        return None

    def app_ping_payload(self, now_ms: int) -> bytes | None:
        if self._client_ping_ms is not None and now_ms - self._client_ping_ms < CLIENT_PING_QUIET_MS:
            return None
        hp = self.health
        self.health = max(0, hp - 1)
        return b'{"m":"ping","hp":%d}' % hp

    def opened(self, link: IStreamLink) -> None:
        self.link = link
        link.send(b'{"m":"connected","type":"unauth"}')

    def _alive(self) -> None:
        assert self.link is not None
        self.health = HEALTH
        self.link.heard()

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            request = None
        if not isinstance(request, dict):
            link.send(ws_error("Invalid request: not a json object"))
            return
        request_id = request.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, (str, int)):
            request_id = None
        op = request.get("op")
        if op == "pong":
            self._alive()
            return
        if op == "ping":
            self._alive()
            now = link.now_ms()
            self._client_ping_ms = now
            link.send(b'{"m":"pong","code":0,"ts":%d,"hp":%d}' % (now, self.health))
            return
        if op in ("sub", "unsub"):
            channel = request.get("ch")
            if not isinstance(channel, str) or not channel:
                link.send(ws_error("Missing required parameter: ch", request_id))
                return
            problem = self._sub(channel) if op == "sub" else self._unsub(channel)
            if problem is not None:
                link.send(ws_error(problem, request_id))
                return
            ack: dict[str, Any] = {"m": op}
            if request_id is not None:
                ack["id"] = request_id
            ack.update({"ch": channel, "code": 0})
            link.send(_dumps(ack).encode())
            return
        if op == "auth":
            answer: dict[str, Any] = {"m": "auth"}
            if request_id is not None:
                answer["id"] = request_id
            answer.update({"code": 200006, "err": "Unable to find User Account Data"})
            link.send(_dumps(answer).encode())
            return
        if op == "req":
            action = request.get("action")
            shown = action if isinstance(action, str) else _dumps(action)
            link.send(ws_error(f"Invalid request action: {shown}", request_id))
            return
        shown = op if isinstance(op, str) else _dumps(op)
        link.send(ws_error(f"Invalid op: {shown}", request_id))

    def _sub(self, channel: str) -> str | None:
        link = self.link
        assert link is not None
        kind, _, rest = channel.partition(":")
        if kind in SILENT_CHANNELS:
            self.channels.setdefault(channel, None)
            return None
        if kind != "bar":
            return f"Invalid channel: {channel}"
        name, _, symbols = rest.partition(":")
        if name not in INTERVALS or not symbols:
            return f"Invalid channel: {channel}"
        topics = []
        for symbol in symbols.split(","):
            market = self.context.markets.get(symbol)
            if market is None:
                return f"Invalid symbol: {symbol}"
            topics.append((f"bar:{name}:{symbol}",
                           BarTopic(Feed(market, INTERVALS[name][0]), symbol, name, self._quote)))
        for key, topic in topics:
            if key not in self.channels:
                self.channels[key] = topic
                link.subscribe(topic)
        return None

    def _unsub(self, channel: str) -> str | None:
        link = self.link
        assert link is not None
        kind, _, rest = channel.partition(":")
        if kind != "bar":
            if kind not in SILENT_CHANNELS:
                return f"Invalid channel: {channel}"
            self.channels.pop(channel, None)
            return None
        name, _, symbols = rest.partition(":")
        wanted = set(symbols.split(",")) if symbols else None
        for key, topic in list(self.channels.items()):
            if topic is None or not key.startswith("bar:"):
                continue
            if name not in ("", "*") and topic.name != name:
                continue
            if wanted is not None and topic.symbol not in wanted:
                continue
            del self.channels[key]
            link.unsubscribe(topic)
        return None


# ---------------------------------------------------------------------------
# The plugin

_WS_RE = re.compile(r"^(/[0-9]{1,9})?/api/pro/v[12]/stream/?$")


@implementer(IExchange)
class AscendexSpot:
    name = NAME
    description = "AscendEX spot: /api/pro/v1 barhist, products, assets; bar channel on /api/pro/v2/stream"
    intervals: Mapping[str, Interval] = {name: interval for name, (interval, _) in INTERVALS.items()}
    #: server pings every 15 s; a session missing two of them is dropped when the third is due
    keepalive = Keepalive(app_ping_interval=15.0, pong_timeout=45.0)
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        base, quote = split_symbol(symbol)
        if not _SYMBOL_RE.match(f"{base}/{quote}"):
            raise ValueError(f"{symbol!r} is not an AscendEX symbol (BTC/USDT)")
        for market in DEFAULT_MARKETS:
            if (market.base, market.quote) == (base, quote):
                return Market.create(base, quote, price, price_decimals=market.price_decimals,
                                     qty_decimals=market.qty_decimals, listed_ms=market.listed_ms,
                                     daily_volatility=market.daily_volatility)
        return Market.create(base, quote, price)

    def symbol(self, market: Market) -> str:
        return f"{market.base}/{market.quote}"

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/pro/v1/barhist", barhist, "barhist"),
            RestRoute("GET", "/api/pro/v1/barhist/info", barhist_info, "barhist/info"),
            RestRoute("GET", "/api/pro/v1/exchange-info", exchange_info, "exchange-info"),
            RestRoute("GET", "/api/pro/v1/products", products, "products"),
            RestRoute("GET", "/api/pro/v1/cash/products", cash_products, "cash/products"),
            RestRoute("GET", "/api/pro/v1/assets", assets_v1, "assets"),
            RestRoute("GET", "/api/pro/v1/cash/assets", assets_v1, "cash/assets"),
            RestRoute("GET", "/api/pro/v2/assets", assets_v2, "v2/assets"),
            RestRoute("GET", "/api/pro/v2/futures/contract", futures_contracts, "v2/futures/contract"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/api/pro/v1/stream", "/api/pro/v2/stream",
                "/<group>/api/pro/v1/stream", "/<group>/api/pro/v2/stream")

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind == BANNED:
            kind = RATE_LIMITED
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        if not _WS_RE.match(handshake.path):
            raise VenueError(ERRORS[NOT_FOUND])
        return AscendexSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_barhist_answer(path, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_bar_push(payload, binary)


ascend_ex_spot = AscendexSpot()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the bars this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, load_json, text, tolerant, whole  # noqa: E402


def _recorded_bar(message: Mapping[str, Any]) -> RecordedCandle | None:
    """``{"m":"bar","s":..,"data":{"i","ts","o","c","h","l","v"}}`` (Historical Bar Data,
    the bar channel): ``v`` is the base volume (ccxt's reading; the module docstring);
    AscendEX shows no quote volume, trades or taker volumes, nor whether a bar closed."""
    if message["m"] != "bar":
        return None
    d = message["data"]
    interval = text(d["i"])
    if interval not in INTERVALS:
        return None
    return RecordedCandle(
        text(message["s"]), interval, whole(d["ts"]), decimal_text(d["o"]), decimal_text(d["h"]),
        decimal_text(d["l"]), decimal_text(d["c"]), decimal_text(d["v"]),
    )


@tolerant
def recorded_barhist_answer(path: str, answer: bytes) -> Sequence[RecordedCandle]:
    """``/api/pro/v1/barhist``: ``{"code":0,"data":[bar messages]}``, oldest first."""
    if path != "/api/pro/v1/barhist":
        return ()
    envelope = load_json(answer)
    if envelope["code"] != 0:
        return ()
    return [c for c in (_recorded_bar(m) for m in envelope["data"]) if c is not None]


@tolerant
def recorded_bar_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """A ``bar`` message: ``closed`` None (the recorder's next-open-time rule)."""
    if binary:
        return ()
    candle = _recorded_bar(load_json(payload))
    return () if candle is None else (candle,)


classImplements(AscendexSpot, IKlineRecording)

"""
Kraken spot market data: ``api.kraken.com/0/public`` REST and the v2 WebSocket
``ws.kraken.com/v2`` (``ohlc`` channel).

Sources:

* Kraken's API docs (docs.kraken.com/api-reference): Get OHLC Data (``pair``,
  ``interval`` in minutes ``1 5 15 30 60 240 1440 10080 21600``, ``since`` in seconds;
  "Returns up to 720 of the most recent entries (older data cannot be retrieved,
  regardless of the value of since)"; rows ``[time, open, high, low, close, vwap,
  volume, count]`` with ``time`` and ``count`` integers and the rest strings; the result
  keyed by the pair name plus ``last``), Get Server Time, Get Asset Info, Get Tradable
  Asset Pairs; errors as ``{"error":["EQuery:Unknown asset pair"],...}`` with HTTP 200.
* Kraken's spot WebSocket v2 docs: the ``status`` greeting, ``subscribe`` /
  ``unsubscribe`` with ``req_id`` answered once per symbol with ``success``,
  ``time_in``/``time_out``; the ``ohlc`` channel (``snapshot`` then ``update`` messages,
  numbers as JSON numbers, ``interval_begin`` RFC 3339 with nanoseconds); ``ping`` ->
  ``pong``.
* ccxt 4.5 (kraken.py, pro/kraken.py): ``fetch_ohlcv`` (``since`` sent one interval
  early, so ``since`` is exclusive), ``parse_ohlcv`` (volume at index 6), the error
  table (``EQuery:Unknown asset pair`` -> BadSymbol, ``EGeneral:Invalid arguments`` ->
  BadRequest), ``watch_ohlcv`` on ``publicV2`` with the unified symbol, ``handle_ohlcv``.

Unverified (docs/venues/kraken_spot.md): the ``ohlc`` snapshot holds the candle in
progress only; no ``heartbeat`` messages are sent; weeks open on Mondays and the
21600-minute interval is aligned on the epoch; pushes every second; error texts other
than the two in ccxt's table.

Rate limits (:data:`LIMITS`; docs/rate-limits.md): Kraken's support article "What are
the API rate limits?" (public endpoints by IP, about 1 call per second), docs.kraken.com
"Spot REST Rate Limits" (the decaying call counter: Starter 15, -0.33/s; "additional
calls will be restricted for a few seconds"); ccxt kraken maps ``EGeneral:Too many
requests`` (``{"error":["EGeneral:Too many requests"]}``) to DDoSProtection and sets
``rateLimit`` 1000 ms. The window model is an approximation of the counter (15 per
15 s, fixed, aligned); the per-pair limit of Trades/OHLC, the lock-out and the
WebSocket attempt limit (150 per 10 minutes, declared before) are unverified.
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
    ITopic,
    IVenueContext,
    Keepalive,
    RestRequest,
    RestResponse,
    RestRoute,
    VenueError,
)
from mockex.intervals import CANONICAL, DAY_MS, MINUTE_MS, Interval, civil_from_days
from mockex.ratelimit import REQUESTS, SECOND, Limits, RestLimits, RestWindow, WsLimits
from mockex.market import QUOTE_DECIMALS, Candle, Market
from mockex.venues.common import DEFAULT_MARKETS as _REFERENCE_MARKETS

NAME = "kraken_spot"
JSON = "application/json; charset=utf-8"
MAX_ROWS = 720

INTERVALS: dict[int, Interval] = {
    1: CANONICAL["1m"],
    5: CANONICAL["5m"],
    15: CANONICAL["15m"],
    30: CANONICAL["30m"],
    60: CANONICAL["1h"],
    240: CANONICAL["4h"],
    1440: CANONICAL["1d"],
    10080: CANONICAL["1w"],
    21600: Interval.fixed(21600 * MINUTE_MS),
}

#: Kraken's asset names: (asset key, altname).
ASSETS: dict[str, tuple[str, str]] = {
    "BTC": ("XXBT", "XBT"), "ETH": ("XETH", "ETH"), "XRP": ("XXRP", "XRP"), "DOGE": ("XXDG", "XDG"),
    "USD": ("ZUSD", "USD"), "EUR": ("ZEUR", "EUR"), "USDT": ("USDT", "USDT"), "SOL": ("SOL", "SOL"),
}

#: What kraken_spot enforces. Kraken limits public calls per IP ("Calling the public
#: endpoints at a frequency of 1 per second (or less) would remain within the rate
#: limits"; support article "What are the API rate limits?") and, for API keys, with a
#: decaying call counter (Starter: at most 15, -0.33/s). mockex approximates the
#: counter with fixed windows, so it says so: 15 requests per 15 s per IP (bursts of
#: 15, 1 per second on average). Beyond: ``{"error":["EGeneral:Too many requests"]}``
#: with HTTP 200, as Kraken answers; no headers, no ``Retry-After``, no ban (Kraken's
#: "restricted for a few seconds, or longer" is not modelled). WebSocket: 150
#: connection attempts per 10 minutes per IP.
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("public", SECOND, 15, 15, REQUESTS),),
        ban=None,
        retry_after=None,
    ),
    ws=WsLimits(connection_attempts=150, attempts_window_ms=600_000),
)


DEFAULT_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USD", 90_000.0, price_decimals=1, qty_decimals=8,
                  listed_ms=1_381_017_600_000, daily_volatility=0.025),
) + tuple(m for m in _REFERENCE_MARKETS if m.base != "BNB")


def asset(code: str) -> tuple[str, str]:
    return ASSETS.get(code, (code, code))


def pair_name(market: Market) -> str:
    """Kraken's pair key: ``XXBTZUSD`` for the old X/Z pairs, ``XBTUSDT`` otherwise."""
    base, quote = asset(market.base), asset(market.quote)
    if len(base[0]) == 4 and base[0][0] == "X" and len(quote[0]) == 4 and quote[0][0] in "XZ":
        return base[0] + quote[0]
    return base[1] + quote[1]


def altname(market: Market) -> str:
    return asset(market.base)[1] + asset(market.quote)[1]


def ws_symbol(market: Market) -> str:
    return f"{market.base}/{market.quote}"


# ---------------------------------------------------------------------------
# Answers


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _result(result: str) -> RestResponse:
    return RestResponse(200, f'{{"error":[],"result":{result}}}'.encode(), content_type=JSON)


def error(message: str, status: int = 200) -> RestResponse:
    return RestResponse(status, _dumps({"error": [message]}).encode(), content_type=JSON)


def fail(message: str) -> VenueError:
    return VenueError(error(message))


ERRORS: dict[str, RestResponse] = {
    NOT_FOUND: error("EGeneral:Unknown method", 404),
    METHOD_NOT_ALLOWED: error("EGeneral:Unknown method", 405),
    INTERNAL: error("EGeneral:Internal error", 500),
    DISCONNECTED: error("EService:Unavailable", 503),
    TIMEOUT: error("EService:Deadline elapsed", 504),
    BUSY: error("EService:Busy", 503),
}


def _market(context: IVenueContext, name: str) -> tuple[str, Market]:
    for key, market in context.markets.items():
        if name in (key, altname(market)):
            return key, market
    raise fail("EQuery:Unknown asset pair")


def _vwap(candle: Candle, market: Market) -> int:
    """
    Quote volume over base volume, in price ticks, kept inside [low, high] (the market
    model splits a day's quote volume in proportion to volume, so below a day the
    ratio can stray outside the candle's range).
    """
    if not candle.volume:
        return candle.close
    p, q = market.price_decimals, market.qty_decimals
    raw = (candle.quote_volume * 10 ** (p + q)) // (candle.volume * 10**QUOTE_DECIMALS)
    return min(max(raw, candle.low), candle.high)


def ohlc_row(candle: Candle, market: Market) -> bytes:
    p, q = market.price_decimals, market.qty_decimals
    vwap = _vwap(candle, market)
    return (
        f'[{candle.open_ms // 1000},"{fixed(candle.open, p, p)}","{fixed(candle.high, p, p)}",'
        f'"{fixed(candle.low, p, p)}","{fixed(candle.close, p, p)}","{fixed(vwap, p, p)}",'
        f'"{fixed(candle.volume, q, 8)}",{candle.trades}]'
    ).encode()


# ---------------------------------------------------------------------------
# REST handlers


def ohlc(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /0/public/OHLC``: the most recent 720 at most; ``since`` exclusive, seconds."""
    name = request.arg("pair")
    if not name:
        raise fail("EGeneral:Invalid arguments")
    text = request.arg("interval") or "1"
    if not re.match(r"^[0-9]{1,6}$", text) or int(text) not in INTERVALS:
        raise fail("EGeneral:Invalid arguments")
    interval = INTERVALS[int(text)]
    since_text = request.arg("since")
    since = None
    if since_text is not None and since_text != "":
        if not re.match(r"^-?[0-9]{1,18}(\.[0-9]+)?$", since_text):
            raise fail("EGeneral:Invalid arguments")
        since = int(float(since_text))
    key, market = _market(context, name)
    now = context.now_ms()
    last = interval.floor(now)
    first = max(context.source.first_open(market, interval), interval.shift(last, -(MAX_ROWS - 1)))
    if since is not None:
        first = max(first, interval.floor(since * 1000) + interval.ms)
    count = interval.count_between(first, last) if now >= market.listed_ms and last >= first else 0
    committed = interval.shift(last, -1) // 1000
    body = context.rows.rows(
        market, interval, 0, first, count, now, (NAME,), lambda c: ohlc_row(c, market),
        prefix=f'{{"error":[],"result":{{"{key}":['.encode(), suffix=f'],"last":{committed}}}}}'.encode(),
    )
    return RestResponse(200, body, content_type=JSON)


_DAYS = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    now_s = context.now_ms() // 1000
    days, rest = divmod(now_s, 86400)
    year, month, day = civil_from_days(days)
    rfc = (f"{_DAYS[days % 7]}, {day:02d} {_MONTHS[month - 1]} {year % 100:02d} "
           f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d} +0000")
    return _result(f'{{"unixtime":{now_s},"rfc1123":"{rfc}"}}')


def assets(request: RestRequest, context: IVenueContext) -> RestResponse:
    out: dict[str, Any] = {}
    for market in context.markets.values():
        for code, decimals in ((market.base, market.qty_decimals), (market.quote, 8)):
            key, alt = asset(code)
            out.setdefault(key, {"aclass": "currency", "altname": alt, "decimals": 10,
                                 "display_decimals": min(decimals, 8), "status": "enabled"})
    return _result(_dumps(out))


FEES = [[0, 0.4], [10000, 0.35], [50000, 0.24], [100000, 0.22], [250000, 0.2], [500000, 0.18],
        [1000000, 0.16], [2500000, 0.14], [5000000, 0.12], [10000000, 0.1]]
FEES_MAKER = [[0, 0.25], [10000, 0.2], [50000, 0.14], [100000, 0.12], [250000, 0.1], [500000, 0.08],
              [1000000, 0.06], [2500000, 0.04], [5000000, 0.02], [10000000, 0.0]]


def asset_pairs(request: RestRequest, context: IVenueContext) -> RestResponse:
    wanted = request.arg("pair")
    out: dict[str, Any] = {}
    names = wanted.split(",") if wanted else None
    for key, market in context.markets.items():
        if names is not None and key not in names and altname(market) not in names:
            continue
        p, q = market.price_decimals, market.qty_decimals
        out[key] = {
            "altname": altname(market), "wsname": f"{asset(market.base)[1]}/{asset(market.quote)[1]}",
            "aclass_base": "currency", "base": asset(market.base)[0],
            "aclass_quote": "currency", "quote": asset(market.quote)[0], "lot": "unit",
            "cost_decimals": min(8, p + q), "pair_decimals": p, "lot_decimals": q, "lot_multiplier": 1,
            "leverage_buy": [], "leverage_sell": [], "fees": FEES, "fees_maker": FEES_MAKER,
            "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
            "ordermin": plain(10**q // 10**min(q, 4) if q else 1, q), "costmin": "0.5",
            "tick_size": plain(1, p), "status": "online",
        }
    if names is not None and not out:
        raise fail("EQuery:Unknown asset pair")
    return _result(_dumps(out))


# ---------------------------------------------------------------------------
# WebSocket v2


def _rfc3339(ms: int, digits: int) -> str:
    days, rest = divmod(ms, DAY_MS)
    year, month, day = civil_from_days(days)
    seconds, millis = divmod(rest, 1000)
    frac = f"{millis:03d}".ljust(digits, "0")
    return (f"{year:04d}-{month:02d}-{day:02d}T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:"
            f"{seconds % 60:02d}.{frac}Z")


def ohlc_entry(candle: Candle, market: Market, minutes: int) -> str:
    p, q = market.price_decimals, market.qty_decimals
    vwap = _vwap(candle, market)
    return (
        f'{{"symbol":"{ws_symbol(market)}","open":{plain(candle.open, p)},"high":{plain(candle.high, p)},'
        f'"low":{plain(candle.low, p)},"close":{plain(candle.close, p)},"trades":{candle.trades},'
        f'"volume":{plain(candle.volume, q)},"vwap":{plain(vwap, p)},'
        f'"interval_begin":"{_rfc3339(candle.open_ms, 9)}","interval":{minutes},'
        f'"timestamp":"{_rfc3339(candle.end_ms, 6)}"}}'
    )


@implementer(ITopic)
@frozen
class OhlcTopic:
    feed: Feed
    minutes: int

    def render(self, update: CandleUpdate) -> bytes:
        entry = ohlc_entry(update.candle, self.feed.market, self.minutes)
        return (f'{{"channel":"ohlc","type":"update","timestamp":"{_rfc3339(update.event_ms, 9)}",'
                f'"data":[{entry}]}}').encode()


@implementer(IStreamSession)
class KrakenSession:
    def __init__(self, context: IVenueContext) -> None:
        self.context = context
        self.link: IStreamLink | None = None
        self.subscriptions: dict[tuple[str, int], OhlcTopic] = {}
        self.by_symbol = {ws_symbol(m): m for m in context.markets.values()}

    def ping_payload(self) -> None:
        return None

    def opened(self, link: IStreamLink) -> None:
        self.link = link
        link.send(_dumps({"channel": "status", "type": "update", "data": [{
            "version": "2.0.10", "system": "online", "api_version": "v2",
            "connection_id": 1_000_000_000_000_000 + link.now_ms() % 1_000_000_000}]}).encode())

    def _send(self, value: dict[str, Any]) -> None:
        assert self.link is not None
        self.link.send(_dumps(value).encode())

    def _times(self, answer: dict[str, Any]) -> dict[str, Any]:
        assert self.link is not None
        stamp = _rfc3339(self.link.now_ms(), 6)
        answer["time_in"] = stamp
        answer["time_out"] = stamp
        return answer

    def received(self, payload: bytes, is_binary: bool) -> None:
        try:
            request = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            request = None
        if not isinstance(request, dict):
            self._send(self._times({"error": "Malformed request", "success": False}))
            return
        method = request.get("method")
        req_id = request.get("req_id")
        base: dict[str, Any] = {}

        def answer(extra: dict[str, Any]) -> None:
            out = dict(extra)
            self._times(out)
            if req_id is not None:
                out["req_id"] = req_id
            self._send(out)

        if method == "ping":
            answer({"method": "pong"})
            return
        if method not in ("subscribe", "unsubscribe"):
            answer({"error": f"Method not found: {method}" if isinstance(method, str) else "Method not found",
                    "success": False, **base})
            return
        params = request.get("params")
        if not isinstance(params, dict) or "channel" not in params:
            answer({"error": "Missing field `params`" if not isinstance(params, dict) else "Missing field `channel`",
                    "method": method, "success": False})
            return
        channel = params.get("channel")
        if channel != "ohlc":
            answer({"error": f"Channel {channel} not supported", "method": method, "success": False})
            return
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) for s in symbols):
            answer({"error": "Missing or invalid field `symbol`", "method": method, "success": False})
            return
        minutes = params.get("interval", 1)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes not in INTERVALS:
            answer({"error": "Invalid interval", "method": method, "success": False})
            return
        snapshot = params.get("snapshot", True) is not False
        for symbol in symbols:
            market = self.by_symbol.get(symbol)
            if market is None:
                answer({"error": f"Currency pair not supported {symbol}", "method": method, "success": False,
                        "symbol": symbol})
                continue
            result = {"channel": "ohlc", "interval": minutes}
            if method == "subscribe":
                result["snapshot"] = snapshot
            result["symbol"] = symbol
            answer({"method": method, "result": result, "success": True})
            self._apply(method, market, symbol, minutes, snapshot)

    def _apply(self, method: str, market: Market, symbol: str, minutes: int, snapshot: bool) -> None:
        link = self.link
        assert link is not None
        key = (symbol, minutes)
        if method == "unsubscribe":
            old = self.subscriptions.pop(key, None)
            if old is not None:
                link.unsubscribe(old)
            return
        if key in self.subscriptions:
            return
        interval = INTERVALS[minutes]
        topic = OhlcTopic(Feed(market, interval), minutes)
        self.subscriptions[key] = topic
        now = link.now_ms()
        if snapshot:
            live = self.context.source.candle(market, interval, interval.floor(now), now)
            entries = [ohlc_entry(live, market, minutes)] if live is not None else []
            link.send((f'{{"channel":"ohlc","type":"snapshot","timestamp":"{_rfc3339(now, 9)}",'
                       f'"data":[{",".join(entries)}]}}').encode())
        link.subscribe(topic)


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class KrakenSpot:
    name = NAME
    description = "Kraken spot: /0/public/OHLC, Time, Assets, AssetPairs; WebSocket v2 ohlc on /v2"
    intervals: Mapping[str, Interval] = {str(k): v for k, v in INTERVALS.items()}
    keepalive = Keepalive()
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        text = symbol.upper()
        for sep in ("/", "-", "_"):
            if sep in text:
                base, _, quote = text.partition(sep)
                break
        else:
            raise ValueError(f"write Kraken markets as BASE/QUOTE, not {symbol!r}")
        base = {"XBT": "BTC", "XDG": "DOGE"}.get(base, base)
        quote = {"XBT": "BTC", "XDG": "DOGE"}.get(quote, quote)
        if not re.match(r"^[A-Z0-9]{1,12}$", base) or not re.match(r"^[A-Z0-9]{1,12}$", quote):
            raise ValueError(f"{symbol!r} is not a Kraken pair")
        for market in DEFAULT_MARKETS:
            if (market.base, market.quote) == (base, quote):
                return Market.create(base, quote, price, price_decimals=market.price_decimals,
                                     qty_decimals=market.qty_decimals, listed_ms=market.listed_ms)
        return Market.create(base, quote, price)

    def symbol(self, market: Market) -> str:
        return pair_name(market)

    def rest_routes(self) -> Sequence[RestRoute]:
        routes = []
        for method in ("GET", "POST"):
            routes += [
                RestRoute(method, "/0/public/OHLC", ohlc, "OHLC"),
                RestRoute(method, "/0/public/Time", server_time, "Time"),
                RestRoute(method, "/0/public/Assets", assets, "Assets"),
                RestRoute(method, "/0/public/AssetPairs", asset_pairs, "AssetPairs"),
            ]
        return routes

    def ws_paths(self) -> Sequence[str]:
        return ("/v2",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            return error("EGeneral:Too many requests", 200)
        return ERRORS.get(kind, ERRORS[INTERNAL])

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return KrakenSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_ohlc_answer(path, args, body, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_ohlc_push(payload, binary)


kraken_spot = KrakenSpot()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

from decimal import ROUND_CEILING, Decimal  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.intervals import days_from_civil  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402

_QUOTE_STEP = Decimal(1).scaleb(-QUOTE_DECIMALS)


def quote_from_vwap(vwap: str, volume: str) -> str:
    """
    The quote volume a vwap stands for: Kraken shows ``vwap`` (and no quote volume),
    which this module derives as ``floor(quote / volume)`` in ticks. The smallest
    quote volume in 10^-8 with ``quote / volume >= vwap`` gives the same vwap back
    whenever ``volume * tick >= 10^-8`` (so replay formats the recorded rows
    byte for byte).
    """
    v = Decimal(volume)
    if not v:
        return "0"
    q = (Decimal(vwap) * v).quantize(_QUOTE_STEP, rounding=ROUND_CEILING)
    return decimal_text(format(q, "f"))


def _interval_name(value: Any) -> str:
    name = str(whole(value))
    if int(name) not in INTERVALS:
        raise ValueError(name)
    return name


@tolerant
def recorded_ohlc_answer(
    path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
) -> Sequence[RecordedCandle]:
    """``/0/public/OHLC`` (GET, or POST with a form body): ``{"error":[],"result":{"<pair
    key>":[[time s, open, high, low, close, vwap, volume, count]],"last":..}}`` (Get OHLC
    Data): named by the result's pair key (the venue's symbol); the quote volume from
    the vwap (:func:`quote_from_vwap`), the trade count as shown."""
    if path != "/0/public/OHLC":
        return ()
    if body and not first_arg(args, "interval"):
        args = parse_qs(body.decode("utf-8"))
    interval = _interval_name(first_arg(args, "interval") or "1")
    envelope = load_json(answer)
    if envelope["error"]:
        return ()
    [(key, rows)] = [(k, v) for k, v in envelope["result"].items() if k != "last"]
    return [
        RecordedCandle(
            text(key), interval, whole(r[0]) * 1000, decimal_text(r[1]), decimal_text(r[2]), decimal_text(r[3]),
            decimal_text(r[4]), decimal_text(r[6]), quote_from_vwap(decimal_text(r[5]), decimal_text(r[6])),
            whole(r[7]),
        )
        for r in rows
    ]


def _rfc3339_ms(value: str) -> int:
    """``2026-11-25T00:00:00.000000000Z`` (as :func:`_rfc3339` writes it) in ms."""
    date, _, clock = value.partition("T")
    year, month, day = (int(x) for x in date.split("-"))
    hms, _, frac = clock.rstrip("Z").partition(".")
    hour, minute, second = (int(x) for x in hms.split(":"))
    if not (value.endswith("Z") and 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60
            and second < 60 and frac.isdigit()):
        raise ValueError(value)
    days = days_from_civil(year, month, day)
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + int(frac[:3].ljust(3, "0"))


@tolerant
def recorded_ohlc_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """The v2 ``ohlc`` channel's ``snapshot`` and ``update`` messages: ``data`` entries
    ``{symbol, open, high, low, close, trades, volume, vwap, interval_begin, interval,
    timestamp}``, numbers as JSON numbers (read as their text). Kraken does not say
    whether the candle closed: ``closed`` None (the recorder's next-open-time rule)."""
    if binary:
        return ()
    message = json.loads(payload, parse_float=str, parse_int=str)
    if message["channel"] != "ohlc" or message["type"] not in ("snapshot", "update"):
        return ()
    out = []
    for k in message["data"]:
        volume = decimal_text(k["volume"])
        out.append(RecordedCandle(
            text(k["symbol"]), _interval_name(k["interval"]), _rfc3339_ms(text(k["interval_begin"])),
            decimal_text(k["open"]), decimal_text(k["high"]), decimal_text(k["low"]), decimal_text(k["close"]),
            volume, quote_from_vwap(decimal_text(k["vwap"]), volume), whole(k["trades"]),
        ))
    return out


classImplements(KrakenSpot, IKlineRecording)

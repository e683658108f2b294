"""
Hyperliquid market data: ``POST /info`` and the ``/ws`` candle subscription of
``api.hyperliquid.xyz``, as two venues: ``hyperliquid_perpetual`` (the main perp dex)
and ``hyperliquid_spot``. The real host serves both; each mockex venue lists its own
markets and answers the other kind's metadata with an empty universe, so clients that
load both (ccxt does) work unchanged.

Sources:

* Hyperliquid's API docs (hyperliquid.gitbook.io, "Info endpoint": candle snapshot,
  perpetuals/spot metadata, asset contexts; "Websocket": subscriptions, post/ping,
  "Timeouts and heartbeats": the server closes a connection it has not sent a message
  to for 60 s; "Rate limits and user limits").
* hyperliquid-python-sdk 0.24 (``hyperliquid/info.py``, ``api.py``,
  ``websocket_manager.py``): request bodies (``candleSnapshot`` with ``req``
  ``{coin, interval, startTime, endTime}``, ``meta`` with ``dex``, ``spotMeta``), the
  ``"Websocket connection established."`` greeting it skips, ``{"method":"ping"}`` every
  50 s and the ``{"channel":"pong"}`` answer, subscription identifiers from ``data.s``
  and ``data.i``; 4xx bodies that are not JSON become ``ClientError(status, None, text)``.
* ccxt 4.5 ``hyperliquid.py`` (``fetch_markets``: ``spotMetaAndAssetCtxs``,
  ``metaAndAssetCtxs``, ``perpDexs``; ``fetch_time``: ``exchangeStatus`` ->
  ``{specialStatuses: null, time: '...'}``; ``fetch_ohlcv``/``parse_ohlcv``; the
  ``byType`` weights) and ``pro/hyperliquid.py`` (``watch_ohlcv`` coin = ``baseName``
  for swaps, market id for spot; ``subscriptionResponse`` acks; ``{"channel":"error",
  "data":"..."}`` errors, ``Already subscribed``; ping/pong).
* axum's ``Json`` extractor (the server is axum): a body that is not JSON is 400
  ``Failed to parse the request body as JSON: ..``, JSON of the wrong shape is 422
  ``Failed to deserialize the JSON body into the target type: ..``, a missing
  ``Content-Type: application/json`` is 415, all ``text/plain; charset=utf-8``.

Unverified choices (docs/venues/hyperliquid_perpetual.md lists them with their switches):

* Only the most recent 5000 candles of each interval exist (the docs' "only the most
  recent 5000 candles are available"); ``options["history_candles"]`` changes it
  (``0``: all). Selection: candles opening in ``[startTime, endTime]``.
* A ``candleSnapshot`` for an unknown coin answers ``[]`` (``options["unknown_coin"] =
  "error"``: HTTP 500 ``null``).
* Candle fields in the order of the docs' type definition ``t T s i o c h l v n``;
  decimals as strings without trailing zeros but with at least one decimal
  (``"71400.0"``, ccxt's capture); prices keep 5 significant figures and at most
  6 (perps) or 8 (spot) minus ``szDecimals`` decimals (the docs' tick rules).
* The text of serde errors (positions are at the end of the body) and the list of
  variants in an ``unknown variant`` error (only the info types mockex serves).
* Candles are pushed once a second while they change; an unknown coin or interval in a
  subscription answers ``{"channel":"error","data":"Invalid subscription ..."}``.

Rate limits (:data:`LIMITS`; docs/rate-limits.md): the docs' "Rate limits and user
limits" (REST: aggregated weight 1200 per minute per IP; info weight 2 for l2Book,
allMids, clearinghouseState, orderStatus, spotClearinghouseState, exchangeStatus, 60 for
userRole, 20 for the others, candleSnapshot one more per 60 items returned; WebSocket:
100 connections, 1000 subscriptions, 2000 messages per minute); ccxt hyperliquid's
``byType`` costs and ``rateLimit`` 50 ms ("1200 requests per minute"). Unverified: the
429 body, fixed minutes, the candle count taken from the request (not the answer), the
per-connection message count and its close, the 1001st subscription's error text.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, Mapping, Sequence

from attrs import frozen
from zope.interface import implementer

from mockex.fmt import fixed
from mockex.interfaces import (
    BANNED,
    RATE_LIMITED,
    INTERNAL,
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
from mockex.ratelimit import MINUTE, WEIGHT, Limits, RestLimits, RestWindow, WsLimits
from mockex.market import Candle, Market, window

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
HISTORY_CANDLES = 5000

#: The intervals of candleSnapshot and the candle subscription (docs; ccxt timeframes).
INTERVAL_NAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d", "3d", "1w", "1M")
INTERVALS: dict[str, Interval] = {name: CANONICAL[name] for name in INTERVAL_NAMES}

#: The info request types mockex serves.
INFO_TYPES = ("meta", "metaAndAssetCtxs", "spotMeta", "spotMetaAndAssetCtxs", "perpDexs",
              "exchangeStatus", "allMids", "candleSnapshot")

#: /info request weights (docs "Rate limits and user limits"; ccxt's ``byType``).
INFO_WEIGHTS: dict[str, int] = {"l2Book": 2, "allMids": 2, "clearinghouseState": 2, "orderStatus": 2,
                                "spotClearinghouseState": 2, "exchangeStatus": 2, "userRole": 60}
INFO_DEFAULT_WEIGHT = 20
#: candleSnapshot weighs one more per this many items returned.
CANDLES_PER_EXTRA_WEIGHT = 60


def info_weight(request: RestRequest) -> int:
    """
    The weight of one ``/info`` request: by ``type``; a candleSnapshot adds one per 60
    candles, counted from its ``startTime``..``endTime`` and interval (at most 5000: what
    the request asks for, an approximation of "items returned").
    """
    try:
        body = json.loads(request.body)
        kind = body.get("type")
    except (ValueError, AttributeError, RecursionError):
        return INFO_DEFAULT_WEIGHT
    weight = INFO_WEIGHTS.get(kind, INFO_DEFAULT_WEIGHT) if isinstance(kind, str) else INFO_DEFAULT_WEIGHT
    if kind == "candleSnapshot":
        try:
            req = body["req"]
            interval = INTERVALS[req["interval"]]
            span = int(req["endTime"]) - int(req["startTime"])
            ms = interval.ms if interval.ms > 0 else 30 * DAY_MS
            candles = min(HISTORY_CANDLES, max(0, span // ms + 1))
        except (KeyError, TypeError, ValueError):
            candles = 0
        weight += candles // CANDLES_PER_EXTRA_WEIGHT
    return weight


#: What both Hyperliquid venues enforce: REST weight 1200 per minute per IP (fixed
#: minutes), beyond it HTTP 429 (``null``, as the module's other 429); no ban, no
#: headers. WebSocket: 1000 subscriptions per connection (the session answers beyond),
#: 2000 messages per minute (per connection here; Hyperliquid counts per IP), 100
#: connections per IP.
LIMITS = Limits(
    rest=RestLimits(
        windows=(RestWindow("weight", MINUTE, 1, 1200, WEIGHT),),
        weights={"info": info_weight},
        ban=None,
        retry_after=None,
    ),
    ws=WsLimits(messages=2000, message_window_ms=60_000, max_streams=1000, max_connections=100,
                close_code=1008, close_reason="Too many requests"),
)

def _listed(y: int, m: int, d: int) -> int:
    return days_from_civil(y, m, d) * DAY_MS


@frozen
class Coin:
    """One listed coin: the market, Hyperliquid's name, its ``szDecimals``."""

    name: str
    market: Market
    sz_decimals: int
    max_leverage: int = 0


def price_decimals(price: float, sz_decimals: int, max_decimals: int) -> int:
    """Decimals a price keeps: 5 significant figures, at most ``max - szDecimals``."""
    import math

    magnitude = math.floor(math.log10(price))
    return max(0, min(max_decimals - sz_decimals, 4 - magnitude))


def _coin(name: str, base: str, price: float, sz: int, max_decimals: int, listed: int, lev: int = 0,
          volume: float | None = None) -> Coin:
    market = Market.create(base, "USDC", price, price_decimals=price_decimals(price, sz, max_decimals),
                           qty_decimals=sz, listed_ms=listed, daily_volume=volume)
    return Coin(name, market, sz, lev)


PERP_DEFAULTS: tuple[tuple[str, float, int, int, int], ...] = (
    # name, price, szDecimals, maxLeverage, listed
    ("BTC", 90_000.0, 5, 40, _listed(2023, 6, 1)),
    ("ETH", 3_000.0, 4, 25, _listed(2023, 6, 1)),
    ("SOL", 140.0, 2, 20, _listed(2023, 6, 1)),
    ("HYPE", 30.0, 2, 10, _listed(2024, 11, 29)),
    ("DOGE", 0.16, 0, 10, _listed(2023, 6, 1)),
)

#: Spot: (base token, price, szDecimals, listed). PURR/USDC is the canonical pair at
#: index 0; the others are named ``@<index>`` as Hyperliquid names non-canonical pairs.
SPOT_DEFAULTS: tuple[tuple[str, float, int, int], ...] = (
    ("PURR", 0.12, 0, _listed(2024, 4, 16)),
    ("HYPE", 30.0, 2, _listed(2024, 11, 29)),
    ("UBTC", 90_000.0, 5, _listed(2025, 2, 14)),
    ("UETH", 3_000.0, 4, _listed(2025, 2, 14)),
    ("USOL", 140.0, 3, _listed(2025, 3, 1)),
)

#: ccxt's ``spotCurrencyMapping``: wrapped tokens and the currency they stand for.
WRAPPED = {"UBTC": "BTC", "UETH": "ETH", "USOL": "SOL", "UFART": "FARTCOIN", "UPUMP": "PUMP"}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def decimal(value: int, scale: int) -> str:
    """Hyperliquid's float strings: no trailing zeros, at least one decimal."""
    text = fixed(value, scale, scale)
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    else:
        text += ".0"
    return text


# ---------------------------------------------------------------------------
# Errors (axum's Json extractor)


def text_error(status: int, text: str) -> VenueError:
    return VenueError(RestResponse(status, text.encode(), content_type=TEXT))


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"at line {line} column {column}"


def _end(text: str) -> str:
    stripped = text.rstrip()
    return _position(text, max(0, len(stripped) - 1))


def data_error(body: str, message: str, path: str = "") -> VenueError:
    prefix = f"{path}: " if path else ""
    return text_error(
        422, f"Failed to deserialize the JSON body into the target type: {prefix}{message} {_end(body)}"
    )


def _serde_kind(value: Any) -> str:
    """serde's ``Unexpected`` for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_body(request: RestRequest) -> tuple[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        raise text_error(415, "Expected request with `Content-Type: application/json`")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise text_error(400, "Failed to parse the request body as JSON: invalid unicode code point at line 1 column 1") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        where = f"at line {e.lineno} column {e.colno}"
        kind = "EOF while parsing a value" if not text.strip() else "expected value"
        raise text_error(400, f"Failed to parse the request body as JSON: {kind} {where}") from None
    except (ValueError, RecursionError):
        raise text_error(400, f"Failed to parse the request body as JSON: expected value {_end(text)}") from None
    return text, value


# ---------------------------------------------------------------------------
# The venue's data


class HyperliquidVenue:
    """What both Hyperliquid venues share; ``spot`` picks the kind."""

    spot: bool = False

    # -- markets ----------------------------------------------------------------

    def coins(self, context: IVenueContext) -> list[Coin]:
        return [self._coin_of(name, market) for name, market in context.markets.items()]

    def _coin_of(self, name: str, market: Market) -> Coin:
        lev = next((d[3] for d in PERP_DEFAULTS if d[0] == market.base), 3)
        return Coin(name, market, market.qty_decimals, 0 if self.spot else lev)

    # -- REST -----------------------------------------------------------------------

    def info(self, request: RestRequest, context: IVenueContext) -> RestResponse:
        text, body = parse_body(request)
        if not isinstance(body, dict):
            raise data_error(text, f"invalid type: {_serde_kind(body)}, expected internally tagged enum InfoRequest")
        if "type" not in body:
            raise data_error(text, "missing field `type`")
        kind = body["type"]
        if not isinstance(kind, str):
            raise data_error(text, f"invalid type: {_serde_kind(kind)}, expected variant identifier")
        handler: Callable[[str, dict[str, Any], IVenueContext], Any] | None = getattr(
            self, "_info_" + kind, None
        ) if kind in INFO_TYPES else None
        if handler is None:
            variants = ", ".join(f"`{t}`" for t in INFO_TYPES)
            raise data_error(text, f"unknown variant `{kind}`, expected one of {variants}")
        result = handler(text, body, context)
        if isinstance(result, bytes):
            return RestResponse(200, result, content_type=JSON)
        return RestResponse(200, _dumps(result).encode(), content_type=JSON)

    def _dex(self, text: str, body: dict[str, Any]) -> str:
        dex = body.get("dex", "")
        if dex is None:
            return ""
        if not isinstance(dex, str):
            raise data_error(text, f"invalid type: {_serde_kind(dex)}, expected a string", "dex")
        return dex

    def _meta(self, context: IVenueContext, dex: str) -> dict[str, Any]:
        coins = [] if self.spot or dex else self.coins(context)
        universe = [
            {"szDecimals": c.sz_decimals, "name": c.name, "maxLeverage": c.max_leverage,
             "marginTableId": c.max_leverage}
            for c in coins
        ]
        tables = sorted({c.max_leverage for c in coins})
        margin_tables = [
            [t, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": t}]}] for t in tables
        ]
        return {"universe": universe, "marginTables": margin_tables, "collateralToken": 0}

    def _info_meta(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        return self._meta(context, self._dex(text, body))

    def _day(self, context: IVenueContext, market: Market) -> tuple[Candle | None, Candle | None]:
        """The current UTC day's candle and the live minute (for asset contexts)."""
        now = context.now_ms()
        if now < market.listed_ms:
            return None, None
        day = context.source.candle(market, CANONICAL["1d"], CANONICAL["1d"].floor(now), now)
        minute = context.source.candle(market, CANONICAL["1m"], CANONICAL["1m"].floor(now), now)
        return day, minute

    def _info_metaAndAssetCtxs(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        dex = self._dex(text, body)
        meta = self._meta(context, dex)
        contexts = []
        for coin in ([] if self.spot or dex else self.coins(context)):
            m = coin.market
            p = m.price_decimals
            day, minute = self._day(context, m)
            px = decimal(minute.close, p) if minute else decimal(round(m.price * 10**p), p)
            contexts.append({
                "funding": "0.0000125",
                "openInterest": decimal(round(m.daily_volume * 10**m.qty_decimals), m.qty_decimals),
                "prevDayPx": decimal(day.open, p) if day else px,
                "dayNtlVlm": decimal(day.quote_volume, 8) if day else "0.0",
                "premium": "0.0",
                "oraclePx": px,
                "markPx": px,
                "midPx": px,
                "impactPxs": [px, px],
                "dayBaseVlm": decimal(day.volume, m.qty_decimals) if day else "0.0",
            })
        return [meta, contexts]

    def _spot_tokens(self, context: IVenueContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        tokens = [_token("USDC", 8, 0)]
        universe = []
        for index, (name, market) in enumerate([] if not self.spot else context.markets.items()):
            token_index = len(tokens)
            tokens.append(_token(market.base, market.qty_decimals, token_index))
            universe.append({"tokens": [token_index, 0], "name": name, "index": index,
                             "isCanonical": name == "PURR/USDC"})
        return tokens, universe

    def _info_spotMeta(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        tokens, universe = self._spot_tokens(context)
        return {"universe": universe, "tokens": tokens}

    def _info_spotMetaAndAssetCtxs(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        tokens, universe = self._spot_tokens(context)
        contexts = []
        for name, market in ([] if not self.spot else context.markets.items()):
            p = market.price_decimals
            day, minute = self._day(context, market)
            px = decimal(minute.close, p) if minute else decimal(round(market.price * 10**p), p)
            contexts.append({
                "prevDayPx": decimal(day.open, p) if day else px,
                "dayNtlVlm": decimal(day.quote_volume, 8) if day else "0.0",
                "markPx": px,
                "midPx": px,
                "circulatingSupply": "1000000000.0",
                "coin": name,
                "totalSupply": "1000000000.0",
                "dayBaseVlm": decimal(day.volume, market.qty_decimals) if day else "0.0",
            })
        return [{"universe": universe, "tokens": tokens}, contexts]

    def _info_perpDexs(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        return [None]

    def _info_exchangeStatus(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        return {"specialStatuses": None, "time": str(context.now_ms())}

    def _info_allMids(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        self._dex(text, body)
        mids = {}
        for name, market in context.markets.items():
            _, minute = self._day(context, market)
            if minute is not None:
                mids[name] = decimal(minute.close, market.price_decimals)
        return mids

    def _info_candleSnapshot(self, text: str, body: dict[str, Any], context: IVenueContext) -> Any:
        if "req" not in body:
            raise data_error(text, "missing field `req`")
        req = body["req"]
        if not isinstance(req, dict):
            raise data_error(text, f"invalid type: {_serde_kind(req)}, expected struct CandleSnapshotReq", "req")
        for name in ("coin", "interval", "startTime"):
            if name not in req:
                raise data_error(text, f"missing field `{name}`", "req")
        coin = req["coin"]
        if not isinstance(coin, str):
            raise data_error(text, f"invalid type: {_serde_kind(coin)}, expected a string", "req.coin")
        interval_name = req["interval"]
        if not isinstance(interval_name, str):
            raise data_error(text, f"invalid type: {_serde_kind(interval_name)}, expected a string", "req.interval")
        interval = INTERVALS.get(interval_name)
        if interval is None:
            variants = ", ".join(f"`{n}`" for n in INTERVAL_NAMES)
            raise data_error(text, f"unknown variant `{interval_name}`, expected one of {variants}", "req.interval")
        start = _u64(text, req, "startTime")
        end = _u64(text, req, "endTime", optional=True)
        market = context.markets.get(coin)
        if market is None:
            if context.options.get("unknown_coin") == "error":
                raise VenueError(RestResponse(500, b"null", content_type=JSON))
            return b"[]"
        now = context.now_ms()
        history = int(context.options.get("history_candles", HISTORY_CANDLES) or 0)
        first_available = context.source.first_open(market, interval)
        if history > 0:
            first_available = max(first_available, interval.shift(interval.floor(now), -(history - 1)))
        limit = history if history > 0 else 10**9
        if end is not None and end < start:
            return b"[]"
        first, count = window(interval, 0, first_available, now, start, end, limit, market.listed_ms)
        return context.rows.rows(
            market, interval, 0, first, count, now, ("hyperliquid", coin, interval_name),
            lambda c: candle_object(c, coin, interval_name, market), prefix=b"[", suffix=b"]",
        )

    # -- WebSocket --------------------------------------------------------------------

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return HyperliquidSession(context)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000


def _u64(text: str, req: dict[str, Any], name: str, optional: bool = False) -> int | None:
    value = req.get(name)
    if value is None and optional:
        return None
    if type(value) is not int or not 0 <= value < 2**64:
        kind = _serde_kind(value) if not (type(value) is int) else f"integer `{value}`"
        raise data_error(text, f"invalid type: {kind}, expected u64" if type(value) is not int
                         else f"invalid value: {kind}, expected u64", f"req.{name}")
    return value


def _token(name: str, sz_decimals: int, index: int) -> dict[str, Any]:
    token_id = (
        "0x6d1e7cde53ba9467b783cb7c530ce054" if name == "USDC"
        else "0x" + hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
    )
    return {"name": name, "szDecimals": sz_decimals, "weiDecimals": 8 if name == "USDC" else sz_decimals + 5,
            "index": index, "tokenId": token_id, "isCanonical": index == 0 or name == "PURR",
            "evmContract": None, "fullName": None, "deployerTradingFeeShare": "0.0"}


def candle_object(candle: Candle, coin: str, interval_name: str, market: Market) -> bytes:
    p, q = market.price_decimals, market.qty_decimals
    return (
        f'{{"t":{candle.open_ms},"T":{candle.end_ms - 1},"s":{json.dumps(coin)},"i":"{interval_name}",'
        f'"o":"{decimal(candle.open, p)}","c":"{decimal(candle.close, p)}","h":"{decimal(candle.high, p)}",'
        f'"l":"{decimal(candle.low, p)}","v":"{decimal(candle.volume, q)}","n":{candle.trades}}}'
    ).encode()


# ---------------------------------------------------------------------------
# WebSocket


@implementer(ITopic)
@frozen
class CandleTopic:
    feed: Feed
    coin: str
    interval_name: str

    def render(self, update: CandleUpdate) -> bytes:
        data = candle_object(update.candle, self.coin, self.interval_name, update.feed.market)
        return b'{"channel":"candle","data":' + data + b"}"


GREETING = b"Websocket connection established."


@implementer(IStreamSession)
class HyperliquidSession:
    """One ``/ws`` connection."""

    def __init__(self, context: IVenueContext) -> None:
        self.context = context
        self.link: IStreamLink | None = None
        self.subscriptions: dict[tuple[str, str], CandleTopic] = {}

    def opened(self, link: IStreamLink) -> None:
        self.link = link
        link.send(GREETING)

    def ping_payload(self) -> bytes | None:
        return None

    def received(self, payload: bytes, is_binary: bool) -> None:
        link = self.link
        assert link is not None
        text = payload.decode("utf-8", "replace")
        try:
            request = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            request = None
        method = request.get("method") if isinstance(request, dict) else None
        if method == "ping" and len(request) == 1:
            link.send(b'{"channel":"pong"}')
            return
        subscription = request.get("subscription") if isinstance(request, dict) else None
        if method not in ("subscribe", "unsubscribe") or not isinstance(subscription, dict) \
                or not isinstance(subscription.get("type"), str):
            link.send(_error(f"Error parsing JSON into valid websocket request: {text}"))
            return
        shown = _dumps(subscription)
        if subscription["type"] != "candle":
            link.send(_error(f"Invalid subscription {shown}"))
            return
        coin, interval_name = subscription.get("coin"), subscription.get("interval")
        if not isinstance(coin, str) or not isinstance(interval_name, str):
            link.send(_error(f"Error parsing JSON into valid websocket request: {text}"))
            return
        key = (coin, interval_name)
        ack = _dumps({"channel": "subscriptionResponse",
                      "data": {"method": method, "subscription": {"type": "candle", "coin": coin,
                                                                  "interval": interval_name}}}).encode()
        if method == "unsubscribe":
            topic = self.subscriptions.pop(key, None)
            if topic is None:
                link.send(_error(f"Already unsubscribed: {shown}"))
                return
            link.unsubscribe(topic)
            link.send(ack)
            return
        if key in self.subscriptions:
            link.send(_error(f"Already subscribed: {shown}"))
            return
        market = self.context.markets.get(coin)
        interval = INTERVALS.get(interval_name)
        if market is None or interval is None:
            link.send(_error(f"Invalid subscription {shown}"))
            return
        limit = getattr(link, "max_streams", None)
        if limit is not None and len(self.subscriptions) >= limit:
            # unverified text: the docs give the limit (1000 subscriptions), not the answer
            link.send(_error(f"Cannot track more than {limit} total subscriptions"))
            return
        topic = self.subscriptions[key] = CandleTopic(Feed(market, interval), coin, interval_name)
        link.send(ack)
        link.subscribe(topic)


def _error(message: str) -> bytes:
    return _dumps({"channel": "error", "data": message}).encode()


# ---------------------------------------------------------------------------
# The plugins


@implementer(IExchange)
class HyperliquidPerpetual(HyperliquidVenue):
    name = "hyperliquid_perpetual"
    description = "Hyperliquid perpetuals: POST /info (candleSnapshot, meta, ...), /ws candle subscriptions"
    intervals: Mapping[str, Interval] = INTERVALS
    keepalive = Keepalive(idle_timeout=60.0)
    limits = LIMITS
    spot = False

    def default_markets(self) -> Sequence[Market]:
        return [
            Market.create(name, "USDC", price, price_decimals=price_decimals(price, sz, 6), qty_decimals=sz,
                          listed_ms=listed)
            for name, price, sz, _lev, listed in PERP_DEFAULTS
        ]

    def market_for(self, symbol: str, price: float) -> Market:
        base = symbol.upper().split("/")[0].split("-")[0].split(":")[0]
        if not base.isalnum() or len(base) > 20:
            raise ValueError(f"{symbol!r} is not a Hyperliquid coin (BTC, ETH, ...)")
        sz = next((d[2] for d in PERP_DEFAULTS if d[0] == base), 2 if price < 1000 else 4)
        listed = next((d[4] for d in PERP_DEFAULTS if d[0] == base), _listed(2023, 6, 1))
        return Market.create(base, "USDC", price, price_decimals=price_decimals(price, sz, 6), qty_decimals=sz,
                             listed_ms=listed)

    def symbol(self, market: Market) -> str:
        return market.base

    def rest_routes(self) -> Sequence[RestRoute]:
        return (RestRoute("POST", "/info", self.info, "info"),)

    def ws_paths(self) -> Sequence[str]:
        return ("/ws",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        if kind in (RATE_LIMITED, BANNED):
            return RestResponse(429, b"null", content_type=JSON)
        return _ERRORS.get(kind, _ERRORS[INTERNAL])

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence["RecordedCandle"]:
        return recorded_candle_snapshot(self.spot, path, body, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence["RecordedCandle"]:
        return recorded_candle_push(self.spot, payload, binary)


@implementer(IExchange)
class HyperliquidSpot(HyperliquidPerpetual):
    name = "hyperliquid_spot"
    description = "Hyperliquid spot: POST /info (candleSnapshot, spotMeta, ...), /ws candle subscriptions"
    spot = True

    def default_markets(self) -> Sequence[Market]:
        return [
            Market.create(base, "USDC", price, price_decimals=price_decimals(price, sz, 8), qty_decimals=sz,
                          listed_ms=listed)
            for base, price, sz, listed in SPOT_DEFAULTS
        ]

    def market_for(self, symbol: str, price: float) -> Market:
        base, _, quote = symbol.upper().replace("-", "/").partition("/")
        if quote not in ("", "USDC") or not base.isalnum() or len(base) > 20:
            raise ValueError(f"{symbol!r} is not a Hyperliquid spot pair (PURR/USDC, UBTC/USDC, ...)")
        sz = next((d[2] for d in SPOT_DEFAULTS if d[0] == base), 2 if price < 1000 else 4)
        listed = next((d[3] for d in SPOT_DEFAULTS if d[0] == base), _listed(2024, 4, 16))
        return Market.create(base, "USDC", price, price_decimals=price_decimals(price, sz, 8), qty_decimals=sz,
                             listed_ms=listed)

    def symbol(self, market: Market) -> str:
        return spot_name(market.base)


#: Real spot universe names of the default pairs: only PURR/USDC is named by its pair;
#: every other pair is ``@<its index in the spot universe>``.
SPOT_NAMES = {"PURR": "PURR/USDC", "HYPE": "@107", "UBTC": "@142", "UETH": "@151", "USOL": "@156"}


def spot_name(base: str) -> str:
    """A spot pair's coin name: the real one for known pairs, else ``BASE/USDC``."""
    return SPOT_NAMES.get(base, f"{base}/USDC")


_ERRORS: dict[str, RestResponse] = {
    "not_found": RestResponse(404, b"", content_type=TEXT),
    "method_not_allowed": RestResponse(405, b"", content_type=TEXT),
    INTERNAL: RestResponse(500, b"null", content_type=JSON),
    "disconnected": RestResponse(502, b"", content_type=TEXT),
    "timeout": RestResponse(504, b"", content_type=TEXT),
    "busy": RestResponse(429, b"null", content_type=JSON),
}

hyperliquid_perpetual = HyperliquidPerpetual()
hyperliquid_spot = HyperliquidSpot()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the candles this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, load_json, text, tolerant, whole  # noqa: E402


def _is_spot_coin(coin: str) -> bool:
    """Spot coins are ``@<index>`` or ``PURR/USDC``-style pair names (docs "Info
    endpoint": spot asset naming); perp coins are bare names. The host serves both."""
    return coin.startswith("@") or "/" in coin


def _recorded(spot: bool, k: Mapping[str, Any]) -> RecordedCandle | None:
    """``{t, T, s, i, o, c, h, l, v, n}`` (the docs' candle type): no quote or taker volumes."""
    coin, interval = text(k["s"]), text(k["i"])
    if _is_spot_coin(coin) != spot or interval not in INTERVALS:
        return None
    return RecordedCandle(
        coin, interval, whole(k["t"]), decimal_text(k["o"]), decimal_text(k["h"]), decimal_text(k["l"]),
        decimal_text(k["c"]), decimal_text(k["v"]), trades=whole(k["n"]),
    )


@tolerant
def recorded_candle_snapshot(spot: bool, path: str, body: bytes, answer: bytes) -> Sequence[RecordedCandle]:
    """``POST /info`` with ``{"type":"candleSnapshot","req":{..}}``: a list of candles."""
    if path != "/info" or load_json(body)["type"] != "candleSnapshot":
        return ()
    return [c for c in (_recorded(spot, k) for k in load_json(answer)) if c is not None]


@tolerant
def recorded_candle_push(spot: bool, payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``{"channel":"candle","data":{candle}}``. Hyperliquid does not say whether the
    candle closed: ``closed`` None (the recorder's next-open-time rule)."""
    if binary or not payload.startswith(b"{"):
        return ()  # the "Websocket connection established." greeting
    message = load_json(payload)
    if message["channel"] != "candle":
        return ()
    candle = _recorded(spot, message["data"])
    return () if candle is None else (candle,)


classImplements(HyperliquidPerpetual, IKlineRecording)

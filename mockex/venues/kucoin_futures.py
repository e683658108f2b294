"""
KuCoin futures (USDT-margined perpetuals) market data: the ``api-futures.kucoin.com``
REST endpoints a candle client uses, and the futures public WebSocket with its token
handshake. The token, welcome, ping, subscribe/ack machinery is the spot module's
(:mod:`mockex.venues.kucoin`); only the formats differ.

Sources:

* KuCoin's futures API docs (kucoin.com/docs/rest/futures-trading, mirrored as
  kucoin.btc-store.de): Get Klines (``GET /api/v1/kline/query``: ``symbol``,
  ``granularity`` in minutes from ``1 5 15 30 60 120 240 480 720 1440 10080`` ("requests
  beyond the above range will be rejected"), ``from``/``to`` in ms; rows
  ``[time ms, open, high, low, close, volume]`` as JSON numbers, oldest first; at most 500
  per request; only ``from``: 500 from it; only ``to``: the 500 closest to it; neither: the
  latest 500), Get Server Time (``{"code":"200000","data":<ms>}``), Get Service Status,
  Get Symbols List (``/api/v1/contracts/active``), Get Symbol Detail, Get Public Token
  (the futures host's ``POST /api/v1/bullet-public``), the Klines channel
  (``/contractMarket/limitCandle:{symbol}_{type}``, subject ``candle.stick``, candles as
  strings with the start time in seconds, ``time`` in ms).
* ccxt 4.5 (kucoin.py, kucoinfutures.py, pro/kucoin.py): ``fetch_contract_markets``
  (the contract fields it reads), ``fetch_contract_ohlcv`` (``from = since``,
  ``to = since + 200 candles``, granularity in minutes), ``fetch_time`` (futures
  ``timestamp``), ``negotiate`` (``futuresPublicPostBulletPublic``), ``watch_ohlcv``
  (``/contractMarket/limitCandle:``) and ``handle_ohlcv`` with its captured push
  (``"61.0"``, ``"61"``: index 5 "is incorrect", ccxt reads the volume from index 6).

Unverified choices (docs/venues/kucoin_perpetual.md):

* ``to`` is exclusive (as spot's ``endAt``); ``from`` rounds up to the next candle; a
  ``from``..``to`` range of more than 500 candles yields its first 500.
* The contract multiplier is the market's quantity step (10^-qty decimals, e.g. 0.00001
  BTC for XBTUSDTM where KuCoin has 0.001), so volumes in lots are whole numbers.
* Error texts (``granularity invalid``, ``Unsupported trading pair.``, ``from invalid``).
* The WebSocket push's index 5 repeats the lot count as ``"<n>.0"`` (the capture's shape).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from attrs import evolve, frozen
from zope.interface import implementer

from mockex.fmt import plain
from mockex.interfaces import (
    CandleUpdate,
    Feed,
    Handshake,
    IExchange,
    IStreamSession,
    ITopic,
    IVenueContext,
    Keepalive,
    RestRequest,
    RestResponse,
    RestRoute,
)
from mockex.intervals import CANONICAL, Interval
from mockex.market import Candle, Market, window
from mockex.venues import kucoin
from mockex.venues.common import DEFAULT_MARKETS as _REFERENCE_MARKETS
from mockex.venues.common import split_symbol

NAME = "kucoin_perpetual"
MAX_ROWS = 500

#: REST granularities (minutes) and the WebSocket type names of the same intervals.
GRANULARITIES: dict[str, Interval] = {
    "1": CANONICAL["1m"],
    "5": CANONICAL["5m"],
    "15": CANONICAL["15m"],
    "30": CANONICAL["30m"],
    "60": CANONICAL["1h"],
    "120": CANONICAL["2h"],
    "240": CANONICAL["4h"],
    "480": CANONICAL["8h"],
    "720": CANONICAL["12h"],
    "1440": CANONICAL["1d"],
    "10080": CANONICAL["1w"],
}
WS_TYPES: dict[str, Interval] = {
    "1min": CANONICAL["1m"],
    "5min": CANONICAL["5m"],
    "15min": CANONICAL["15m"],
    "30min": CANONICAL["30m"],
    "1hour": CANONICAL["1h"],
    "2hour": CANONICAL["2h"],
    "4hour": CANONICAL["4h"],
    "8hour": CANONICAL["8h"],
    "12hour": CANONICAL["12h"],
    "1day": CANONICAL["1d"],
    "1week": CANONICAL["1w"],
}

#: What kucoin_perpetual enforces (KuCoin "Rate Limit": the futures public pool, VIP0,
#: 2000 weight per 30 s per IP from the first request, with spot's headers and 429000
#: answer; WebSocket limits as spot). Weights from the futures docs' endpoint pages.
WEIGHTS: Mapping[str, int] = {
    "kline": 3, "timestamp": 2, "status": 4, "contracts.active": 3, "contract": 3,
    "bullet-public": 10, "currencies": 3,
}
LIMITS = evolve(kucoin.LIMITS, rest=evolve(kucoin.LIMITS.rest, weights=WEIGHTS))

#: USDT-margined perpetuals of the reference listing.
DEFAULT_MARKETS: tuple[Market, ...] = tuple(m for m in _REFERENCE_MARKETS if m.quote == "USDT")

_NUMBER_RE = re.compile(r"^[0-9]{1,19}$")


def futures_symbol(market: Market) -> str:
    """``XBTUSDTM`` (KuCoin spells bitcoin XBT on futures), ``ETHUSDTM``."""
    base = "XBT" if market.base == "BTC" else market.base
    return f"{base}{market.quote}M"


def _ms(request: RestRequest, context: IVenueContext, name: str) -> int | None:
    values = request.args.get(name)
    text = values[0] if values else None
    if text is None or text == "":
        return None
    if not _NUMBER_RE.match(text):
        raise kucoin._error(context, "400100", f"{name} invalid")
    return int(text)


def kline_row(candle: Candle, market: Market) -> bytes:
    """``[ms, open, high, low, close, lots]``, numbers (lots: the volume in quantity steps)."""
    p = market.price_decimals
    return (
        f"[{candle.open_ms},{plain(candle.open, p)},{plain(candle.high, p)},{plain(candle.low, p)},"
        f"{plain(candle.close, p)},{candle.volume}]"
    ).encode()


def contract_entry(symbol: str, market: Market, now_ms: int) -> dict[str, Any]:
    """One ``contracts/active`` entry, the fields ccxt reads in KuCoin's order."""
    multiplier = float(plain(1, market.qty_decimals))
    tick = float(plain(1, market.price_decimals))
    base = "XBT" if market.base == "BTC" else market.base
    return {
        "symbol": symbol,
        "rootSymbol": market.quote,
        "type": "FFWCSX",
        "firstOpenDate": market.listed_ms,
        "expireDate": None,
        "settleDate": None,
        "baseCurrency": base,
        "quoteCurrency": market.quote,
        "settleCurrency": market.quote,
        "maxOrderQty": 1000000,
        "maxPrice": 1000000.0,
        "lotSize": 1,
        "tickSize": tick,
        "indexPriceTickSize": tick,
        "multiplier": multiplier,
        "initialMargin": 0.008,
        "maintainMargin": 0.004,
        "maxRiskLimit": 100000,
        "minRiskLimit": 100000,
        "riskStep": 50000,
        "makerFeeRate": 0.0002,
        "takerFeeRate": 0.0006,
        "takerFixFee": 0.0,
        "makerFixFee": 0.0,
        "settlementFee": None,
        "isDeleverage": True,
        "isQuanto": False,
        "isInverse": False,
        "markMethod": "FairPrice",
        "fairMethod": "FundingRate",
        "fundingBaseSymbol": f".{base}INT8H",
        "fundingQuoteSymbol": f".{market.quote}INT8H",
        "fundingRateSymbol": f".{symbol}FPI8H",
        "indexSymbol": f".K{base}{market.quote}",
        "settlementSymbol": "",
        "status": "Open",
        "fundingFeeRate": 0.0001,
        "predictedFundingFeeRate": 0.0001,
        "fundingRateGranularity": 28800000,
        "nextFundingRateTime": 28800000 - now_ms % 28800000,
        "maxLeverage": 125,
    }


# ---------------------------------------------------------------------------
# REST handlers


def kline_query(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/kline/query``: oldest first, ms, at most 500."""
    symbol = (request.args.get("symbol") or [""])[0]
    granularity = (request.args.get("granularity") or [""])[0]
    start = _ms(request, context, "from")
    end = _ms(request, context, "to")
    interval = GRANULARITIES.get(granularity)
    if interval is None:
        raise kucoin._error(context, "400100", "granularity invalid")
    market = context.markets.get(symbol)
    if market is None:
        raise kucoin._error(context, "400100", "Unsupported trading pair.")
    now = context.now_ms()
    if end is not None:
        if end == 0 or (start is not None and end <= start):
            return kucoin._ok("[]")
        end -= 1  # exclusive
    first_available = context.source.first_open(market, interval)
    first, count = window(interval, 0, first_available, now, start, end, MAX_ROWS, market.listed_ms)
    body = context.rows.rows(
        market, interval, 0, first, count, now, (NAME,), lambda c: kline_row(c, market),
        prefix=kucoin._OK_HEAD + b"[", suffix=b"]}",
    )
    return RestResponse(200, body, content_type=kucoin.JSON)


def server_time(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v1/timestamp`` (futures: no ``msg``)."""
    return kucoin._ok(str(context.now_ms()))


def status(request: RestRequest, context: IVenueContext) -> RestResponse:
    return kucoin._ok('{"status":"open","msg":""}')


def contracts_active(request: RestRequest, context: IVenueContext) -> RestResponse:
    now = context.now_ms()
    entries = [contract_entry(name, market, now) for name, market in context.markets.items()]
    return kucoin._ok(kucoin._dumps(entries))


def contract(request: RestRequest, context: IVenueContext) -> RestResponse:
    name = request.path_args.get("symbol", "")
    market = context.markets.get(name)
    if market is None:
        raise kucoin._error(context, "400100", "Unsupported trading pair.")
    return kucoin._ok(kucoin._dumps(contract_entry(name, market, context.now_ms())))


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class LimitCandleTopic:
    """``/contractMarket/limitCandle:{symbol}_{type}`` as KuCoin futures pushes it."""

    feed: Feed
    symbol: str
    type_name: str

    def render(self, update: CandleUpdate) -> bytes:
        c = update.candle
        p = self.feed.market.price_decimals
        return (
            f'{{"topic":"/contractMarket/limitCandle:{self.symbol}_{self.type_name}","type":"message",'
            f'"data":{{"symbol":"{self.symbol}","candles":["{c.open_ms // 1000}","{plain(c.open, p)}",'
            f'"{plain(c.close, p)}","{plain(c.high, p)}","{plain(c.low, p)}","{c.volume}.0","{c.volume}"],'
            f'"time":{update.event_ms}}},"subject":"candle.stick"}}'
        ).encode()


FUTURES_CANDLES = kucoin.TopicFamily("/contractMarket/limitCandle:", WS_TYPES, LimitCandleTopic)


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class KucoinPerpetual:
    """The ``kucoin_perpetual`` venue."""

    name = NAME
    description = ("KuCoin futures: /api/v1/kline/query, contracts/active, bullet-public token, "
                   "/contractMarket/limitCandle channel")
    intervals: Mapping[str, Interval] = GRANULARITIES
    keepalive = kucoin.KucoinSpot.keepalive
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        text = symbol.upper()
        if text.endswith("USDTM"):
            text = text[:-1]
        if text.startswith("XBT"):
            text = "BTC" + text[3:]
        base, quote = split_symbol(text)
        if quote != "USDT":
            raise ValueError(f"{symbol!r} is not a KuCoin USDT-margined perpetual")
        return kucoin.kucoin_spot.market_for(f"{base}/{quote}", price)

    def symbol(self, market: Market) -> str:
        return futures_symbol(market)

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v1/kline/query", kline_query, "kline"),
            RestRoute("GET", "/api/v1/timestamp", server_time, "timestamp"),
            RestRoute("GET", "/api/v1/status", status, "status"),
            RestRoute("GET", "/api/v1/contracts/active", contracts_active, "contracts.active"),
            RestRoute("GET", "/api/v1/contracts/<symbol>", contract, "contract"),
            RestRoute("POST", "/api/v1/bullet-public", kucoin.bullet_public, "bullet-public"),
            # the spot host's currencies, which ccxt's load_markets asks for
            RestRoute("GET", "/api/v3/currencies", kucoin.currencies, "currencies"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/", "/endpoint")

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        return kucoin.kucoin_spot.error_response(kind, detail)

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        tokens = handshake.params.get("token") or [""]
        ids = handshake.params.get("connectId")
        return kucoin.KucoinSession(context, tokens[0], ids[0] if ids and ids[0] else None, FUTURES_CANDLES)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence[Any]:
        return recorded_kline_answer(self, path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence[Any]:
        return recorded_limit_candle_push(self, payload, binary)


kucoin_perpetual = KucoinPerpetual()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

import json  # noqa: E402

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402

#: the WebSocket's type names as the REST granularities (the same intervals)
_GRANULARITY_OF = {ws: rest for ws, interval in WS_TYPES.items() for rest, same in GRANULARITIES.items()
                   if same == interval}


def _base_volume(venue: Any, symbol: str, lots: int) -> str:
    """Lots as base volume: the contract multiplier is the market's quantity step (see
    the module docstring), so ``lots * 10**-qty_decimals``."""
    return plain(lots, venue.market_for(symbol, 1.0).qty_decimals)


@tolerant
def recorded_kline_answer(
    venue: Any, path: str, args: Mapping[str, Sequence[str]], answer: bytes
) -> Sequence[RecordedCandle]:
    """``/api/v1/kline/query``: ``{"code":"200000","data":[[ms, o, h, l, c, lots]]}``,
    numbers, oldest first (Get Klines). Prices are read as the text they were written
    in (never through a float); no quote volume, trades or taker volumes."""
    if path != "/api/v1/kline/query":
        return ()
    granularity = text(first_arg(args, "granularity"))
    symbol = text(first_arg(args, "symbol"))
    envelope = json.loads(answer, parse_float=str, parse_int=str)
    if envelope["code"] != kucoin.SUCCESS or granularity not in GRANULARITIES:
        return ()
    return [
        RecordedCandle(
            symbol, granularity, whole(r[0]), decimal_text(r[1]), decimal_text(r[2]), decimal_text(r[3]),
            decimal_text(r[4]), _base_volume(venue, symbol, whole(r[5])),
        )
        for r in envelope["data"]
    ]


@tolerant
def recorded_limit_candle_push(venue: Any, payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``{"topic":"/contractMarket/limitCandle:{symbol}_{type}","data":{"symbol","candles":
    [time s, open, close, high, low, "lots.0", "lots"]},"subject":"candle.stick"}``;
    no closed flag (``closed`` None: the recorder's next-open-time rule)."""
    if binary:
        return ()
    message = load_json(payload)
    topic = text(message["topic"])
    prefix = "/contractMarket/limitCandle:"
    if message.get("subject") != "candle.stick" or not topic.startswith(prefix):
        return ()
    symbol, _, type_name = topic[len(prefix):].rpartition("_")
    granularity = _GRANULARITY_OF.get(type_name)
    if granularity is None:
        return ()
    row = message["data"]["candles"]
    return [RecordedCandle(
        symbol, granularity, whole(row[0]) * 1000, decimal_text(row[1]), decimal_text(row[3]),
        decimal_text(row[4]), decimal_text(row[2]), _base_volume(venue, symbol, whole(row[6])),
    )]


classImplements(KucoinPerpetual, IKlineRecording)

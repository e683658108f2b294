"""
Gate USDT-settled perpetual futures market data: the ``api.gateio.ws/api/v4/futures``
REST endpoints a candle client uses, and the futures WebSocket
``fx-ws.gateio.ws/v4/ws/usdt``. The request checks, candle window rules and the
WebSocket session are the spot module's (:mod:`mockex.venues.gate`); formats differ.

Sources:

* Gate's API v4 docs and its generated SDK (gate-api, ``FuturesApi.md``): Get futures
  candlesticks (``GET /futures/{settle}/candlesticks``: ``contract``, ``interval``
  default ``5m``, ``from`` ("default to ``to - 100 * interval``"), ``to``, ``limit``
  default 100 "conflicted with ``from`` and ``to``"; "maximum of 2000 points"; "``1w``
  means natural week (Mon-Sun), while ``7d`` means every 7d since unix 0"), rows
  ``{"t","v","c","h","l","o","sum"}`` (``t`` seconds, ``v`` size in contracts, ``sum``
  quote volume), List all futures contracts (``name``, ``quanto_multiplier``,
  ``order_price_round``, ``order_size_min`` ...), error labels (``CONTRACT_NOT_FOUND``).
* Gate's futures WebSocket v4 docs: ``futures.candlesticks`` with payload
  ``[interval, contract]``, pushes whose ``result`` is a list of
  ``{"t","v","c","h","l","o","n","a"}``, ``futures.ping`` -> ``futures.pong``.
* ccxt 4.5 (gate.py, pro/gate.py): ``fetch_swap_markets`` (``/futures/usdt/contracts``),
  ``parse_contract_market``, ``fetch_ohlcv`` for contracts (``from``/``to = from +
  (limit - 1) candles``, ``maxLimit`` 1999), ``parse_ohlcv`` (``v`` is the volume), the
  ``X-Gate-Size-Decimal: 1`` header it sends on futures REST and WebSocket ("contract
  sizes are pushed as decimal strings instead of rounded-down integers"), and
  ``handle_ohlcv`` (a list ``result``).

Unverified choices (docs/venues/gate_io_perpetual.md), beyond the spot module's:

* ``quanto_multiplier`` is the market's quantity step (10^-qty decimals; Gate's
  BTC_USDT has 0.0001), so sizes are whole numbers of contracts.
* A ``from``..``to`` range of more than 2000 candles yields its first 2000; ``from``
  alone: 2000 from it.
* ``a`` (WebSocket) is the base volume and ``w`` marks the closing push, as on spot.
* The answers' envelope (``conn_id``, ``trace_id``, ``requestId``) is spot's.
* Error text ``Contract not found``; the ``btc`` settle lists no contracts.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from attrs import frozen
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
from mockex.intervals import CANONICAL, SECOND_MS, WEEK_MS, Interval
from mockex.market import QUOTE_DECIMALS, Candle, Market
from mockex.venues import gate
from mockex.venues.common import DEFAULT_MARKETS as _REFERENCE_MARKETS

NAME = "gate_io_perpetual"
JSON = gate.JSON
MAX_LIMIT = 2000
SETTLES = ("usdt", "btc")

#: Futures candlestick intervals (``7d`` every 7 days since the epoch, a Thursday;
#: ``1w`` a Monday week; ``30d`` a calendar month).
INTERVALS: dict[str, Interval] = {
    "10s": Interval.fixed(10 * SECOND_MS),
    "30s": Interval.fixed(30 * SECOND_MS),
    "1m": CANONICAL["1m"],
    "5m": CANONICAL["5m"],
    "15m": CANONICAL["15m"],
    "30m": CANONICAL["30m"],
    "1h": CANONICAL["1h"],
    "2h": CANONICAL["2h"],
    "4h": CANONICAL["4h"],
    "6h": CANONICAL["6h"],
    "8h": CANONICAL["8h"],
    "12h": CANONICAL["12h"],
    "1d": CANONICAL["1d"],
    "7d": Interval.fixed(WEEK_MS),
    "1w": CANONICAL["1w"],
    "30d": CANONICAL["1M"],
}

#: What gate_io_perpetual enforces: spot's rule (API v4 "Frequency limit rule": public
#: endpoints 200 requests per 10 s per endpoint per IP, the X-Gate-RateLimit-* headers,
#: 429 TOO_MANY_REQUESTS, no ban), which the docs give for every public endpoint.
LIMITS = gate.LIMITS

#: USDT-settled perpetuals of the reference listing.
DEFAULT_MARKETS: tuple[Market, ...] = tuple(m for m in _REFERENCE_MARKETS if m.quote == "USDT")


def _size(value: int, decimal: bool) -> str:
    """A size in contracts: an integer, or a decimal string (``X-Gate-Size-Decimal: 1``)."""
    return f'"{value}"' if decimal else str(value)


def _size_decimal(headers: Mapping[str, str]) -> bool:
    return headers.get("x-gate-size-decimal") == "1"


def candle_object(candle: Candle, market: Market, decimal: bool) -> bytes:
    """``{"t","v","c","h","l","o","sum"}``, Gate's key order."""
    p = market.price_decimals
    return (
        f'{{"t":{candle.open_ms // 1000},"v":{_size(candle.volume, decimal)},"c":"{plain(candle.close, p)}",'
        f'"h":"{plain(candle.high, p)}","l":"{plain(candle.low, p)}","o":"{plain(candle.open, p)}",'
        f'"sum":"{plain(candle.quote_volume, QUOTE_DECIMALS)}"}}'
    ).encode()


def contract_entry(name: str, market: Market, now_ms: int, price: str) -> dict[str, Any]:
    """One ``/futures/usdt/contracts`` entry (the fields ccxt reads, Gate's order)."""
    listed = market.listed_ms // 1000
    funding = 28_800
    return {
        "funding_rate_indicative": "0.0001",
        "mark_price_round": plain(1, market.price_decimals),
        "funding_offset": 0,
        "in_delisting": False,
        "risk_limit_base": "1000000",
        "interest_rate": "0.0003",
        "index_price": price,
        "order_price_round": plain(1, market.price_decimals),
        "order_size_min": 1,
        "enable_decimal": False,
        "ref_rebate_rate": "0.2",
        "name": name,
        "ref_discount_rate": "0",
        "order_price_deviate": "0.05",
        "maintenance_rate": "0.004",
        "mark_type": "index",
        "funding_interval": funding,
        "type": "direct",
        "risk_limit_step": "1000000",
        "enable_bonus": True,
        "enable_credit": True,
        "leverage_min": "1",
        "funding_rate": "0.0001",
        "last_price": price,
        "mark_price": price,
        "order_size_max": 1000000,
        "funding_next_apply": (now_ms // 1000 // funding + 1) * funding,
        "short_users": 0,
        "config_change_time": listed,
        "create_time": listed,
        "trade_size": 0,
        "position_size": 0,
        "long_users": 0,
        "quanto_multiplier": plain(1, market.qty_decimals),
        "funding_impact_value": "60000",
        "leverage_max": "125",
        "cross_leverage_default": "10",
        "risk_limit_max": "30000000",
        "maker_fee_rate": "-0.0001",
        "taker_fee_rate": "0.00075",
        "orders_limit": 100,
        "trade_id": 0,
        "orderbook_id": 0,
        "funding_cap_ratio": "0.75",
        "voucher_leverage": "0",
        "is_pre_market": False,
        "status": "trading",
        "launch_time": listed,
        "enable_circuit_breaker": False,
        "funding_rate_limit": "0.003",
        "market_order_slip_ratio": "0.05",
        "market_order_size_max": "1000000",
        "contract_type": "",
    }


# ---------------------------------------------------------------------------
# REST handlers


def _settle(request: RestRequest) -> str:
    settle = request.path_args.get("settle", "")
    if settle not in SETTLES:
        raise gate.fail("INVALID_PARAM_VALUE", f"Invalid settle: {settle}")
    return settle


def _contract(request: RestRequest, context: IVenueContext, settle: str, name: str) -> Market:
    market = context.markets.get(name) if settle == "usdt" else None
    if market is None:
        raise gate.fail("CONTRACT_NOT_FOUND", "Contract not found", 400)
    return market


def candlesticks(request: RestRequest, context: IVenueContext) -> RestResponse:
    """``GET /api/v4/futures/{settle}/candlesticks``: objects, oldest first, seconds."""
    settle = _settle(request)
    name = request.arg("contract")
    if not name:
        raise gate.fail("MISSING_REQUIRED_PARAM", "Missing required parameter: contract")
    interval_name = request.arg("interval") or "5m"
    interval = INTERVALS.get(interval_name)
    if interval is None:
        raise gate.fail("INVALID_PARAM_VALUE", f"Invalid interval: {interval_name}")
    limit, start, end = gate.candlestick_args(request)
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise gate.fail("INVALID_PARAM_VALUE", f"limit must be between 1 and {MAX_LIMIT}")
    market = _contract(request, context, settle, name)
    first, count = gate.candle_window(context, market, interval, limit, start, end, MAX_LIMIT)
    if not count:
        return RestResponse(200, b"[]", content_type=JSON)
    decimal = _size_decimal(request.headers)
    body = context.rows.rows(
        market, interval, 0, first, count, context.now_ms(), (NAME, decimal),
        lambda c: candle_object(c, market, decimal), prefix=b"[", suffix=b"]",
    )
    return RestResponse(200, body, content_type=JSON)


def _price(context: IVenueContext, market: Market) -> str:
    minute = CANONICAL["1m"]
    now = context.now_ms()
    candle = context.source.candle(market, minute, minute.floor(now), now, 0)
    return plain(candle.close, market.price_decimals) if candle is not None else "0"


def contracts(request: RestRequest, context: IVenueContext) -> RestResponse:
    settle = _settle(request)
    if settle != "usdt":
        return RestResponse(200, b"[]", content_type=JSON)
    now = context.now_ms()
    entries = [contract_entry(n, m, now, _price(context, m)) for n, m in context.markets.items()]
    return RestResponse(200, gate._dumps(entries).encode(), content_type=JSON)


def contract(request: RestRequest, context: IVenueContext) -> RestResponse:
    settle = _settle(request)
    name = request.path_args.get("contract", "")
    market = _contract(request, context, settle, name)
    entry = contract_entry(name, market, context.now_ms(), _price(context, market))
    return RestResponse(200, gate._dumps(entry).encode(), content_type=JSON)


# ---------------------------------------------------------------------------
# Streams


@implementer(ITopic)
@frozen
class FuturesCandleTopic:
    """``futures.candlesticks`` for one ``[interval, contract]``."""

    feed: Feed
    name: str  # "1m_BTC_USDT"
    size_decimal: bool = False

    def render(self, update: CandleUpdate) -> bytes:
        c = update.candle
        market = self.feed.market
        p, q = market.price_decimals, market.qty_decimals
        return (
            f'{{"time":{update.event_ms // 1000},"time_ms":{update.event_ms},"channel":"futures.candlesticks",'
            f'"event":"update","result":[{{"t":{c.open_ms // 1000},"v":{_size(c.volume, self.size_decimal)},'
            f'"c":"{plain(c.close, p)}","h":"{plain(c.high, p)}","l":"{plain(c.low, p)}","o":"{plain(c.open, p)}",'
            f'"n":"{self.name}","a":"{plain(c.volume, q)}","w":{"true" if c.closed else "false"}}}]}}'
        ).encode()


FUTURES_CHANNEL = gate.CandleChannel(
    "futures", INTERVALS,
    lambda feed, name, headers: FuturesCandleTopic(feed, name, _size_decimal(headers)),
)


# ---------------------------------------------------------------------------
# The plugin


@implementer(IExchange)
class GatePerpetual:
    """The ``gate_io_perpetual`` venue."""

    name = NAME
    description = ("Gate USDT perpetuals: /api/v4/futures/usdt/candlesticks, contracts; "
                   "futures.candlesticks on /v4/ws/usdt")
    intervals: Mapping[str, Interval] = INTERVALS
    keepalive = Keepalive()
    limits = LIMITS

    def default_markets(self) -> Sequence[Market]:
        return DEFAULT_MARKETS

    def market_for(self, symbol: str, price: float) -> Market:
        market = gate.gate_io_spot.market_for(symbol, price)
        if market.quote != "USDT":
            raise ValueError(f"{symbol!r} is not a Gate USDT-settled contract")
        return market

    def symbol(self, market: Market) -> str:
        return gate.gate_symbol(market)

    def rest_routes(self) -> Sequence[RestRoute]:
        return (
            RestRoute("GET", "/api/v4/futures/<settle>/candlesticks", candlesticks, "futures.candlesticks"),
            RestRoute("GET", "/api/v4/futures/<settle>/contracts", contracts, "futures.contracts"),
            RestRoute("GET", "/api/v4/futures/<settle>/contracts/<contract>", contract, "futures.contract"),
            RestRoute("GET", "/api/v4/spot/time", gate.server_time, "time"),
            # the other families ccxt's default load_markets asks for: none listed here
            RestRoute("GET", "/api/v4/spot/currencies", gate.empty_list, "spot.currencies"),
            RestRoute("GET", "/api/v4/spot/currency_pairs", gate.empty_list, "spot.currency_pairs"),
            RestRoute("GET", "/api/v4/margin/currency_pairs", gate.empty_list, "margin.currency_pairs"),
            RestRoute("GET", "/api/v4/delivery/<settle>/contracts", gate.empty_list, "delivery.contracts"),
            RestRoute("GET", "/api/v4/options/underlyings", gate.empty_list, "options.underlyings"),
        )

    def ws_paths(self) -> Sequence[str]:
        return ("/v4/ws/usdt",)

    def error_response(self, kind: str, detail: str = "") -> RestResponse:
        return gate.gate_io_spot.error_response(kind, detail)

    def open_session(self, handshake: Handshake, context: IVenueContext) -> IStreamSession:
        return gate.GateSession(context, FUTURES_CHANNEL, handshake.headers)

    def stream_period_ms(self, interval: Interval) -> int:
        return 1000

    # IKlineRecording (declared at the end of the module)

    def recorded_rest_klines(
        self, path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence[Any]:
        return recorded_futures_candlesticks_answer(self, path, args, answer)

    def recorded_stream_klines(self, payload: bytes, binary: bool) -> Sequence[Any]:
        return recorded_futures_candlesticks_push(payload, binary)


gate_io_perpetual = GatePerpetual()


# ---------------------------------------------------------------------------
# Recording (mockex.record): the rows and pushes this module emits, read back

from zope.interface import classImplements  # noqa: E402

from mockex.interfaces import IKlineRecording, RecordedCandle  # noqa: E402
from mockex.venues.recording import decimal_text, first_arg, load_json, text, tolerant, whole  # noqa: E402


@tolerant
def recorded_futures_candlesticks_answer(
    venue: Any, path: str, args: Mapping[str, Sequence[str]], answer: bytes
) -> Sequence[RecordedCandle]:
    """``/futures/usdt/candlesticks``: ``{"t","v","c","h","l","o","sum"}``, oldest first
    (Get futures candlesticks; ``interval`` defaults to ``5m``): ``v`` is contracts (an
    integer, or a string with ``X-Gate-Size-Decimal``), base volume ``v x
    quanto_multiplier`` (the market's quantity step here); ``sum`` the quote volume."""
    if path != "/api/v4/futures/usdt/candlesticks":
        return ()
    contract = text(first_arg(args, "contract"))
    interval = first_arg(args, "interval") or "5m"
    if interval not in INTERVALS:
        return ()
    decimals = venue.market_for(contract, 1.0).qty_decimals
    return [
        RecordedCandle(
            contract, interval, whole(r["t"]) * 1000, decimal_text(r["o"]), decimal_text(r["h"]),
            decimal_text(r["l"]), decimal_text(r["c"]), plain(whole(r["v"]), decimals), decimal_text(r["sum"]),
        )
        for r in load_json(answer)
    ]


@tolerant
def recorded_futures_candlesticks_push(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
    """``futures.candlesticks`` updates, ``result`` a list; ``a`` is the base volume. The
    push shows no quote volume (recorded empty: replayed as volume x close)."""
    if binary:
        return ()
    message = load_json(payload)
    if message.get("channel") != "futures.candlesticks" or message.get("event") != "update":
        return ()
    out = []
    for result in message["result"]:
        candle = gate.channel_candle(result, INTERVALS, lambda pair, r: decimal_text(r["a"]), None)
        if candle is not None:
            out.append(candle)
    return out


classImplements(GatePerpetual, IKlineRecording)

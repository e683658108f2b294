"""
Pointing clients at a mockex server: ccxt (and ccxt.pro) for every venue, and the
venues' own SDKs.

Only base URLs change, as a user would change them; the options keep ccxt to the
market type the venue serves (otherwise ``load_markets`` also asks for markets the venue
does not serve, from URLs mockex does not answer). The URL keys come from ccxt 4.5's
``describe()['urls']`` and were checked end to end by mockex/test/test_e2e_*.py::

    import ccxt
    from mockex import ccxt_exchange, ccxt_config

    exchange = ccxt_exchange(server)                 # a ccxt.binance pointed at server
    exchange = ccxt_exchange(server, pro=True)       # ccxt.pro (asyncio, WebSocket)
    exchange = ccxt.binance(ccxt_config(server))     # the same, as constructor config

``server`` is a :class:`~mockex.facade.MockedCandleFeedServer`, a
:class:`~mockex.server.MockServer`, or anything with ``url``, ``ws_url``, ``host``,
``port`` and a venue name (``venue``).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

__all__ = [
    "CCXT_IDS",
    "ccxt_config",
    "ccxt_exchange",
    "hyperliquid_info",
    "okx_market_api",
    "point_ccxt",
    "pybit_http",
]


def _venue(server: Any) -> str:
    venue = getattr(server, "venue", None)
    if isinstance(venue, str):
        return venue
    name = getattr(venue, "name", None)
    if isinstance(name, str):
        return name
    raise TypeError(f"{server!r} names no venue")


def _ws_root(server: Any) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"ws://{host}:{server.port}"


def _binance_spot(api: dict[str, Any], server: Any) -> None:
    api["public"] = server.url + "/api/v3"
    api["private"] = server.url + "/api/v3"
    api["v1"] = server.url + "/api/v1"
    if "ws" in api:
        api["ws"]["spot"] = server.ws_url
        api["ws"]["margin"] = server.ws_url


def _binance_linear(api: dict[str, Any], server: Any) -> None:
    for key in list(api):
        if key.startswith("fapi"):
            api[key] = api[key].replace("https://fapi.binance.com", server.url)
    if "ws" in api:
        api["ws"]["linear"] = _ws_root(server) + "/ws"


def _bybit(category: str) -> Callable[[dict[str, Any], Any], None]:
    def point(api: dict[str, Any], server: Any) -> None:
        for key in ("public", "spot", "futures", "v2", "private"):
            api[key] = server.url
        api["ws"] = {"public": {category: f"{_ws_root(server)}/v5/public/{category}"}}

    return point


def _okx(api: dict[str, Any], server: Any) -> None:
    api["rest"] = server.url
    api["ws"] = _ws_root(server) + "/ws/v5"


def _kucoin(api: dict[str, Any], server: Any) -> None:
    api["public"] = server.url
    api["futuresPublic"] = server.url


def _gate(api: dict[str, Any], server: Any) -> None:
    for family in list(api["public"]):
        api["public"][family] = server.url + "/api/v4"
    if "spot" in api:
        api["spot"] = server.ws_url + "/"


def _gate_swap(api: dict[str, Any], server: Any) -> None:
    for family in list(api["public"]):
        api["public"][family] = server.url + "/api/v4"
    if "swap" in api:
        api["swap"]["usdt"] = server.ws_url


def _mexc(ws_key: str) -> Callable[[dict[str, Any], Any], None]:
    def point(api: dict[str, Any], server: Any) -> None:
        api["spot"]["public"] = server.url
        api["contract"]["public"] = server.url + "/api/v1/contract"
        if "ws" in api:
            api["ws"][ws_key] = server.ws_url

    return point


def _kraken(api: dict[str, Any], server: Any) -> None:
    api["public"] = server.url
    if "ws" in api:
        api["ws"]["publicV2"] = server.ws_url


def _hyperliquid(api: dict[str, Any], server: Any) -> None:
    api["public"] = server.url
    api["private"] = server.url
    if "ws" in api:
        api["ws"]["public"] = server.ws_url


def _coinbase(api: dict[str, Any], server: Any) -> None:
    api["rest"] = server.url
    if "ws" in api:
        api["ws"] = server.ws_url


#: venue -> (ccxt id, how to point urls["api"], ccxt options, a unified symbol it lists)
_CCXT: dict[str, tuple[str, Callable[[dict[str, Any], Any], None], dict[str, Any], str]] = {
    "binance_spot": ("binance", _binance_spot,
                     {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
                     "BTC/USDT"),
    "binance_perpetual": ("binance", _binance_linear,
                          {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False, "defaultType": "swap"},
                          "BTC/USDT:USDT"),
    "bybit_spot": ("bybit", _bybit("spot"),
                   {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}, "BTC/USDT"),
    "bybit_perpetual": ("bybit", _bybit("linear"),
                        {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False}, "BTC/USDT:USDT"),
    "okx_spot": ("okx", _okx, {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}, "BTC/USDT"),
    "okx_perpetual": ("okx", _okx, {"fetchMarkets": {"types": ["swap"]}, "fetchCurrencies": False},
                      "BTC/USDT:USDT"),
    "kucoin_spot": ("kucoin", _kucoin, {}, "BTC/USDT"),
    "kucoin_perpetual": ("kucoinfutures", _kucoin, {}, "BTC/USDT:USDT"),
    "gate_io_perpetual": ("gate", _gate_swap, {"defaultType": "swap"}, "BTC/USDT:USDT"),
    "mexc_spot": ("mexc", _mexc("spot"), {}, "BTC/USDT"),
    "mexc_perpetual": ("mexc", _mexc("swap"), {"defaultType": "swap"}, "BTC/USDT:USDT"),
    "gate_io_spot": ("gate", _gate, {}, "BTC/USDT"),
    "kraken_spot": ("kraken", _kraken, {}, "BTC/USDT"),
    "hyperliquid_spot": ("hyperliquid", _hyperliquid, {}, "PURR/USDC"),
    "hyperliquid_perpetual": ("hyperliquid", _hyperliquid, {}, "BTC/USDC:USDC"),
    "coinbase_advanced_trade": ("coinbase", _coinbase, {}, "BTC/USD"),
}

#: venue -> ccxt exchange id, for every venue ccxt can be pointed at
CCXT_IDS: dict[str, str] = {venue: spec[0] for venue, spec in _CCXT.items()}


def _spec(server: Any) -> tuple[str, Callable[[dict[str, Any], Any], None], dict[str, Any], str]:
    venue = _venue(server)
    try:
        return _CCXT[venue]
    except KeyError:
        raise ValueError(
            f"no ccxt mapping for venue {venue!r} (known: {', '.join(sorted(_CCXT))})"
        ) from None


def ccxt_symbol(server: Any) -> str:
    """A unified symbol the venue lists by default (``BTC/USDT``, ``BTC/USDT:USDT``...)."""
    return _spec(server)[3]


def point_ccxt(exchange: Any, server: Any) -> Any:
    """Point an existing ccxt (or ccxt.pro) instance at ``server``; returns it."""
    _id, point, options, _symbol = _spec(server)
    point(exchange.urls["api"], server)
    exchange.options = exchange.deep_extend(exchange.options, copy.deepcopy(options))
    return exchange


def _module(pro: bool, async_support: bool) -> Any:
    try:
        if pro:
            import ccxt.pro as module
        elif async_support:
            import ccxt.async_support as module
        else:
            import ccxt as module
    except ImportError as e:
        raise ImportError("ccxt is not installed (pip install ccxt)") from e
    return module


def ccxt_exchange(server: Any, *, pro: bool = False, async_support: bool = False,
                  config: dict[str, Any] | None = None) -> Any:
    """
    A new ccxt instance of the venue's exchange class, pointed at ``server``:
    synchronous ``ccxt`` by default, ``ccxt.pro`` (asyncio, with ``watch_*``) with
    ``pro=True``, ``ccxt.async_support`` with ``async_support=True``. ``config`` is
    passed to the constructor (e.g. ``{"timeout": 5000}``). Asynchronous instances
    must be closed by the caller (``await exchange.close()``).
    """
    exchange_id = _spec(server)[0]
    exchange = getattr(_module(pro, async_support), exchange_id)(dict(config or {}))
    return point_ccxt(exchange, server)


def ccxt_config(server: Any) -> dict[str, Any]:
    """
    The constructor configuration that points the venue's ccxt class at ``server``:
    ``{"urls": {"api": ...}, "options": ...}``; also carries ``"id"`` (the ccxt id).
    ccxt deep-merges it over its own description, so it suits ``ccxt``,
    ``ccxt.async_support`` and ``ccxt.pro`` alike::

        config = ccxt_config(server)
        exchange = getattr(ccxt, config.pop("id"))(config)
    """
    exchange = ccxt_exchange(server, pro=_has_pro())
    try:
        return {
            "id": exchange.id,
            "urls": {"api": copy.deepcopy(exchange.urls["api"])},
            "options": copy.deepcopy(_spec(server)[2]),
        }
    finally:
        close = getattr(exchange, "close", None)
        if close is not None and _has_pro():
            # A ccxt.pro instance that never connected holds no session; its close()
            # is a coroutine, and closing it needs no running loop work.
            coroutine = close()
            coroutine.close()


def _has_pro() -> bool:
    try:
        import ccxt.pro  # noqa: F401
    except ImportError:
        return False
    return True


# -- the venues' own SDKs ------------------------------------------------------------------


def pybit_http(server: Any, **kwargs: Any) -> Any:
    """A ``pybit.unified_trading.HTTP`` session whose ``endpoint`` is ``server`` (Bybit venues)."""
    from pybit.unified_trading import HTTP

    session = HTTP(testnet=False, **kwargs)
    session.endpoint = server.url
    return session


def pybit_public_wss(server: Any) -> str:
    """
    The value for ``pybit.unified_trading.PUBLIC_WSS`` (a module constant pybit formats
    with the channel type), so that ``WebSocket(channel_type=...)`` connects to ``server``.
    """
    return _ws_root(server) + "/v5/public/{CHANNEL_TYPE}"


def okx_market_api(server: Any, **kwargs: Any) -> Any:
    """A python-okx ``MarketData.MarketAPI`` on ``server`` (OKX venues; REST only)."""
    import okx.MarketData as MarketData

    kwargs.setdefault("flag", "0")
    kwargs.setdefault("debug", False)
    return MarketData.MarketAPI(domain=server.url, **kwargs)


def hyperliquid_info(server: Any, skip_ws: bool = True, **kwargs: Any) -> Any:
    """A hyperliquid-python-sdk ``Info`` on ``server`` (Hyperliquid venues)."""
    from hyperliquid.info import Info

    return Info(server.url, skip_ws=skip_ws, **kwargs)

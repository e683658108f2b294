"""
What venues share about markets: the reference listing and how symbols split.

Every venue lists the same underlying markets by default (so BTC/USDT has the same
history on every venue of a server with the same seed), spelled its own way. The tick
and lot sizes and listing dates are Binance spot's, the most widely mirrored listing.
"""

from __future__ import annotations

from mockex.intervals import HOUR_MS, days_from_civil
from mockex.market import Market

#: Quote assets, longest first, for splitting ``BTCUSDT`` into BTC and USDT.
QUOTES = (
    "FDUSD", "USDT", "USDC", "TUSD", "BUSD", "USDP", "BIDR", "IDRT", "BTC", "ETH",
    "BNB", "EUR", "TRY", "BRL", "JPY", "GBP", "AUD", "DAI", "PLN", "RON", "UAH",
    "ZAR", "ARS", "MXN", "COP", "CZK", "XRP", "DOGE", "TRX", "SOL", "USD",
)


_DAY = 86_400_000


def _listed(y: int, m: int, d: int, hour: int = 0) -> int:
    return days_from_civil(y, m, d) * _DAY + hour * HOUR_MS


#: The default listing: tick/lot sizes as Binance lists them, listing dates of the
#: real symbols, prices of late 2025.
DEFAULT_MARKETS: tuple[Market, ...] = (
    Market.create("BTC", "USDT", 90_000.0, price_decimals=2, qty_decimals=5,
                  listed_ms=_listed(2017, 8, 17, 4), daily_volume=20_000.0, daily_trades=3_000_000,
                  daily_volatility=0.025),
    Market.create("ETH", "USDT", 3_000.0, price_decimals=2, qty_decimals=4,
                  listed_ms=_listed(2017, 8, 17, 4), daily_volume=400_000.0, daily_trades=2_000_000,
                  daily_volatility=0.035),
    Market.create("BNB", "USDT", 900.0, price_decimals=2, qty_decimals=3,
                  listed_ms=_listed(2017, 11, 6, 3), daily_volume=250_000.0, daily_trades=500_000,
                  daily_volatility=0.03),
    Market.create("SOL", "USDT", 140.0, price_decimals=2, qty_decimals=3,
                  listed_ms=_listed(2020, 8, 11, 6), daily_volume=3_000_000.0, daily_trades=1_500_000,
                  daily_volatility=0.045),
    Market.create("XRP", "USDT", 2.2, price_decimals=4, qty_decimals=1,
                  listed_ms=_listed(2018, 5, 4, 8), daily_volume=150_000_000.0, daily_trades=600_000,
                  daily_volatility=0.04),
    Market.create("DOGE", "USDT", 0.16, price_decimals=5, qty_decimals=0,
                  listed_ms=_listed(2019, 7, 5, 12), daily_volume=900_000_000.0, daily_trades=400_000,
                  daily_volatility=0.05),
    Market.create("ETH", "BTC", 0.033, price_decimals=5, qty_decimals=4,
                  listed_ms=_listed(2017, 7, 14, 4), daily_volume=30_000.0, daily_trades=150_000,
                  daily_volatility=0.025),
)


def split_symbol(text: str) -> tuple[str, str]:
    """``BTCUSDT``, ``BTC/USDT``, ``BTC-USDT`` or ``BTC_USDT`` as (base, quote)."""
    for sep in ("/", "-", "_"):
        if sep in text:
            base, _, quote = text.partition(sep)
            if base and quote:
                return base.upper(), quote.upper()
            break
    upper = text.upper()
    for quote in QUOTES:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    raise ValueError(f"cannot tell the base and quote assets of {text!r}; write it as BASE/QUOTE")


def reference_market(base: str, quote: str, price: float) -> Market:
    """
    A market at ``price``: with the reference listing's tick and lot sizes, listing date
    and volatility when it lists ``base/quote``, else with defaults derived from the price.
    """
    for market in DEFAULT_MARKETS:
        if (market.base, market.quote) == (base, quote):
            return Market.create(
                base, quote, price,
                price_decimals=market.price_decimals, qty_decimals=market.qty_decimals,
                listed_ms=market.listed_ms, daily_volatility=market.daily_volatility,
            )
    return Market.create(base, quote, price)

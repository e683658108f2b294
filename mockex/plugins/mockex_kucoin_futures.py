"""KuCoin futures (a Twisted dropin)."""

from mockex.venues.kucoin_futures import kucoin_perpetual

__all__ = ["kucoin_perpetual"]

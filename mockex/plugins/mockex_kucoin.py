"""KuCoin venues (a Twisted dropin)."""

from mockex.venues.kucoin import kucoin_spot

__all__ = ["kucoin_spot"]

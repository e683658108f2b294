"""The Coinbase Advanced Trade venue (a Twisted dropin)."""

from mockex.venues.coinbase import coinbase_advanced_trade

__all__ = ["coinbase_advanced_trade"]

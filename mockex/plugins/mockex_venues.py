"""The venues that ship with mockex (a Twisted dropin)."""

from mockex.venues.binance import binance_spot

__all__ = ["binance_spot"]

"""Binance USD-M perpetual futures (a Twisted dropin)."""

from mockex.venues.binance_futures import binance_perpetual

__all__ = ["binance_perpetual"]

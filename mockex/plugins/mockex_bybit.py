"""Bybit spot and USDT perpetuals (a Twisted dropin)."""

from mockex.venues.bybit import bybit_perpetual, bybit_spot

__all__ = ["bybit_spot", "bybit_perpetual"]

"""MEXC venues (a Twisted dropin)."""

from mockex.venues.mexc import mexc_perpetual, mexc_spot

__all__ = ["mexc_spot", "mexc_perpetual"]

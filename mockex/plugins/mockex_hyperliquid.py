"""The Hyperliquid venues (a Twisted dropin)."""

from mockex.venues.hyperliquid import hyperliquid_perpetual, hyperliquid_spot

__all__ = ["hyperliquid_perpetual", "hyperliquid_spot"]

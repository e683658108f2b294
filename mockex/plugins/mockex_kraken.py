"""Kraken venues (a Twisted dropin)."""

from mockex.venues.kraken import kraken_spot

__all__ = ["kraken_spot"]

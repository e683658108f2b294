"""OKX spot and USDT perpetual swaps (a Twisted dropin)."""

from mockex.venues.okx import okx_perpetual, okx_spot

__all__ = ["okx_spot", "okx_perpetual"]

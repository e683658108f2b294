"""Gate USDT perpetuals (a Twisted dropin)."""

from mockex.venues.gate_futures import gate_io_perpetual

__all__ = ["gate_io_perpetual"]

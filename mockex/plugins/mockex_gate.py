"""Gate venues (a Twisted dropin)."""

from mockex.venues.gate import gate_io_spot

__all__ = ["gate_io_spot"]

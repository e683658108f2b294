"""The AscendEX spot venue (a Twisted dropin)."""

from mockex.venues.ascendex import ascend_ex_spot

__all__ = ["ascend_ex_spot"]

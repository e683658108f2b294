"""The generic ``mock`` venue (a Twisted dropin)."""

from mockex.venues.mock import mock

__all__ = ["mock"]

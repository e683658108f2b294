"""
mockex: a local, offline stand-in for cryptocurrency exchange market-data APIs.

The seed document's API is importable from here::

    from mockex import ExchangeType, MockedCandleFeedServer

Names are imported lazily, so ``import mockex`` (as twistd's plugin discovery does)
stays cheap and never touches a reactor.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ExchangeType",
    "MockedCandleFeedServer",
    "ServerError",
    "VenueNotInstalled",
    "ccxt_config",
    "ccxt_exchange",
]

_LAZY = {
    "ExchangeType": "mockex.facade",
    "MockedCandleFeedServer": "mockex.facade",
    "ServerError": "mockex.facade",
    "VenueNotInstalled": "mockex.facade",
    "ccxt_config": "mockex.clients",
    "ccxt_exchange": "mockex.clients",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mockex' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

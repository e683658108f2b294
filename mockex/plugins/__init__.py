"""
The exchange plugin package.

Every module here, and every ``mockex/plugins`` directory of any installed package
(``pluginPackagePaths``), is a Twisted dropin: module-level objects that provide
:class:`mockex.interfaces.IExchange` are venues. Do not add an ``__init__.py`` to a
third-party ``mockex/plugins`` directory; see docs/plugins.md.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from twisted.plugin import getPlugins, pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))  # type: ignore[name-defined]
__all__: list[str] = []


class UnknownExchange(LookupError):
    """No installed plugin has that name."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(
            f"unknown exchange {name!r}; available: {', '.join(available) or '(none)'}"
        )
        self.name = name
        self.available = available


def exchanges(package: ModuleType | None = None) -> dict[str, Any]:
    """Every installed venue by name (``package``: where to look, for tests)."""
    from mockex.interfaces import IExchange

    if package is None:
        import mockex.plugins as package
    found: dict[str, Any] = {}
    for plugin in getPlugins(IExchange, package):
        found.setdefault(plugin.name, plugin)
    return dict(sorted(found.items()))


def find_exchange(name: str, package: ModuleType | None = None) -> Any:
    """The venue called ``name``; raises :class:`UnknownExchange`."""
    found = exchanges(package)
    try:
        return found[name]
    except KeyError:
        raise UnknownExchange(name, list(found)) from None

"""Fast fixed-point formatting of the integers mockex keeps its numbers in."""

from __future__ import annotations


def fixed(value: int, scale: int, places: int) -> str:
    """
    ``value * 10**-scale`` written with exactly ``places`` decimals (truncating any
    digit beyond, as venues that pad to a fixed width do). ``fixed(5000001, 2, 8)``
    is ``'50000.01000000'``.
    """
    if value < 0:
        return "-" + fixed(-value, scale, places)
    if scale > places:
        value //= 10 ** (scale - places)
        scale = places
    whole, frac = divmod(value, 10**scale) if scale else (value, 0)
    if places == 0:
        return str(whole)
    digits = f"{frac:0{scale}d}" if scale else ""
    return f"{whole}.{digits}{'0' * (places - scale)}"


def plain(value: int, scale: int) -> str:
    """``value * 10**-scale`` with trailing zeros removed (``'0.01'``, ``'1'``)."""
    text = fixed(value, scale, scale)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text

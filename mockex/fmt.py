"""Fast fixed-point formatting of the integers mockex keeps its numbers in."""

from __future__ import annotations


_POW = tuple(10**i for i in range(40))
_ZEROS = tuple("0" * i for i in range(40))


def fixed(value: int, scale: int, places: int) -> str:
    """
    ``value * 10**-scale`` written with exactly ``places`` decimals (truncating any
    digit beyond, as venues that pad to a fixed width do). ``fixed(5000001, 2, 8)``
    is ``'50000.01000000'``.
    """
    if value < 0:
        return "-" + fixed(-value, scale, places)
    if scale > places:
        value //= _POW[scale - places]
        scale = places
    if not scale:
        return f"{value}.{_ZEROS[places]}" if places else str(value)
    p = _POW[scale]
    whole = value // p
    # str(frac + 10**scale)[1:] zero-pads the fraction to ``scale`` digits
    return f"{whole}.{str(value - whole * p + p)[1:]}{_ZEROS[places - scale]}"


def plain(value: int, scale: int) -> str:
    """``value * 10**-scale`` with trailing zeros removed (``'0.01'``, ``'1'``)."""
    text = fixed(value, scale, scale)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


#: Widest fraction written from a table of its digits (10**n entries).
TABLE_DIGITS = 3


def fixed_piece(
    name: str, scale: int, places: int, tables: dict[str, list[bytes]] | None = None
) -> tuple[str, str]:
    """
    What a generated formatter needs to write the integer expression ``name`` as
    :func:`fixed` would (for a non-negative value): a ``%`` template piece and the
    tuple of argument expressions that fill it.

    With ``tables`` (a bytes template's namespace), a fraction of at most
    :data:`TABLE_DIGITS` digits is read from a table added to it, padding and trailing
    zeros included (``%s``: a list index and a copy cost less than ``%02d``).
    """
    if scale > places:
        name = f"({name}) // {_POW[scale - places]}"
        scale = places
    if not scale:
        return ("%d." + _ZEROS[places] if places else "%d"), f"{name},"
    p = _POW[scale]
    if tables is not None and scale <= TABLE_DIGITS:
        table = f"_F{scale}_{places}"
        if table not in tables:
            tables[table] = [b"%0*d%s" % (scale, i, _ZEROS[places - scale].encode()) for i in range(p)]
        return "%d.%s", f"{name} // {p}, {table}[{name} % {p}],"
    return f"%d.%0{scale}d{_ZEROS[places - scale]}", f"{name} // {p}, {name} % {p},"

"""
Helpers for the venues' :class:`~mockex.interfaces.IKlineRecording` parsers.

A parser reads exactly what its venue module emits (which mirrors the real venue); the
helpers only make "anything else" an empty answer: :func:`tolerant` turns any failure
into ``()``, :func:`decimal_text` and :func:`whole` refuse values that are not what a
kline field can be.
"""

from __future__ import annotations

import json
import re
from functools import wraps
from typing import Any, Callable, Mapping, Sequence, TypeVar

from mockex.interfaces import RecordedCandle

_DECIMAL = re.compile(r"^[0-9]{1,40}(\.[0-9]{1,40})?$")

F = TypeVar("F", bound=Callable[..., Sequence[RecordedCandle]])


def tolerant(parse: F) -> F:
    """``parse``, answering ``()`` instead of raising: a parser never breaks the
    pass-through, whatever bytes the upstream (or a client) sends."""

    @wraps(parse)
    def guarded(*args: Any, **kwargs: Any) -> Sequence[RecordedCandle]:
        try:
            return tuple(parse(*args, **kwargs))
        except Exception:  # noqa: BLE001 - the boundary: any malformed input is "no candles"
            return ()

    return guarded  # type: ignore[return-value]


def load_json(data: bytes) -> Any:
    """The JSON value of ``data`` (raises ValueError, UnicodeDecodeError)."""
    return json.loads(data)


def decimal_text(value: Any) -> str:
    """A kline number as the venue wrote it: a plain non-negative decimal string (or
    a JSON integer, as Gate's futures volume). Raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise ValueError(f"not a decimal: {value!r}")
    return value


def whole(value: Any) -> int:
    """A non-negative integer field (JSON number or digit string)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    if isinstance(value, int) and value >= 0:
        return value
    raise ValueError(f"not a whole number: {value!r}")


def first_arg(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = args.get(name)
    return values[0] if values else None


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a string: {value!r}")
    return value

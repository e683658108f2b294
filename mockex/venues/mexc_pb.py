"""
A minimal protobuf (proto3) encoder for the few MEXC push messages mockex sends.

MEXC's spot WebSocket pushes ``PushDataV3ApiWrapper`` messages (protobuf binary
frames). Rather than depending on ``protobuf``, this module writes the wire format by
hand for the fields mockex needs. Field numbers and types are those of MEXC's
``.proto`` files (github.com/mexcdevelop/websocket-proto), as bundled with ccxt 4.5 in
``ccxt/protobuf/mexc/PushDataV3ApiWrapper_pb2.py`` and ``PublicSpotKlineV3Api_pb2.py``:

``PushDataV3ApiWrapper``: ``channel`` 1 (string), ``symbol`` 3 (string), ``symbolId``
4 (string), ``createTime`` 5 (int64), ``sendTime`` 6 (int64), and the ``body`` oneof, of
which ``publicSpotKline`` is 308 (``PublicSpotKlineV3Api``).

``PublicSpotKlineV3Api``: ``interval`` 1 (string), ``windowStart`` 2 (int64),
``openingPrice`` 3, ``closingPrice`` 4, ``highestPrice`` 5, ``lowestPrice`` 6, ``volume``
7, ``amount`` 8 (strings), ``windowEnd`` 9 (int64).

Fields are written in field-number order, as protobuf's own serializers do; proto3
scalars equal to their default (empty string, 0) are omitted.
"""

from __future__ import annotations

_VARINT = 0
_LENGTH = 2


def varint(value: int) -> bytes:
    """An unsigned varint; negative int64 values take ten bytes (two's complement)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


def string_field(number: int, text: str) -> bytes:
    if not text:
        return b""
    data = text.encode("utf-8")
    return key(number, _LENGTH) + varint(len(data)) + data


def int64_field(number: int, value: int) -> bytes:
    if not value:
        return b""
    return key(number, _VARINT) + varint(value)


def message_field(number: int, body: bytes) -> bytes:
    """An embedded message (written even when empty: a set oneof member)."""
    return key(number, _LENGTH) + varint(len(body)) + body


# ---------------------------------------------------------------------------
# MEXC's messages

PUBLIC_SPOT_KLINE = 308


def spot_kline(
    interval: str, window_start: int, opening: str, closing: str, highest: str, lowest: str,
    volume: str, amount: str, window_end: int,
) -> bytes:
    """A ``PublicSpotKlineV3Api`` message (times in seconds)."""
    return b"".join((
        string_field(1, interval),
        int64_field(2, window_start),
        string_field(3, opening),
        string_field(4, closing),
        string_field(5, highest),
        string_field(6, lowest),
        string_field(7, volume),
        string_field(8, amount),
        int64_field(9, window_end),
    ))


def wrapper(
    channel: str, body_field: int, body: bytes, symbol: str = "", symbol_id: str = "",
    create_time: int = 0, send_time: int = 0,
) -> bytes:
    """A ``PushDataV3ApiWrapper`` carrying ``body`` as oneof member ``body_field``."""
    return b"".join((
        string_field(1, channel),
        string_field(3, symbol),
        string_field(4, symbol_id),
        int64_field(5, create_time),
        int64_field(6, send_time),
        message_field(body_field, body),
    ))


# ---------------------------------------------------------------------------
# Decoding, for tests and diagnostics (not used to serve)


def decode(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message level: ints or raw bytes."""
    out: list[tuple[int, int | bytes]] = []
    i = 0

    def read_varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            if i >= len(data):
                raise ValueError("truncated varint")
            byte = data[i]
            i += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while i < len(data):
        tag = read_varint()
        number, wire_type = tag >> 3, tag & 7
        if wire_type == _VARINT:
            out.append((number, read_varint()))
        elif wire_type == _LENGTH:
            length = read_varint()
            if i + length > len(data):
                raise ValueError("truncated field")
            out.append((number, data[i:i + length]))
            i += length
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
    return out

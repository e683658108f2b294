"""
Replay: a market's candles from recorded data instead of a model.

Files (see docs/replay.md):

* Binance's public data dumps (``data.binance.vision``): the 12-column kline CSV
  (open time, open, high, low, close, volume, close time, quote volume, trades, taker
  buy base, taker buy quote, ignore), with or without a header line, plain or zipped
  (one ``.csv`` member). Timestamps are epoch milliseconds, or microseconds (spot dumps
  since 2025): told apart by magnitude.
* Plain OHLCV: a CSV with a header naming at least ``time`` (or ``timestamp``,
  ``open_time``), ``open``, ``high``, ``low``, ``close``, ``volume``, optionally
  ``quote_volume``, ``trades``, ``taker_buy_base``, ``taker_buy_quote``; or JSON, a list
  of such objects or of Binance REST kline rows. Times in seconds, milliseconds or
  microseconds (by magnitude).

A :class:`ReplaySeries` holds the candles of one market as integers at the market's
tick and lot (quote volumes in 10**-8; values with more decimals are rounded half to
even). :class:`~mockex.market.CandleSource` serves a replayed market from it through
the same calls as a modelled one, so venues never know:

* at the recorded (native) interval, exactly the recorded candles;
* at coarser intervals whose every boundary is a native boundary, their exact
  aggregates (open of the first, close of the last, max, min, sums); a candle with no
  recorded candle inside does not exist (left out, as venues leave out outages);
* at finer or misaligned intervals, nothing: the venue's empty answer.

The live candle (the one containing "now") is the aggregate of the native candles closed
so far plus, for the native candle in progress, its open only (no volume): a recorded
candle is revealed whole at its close, never invented in between.

File paths come from users: :func:`safe_path` admits only regular files inside an
allowed root directory (no ``..``, no absolute path outside it, no symlink leading out),
of bounded size.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import zipfile
from bisect import bisect_left
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Iterable, Sequence

from attrs import frozen

from mockex.market import QUOTE_DECIMALS, Market, Node, aggregate

#: Largest replay file accepted (and largest uncompressed member of a zip).
MAX_FILE_BYTES = 512 * 1024 * 1024

#: Header names of the plain OHLCV format, and their aliases.
_ALIASES = {
    "time": "time", "timestamp": "time", "open_time": "time", "t": "time", "date": "time",
    "open": "open", "o": "open",
    "high": "high", "h": "high",
    "low": "low", "l": "low",
    "close": "close", "c": "close",
    "volume": "volume", "v": "volume",
    "quote_volume": "quote_volume", "quote_asset_volume": "quote_volume", "q": "quote_volume",
    "trades": "trades", "count": "trades", "number_of_trades": "trades", "n": "trades",
    "taker_buy_base": "taker_buy_base", "taker_buy_volume": "taker_buy_base",
    "taker_buy_base_asset_volume": "taker_buy_base",
    "taker_buy_quote": "taker_buy_quote", "taker_buy_quote_volume": "taker_buy_quote",
    "taker_buy_quote_asset_volume": "taker_buy_quote",
}
_REQUIRED = ("time", "open", "high", "low", "close", "volume")


class ReplayError(ValueError):
    """A replay file that cannot be used, and why."""


# -- paths ------------------------------------------------------------------------


def safe_path(root: str, path: str, max_bytes: int = MAX_FILE_BYTES) -> str:
    """
    The real path of ``path`` (relative to ``root``, or absolute inside it) if it is a
    regular file inside ``root`` of at most ``max_bytes``; raises ReplayError otherwise.
    Refused: empty paths, NUL bytes, any ``..`` component, absolute paths outside the
    root, symlinks (anywhere on the path) that lead outside it, anything that is not a
    regular file, files over the size bound.
    """
    if not path or "\x00" in path:
        raise ReplayError("empty path, or a NUL byte in it")
    parts = path.replace("\\", "/").split("/")
    if ".." in parts:
        raise ReplayError(f"{path!r}: '..' is not allowed in replay paths")
    real_root = os.path.realpath(root)
    if not os.path.isdir(real_root):
        raise ReplayError(f"replay root {root!r} is not a directory")
    candidate = path if os.path.isabs(path) else os.path.join(real_root, path)
    real = os.path.realpath(candidate)
    if os.path.commonpath([real_root, real]) != real_root or real == real_root:
        raise ReplayError(f"{path!r} is outside the replay root {root!r}")
    try:
        st = os.stat(real)
    except OSError as e:
        raise ReplayError(f"{path!r}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ReplayError(f"{path!r} is not a regular file")
    if st.st_size > max_bytes:
        raise ReplayError(f"{path!r} is larger than {max_bytes} bytes")
    return real


def read_bounded(real_path: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file checked by :func:`safe_path`, re-checked on the open file."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(real_path, flags)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
            raise ReplayError(f"{real_path!r} is not a regular file of at most {max_bytes} bytes")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ReplayError(f"{real_path!r} is larger than {max_bytes} bytes")
    if data[:4] == b"PK\x03\x04":
        data = _unzip(data, real_path, max_bytes)
    return data


def _unzip(data: bytes, name: str, max_bytes: int) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            raise ReplayError(f"{name!r}: a replay zip holds exactly one file, not {len(members)}")
        member = members[0]
        if member.file_size > max_bytes:
            raise ReplayError(f"{name!r}: its member is larger than {max_bytes} bytes")
        with archive.open(member) as f:
            out = f.read(max_bytes + 1)
    except zipfile.BadZipFile as e:
        raise ReplayError(f"{name!r}: bad zip file ({e})") from None
    if len(out) > max_bytes:
        raise ReplayError(f"{name!r}: its member is larger than {max_bytes} bytes")
    return out


# -- parsing ----------------------------------------------------------------------


@frozen
class Row:
    """One recorded candle as read: epoch ms and decimal strings (or numbers)."""

    open_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str | None = None
    trades: int = 0
    taker_base: str = "0"
    taker_quote: str = "0"


def to_ms(value: Any) -> int:
    """Epoch seconds, milliseconds or microseconds (told apart by magnitude) as ms."""
    try:
        t = int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        raise ReplayError(f"not a timestamp: {value!r}") from None
    if t >= 10**14:  # microseconds (ms would be after the year 5000)
        return t // 1000
    if t < 10**11:  # seconds (ms would be before 1973)
        return t * 1000
    return t


def parse_rows(data: bytes, name: str = "") -> list[Row]:
    """The rows of a replay file's bytes (any supported format), sorted, de-duplicated."""
    text = data.decode("utf-8-sig", "strict").strip()
    if not text:
        raise ReplayError(f"{name!r}: empty")
    try:
        rows = _parse_json(text) if text[0] in "[{" else _parse_csv(text)
    except (KeyError, IndexError, TypeError, ValueError, InvalidOperation) as e:
        if isinstance(e, ReplayError):
            raise ReplayError(f"{name!r}: {e}") from None
        raise ReplayError(f"{name!r}: unreadable row ({e!r})") from None
    if not rows:
        raise ReplayError(f"{name!r}: no candles")
    by_open: dict[int, Row] = {}
    for row in rows:
        by_open[row.open_ms] = row  # the last of duplicates wins
    return [by_open[t] for t in sorted(by_open)]


def _binance_row(fields: Sequence[Any]) -> Row:
    # An empty quote volume (what record mode writes for venues that do not show one)
    # is absent: volume x close.
    quote = str(fields[7]).strip()
    return Row(
        to_ms(fields[0]), str(fields[1]), str(fields[2]), str(fields[3]), str(fields[4]),
        str(fields[5]), quote or None, int(fields[8]), str(fields[9]), str(fields[10]),
    )


def _named_row(record: dict[str, Any]) -> Row:
    named = {}
    for key, value in record.items():
        canonical = _ALIASES.get(str(key).strip().lower())
        if canonical is not None and value not in (None, ""):
            named[canonical] = value
    missing = [k for k in _REQUIRED if k not in named]
    if missing:
        raise ReplayError(f"missing column(s) {', '.join(missing)}")
    return Row(
        to_ms(named["time"]), str(named["open"]), str(named["high"]), str(named["low"]),
        str(named["close"]), str(named["volume"]),
        None if "quote_volume" not in named else str(named["quote_volume"]),
        int(Decimal(str(named.get("trades", 0)))),
        str(named.get("taker_buy_base", "0")), str(named.get("taker_buy_quote", "0")),
    )


def _parse_csv(text: str) -> list[Row]:
    lines = list(csv.reader(io.StringIO(text)))
    lines = [line for line in lines if line and any(cell.strip() for cell in line)]
    if not lines:
        return []
    head = [cell.strip().lower() for cell in lines[0]]
    header = not _is_number(head[0])
    if len(lines[0]) == 12 and (not header or head[0] == "open_time" and head[6] == "close_time"):
        # Binance's kline dump (newer dumps carry a header line).
        return [_binance_row(line) for line in lines[header:]]
    if not header:
        raise ReplayError("a CSV needs Binance's 12 kline columns or a header line")
    return [_named_row(dict(zip(head, line))) for line in lines[1:]]


def _parse_json(text: str) -> list[Row]:
    value = json.loads(text)
    if isinstance(value, dict):
        value = value.get("candles", value.get("data"))
    if not isinstance(value, list):
        raise ReplayError("JSON replay data is a list of candles")
    out = []
    for item in value:
        if isinstance(item, list):
            out.append(_binance_row(item))
        elif isinstance(item, dict):
            out.append(_named_row(item))
        else:
            raise ReplayError(f"not a candle: {item!r}")
    return out


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def to_units(text: str, decimals: int) -> int:
    """A decimal string as an integer count of ``10**-decimals`` (half to even)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ReplayError(f"not a number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ReplayError(f"not a non-negative number: {text!r}")
    return int(value.scaleb(decimals).to_integral_value(ROUND_HALF_EVEN))


# -- the series -------------------------------------------------------------------


class ReplaySeries:
    """
    The recorded candles of one market, as nodes at the market's tick and lot, with
    exact aggregation over any range of them (O(log n) nodes per range).
    """

    def __init__(self, market: Market, rows: Sequence[Row], native_ms: int | None = None) -> None:
        if not rows:
            raise ReplayError("no candles to replay")
        self.market = market
        opens = [row.open_ms for row in rows]
        if any(b <= a for a, b in zip(opens, opens[1:])):
            raise ReplayError("candles must be sorted by open time without duplicates")
        if native_ms is None:
            diffs = [b - a for a, b in zip(opens, opens[1:])]
            native_ms = min(diffs) if diffs else 60_000
        if native_ms <= 0 or native_ms % 1000:
            raise ReplayError(f"the recorded interval must be whole seconds, not {native_ms} ms")
        anchor = opens[0] % native_ms
        if any((t - anchor) % native_ms for t in opens):
            raise ReplayError(f"open times are not on one {native_ms} ms grid")
        #: the recorded interval, and where its grid is anchored (ms modulo native_ms)
        self.native_ms = native_ms
        self.anchor_ms = anchor
        self.opens = opens
        pd, qd = market.price_decimals, market.qty_decimals
        nodes: list[Node] = []
        trade_id = 0
        for row in rows:
            o, h, low, c = (to_units(x, pd) for x in (row.open, row.high, row.low, row.close))
            if not (low <= min(o, c) and h >= max(o, c)):
                raise ReplayError(f"candle at {row.open_ms}: high/low do not contain open/close")
            v = to_units(row.volume, qd)
            if row.quote_volume is None:
                # no quote volume recorded: volume x close
                q = v * c * 10**QUOTE_DECIMALS // 10 ** (pd + qd)
            else:
                q = to_units(row.quote_volume, QUOTE_DECIMALS)
            n = max(0, row.trades)
            tb = to_units(row.taker_base, qd)
            tq = to_units(row.taker_quote, QUOTE_DECIMALS)
            nodes.append((o, h, low, c, v, q, n, tb, tq, trade_id))
            trade_id += n
        self.nodes = nodes
        self._tree: list[Node | None] | None = None

    @property
    def first_open_ms(self) -> int:
        return self.opens[0]

    @property
    def end_ms(self) -> int:
        """The close of the last recorded candle."""
        return self.opens[-1] + self.native_ms

    def on_grid(self, t_ms: int) -> bool:
        return (t_ms - self.anchor_ms) % self.native_ms == 0

    def index_range(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Indices ``[i, j)`` of the recorded candles opening in ``[start_ms, end_ms)``."""
        return bisect_left(self.opens, start_ms), bisect_left(self.opens, end_ms)

    def span(self, i: int, j: int) -> Node:
        """The aggregate of recorded candles ``i .. j - 1`` (``i < j``)."""
        if j - i <= 16:
            return aggregate(self.nodes[i:j])
        tree = self._tree or self._build()
        size = len(self.nodes)
        left: list[Node] = []
        right: list[Node] = []
        lo, hi = i + size, j + size
        while lo < hi:
            if lo & 1:
                left.append(tree[lo])  # type: ignore[arg-type]
                lo += 1
            if hi & 1:
                hi -= 1
                right.append(tree[hi])  # type: ignore[arg-type]
            lo >>= 1
            hi >>= 1
        left.extend(reversed(right))
        return aggregate(left)

    def _build(self) -> list[Node | None]:
        # The bottom-up segment tree: node p aggregates 2p and 2p + 1; the leaves are at
        # size .. 2 size - 1. With any size, a query's ordered left and right parts
        # only ever use nodes over consecutive candles.
        size = len(self.nodes)
        tree: list[Node | None] = [None] * size + list(self.nodes)
        for p in range(size - 1, 0, -1):
            tree[p] = aggregate([tree[2 * p], tree[2 * p + 1]])  # type: ignore[list-item]
        self._tree = tree
        return tree


def load_series(market: Market, real_path: str, max_bytes: int = MAX_FILE_BYTES) -> ReplaySeries:
    """A :class:`ReplaySeries` from a file already checked by :func:`safe_path`."""
    return ReplaySeries(market, parse_rows(read_bounded(real_path, max_bytes), os.path.basename(real_path)))


def series_from_rows(market: Market, rows: Iterable[Row]) -> ReplaySeries:
    ordered: dict[int, Row] = {}
    for row in rows:
        ordered[row.open_ms] = row
    return ReplaySeries(market, [ordered[t] for t in sorted(ordered)])

"""
A Twisted candle client: REST history with treq, live closes from the kline stream with
Autobahn. Both take what they talk through as an argument (a treq-like HTTP client, a
reactor), so a test can hand them mockex's in-memory server instead of the network.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from autobahn.twisted.websocket import WebSocketClientProtocol
from twisted.internet.defer import Deferred, inlineCallbacks


class Candle(NamedTuple):
    open_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class KlineClient:
    """Binance-style REST candles through ``http`` (``treq``, a ``treq.HTTPClient``, or a ``StubTreq``)."""

    def __init__(self, http: Any, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    @inlineCallbacks
    def closed_candles(self, symbol: str, interval: str = "1m", limit: int = 10) -> Any:
        """The latest ``limit`` closed candles (the live one is left out), oldest first."""
        response = yield self.http.get(
            f"{self.base_url}/api/v3/klines",
            params={"symbol": symbol, "interval": interval, "limit": str(limit + 1)},
        )
        if response.code != 200:
            body = yield response.text()
            raise RuntimeError(f"klines: HTTP {response.code}: {body}")
        rows = yield response.json()
        return [_candle(row) for row in rows[:-1]]


def _candle(row: list[Any]) -> Candle:
    return Candle(int(row[0]), *(float(x) for x in row[1:6]))


class KlineStream(WebSocketClientProtocol):
    """Collects the candles a ``<symbol>@kline_<interval>`` stream closes."""

    def __init__(self) -> None:
        super().__init__()
        self.closed: list[Candle] = []
        self.opened = False
        self.close_code: int | None = None
        self.done: Deferred[None] = Deferred()

    def onOpen(self) -> None:
        self.opened = True

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        event = json.loads(payload)
        k = event.get("k")
        if event.get("e") == "kline" and k["x"]:
            self.closed.append(Candle(k["t"], float(k["o"]), float(k["h"]), float(k["l"]), float(k["c"]), float(k["v"])))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.close_code = code
        if not self.done.called:
            self.done.callback(None)

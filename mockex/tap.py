"""
``twistd mockex``: options and service.

    twistd -n mockex --exchange binance_spot
    twistd -n mockex --exchange binance_spot --listen tcp:9000:interface=127.0.0.1 \\
        --seed 7 --pairs BTCUSDT:50000,ETHUSDT:3000 --speed 60

The twistd plugin (``twisted/plugins/mockex_plugin.py``) names this module lazily, so
importing the plugin never imports Klein or installs a reactor.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.application.service import IService, Service
from twisted.internet.defer import Deferred
from twisted.python import usage

from mockex.plugins import UnknownExchange, exchanges, find_exchange

DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"

#: Rate-limit options: option name -> (knob of mockex.ratelimit.adjust, help). Values
#: are whole numbers; ``none`` lifts a limit.
RATE_LIMIT_OPTIONS: dict[str, tuple[str, str]] = {
    "rest-weight-limit": ("rest_limit", "Weight per window (Binance REQUEST_WEIGHT; default 6000)."),
    "rest-period-ms": ("rest_period_ms", "Length of that window in ms, whole seconds (default 60000)."),
    "raw-request-limit": ("raw_limit", "Requests per raw-request window (Binance RAW_REQUESTS; 61000)."),
    "ban-after": ("ban_after", "Rejected (429) requests in a row before a ban (418); none: never ban."),
    "ws-message-limit": ("ws_limit", "Incoming WebSocket messages per second per connection (5)."),
    "ws-message-burst": ("ws_burst", "... at most this many in any burst/limit seconds (default: limit)."),
    "ws-max-streams": ("ws_max_streams", "Streams per WebSocket connection (1024)."),
    "ws-connection-attempts": ("ws_connection_attempts", "WebSocket upgrades per client per 5 minutes (300)."),
    "ws-max-connections": ("ws_max_connections", "Open WebSocket connections per client (none)."),
}


def parse_pairs(text: str) -> list[tuple[str, float]]:
    """``BTCUSDT:50000,ETHUSDT:3000`` as ``[("BTCUSDT", 50000.0), ...]``."""
    pairs = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        symbol, sep, price = item.rpartition(":")
        if not sep or not symbol:
            raise usage.UsageError(f"--pairs: {item!r} is not SYMBOL:PRICE (e.g. BTCUSDT:50000)")
        try:
            value = float(price)
        except ValueError:
            raise usage.UsageError(f"--pairs: price {price!r} of {symbol} is not a number") from None
        if not value > 0 or value == float("inf"):
            raise usage.UsageError(f"--pairs: price of {symbol} must be positive, not {price}")
        pairs.append((symbol, value))
    if not pairs:
        raise usage.UsageError("--pairs: no pairs given")
    return pairs


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Serve a cryptocurrency exchange's market-data API (REST candles, WebSocket kline "
        "streams) from deterministic seeded data, on one port. Binds to 127.0.0.1 unless "
        "--listen says otherwise."
    )
    optParameters = [
        ["exchange", "e", "binance_spot", "The venue to imitate (see --list-exchanges)."],
        ["listen", "l", DEFAULT_LISTEN, "Where to listen: a Twisted strports description."],
        ["seed", "s", 0, "Seed of the market data: same seed, same candles.", int],
        ["pairs", "p", None, "Markets to list, SYMBOL:PRICE,... (default: the venue's own set)."],
        ["speed", None, 1.0, "Market time runs this many times faster than real time.", float],
        ["start", None, None, "Market time at start-up, epoch milliseconds (default: now)."],
        ["rate-limits", None, "on", "Enforce the venue's rate limits and WebSocket limits: on|off."],
        ["client-header", None, None,
         "A request header that, with the IP, tells clients apart (e.g. X-MBX-APIKEY)."],
    ] + [[name, None, None, text] for name, (_knob, text) in RATE_LIMIT_OPTIONS.items()]
    optFlags = [["list-exchanges", None, "List the installed venues and exit."]]

    def __init__(self) -> None:
        super().__init__()
        self["options"] = {}

    def opt_option(self, value: str) -> None:
        """A venue switch KEY=VALUE (repeatable), e.g. limit_over_max=error."""
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise usage.UsageError(f"--option: {value!r} is not KEY=VALUE")
        self["options"][key] = val

    def postOptions(self) -> None:
        if self["list-exchanges"]:
            for name, plugin in exchanges().items():
                print(f"{name:24} {plugin.description}")
            raise SystemExit(0)
        try:
            self["venue"] = find_exchange(self["exchange"])
        except UnknownExchange as e:
            raise usage.UsageError(str(e)) from None
        if self["pairs"] is not None:
            self["pair_list"] = parse_pairs(self["pairs"])
            from mockex.server import build_markets

            try:
                build_markets(self["venue"], self["pair_list"])
            except ValueError as e:
                raise usage.UsageError(f"--pairs: {e}") from None
        else:
            self["pair_list"] = None
        if not self["speed"] > 0:
            raise usage.UsageError("--speed must be positive")
        if self["start"] is not None:
            try:
                self["start"] = int(self["start"])
            except ValueError:
                raise usage.UsageError("--start takes epoch milliseconds") from None
        self["rate_limits"] = self._rate_limits()

    def _rate_limits(self) -> dict[str, Any]:
        """The options as knobs of :func:`mockex.ratelimit.adjust`, checked."""
        knobs: dict[str, Any] = {}
        switch = str(self["rate-limits"]).lower()
        if switch not in ("on", "off"):
            raise usage.UsageError("--rate-limits is on or off")
        knobs["enabled"] = switch == "on"
        if self["client-header"]:
            knobs["client_header"] = self["client-header"].lower()
        for name, (knob, _text) in RATE_LIMIT_OPTIONS.items():
            text = self[name]
            if text is None:
                continue
            if text.lower() == "none" and knob not in ("rest_limit", "rest_period_ms", "raw_limit"):
                knobs[knob] = None
                continue
            try:
                value = int(text)
            except ValueError:
                raise usage.UsageError(f"--{name} takes a whole number, not {text!r}") from None
            if value < 0 or (value == 0 and knob in ("rest_period_ms", "ws_burst")):
                raise usage.UsageError(f"--{name} must be positive, not {value}")
            knobs[knob] = value
        from mockex.ratelimit import adjust, venue_limits

        try:
            adjust(venue_limits(self["venue"]), **knobs)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        return knobs


class MockService(Service):
    """Runs one :class:`~mockex.server.MockServer` for the lifetime of twistd."""

    def __init__(self, options: Options, reactor: Any = None) -> None:
        self.options = options
        self.reactor = reactor
        self.server: Any = None

    def startService(self) -> None:
        from mockex.server import MockServer

        super().startService()
        o = self.options
        self.server = MockServer(
            o["venue"],
            seed=o["seed"],
            pairs=o["pair_list"],
            reactor=self.reactor,
            speed=o["speed"],
            origin_ms=o["start"],
            options=o["options"],
            listen=o["listen"],
        )
        self.server.set_rate_limits(**o.get("rate_limits", {}))
        d = self.server.start()
        d.addErrback(self._failed)

    def _failed(self, failure: Any) -> None:
        print(f"mockex: cannot listen on {self.options['listen']}: {failure.value}", file=sys.stderr)
        reactor = self.reactor
        if reactor is None:
            from twisted.internet import reactor
        reactor.stop()

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        if self.server is not None:
            return self.server.stop()
        return None


def makeService(options: Options, reactor: Any = None) -> IService:
    return MockService(options, reactor)

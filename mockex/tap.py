"""
``twistd mockex``: options and service.

    twistd -n mockex --exchange binance_spot
    twistd -n mockex --exchange binance_spot --listen tcp:9000:interface=127.0.0.1 \\
        --seed 7 --pairs BTCUSDT:50000,ETHUSDT:3000 --speed 60
    twistd -n mockex --latency-ms 200 --loss 0.05 --error-rate 0.01
    twistd -n mockex --scenario outage.yaml --control-token s3cret
    twistd -n mockex --exchange binance_spot --exchange bybit_spot    # 8080 and 8081

Several venues in one process: ``--exchange`` is repeatable, and so is ``--listen``; the
n-th ``--listen`` belongs to the n-th ``--exchange``. Without ``--listen`` the venues take
consecutive ports from 8080 on 127.0.0.1. Seed, pairs, speed, start and options are shared
(one market clock per venue, all started together).

The twistd plugin (``twisted/plugins/mockex_plugin.py``) names this module lazily, so
importing the plugin never imports Klein or installs a reactor.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

from twisted.application.service import IService, Service
from twisted.internet.defer import Deferred
from twisted.python import usage

from mockex.plugins import UnknownExchange, exchanges, find_exchange

DEFAULT_PORT = 8080
DEFAULT_LISTEN = f"tcp:{DEFAULT_PORT}:interface=127.0.0.1"


def freeze_startup_heap() -> None:
    """
    Collect once, then move every object alive now into the collector's permanent
    generation (``gc.freeze``): modules, venue tables, model tables and week shapes are
    never scanned again, so a full collection that falls on a request costs what requests
    allocated, not the whole heap. Measured with ``bench/history.py`` (which calls this
    too): the worst cold 1000-candle request fell from ~50 ms (a full collection over
    ~70,000 start-up objects) to about its median. A process-wide decision, so only the
    twistd service makes it, once the reactor runs; library code and tests never do.
    """
    gc.collect()
    gc.freeze()


def default_listen(index: int) -> str:
    """The listen description of the ``index``-th venue when none is given."""
    return f"tcp:{DEFAULT_PORT + index}:interface=127.0.0.1"

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


def parse_models(text: str) -> tuple[str, dict[str, str]]:
    """``stylized,BTCUSDT=gbm`` as ``("stylized", {"BTCUSDT": "gbm"})``."""
    from mockex.models import MODELS

    default = "stylized"
    per_symbol: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        symbol, sep, name = item.rpartition("=")
        if name not in MODELS:
            raise usage.UsageError(f"--model: unknown model {name!r} (known: {', '.join(sorted(MODELS))})")
        if sep:
            per_symbol[symbol] = name
        else:
            default = name
    return default, per_symbol


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Serve a cryptocurrency exchange's market-data API (REST candles, WebSocket kline "
        "streams) from deterministic seeded data, on one port. Binds to 127.0.0.1 unless "
        "--listen says otherwise."
    )
    optParameters = [
        ["seed", "s", 0, "Seed of the market data: same seed, same candles.", int],
        ["pairs", "p", None, "Markets to list, SYMBOL:PRICE,... (default: the venue's own set)."],
        ["speed", None, 1.0, "Market time runs this many times faster than real time.", float],
        ["start", None, None, "Market time at start-up, epoch milliseconds (default: now)."],
        ["latency-ms", None, 0.0, "Network latency on every response and frame, ms.", float],
        ["jitter-ms", None, 0.0, "Uniform jitter added to the latency, ms.", float],
        ["loss", None, 0.0, "Packet loss rate 0..1: WebSocket frames dropped, REST requests "
         "stalled or reset.", float],
        ["error-rate", None, 0.0, "Share 0..1 of REST requests answered with the venue's 5xx.", float],
        ["scenario", None, None, "A fault scenario file (JSON or YAML) with rules and a timeline."],
        ["scenario-dir", None, None, "Directory the control API may load scenario files from."],
        ["control-token", None, None, "Require this X-Mockex-Token on /__mockex__/ (and then "
         "answer non-loopback callers too)."],
        ["model", "m", "stylized",
         "Price model: NAME for every market, or NAME,SYMBOL=NAME,... (stylized, gbm, randomwalk)."],
        ["replay-root", None, None, "Directory replay files must lie in (default: the current directory)."],
        ["record", None, None, "Record mode: pass traffic through to this upstream REST base URL and "
         "write the klines seen (e.g. https://api.binance.com)."],
        ["record-ws", None, None, "Upstream WebSocket base URL of record mode (e.g. wss://stream.binance.com:9443)."],
        ["record-dir", None, None, "Directory record mode writes SYMBOL-INTERVAL.csv files into."],
        ["rate-limits", None, "on", "Enforce the venue's rate limits and WebSocket limits: on|off."],
        ["client-header", None, None,
         "A request header that, with the IP, tells clients apart (e.g. X-MBX-APIKEY)."],
    ] + [[name, None, None, text] for name, (_knob, text) in RATE_LIMIT_OPTIONS.items()]
    optFlags = [
        ["list-exchanges", None, "List the installed venues and exit."],
        ["no-faults", None, "Build the server without the fault machinery or control API."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["options"] = {}
        self["exchanges"] = []
        self["listens"] = []
        self["replays"] = {}

    def opt_replay(self, value: str) -> None:
        """Serve SYMBOL from a recording: SYMBOL=PATH (repeatable; Binance kline CSV or zip, OHLCV CSV or JSON; PATH inside --replay-root)."""  # noqa: E501
        symbol, sep, path = value.partition("=")
        if not sep or not symbol or not path:
            raise usage.UsageError(f"--replay: {value!r} is not SYMBOL=PATH")
        self["replays"][symbol] = path

    def opt_exchange(self, name: str) -> None:
        """The venue to imitate (see --list-exchanges); repeat it to serve several venues from one process, each on its own port [default: binance_spot]."""  # noqa: E501
        self["exchanges"].append(name)

    opt_e = opt_exchange

    def opt_listen(self, description: str) -> None:
        """Where to listen: a Twisted strports description; once per --exchange, in the same order [default: tcp:8080:interface=127.0.0.1, then 8081, 8082...]."""  # noqa: E501
        self["listens"].append(description)

    opt_l = opt_listen

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
        names = self["exchanges"] or ["binance_spot"]
        if len(set(names)) != len(names):
            raise usage.UsageError("--exchange: each venue can be named once")
        listens = self["listens"]
        if not listens:
            listens = [default_listen(i) for i in range(len(names))]
        elif len(listens) != len(names):
            raise usage.UsageError(
                f"--listen: given {len(listens)} times for {len(names)} venue(s); give it once "
                "per --exchange, in the same order, or not at all (ports 8080, 8081, ...)"
            )
        venues = []
        for name in names:
            try:
                venues.append(find_exchange(name))
            except UnknownExchange as e:
                raise usage.UsageError(str(e)) from None
        #: [(venue, listen description)] in the order given
        self["serve"] = list(zip(venues, listens))
        # The first venue under the names of the single-venue options.
        self["exchange"], self["listen"], self["venue"] = names[0], listens[0], venues[0]
        if self["pairs"] is not None:
            self["pair_list"] = parse_pairs(self["pairs"])
            from mockex.server import build_markets

            for venue in venues:
                try:
                    build_markets(venue, self["pair_list"])
                except ValueError as e:
                    raise usage.UsageError(f"--pairs ({venue.name}): {e}") from None
        else:
            self["pair_list"] = None
        self["model_default"], self["model_map"] = parse_models(self["model"])
        if self["model_map"]:
            from mockex.server import build_markets

            listed: set[str] = set()
            for venue in venues:
                listed.update(build_markets(venue, self["pair_list"]))
            for symbol in self["model_map"]:
                if symbol not in listed:
                    raise usage.UsageError(f"--model: no market {symbol!r} (listed: {', '.join(sorted(listed))})")
        if not self["speed"] > 0:
            raise usage.UsageError("--speed must be positive")
        if self["start"] is not None:
            try:
                self["start"] = int(self["start"])
            except ValueError:
                raise usage.UsageError("--start takes epoch milliseconds") from None
        self._check_replay()
        self._check_faults()

        self["rate_limits"] = self._rate_limits()

    def _check_replay(self) -> None:
        root = self["replay-root"]
        if root is not None and not os.path.isdir(root):
            raise usage.UsageError(f"--replay-root: {root} is not a directory")
        if self["replays"]:
            from mockex.replay import ReplayError, safe_path
            from mockex.server import build_markets

            listed: set[str] = set()
            for venue, _ in self["serve"]:
                listed.update(build_markets(venue, self["pair_list"]))
            for symbol in self["replays"]:
                if symbol not in listed:
                    raise usage.UsageError(f"--replay: no market {symbol!r} (listed: {', '.join(sorted(listed))})")

            for symbol, path in self["replays"].items():
                try:
                    safe_path(root or os.getcwd(), path)
                except ReplayError as e:
                    raise usage.UsageError(f"--replay {symbol}: {e}") from None
        if self["record"] is not None:
            if not self["record"].startswith(("http://", "https://")):
                raise usage.UsageError("--record takes an http:// or https:// base URL")
            if self["record-ws"] is not None and not self["record-ws"].startswith(("ws://", "wss://")):
                raise usage.UsageError("--record-ws takes a ws:// or wss:// base URL")
            if self["record-dir"] is None or not os.path.isdir(self["record-dir"]):
                raise usage.UsageError("--record needs --record-dir, an existing directory")
            if len(self["serve"]) != 1:
                raise usage.UsageError("--record serves one venue")
        elif self["record-dir"] is not None or self["record-ws"] is not None:
            raise usage.UsageError("--record-dir and --record-ws go with --record")

    def _check_faults(self) -> None:
        from mockex.faults import FaultController, FaultError

        for name, top in (("latency-ms", 600_000), ("jitter-ms", 600_000), ("loss", 1), ("error-rate", 1)):
            if not 0 <= self[name] <= top:
                raise usage.UsageError(f"--{name} must be from 0 to {top}")
        faulty = self["latency-ms"] or self["jitter-ms"] or self["loss"] or self["error-rate"] or self["scenario"]
        if self["no-faults"] and (faulty or self["control-token"]):
            raise usage.UsageError("--no-faults cannot be combined with fault options")
        if self["scenario-dir"] is not None and not os.path.isdir(self["scenario-dir"]):
            raise usage.UsageError(f"--scenario-dir: {self['scenario-dir']} is not a directory")
        if self["scenario"] is not None:
            # Validate now, so a bad file is a usage error rather than a failed start.
            from twisted.internet.task import Clock

            try:
                FaultController(Clock(), 0, self["venue"]).load_scenario(self["scenario"])
            except FaultError as e:
                raise usage.UsageError(f"--scenario: {e}") from None

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
    """Runs one :class:`~mockex.server.MockServer` per venue for the lifetime of twistd."""

    def __init__(self, options: Options, reactor: Any = None) -> None:
        self.options = options
        self.reactor = reactor
        #: the servers, in the order of --exchange
        self.servers: list[Any] = []

    @property
    def server(self) -> Any:
        """The first venue's server (the only one, unless several were named)."""
        return self.servers[0] if self.servers else None

    def startService(self) -> None:
        from mockex.server import MockServer

        super().startService()
        o = self.options
        if o.get("record"):
            self._start_recording()
            return
        serve = o.get("serve") or [(o["venue"], o["listen"])]
        for venue, listen in serve:
            server = MockServer(
                venue,
                seed=o["seed"],
                pairs=o["pair_list"],
                reactor=self.reactor,
                speed=o["speed"],
                origin_ms=o["start"],
                options=o["options"],
                listen=listen,
                faults=not o["no-faults"],
                control_token=o["control-token"],
                scenario_dir=o["scenario-dir"],
                model=o["model_default"],
                models=_models_for(venue, o),
                replays=_listed(venue, o, o.get("replays") or {}),
                replay_root=o.get("replay-root"),
            )
            if server.faults is not None:
                if o["scenario"] is not None:
                    server.faults.load_scenario(o["scenario"])
                if o["latency-ms"] or o["jitter-ms"] or o["loss"] or o["error-rate"]:
                    server.set_network_conditions(
                        o["latency-ms"], o["loss"], o["error-rate"], jitter_ms=o["jitter-ms"]
                    )
            server.set_rate_limits(**o.get("rate_limits", {}))
            self.servers.append(server)
            d = server.start()
            d.addErrback(self._failed, venue.name, listen)
        self._reactor().callWhenRunning(freeze_startup_heap)

    def _reactor(self) -> Any:
        """The reactor given, or the global one (the twistd process's: only here)."""
        if self.reactor is not None:
            return self.reactor
        from twisted.internet import reactor

        return reactor

    def _start_recording(self) -> None:
        from twisted.internet.endpoints import serverFromString
        from twisted.web.server import Site

        from mockex.record import KlineRecorder, RecordingProxy

        o = self.options
        reactor = self._reactor()
        recorder = KlineRecorder(o["record-dir"], o["venue"])
        if not recorder.records:
            print(f"mockex: {o['venue'].name} does not provide IKlineRecording: passing through "
                  "without recording", file=sys.stderr)
        proxy = RecordingProxy(reactor, o["record"], recorder, o["record-ws"])
        #: the record-mode proxy (None when serving)
        self.recorder = proxy
        d = serverFromString(reactor, o["listen"]).listen(Site(proxy, reactor=reactor))

        def listening(port: Any) -> None:
            self._record_port = port

        d.addCallbacks(listening, self._failed, errbackArgs=("record", o["listen"]))

    def _failed(self, failure: Any, name: str, listen: str) -> None:
        print(f"mockex: cannot serve {name} on {listen}: {failure.value}", file=sys.stderr)
        reactor = self._reactor()
        from twisted.internet.error import ReactorNotRunning

        try:
            reactor.stop()
        except ReactorNotRunning:  # another venue failed first
            pass

    def stopService(self) -> Deferred[None] | None:
        super().stopService()
        port = getattr(self, "_record_port", None)
        if port is not None:
            self._record_port = None
            return port.stopListening()
        if not self.servers:
            return None
        from twisted.internet.defer import gatherResults

        stopping = [server.stop() for server in self.servers]
        return gatherResults(stopping, consumeErrors=True).addCallback(lambda _: None)


def _listed(venue: Any, o: Options, per_symbol: dict[str, Any]) -> dict[str, Any]:
    """The entries of a per-symbol option that this venue lists (in its spelling)."""
    if not per_symbol:
        return {}
    from mockex.server import build_markets

    listed = build_markets(venue, o["pair_list"])
    return {symbol: value for symbol, value in per_symbol.items() if symbol in listed}


def _models_for(venue: Any, o: Options) -> dict[str, str]:
    """The per-symbol models of ``--model`` that this venue lists (in its spelling)."""
    if not o["model_map"]:
        return {}
    from mockex.server import build_markets

    listed = build_markets(venue, o["pair_list"])
    return {symbol: name for symbol, name in o["model_map"].items() if symbol in listed}


def makeService(options: Options, reactor: Any = None) -> IService:
    return MockService(options, reactor)

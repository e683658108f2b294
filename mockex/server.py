"""
A mock venue server: one venue, one port, REST and WebSocket on one reactor.

:class:`MockServer` is the Twisted-level Python API (the asyncio facade of the seed
document builds on it). It assembles the shared machinery around a venue plugin::

    ConnectionLayer (bytes: tracking, faults)
      Site
        Klein app (RestApp): the venue's REST routes
          WebSocketResource -> StreamFactory -> StreamProtocol (+ venue session)
    StreamHub (live feeds) <- CandleSource (seeded data) <- MarketClock <- reactor

Nothing here takes the global reactor unless the caller passes none.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping, Sequence

from autobahn.twisted.resource import WebSocketResource
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.web.server import Site
from zope.interface import implementer

from mockex.clock import MarketClock
from mockex.control import ControlApi
from mockex.faults import FaultController, FaultMiddleware
from mockex.interfaces import IExchange, IVenueContext, RestResponse
from mockex.market import CandleSource, Market
from mockex.plugins import find_exchange
from mockex.ratelimit import Limits, RateLimiter, adjust, venue_limits
from mockex import ratelimit_control
from mockex.rest import RestApp
from mockex.scenarios import Scenario
from mockex.rows import RowCache
from mockex.streams import StreamHub
from mockex.transport import ConnectionLayer
from mockex.ws import GOING_AWAY, StreamFactory, StreamProtocol

#: A trading pair as the seed document writes it: (symbol, price) or
#: (symbol, interval, price); the interval is accepted and ignored, every interval
#: of the venue is served.
PairSpec = tuple[str, float] | tuple[str, str, float]

#: The control endpoint that starts a scenario (not part of any venue's API).

#: Seconds ``stop()`` waits for WebSocket clients to answer the close frame.
STOP_GRACE_SECONDS = 2.0


@implementer(IVenueContext)
class VenueContext:
    """The run-time context a venue's handlers and sessions receive."""

    def __init__(
        self,
        source: CandleSource,
        markets: Mapping[str, Market],
        clock: MarketClock,
        options: Mapping[str, str],
    ) -> None:
        self.source = source
        self.markets = dict(markets)
        self.clock = clock
        self.options = dict(options)
        self.rows = RowCache(source)
        #: the Limits enforced now; the server's RateLimiter keeps it current
        self.limits: Limits = Limits()

    def now_ms(self) -> int:
        return self.clock.now_ms()


def build_markets(venue: IExchange, pairs: Iterable[Sequence[Any]] | None) -> dict[str, Market]:
    """The venue's markets for ``pairs`` (its defaults if None). Raises ValueError."""
    if pairs is None:
        markets = list(venue.default_markets())
    else:
        markets = []
        for pair in pairs:
            if len(pair) == 2:
                symbol, price = pair
            elif len(pair) == 3:
                symbol, _interval, price = pair
            else:
                raise ValueError(f"a pair is (symbol, price) or (symbol, interval, price), not {pair!r}")
            markets.append(venue.market_for(str(symbol), float(price)))
        if not markets:
            raise ValueError("no trading pairs given")
    out: dict[str, Market] = {}
    for market in markets:
        out[venue.symbol(market)] = market
    return out


class MockServer:
    """
    A venue served from deterministic data.

    ``exchange`` is a plugin name (``binance_spot``) or an :class:`IExchange`.
    ``port=0`` picks a free port (read :attr:`port` after :meth:`start`). ``speed``
    accelerates market time; ``origin_ms`` starts market time at a chosen instant.
    ``options`` are the venue's documented switches. ``limits`` replaces the venue's
    declared rate limits (see :meth:`set_rate_limits` to adjust them).

    ``faults=False`` builds the server without the fault machinery at all (no
    :attr:`faults`, no control API): the baseline of ``bench/faults_overhead.py``.
    ``control_token``: the control API (``/__mockex__/``) then requires
    ``X-Mockex-Token`` from every caller, and answers non-loopback callers too.
    ``scenario_dir``: the directory the control API may load scenario files from.
    """

    def __init__(
        self,
        exchange: str | IExchange = "binance_spot",
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        seed: int = 0,
        pairs: Iterable[Sequence[Any]] | None = None,
        reactor: Any = None,
        speed: float = 1.0,
        origin_ms: int | None = None,
        options: Mapping[str, str] | None = None,
        listen: str | None = None,
        faults: bool = True,
        control_token: str | None = None,
        scenario_dir: str | None = None,
        model: str | None = None,
        models: Mapping[str, str] | None = None,
        limits: Limits | None = None,
        replays: Mapping[str, Any] | None = None,
        replay_root: str | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.venue: IExchange = find_exchange(exchange) if isinstance(exchange, str) else exchange
        self.host = host
        self.port = port
        self.seed = seed
        self._listen = listen
        self.markets = build_markets(self.venue, pairs)
        series = self._load_replays(replays or {}, replay_root)
        if series and origin_ms is None:
            # A replay clock: market time starts where the recordings start.
            origin_ms = min(s.first_open_ms for s in series.values())
        self.clock = MarketClock(reactor, speed=speed, origin_ms=origin_ms)
        per_market = {}
        for symbol, name in (models or {}).items():
            if symbol not in self.markets:
                raise ValueError(f"--model: no market {symbol!r} (listed: {', '.join(self.markets)})")
            per_market[self.markets[symbol].key] = name
        self.source = CandleSource(seed=seed, model_factory=model, models=per_market, replays=series)
        self.context = VenueContext(self.source, self.markets, self.clock, options or {})
        self.limiter = RateLimiter(self.venue, limits or venue_limits(self.venue), self.clock.now_ms)
        self.context.limits = self.limiter.limits
        #: the fault controller (see mockex.faults), None if built with faults=False
        self.faults: FaultController | None = None
        # Faults first: a request lost on the way never reaches the limiter.
        middleware: list[Any] = []
        control = None
        if faults:
            self.faults = FaultController(
                reactor, seed, self.venue, self.clock.now_ms, scenario_dir=scenario_dir
            )
            middleware.append(FaultMiddleware(self.faults))
            control = ControlApi(
                self.faults,
                control_token,
                {
                    "market": lambda method, rest, body: self._control_market(method, rest, body),
                    ratelimit_control.NAME: ratelimit_control.extension(self),
                },
            )
        middleware.append(self.limiter)
        self.ws_factory = StreamFactory(  # type: ignore[arg-type]
            self.venue, self.context, None, reactor, self.faults, self.limiter
        )
        self.hub = StreamHub(
            self.clock, self.source, self.venue.stream_period_ms, self.ws_factory.prepareMessage
        )
        self.ws_factory.hub = self.hub
        self.rest = RestApp(
            self.venue, self.context, WebSocketResource(self.ws_factory), middleware, control
        )
        self.site = _QuietSite(self.rest.resource(), reactor=reactor)
        self.factory = ConnectionLayer(self.site, self.faults)
        self._listening: IListeningPort | None = None
        self._stopping: Deferred[None] | None = None

    def _load_replays(self, replays: Mapping[str, Any], root: str | None) -> dict[str, Any]:
        """
        Load ``{symbol: path or ReplaySeries}``; paths are relative to (or inside)
        ``root`` (default: the current directory) and checked by
        :func:`mockex.replay.safe_path`. A replayed market is listed from its first
        recorded candle. Raises ValueError (ReplayError).
        """
        from attrs import evolve

        from mockex.replay import ReplaySeries, load_series, safe_path

        out: dict[str, Any] = {}
        for symbol, spec in replays.items():
            market = self.markets.get(symbol)
            if market is None:
                raise ValueError(f"--replay: no market {symbol!r} (listed: {', '.join(self.markets)})")
            if isinstance(spec, ReplaySeries):
                series = spec
            else:
                series = load_series(market, safe_path(root or os.getcwd(), str(spec)))
            listed = series.first_open_ms // 1000 * 1000
            self.markets[symbol] = evolve(market, listed_ms=listed)
            out[market.key] = series
        return out

    # -- addresses --------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST base URL, e.g. ``http://127.0.0.1:8080``."""
        return f"http://{self._url_host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket base URL, e.g. ``ws://127.0.0.1:8080/ws``."""
        base = self.venue.ws_paths()[0].split("<")[0].rstrip("/")
        return f"ws://{self._url_host}:{self.port}{base}"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def resource(self) -> Any:
        """The root web resource, for in-memory requests (``StubTreq``)."""
        return self.site.resource

    # -- network conditions (the seed document's API) -------------------------------

    def set_network_conditions(
        self,
        latency_ms: float = 0.0,
        packet_loss_rate: float = 0.0,
        error_rate: float = 0.0,
        *,
        jitter_ms: float = 0.0,
    ) -> None:
        """
        Latency on every response and frame, loss (WebSocket frames dropped, REST
        requests stalled or reset), errors (the venue's 5xx). All zero: normal again.
        See :meth:`mockex.faults.FaultController.set_network_conditions`.
        """
        if self.faults is None:
            raise RuntimeError("this server was built with faults=False")
        self.faults.set_network_conditions(
            latency_ms, packet_loss_rate, error_rate, jitter_ms=jitter_ms
        )

    # -- scenarios ----------------------------------------------------------------

    def scenario(
        self, symbol: str, kind: str, value: float = 0.0, duration: float | None = None
    ) -> Scenario:
        """
        Start a scenario on ``symbol`` (the venue's spelling) from the next whole second
        of market time: ``shock`` (``value`` percent, now), ``trend`` (``value`` percent
        per day), ``volatility`` (``value`` times), ``freeze`` (no trades) or ``gap``
        (no data), for ``duration`` market seconds or until replaced. Raises ValueError.
        """
        market = self.markets.get(symbol)
        if market is None:
            raise ValueError(f"no market {symbol!r}")
        duration_ms = None if duration is None else round(duration * 1000)
        return self.source.set_scenario(market, kind, self.clock.now_ms(), value, duration_ms)

    def _control_market(self, method: str, rest: Any, body: Any) -> RestResponse:
        """``POST /__mockex__/market {"symbol", "kind", "value", "duration"}`` (seconds)."""
        if rest:
            return _control_json(404, {"error": "unknown control path"})
        if method != "POST":
            return _control_json(405, {"error": "POST a market scenario"})
        if not isinstance(body, dict) or not {"symbol", "kind"} <= set(body) or set(body) - {
            "symbol", "kind", "value", "duration"
        }:
            return _control_json(400, {"error": 'POST {"symbol", "kind", "value"?, "duration"?}'})
        try:
            duration = body.get("duration")
            scenario = self.scenario(
                str(body["symbol"]),
                str(body["kind"]),
                float(body.get("value", 0.0)),
                None if duration is None else float(duration),
            )
        except (TypeError, ValueError) as e:
            return _control_json(400, {"error": str(e)})
        return _control_json(200, {
            "kind": scenario.kind, "start": scenario.start_ms, "value": scenario.value,
            "end": scenario.end_ms,
        })

    # -- rate limits --------------------------------------------------------------

    @property
    def limits(self) -> Limits:
        """The rate limits enforced now (see docs/rate-limits.md)."""
        return self.limiter.limits

    def set_rate_limits(self, limits: Limits | None = None, **knobs: Any) -> Limits:
        """
        Change the enforced limits while running: a whole :class:`Limits`, and/or
        knobs of :func:`mockex.ratelimit.adjust` (``enabled``, ``rest_limit``,
        ``rest_period_ms``, ``raw_limit``, ``ws_limit``, ``ws_burst``,
        ``ws_max_streams``, ``ws_connection_attempts``, ``ws_max_connections``,
        ``client_header``, ``ban_after``...; None lifts a limit). exchangeInfo
        advertises the result. Returns it.
        """
        new = adjust(limits if limits is not None else self.limiter.limits, **knobs)
        self.limiter.configure(new)
        self.context.limits = new
        return new

    def reset_rate_limits(self) -> None:
        """Forget every client's counters and bans (keeps the configuration)."""
        self.limiter.reset()

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> "Deferred[MockServer]":
        """Listen; fires with this server once the port is bound."""
        host = self.host.replace(":", "\\:")
        description = self._listen or f"tcp:{self.port}:interface={host}"
        endpoint = serverFromString(self.reactor, description)
        d = endpoint.listen(self.factory)

        def listening(port: IListeningPort) -> "MockServer":
            self._listening = port
            address = port.getHost()
            self.port = getattr(address, "port", self.port)
            return self

        return d.addCallback(listening)

    def stop(self) -> "Deferred[None]":
        """
        Stop serving: cancel every timer, close WebSockets with 1001 (going away),
        close idle HTTP connections, stop listening. Fires once every connection is
        gone; clients that do not answer the close frame within
        :data:`STOP_GRACE_SECONDS` are aborted.
        """
        if self._stopping is not None:
            return self._stopping
        self.hub.stop()
        if self.faults is not None:
            self.faults.stop()
        self.ws_factory.close_all(GOING_AWAY, "server stopping")
        stopped: Deferred[Any] = succeed(None)
        if self._listening is not None:
            stopped = Deferred.fromCoroutine(_as_coro(self._listening.stopListening()))
            self._listening = None
        self._stopping = done = Deferred()
        grace = self.reactor.callLater(STOP_GRACE_SECONDS, self.factory.abort_all)

        def all_closed(_: object) -> None:
            if grace.active():
                grace.cancel()
            done.callback(None)

        def connections_gone(_: object) -> Deferred[None]:
            # WebSockets were sent a close frame; everything else (HTTP keep-alive,
            # half-sent requests) is closed once its output is flushed.
            return self.factory.when_idle(close=lambda p: not isinstance(p, StreamProtocol))

        stopped.addCallback(connections_gone).addCallback(all_closed)
        return done


def _control_json(status: int, value: Any) -> RestResponse:
    return RestResponse(status, json.dumps(value).encode(), content_type="application/json")


async def _as_coro(result: Any) -> Any:
    if isinstance(result, Deferred):
        return await result
    return result


class _QuietSite(Site):
    """A Site that does not write an access log line per request (the hot path)."""

    def log(self, request: Any) -> None:
        pass

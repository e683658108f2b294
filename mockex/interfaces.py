"""
The contracts between mockex's shared machinery and the venues it imitates.

A venue (an *exchange plugin*) knows only its own formats and rules: which REST routes
exist and how they parse parameters and format rows, how its WebSocket sessions speak,
how it spells symbols and intervals, what its errors look like. It never touches a
transport, a timer, a fault, a rate-limit counter or a random generator: those are
shared, and reach the venue through :class:`IVenueContext` and :class:`IStreamLink`.

Venues are discovered with ``twisted.plugin.getPlugins(IExchange, mockex.plugins)``;
any installed package may ship a ``mockex/plugins``-style dropin (see docs/plugins.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from attrs import field, frozen
from twisted.plugin import IPlugin
from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from mockex.intervals import Interval
    from mockex.market import Candle, CandleSource, Market


# ---------------------------------------------------------------------------
# REST values


@frozen
class RestRequest:
    """A REST request as a venue handler sees it: decoded, transport-free."""

    method: str
    path: str
    #: query (and form) arguments, decoded as UTF-8, every value in order of arrival
    args: Mapping[str, Sequence[str]]
    #: request headers, names lower-cased, first value only
    headers: Mapping[str, str]
    body: bytes = b""
    #: values captured from the route pattern (``/kline/<symbol>``)
    path_args: Mapping[str, str] = field(factory=dict)
    client: str = "127.0.0.1"
    #: the serial of the connection it came on (0: none, e.g. an in-memory request);
    #: shared machinery uses it to find the connection (faults) and for targeting
    connection: int = 0

    def arg(self, name: str) -> str | None:
        """The first value of query argument ``name``, or None if it was not sent."""
        values = self.args.get(name)
        return values[0] if values else None


@frozen
class RestResponse:
    """What a venue answers; the shared layer writes it (and may fault it)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json;charset=UTF-8"


RestHandler = Callable[[RestRequest, "IVenueContext"], RestResponse]


@frozen
class RestRoute:
    """One REST endpoint of a venue."""

    method: str
    #: a Klein (werkzeug) route pattern, e.g. ``/api/v3/klines``
    path: str
    handler: RestHandler
    #: a stable name for targeting faults and rate limits (defaults to the path)
    name: str = ""


class VenueError(Exception):
    """Raised by a venue handler to answer with its own error response."""

    def __init__(self, response: RestResponse) -> None:
        super().__init__(response.status, response.body)
        self.response = response


#: Kinds of error the shared machinery asks a venue to express in its own format.
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
INTERNAL = "internal"  # an unexpected failure: the venue's "unknown error"
DISCONNECTED = "disconnected"  # the venue's internal-disconnect 5xx
TIMEOUT = "timeout"  # the venue's backend-timeout 5xx
BUSY = "busy"  # the venue's server-busy 5xx
#: Over a rate limit (Binance: 429, -1003). ``detail`` is the violated window as
#: ``"<type> <limit> <interval_num> <interval>"``, e.g. ``"REQUEST_WEIGHT 6000 1 MINUTE"``.
RATE_LIMITED = "rate_limited"
#: Banned for going on over a limit (Binance: 418, -1003). ``detail`` is the end of
#: the ban, epoch milliseconds of the market clock, e.g. ``"1795565040000"``.
BANNED = "banned"


class IRestMiddleware(Interface):
    """
    Shared machinery around every REST handler (rate limiting, faults, control). Runs
    in order for ``before``, reverse order for ``after``. Venues never provide this.
    """

    def before(route: RestRoute, request: RestRequest) -> RestResponse | None:
        """A response to answer with instead of calling the handler, or None to go on."""

    def after(route: RestRoute, request: RestRequest, response: RestResponse) -> RestResponse:
        """The response as it will be written (headers added, body faulted...)."""


# ---------------------------------------------------------------------------
# Streams


@frozen
class Feed:
    """A live candle series: one market, one interval, one time-zone offset."""

    market: "Market"
    interval: "Interval"
    offset_ms: int = 0


@frozen
class CandleUpdate:
    """One push of a feed: the candle as of ``event_ms`` (closed or not)."""

    feed: Feed
    candle: "Candle"
    event_ms: int


class ITopic(Interface):
    """
    A subscription as a venue formats it: a feed, plus whatever changes the bytes
    (stream name, wrapping, time unit). Topics are hashable values; all subscribers of
    equal topics share one serialized, prepared message per update.
    """

    feed = Attribute("The :class:`Feed` this topic follows.")
    binary = Attribute(
        "Optional: True if :meth:`render` returns a binary message (MEXC's protobuf "
        "pushes) rather than UTF-8 text. Topics without the attribute are text."
    )

    def render(update: CandleUpdate) -> bytes | None:
        """
        The message (UTF-8 JSON text, or bytes for a binary topic) that carries
        ``update`` on this topic, or None to send nothing for it (a topic that only
        uses the feed as a clock, such as a venue's heartbeat channel, skips the
        closing push).
        """


class IStreamLink(Interface):
    """What a venue's WebSocket session may do with its connection."""

    def now_ms() -> int:
        """The market clock, epoch milliseconds."""

    max_streams = Attribute(
        "How many streams this connection may listen to now (None: no limit). The "
        "session answers a request beyond it with the venue's own error."
    )

    def send(payload: bytes, binary: bool = False) -> None:
        """Send one message: text (UTF-8), or a binary frame if ``binary``."""

    def subscribe(topic: ITopic) -> None:
        """Start pushing ``topic``'s updates to this connection."""

    def unsubscribe(topic: ITopic) -> None:
        """Stop pushing ``topic``."""

    def close(code: int, reason: str = "") -> None:
        """Close the connection with a close frame."""

    def heard() -> None:
        """
        The client answered an application-level ping (the venue's own pong message):
        reset the pong timeout, as a WebSocket pong frame does.
        """

    topics = Attribute("The topics this connection is subscribed to, in order.")


class IStreamSession(Interface):
    """One WebSocket connection's venue-side protocol, free of I/O."""

    def opened(link: IStreamLink) -> None:
        """The handshake completed: greet, subscribe to streams named in the URL."""

    def received(payload: bytes, is_binary: bool) -> None:
        """A message arrived from the client."""

    def ping_payload() -> bytes | None:
        """
        The payload of the server's next keep-alive ping frame, or None if the venue
        does not ping at the WebSocket level.
        """



class IShutdownNoticeSession(IStreamSession):
    """
    A session of a venue that warns clients before planned maintenance (Binance's
    ``serverShutdown``). Optional: the shared machinery sends no notice to sessions
    that do not provide it.
    """

    def shutdown_notice(now_ms: int) -> bytes | None:
        """
        The venue's "server going away" message for this connection, in its current
        format (raw or combined, ms or µs), or None.
        """


class IAppPingSession(IStreamSession):
    """
    A session of a venue whose server sends application-level pings (a JSON message
    such as AscendEX's ``{"m":"ping","hp":3}``, not a WebSocket ping frame). The shared
    protocol calls :meth:`app_ping_payload` every ``Keepalive.app_ping_interval``
    seconds on the injected reactor and sends the result; the session calls
    :meth:`IStreamLink.heard` when the client's pong message arrives.
    """

    def app_ping_payload(now_ms: int) -> bytes | None:
        """The next application-level ping message, or None to skip this one."""


@frozen
class Keepalive:
    """
    A venue's WebSocket keep-alive: server pings and how long it waits for pongs.
    Every timer runs in the shared protocol, on the injected reactor.
    """

    #: seconds between server pings; 0: the server does not ping
    ping_interval: float = 0.0
    #: seconds without a pong (or any frame) before the server drops the connection
    pong_timeout: float = 0.0
    #: whether any client message (not only a pong frame) counts as a sign of life:
    #: for venues whose keep-alive is an application-level ping the client sends
    #: (KuCoin's ``{"type":"ping"}``). With it, ``ping_interval`` is how often the
    #: server checks, and a session whose ``ping_payload()`` is None never pings.
    any_message: bool = False
    #: seconds between application-level server pings (the session must provide
    #: :class:`IAppPingSession`); 0: none. ``pong_timeout`` applies to them too: the
    #: session reports each pong message with :meth:`IStreamLink.heard`.
    app_ping_interval: float = 0.0
    #: seconds without any message in either direction before the server drops the
    #: connection (Hyperliquid: 60); 0: never
    idle_timeout: float = 0.0
    #: seconds a connection may go on without any subscription (from its opening,
    #: or from its last unsubscription) before the server drops it (MEXC: 30); 0: never
    unsubscribed_timeout: float = 0.0


@frozen
class Handshake:
    """The parts of a WebSocket upgrade request a venue looks at."""

    path: str
    params: Mapping[str, Sequence[str]]
    headers: Mapping[str, str]
    #: the raw query string (still %-encoded; a ``+`` in it is a plus sign)
    query: str = ""


# ---------------------------------------------------------------------------
# Context the shared machinery gives a venue


class IVenueContext(Interface):
    """Everything a venue may use at run time; all of it belongs to the server."""

    source = Attribute("The :class:`~mockex.market.CandleSource` of this server.")
    markets = Attribute(
        "The markets this server lists: an ordered mapping from the venue's own symbol "
        "to :class:`~mockex.market.Market`."
    )
    options = Attribute("Venue switches (a mapping), for behaviours the venue documents.")
    rows = Attribute(
        "The :class:`~mockex.rows.RowCache` of this server: formatted closed candles."
    )
    limits = Attribute(
        "The :class:`~mockex.ratelimit.Limits` enforced now (the venue's declaration as "
        "adjusted at run time): what the venue advertises (Binance: exchangeInfo "
        "``rateLimits``) is read from here."
    )

    def now_ms() -> int:
        """The market clock, epoch milliseconds."""


# ---------------------------------------------------------------------------
# The plugin contract


class IExchange(IPlugin):
    """
    A venue. Provided by a module-level object in a ``mockex.plugins`` dropin.

    Everything here is declarative or a pure function of its arguments: per-server
    state lives in the :class:`IVenueContext` and the session objects.

    A venue may also declare ``limits``, a :class:`~mockex.ratelimit.Limits` value
    (see docs/rate-limits.md); without it nothing is limited.
    """

    name = Attribute("The ``--exchange`` name, e.g. ``binance_spot``.")
    description = Attribute("One line for ``twistd mockex --help-exchanges``.")
    intervals = Attribute(
        "Mapping from the venue's interval names to :class:`~mockex.intervals.Interval`."
    )
    keepalive = Attribute("The venue's WebSocket :class:`Keepalive`.")
    # Optional (so not an Attribute, which verifyObject would demand):
    # ``limits``, the venue's :class:`~mockex.ratelimit.Limits` (REST windows, per-route
    # weights, used-weight headers, ban policy, WebSocket limits) as data. The shared
    # rate limiter enforces it; a venue never counts anything. Absent: no limits.

    def default_markets() -> Sequence["Market"]:
        """The markets listed when the user names none."""

    def market_for(symbol: str, price: float) -> "Market":
        """
        A market from a user-given symbol in the venue's spelling (``BTCUSDT``,
        ``BTC-USDT``) or mockex's neutral one (``BTC/USDT``). Raises ValueError.
        """

    def symbol(market: "Market") -> str:
        """The venue's spelling of ``market``."""

    def rest_routes() -> Sequence[RestRoute]:
        """Every REST endpoint."""

    def ws_paths() -> Sequence[str]:
        """Klein path patterns that upgrade to WebSocket."""

    def error_response(kind: str, detail: str = "") -> RestResponse:
        """
        The venue's own answer for an error the shared machinery detects (for
        ``RATE_LIMITED`` and ``BANNED``, ``detail`` is described with the kind).
        """

    def open_session(handshake: Handshake, context: IVenueContext) -> IStreamSession:
        """
        A session for a WebSocket upgrade. Raise :class:`VenueError` to refuse the
        handshake with that HTTP response.
        """

    def stream_period_ms(interval: "Interval") -> int:
        """How often the venue pushes an open candle of ``interval``."""


# ---------------------------------------------------------------------------
# Optional: recording (record mode, mockex.record)


@frozen
class RecordedCandle:
    """
    One kline as a venue's REST answer or stream push shows it, for record mode.

    Prices and volumes are the venue's decimal strings, unchanged (the recorder writes
    them as they are, so a replay formats them back to the same bytes). What the venue
    does not show is None: the recorder writes the replay format's neutral value (an
    empty quote volume, read back as volume x close; 0 trades and taker volumes).
    """

    #: the symbol as the venue names it in that answer or push (``BTC-USDT``, ``XBT/USD``)
    symbol: str
    #: the interval as a key of the plugin's ``intervals`` (a parser translates a
    #: stream's own spelling, e.g. OKX ``candle1H`` -> ``1H``)
    interval: str
    open_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    quote_volume: str | None = None
    trades: int | None = None
    taker_base: str | None = None
    taker_quote: str | None = None
    #: closed (True), still open (False), or the venue does not say (None: the
    #: recorder takes the candle's last update once a later open time arrives)
    closed: bool | None = None


class IKlineRecording(Interface):
    """
    A venue whose klines record mode can record. Optional: a plugin that does not
    provide it is passed through unrecorded.

    Both methods are pure functions of their arguments and never raise: whatever
    the upstream sends (or a client asks), the worst outcome is an empty answer, so a
    parser can never break the pass-through. Every other concern (which candles are
    closed, de-duplication, file names and their safety, the file format) belongs to
    :mod:`mockex.record`.
    """

    def recorded_rest_klines(
        path: str, args: Mapping[str, Sequence[str]], body: bytes, answer: bytes
    ) -> Sequence[RecordedCandle]:
        """
        The candles of a successful (200) REST answer to ``path`` with query (or form)
        ``args`` and request ``body``, in any order; empty if the request is not one
        of the venue's kline requests. ``closed`` is not used: in a REST answer every
        row but the newest is closed.
        """

    def recorded_stream_klines(payload: bytes, binary: bool) -> Sequence[RecordedCandle]:
        """The candles a WebSocket message from the venue carries (empty if none)."""

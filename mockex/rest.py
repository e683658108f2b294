"""
The REST side: a Klein application built from a venue's route table.

Shared machinery only: it decodes the request into a :class:`RestRequest`, calls the
venue's handler, and writes the :class:`RestResponse`. Whatever goes wrong is answered
in the venue's own error format: an unknown path or method, a malformed query, a bug
in a handler (logged, answered as the venue's "unknown error"). No request can produce
a traceback page or kill the server.
"""

from __future__ import annotations

import re
from typing import Any, Sequence
from urllib.parse import parse_qsl

from klein import Klein
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from mockex.interfaces import (
    INTERNAL,
    METHOD_NOT_ALLOWED,
    IRestMiddleware,
    NOT_FOUND,
    IExchange,
    IVenueContext,
    RestRequest,
    RestResponse,
    RestRoute,
    VenueError,
)

log = Logger()

#: The path prefix reserved for mockex's own control API.
CONTROL_PREFIX = "/__mockex__"


def _decode(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def parse_query(query: bytes) -> dict[str, list[str]]:
    """
    A query string as venues read it: every key kept, including bare ``?KEY`` and
    empty values (Twisted's ``request.args`` drops keys without ``=``, and Binance
    counts them: -1104).
    """
    args: dict[str, list[str]] = {}
    for name, value in parse_qsl(_decode(query), keep_blank_values=True):
        args.setdefault(name, []).append(value)
    return args


def to_rest_request(request: IRequest, path_args: dict[str, str]) -> RestRequest:
    """The venue's view of a Twisted request."""
    _, _, query = request.uri.partition(b"?")
    args = parse_query(query) if query else {}
    form = request.args or {}
    if form and request.method != b"GET":
        for k, vs in form.items():
            name = _decode(k)
            if name not in args:
                args[name] = [_decode(v) for v in vs]
    headers = {
        _decode(name).lower(): _decode(values[0])
        for name, values in request.requestHeaders.getAllRawHeaders()
    }
    body = request.content.read() if request.content is not None else b""
    client = request.getClientAddress()
    channel = getattr(request, "channel", None)
    connection = getattr(getattr(channel, "transport", None), "connection_serial", 0)
    return RestRequest(
        method=_decode(request.method),
        path=_decode(request.path),
        args=args,
        headers=headers,
        body=body,
        path_args=path_args,
        client=getattr(client, "host", ""),
        connection=connection if isinstance(connection, int) else 0,
    )


def set_exact_header(request: IRequest, name: str, value: str) -> None:
    """
    Set a response header with its name written exactly as given. Twisted writes
    every name in Http-Header-Case; venues send some in lower case on the wire
    (Binance: ``x-mbx-used-weight``), so those go into the header table as they are.
    """
    encoded = value.encode("latin-1")
    names = _EXACT_NAMES.get(name)
    if names is None:
        raw = name.encode("latin-1")
        canonical = b"-".join(word.capitalize() for word in raw.split(b"-"))
        names = _EXACT_NAMES[name] = (raw, canonical, raw != canonical and bool(_TOKEN.match(raw)))
    raw, canonical, exact = names
    store = getattr(request.responseHeaders, "_rawHeaders", None)
    if not exact or not isinstance(store, dict) or b"\n" in encoded or b"\r" in encoded:
        request.setHeader(raw, encoded)
        return
    store.pop(canonical, None)
    store[raw] = [encoded]


_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: header name -> (as bytes, Http-Header-Case, whether to write it exactly); venues
#: declare a handful of names, so this stays small
_EXACT_NAMES: dict[str, tuple[bytes, bytes, bool]] = {}


def write_response(request: IRequest, response: RestResponse) -> bytes:
    request.setResponseCode(response.status)
    request.setHeader(b"content-type", response.content_type.encode("latin-1"))
    request.setHeader(b"content-length", b"%d" % len(response.body))
    for name, value in response.headers:
        set_exact_header(request, name, value)
    return response.body


class RestApp:
    """The Klein app of one server."""

    def __init__(
        self,
        venue: IExchange,
        context: IVenueContext,
        ws_resource: IResource | None = None,
        middleware: Sequence[IRestMiddleware] = (),
        control: Any = None,
    ) -> None:
        self.venue = venue
        self.context = context
        #: shared machinery around every handler; see IRestMiddleware
        self.middleware: list[IRestMiddleware] = list(middleware)
        self.app = app = Klein()
        # Venues answer odd paths themselves: werkzeug must not merge ``//``, and
        # its slash redirects (an HTML 308) become the venue's 404.
        app.url_map.merge_slashes = False
        for route in venue.rest_routes():
            endpoint = f"{route.method} {route.path}"
            app.route(route.path, methods=[route.method], endpoint=endpoint)(
                self._endpoint(route)
            )
        if control is not None:
            # Shared control endpoints (faults, journal...) under a reserved prefix,
            # outside the venue's routes and outside the middleware.
            app.route(f"{CONTROL_PREFIX}/", branch=True, endpoint="mockex control")(
                lambda request: write_response(request, control.handle(request))
            )
        if ws_resource is not None:
            for path in venue.ws_paths():
                app.route(path, endpoint=f"ws {path}")(lambda request, **kw: ws_resource)
        app.handle_errors(NotFound, RequestRedirect)(self._not_found)
        app.handle_errors(MethodNotAllowed)(self._method_not_allowed)

    def resource(self) -> IResource:
        return self.app.resource()

    def _endpoint(self, route: RestRoute) -> Any:
        def serve(request: IRequest, **path_args: str) -> bytes:
            return self.serve(route, request, path_args)

        serve.__name__ = route.name or route.path
        return serve

    def serve(self, route: RestRoute, request: IRequest, path_args: dict[str, str]) -> bytes:
        rest_request = to_rest_request(request, path_args)
        response = None
        ran = 0
        try:
            for layer in self.middleware:
                ran += 1
                response = layer.before(route, rest_request)
                if response is not None:
                    break
            if response is None:
                response = route.handler(rest_request, self.context)
        except VenueError as e:
            response = e.response
        except Exception:
            log.failure("{venue} handler for {path} failed", venue=self.venue.name, path=route.path)
            response = self.venue.error_response(INTERNAL)
        try:
            for layer in reversed(self.middleware[:ran]):
                response = layer.after(route, rest_request, response)
        except Exception:
            log.failure("REST middleware failed on {path}", path=route.path)
            response = self.venue.error_response(INTERNAL)
        return write_response(request, response)

    def _not_found(self, request: IRequest, failure: Failure) -> bytes:
        return write_response(request, self.venue.error_response(NOT_FOUND))

    def _method_not_allowed(self, request: IRequest, failure: Failure) -> bytes:
        return write_response(request, self.venue.error_response(METHOD_NOT_ALLOWED))

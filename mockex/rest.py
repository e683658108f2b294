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

from klein import Klein
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from werkzeug.exceptions import MethodNotAllowed, NotFound

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


def _decode(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def to_rest_request(request: IRequest, path_args: dict[str, str]) -> RestRequest:
    """The venue's view of a Twisted request."""
    raw_args = request.args or {}
    args = {_decode(k): [_decode(v) for v in vs] for k, vs in raw_args.items()}
    headers = {
        _decode(name).lower(): _decode(values[0])
        for name, values in request.requestHeaders.getAllRawHeaders()
    }
    body = request.content.read() if request.content is not None else b""
    client = request.getClientAddress()
    return RestRequest(
        method=_decode(request.method),
        path=_decode(request.path),
        args=args,
        headers=headers,
        body=body,
        path_args=path_args,
        client=getattr(client, "host", ""),
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
    ) -> None:
        self.venue = venue
        self.context = context
        #: shared machinery around every handler; see IRestMiddleware
        self.middleware: list[IRestMiddleware] = list(middleware)
        self.app = app = Klein()
        for route in venue.rest_routes():
            endpoint = f"{route.method} {route.path}"
            app.route(route.path, methods=[route.method], endpoint=endpoint)(
                self._endpoint(route)
            )
        if ws_resource is not None:
            for path in venue.ws_paths():
                app.route(path, endpoint=f"ws {path}")(lambda request, **kw: ws_resource)
        app.handle_errors(NotFound)(self._not_found)
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

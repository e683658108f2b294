"""
The HTTP control API, on the server's own port under ``/__mockex__/``.

=======  ==========================  ==================================================
GET      /__mockex__/faults          the rules, the seed and the network conditions
POST     /__mockex__/faults          add one rule (an object) or several (a list)
PUT      /__mockex__/faults          replace every rule: a scenario ({"rules": [...]})
DELETE   /__mockex__/faults          remove every rule
GET      /__mockex__/faults/<id>     one rule
DELETE   /__mockex__/faults/<id>     remove one rule
GET      /__mockex__/network         latency_ms, jitter_ms, packet_loss_rate, error_rate
PUT      /__mockex__/network         set them (as ``set_network_conditions``)
GET      /__mockex__/journal         injected faults (``?since=N``: from entry N on)
POST     /__mockex__/scenario        load a scenario: inline ({"scenario": {...}}) or a
                                     file of the scenario directory ({"file": "x.yaml"})
POST     /__mockex__/reset           remove every rule and empty the journal
=======  ==========================  ==================================================

Callers that are not on a loopback address are refused (403) unless a token is
configured; with a token, every caller must send it in ``X-Mockex-Token``. Answers are
JSON; bad input is a 400 with ``{"error": "..."}``, never a traceback.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Callable, Any

from twisted.web.iweb import IRequest

from mockex.faults import FaultController, FaultError
from mockex.interfaces import RestResponse

JSON = "application/json"
MAX_BODY = 1 << 20


def _json(status: int, value: Any) -> RestResponse:
    return RestResponse(status, json.dumps(value, separators=(",", ":")).encode(), content_type=JSON)


def _error(status: int, message: str) -> RestResponse:
    return _json(status, {"error": message})


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class ControlApi:
    """Answers ``/__mockex__/...`` requests for one server's fault controller."""

    def __init__(
        self,
        faults: FaultController,
        token: str | None = None,
        extensions: "dict[str, Callable[[str, list[str], Any], RestResponse]] | None" = None,
    ) -> None:
        self.faults = faults
        self.token = token or None
        #: more endpoints ``/__mockex__/<name>[/...]``: ``handler(method, rest_of_path,
        #: json_body)``, behind the same access rule (market scenarios, rate limits)
        self.extensions = dict(extensions or {})

    def allowed(self, request: IRequest) -> bool:
        if self.token is not None:
            given = request.getHeader(b"x-mockex-token") or b""
            return hmac.compare_digest(given, self.token.encode("utf-8"))
        address = request.getClientAddress()
        host = getattr(address, "host", None)
        if host is None:
            return True  # a UNIX socket: local by construction
        return is_loopback(host)

    def handle(self, request: IRequest) -> RestResponse:
        if not self.allowed(request):
            return _error(403, "the control API answers loopback callers, or callers with the token")
        method = request.method.decode("ascii", "replace")
        parts = [p for p in request.path.decode("utf-8", "replace").split("/") if p][1:]
        try:
            body = self._body(request) if method in ("POST", "PUT") else None
            return self._dispatch(method, parts, body, request)
        except FaultError as e:
            return _error(400, str(e))
        except _BadRequest as e:
            return _error(400, str(e))

    def _body(self, request: IRequest) -> Any:
        content = request.content
        raw = content.read(MAX_BODY + 1) if content is not None else b""
        if len(raw) > MAX_BODY:
            raise _BadRequest("body too large")
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise _BadRequest(f"body is not JSON: {e}") from None

    def _dispatch(self, method: str, parts: list[str], body: Any, request: IRequest) -> RestResponse:
        faults = self.faults
        route = parts[0] if parts else ""
        if route == "faults" and len(parts) == 1:
            if method == "GET":
                return _json(200, self._state())
            if method == "DELETE":
                faults.clear()
                return _json(200, self._state())
            if method == "POST":
                items = body if isinstance(body, list) else [body]
                if body is None:
                    raise _BadRequest("POST a rule object or a list of rules")
                added = faults.add_all(items)
                return _json(201, {"added": [r.to_dict() for r in added]})
            if method == "PUT":
                if not isinstance(body, dict):
                    raise _BadRequest("PUT a scenario object: {\"rules\": [...], \"timeline\": [...]}")
                faults.load_scenario(body)
                return _json(200, self._state())
        elif route == "faults" and len(parts) == 2:
            rule = faults.get(parts[1])
            if method == "GET":
                return _json(200, rule.to_dict()) if rule else _error(404, "no such rule")
            if method == "DELETE":
                return _json(200, {"removed": parts[1]}) if faults.remove(parts[1]) else _error(404, "no such rule")
        elif route == "network" and len(parts) == 1:
            if method == "GET":
                return _json(200, faults.network_conditions())
            if method == "PUT":
                if not isinstance(body, dict) or set(body) - {"latency_ms", "packet_loss_rate", "error_rate", "jitter_ms"}:
                    raise _BadRequest("PUT {latency_ms, jitter_ms, packet_loss_rate, error_rate}")
                faults.set_network_conditions(**body)
                return _json(200, faults.network_conditions())
        elif route == "journal" and len(parts) == 1:
            if method == "GET":
                since_text = (request.args or {}).get(b"since", [b"0"])[0]
                try:
                    since = int(since_text)
                except ValueError:
                    raise _BadRequest("since must be an integer") from None
                entries = faults.journal_entries(max(0, since))
                return _json(200, {"total": faults.journal_total, "entries": [e.to_dict() for e in entries]})
        elif route == "scenario" and len(parts) == 1:
            if method == "POST":
                if not isinstance(body, dict) or len(body) != 1 or not ({"scenario", "file"} & set(body)):
                    raise _BadRequest("POST {\"scenario\": {...}} or {\"file\": \"name.yaml\"}")
                if "file" in body:
                    if not isinstance(body["file"], str):
                        raise _BadRequest("file must be a string")
                    faults.load_scenario(body["file"], untrusted=True)
                else:
                    if not isinstance(body["scenario"], dict):
                        raise _BadRequest("scenario must be an object")
                    faults.load_scenario(body["scenario"])
                return _json(200, self._state())
        elif route in self.extensions:
            return self.extensions[route](method, parts[1:], body)
        elif route == "reset" and len(parts) == 1:
            if method == "POST":
                faults.reset()
                return _json(200, self._state())
        else:
            return _error(404, "unknown control path")
        return _error(405, "method not allowed here")

    def _state(self) -> dict[str, Any]:
        faults = self.faults
        return {
            "seed": faults.seed,
            "rules": [r.to_dict() for r in faults.rules],
            "network": faults.network_conditions(),
            "journal_total": faults.journal_total,
        }


class _BadRequest(Exception):
    pass

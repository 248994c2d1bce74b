"""The web layer's client of the public API: the same /api/v1 routes an outside client calls, with the
signed-in user's access token, through the gateway's own route table and upstream pools (gateway/upstream.py).

Never a service's database, never an internal route: a page can do exactly what the API lets that user do, and
every check (roles, ownership, feature switches) stays where it is. A service that does not answer becomes an
`Answer` with status 502/503/504 like any other, so a page can show that part as unavailable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from gateway.routes import RouteTable
from gateway.upstream import Upstream, UpstreamBroken, UpstreamTimeout, UpstreamUnavailable

# Calls of one page run side by side; a page needs at most a handful, a worker serves a few pages at once.
_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="web-api")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    _json: Any = field(default=None, repr=False)
    # True only when the request never left the gateway (no connection to the service): nothing was done. A 502 or
    # 504 (sent, no whole answer) or a service's own 5xx may have done it: the outcome is unknown.
    not_sent: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unavailable(self) -> bool:
        """The service is down, slow or broken: show this part as unavailable."""
        return self.status >= 500

    def json(self) -> dict:
        """The body as an object; {} for an empty, broken or non-object body (every answer of the API is one)."""
        if self._json is None:
            try:
                parsed = json.loads(self.body) if self.body else {}
            except ValueError:
                parsed = {}
            self._json = parsed if isinstance(parsed, dict) else {}
        return self._json

    @property
    def problem_type(self) -> str:
        return str(self.json().get("type") or "").rsplit("/", 1)[-1]

    @property
    def detail(self) -> str:
        body = self.json()
        return str(body.get("detail") or body.get("title") or "")

    @property
    def field_errors(self) -> dict[str, list[str]]:
        """The API's field problems, flattened to dotted names (address.city) as the forms name their inputs."""
        errors = self.json().get("errors")
        return _flatten(errors) if isinstance(errors, dict) else {}


def _flatten(errors: Mapping, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in errors.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = [str(v) for v in value if not isinstance(v, Mapping)]
            for v in value:
                if isinstance(v, Mapping):
                    out.update(_flatten(v, name + "."))
        else:
            out[name] = [str(value)]
    return out


def _problem(status: int, detail: str, *, not_sent: bool = False) -> Answer:
    body = json.dumps({"status": status, "title": "Service unavailable", "detail": detail}).encode()
    return Answer(status, {"content-type": "application/problem+json"}, body, not_sent=not_sent)


class Api:
    """Calls /api/v1 routes for the web layer: one route lookup, one pooled upstream exchange."""

    def __init__(self, pools: Mapping[str, Upstream], routes: RouteTable | None = None):
        self.pools = pools
        self.routes = routes or RouteTable()

    def call(self, method: str, path: str, *, token: str | None = None, json_body: Any = None,
             query: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Answer:
        route = self.routes.match(path)
        if route is None:
            raise LookupError(f"no service owns {path}")  # a programming error: the web calls known routes only
        out = [("Accept", "application/json"), *(headers or {}).items()]
        if token:
            out.append(("Authorization", f"Bearer {token}"))
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            out.append(("Content-Type", "application/json"))
        elif method in ("POST", "PUT", "PATCH"):
            body = b""
        params = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        target = f"{path}?{urlencode(params, doseq=True)}" if params else path
        try:
            response = self.pools[route.upstream].request(method, target, out, body)
        except UpstreamUnavailable:
            return _problem(503, f"The {route.upstream} service is not answering.", not_sent=True)
        except UpstreamTimeout:
            return _problem(504, f"The {route.upstream} service took too long to answer.")
        except UpstreamBroken:
            return _problem(502, f"The {route.upstream} service gave no valid answer.")
        data = response.body if response.chunks is None else b"".join(response.chunks)
        return Answer(response.status, {k.lower(): v for k, v in response.headers}, data)

    def gather(self, calls: Mapping[str, tuple]) -> dict[str, Answer]:
        """Several calls at once: {name: (method, path, kwargs)} -> {name: Answer}."""
        if len(calls) == 1:
            ((name, (method, path, kwargs)),) = calls.items()
            return {name: self.call(method, path, **kwargs)}
        futures = {name: _POOL.submit(self.call, method, path, **kwargs)
                   for name, (method, path, kwargs) in calls.items()}
        return {name: future.result() for name, future in futures.items()}

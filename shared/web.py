"""What every Flask app of the suite gets: request ids, JSON logs, metrics, problem errors, probes, OpenAPI."""

from __future__ import annotations

import json
import math
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import unquote_to_bytes, urlparse

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import text

from shared import metrics
from shared.errors import BadRequest, Mapped, UnsupportedMediaType, install_error_handlers, problem
from shared.logs import configure_logging, correlation_id_var, request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def incoming_id(header: str) -> str:
    value = request.headers.get(header, "")
    return value if _SAFE_ID.match(value) else uuid.uuid4().hex


def create_base_app(name: str, config, *, error_map: dict[type[Exception], Mapped] | None = None,
                    readiness: Iterable[Callable[[], None]] = ()) -> Flask:
    app = Flask(name)
    app.config["SERVICE"] = config.service
    app.config["PORTAL"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    configure_logging(config.service, config.log_level)
    install_error_handlers(app, error_map)
    service = config.service

    @app.before_request
    def _start():
        g.started = time.perf_counter()
        g.request_id = incoming_id("X-Request-ID")
        g.correlation_id = incoming_id("X-Correlation-ID") if "X-Correlation-ID" in request.headers \
            else g.request_id
        request_id_var.set(g.request_id)
        correlation_id_var.set(g.correlation_id)
        # Before any route (and any authentication): an id or a search term holding NUL or bytes that are not
        # UTF-8 would otherwise reach the database as a 500.
        refused = refused_request_part()
        if refused:
            where, message = refused
            return problem(400, "bad-request", "Bad request", message, errors={where: [message]})

    @app.after_request
    def _finish(response: Response):
        # The route template, never the raw path: paths may carry registration or reset tokens.
        route = request.url_rule.rule if request.url_rule else "unmatched"
        started = getattr(g, "started", None)
        if started is not None:
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
            metrics.HTTP_LATENCY.labels(service, request.method, route).observe(elapsed)
        if getattr(g, "request_id", None):
            response.headers["X-Request-ID"] = g.request_id
        # Our answers are personal (a client's record, tokens, balances) unless a route says otherwise, as the
        # JWKS does: no shared or browser cache keeps them, and no browser reads them as anything but their type.
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    def readyz():
        failures = {}
        for check in readiness:
            try:
                check()
            except Exception as exc:  # readiness reports, never raises
                failures[getattr(check, "__name__", "check")] = type(exc).__name__
        if failures:
            return jsonify(status="unavailable", service=service, failures=failures), 503
        return jsonify(status="ready", service=service)

    @app.get("/metrics")
    def metrics_endpoint():
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.get("/openapi.json")
    def openapi():
        return jsonify(build_openapi(app, title=f"{service} service"))

    return app


def database_check(engine) -> Callable[[], None]:
    def database():
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return database


def broker_check(amqp_url: str) -> Callable[[], None]:
    parsed = urlparse(amqp_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5672

    def broker():
        with socket.create_connection((host, port), timeout=1.0):
            pass

    return broker


# --- requests and responses -------------------------------------------------------------

_URL_REFUSED = "holds a NUL character or bytes that are not UTF-8."


def _refused_text(raw: bytes) -> bool:
    try:
        return "\x00" in raw.decode("utf-8")  # strict: the UTF-8 of a lone surrogate (ED A0 80) is refused too
    except UnicodeDecodeError:
        return True


def refused_request_part() -> tuple[str, str] | None:
    """("path", a query parameter's or a header's name; why) when the request's address holds a NUL or bytes that
    are not UTF-8 (werkzeug would pass on U+FFFD or the NUL), or a header a NUL; None when it is clean."""
    # PATH_INFO is the percent-decoded path as latin-1 text (PEP 3333): encoding it back gives the bytes sent.
    if _refused_text(request.environ.get("PATH_INFO", "").encode("latin-1", "replace")):
        return "path", "The address " + _URL_REFUSED
    for pair in request.query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        name, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in (name, value))
        if _refused_text(name) or _refused_text(value):
            label = name.decode("utf-8", "replace").replace("\x00", "").replace("\ufffd", "") or "query"
            return label, f"The query parameter {label!r} {_URL_REFUSED}"
    for header, value in request.headers.items():  # gunicorn refuses these first; werkzeug's server does not
        if "\x00" in value:
            return header, f"The header {header} holds a NUL character."
    return None


# A request of ours is at most a few levels deep (a superbill's diagnosis codes: 3). Python's parser recurses, and
# near its recursion limit (about 1,000 levels) it raises RecursionError, a 500; refused far below that.
MAX_JSON_DEPTH = 32


class _Refused(ValueError):
    """The JSON parses, but is not something we take: said to the client as is."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to infinity
        raise _Refused(f"The number {text[:20]} is out of range.")
    return value


def _no_constant(name: str):
    raise _Refused(f"{name} is not JSON.")  # Python's parser takes NaN and Infinity; JSON has neither


def _unique_keys(pairs: list) -> dict:
    # A repeated key means two things to two readers (one keeps the first, another the last): refused.
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Refused(f"The body repeats the key {repeated!r}.")
    return data


def _depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def parse_json(raw: bytes):
    """JSON (RFC 8259: UTF-8, no NaN or Infinity) with unique keys, at most MAX_JSON_DEPTH deep; BadRequest else."""
    too_deep = BadRequest(f"The body is nested too deep (at most {MAX_JSON_DEPTH} levels).")
    try:
        text = raw.decode("utf-8")  # strict: no other encoding, no invalid bytes (get_json guessed UTF-16/32)
    except UnicodeDecodeError:
        raise BadRequest("The body is not UTF-8 text.") from None
    try:
        data = json.loads(text, parse_float=_finite, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except _Refused as exc:
        raise BadRequest(str(exc)) from None
    except RecursionError:
        raise too_deep from None
    except ValueError:  # JSONDecodeError; also an integer longer than Python converts (4,300 digits)
        raise BadRequest("The body is not valid JSON.") from None
    # Nesting needs an opening bracket per level: most bodies have too few to be worth walking.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth_exceeds(data, MAX_JSON_DEPTH):
        raise too_deep
    return data


def json_body() -> dict:
    """The request's JSON object, or a clear 400/415. Strings are checked by the schema (shared.schemas.Strict),
    which names the field."""
    if not request.mimetype or request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    data = parse_json(request.get_data(cache=True))
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def load(schema: Schema, *, partial: bool = False, optional: bool = False) -> dict:
    """The body loaded by `schema`. `optional`: a body every field of which may be left out may be left out
    altogether (no body, no Content-Type: loaded as {})."""
    if optional and not request.get_data(cache=True) and not request.mimetype:
        return schema.load({}, partial=partial)
    return schema.load(json_body(), partial=partial)


def refuse_unknown_query(bp) -> None:
    """On every route of `bp` that documents no query schema (`@doc(query=...)`), a query string is refused (422
    naming each parameter) rather than ignored: a client's misspelt filter never quietly answers everything."""

    @bp.before_request
    def _no_query():
        if not request.args:
            return
        view = current_app.view_functions.get(request.endpoint)
        if view is None or getattr(view, "_openapi", {}).get("query") is not None:
            return
        raise ValidationError({name: ["Unknown field."] for name in request.args})


def load_query(schema: Schema) -> dict:
    return schema.load(request.args.to_dict())


# --- OpenAPI ------------------------------------------------------------------------------

def doc(*, body: type[Schema] | Schema | None = None, response: type[Schema] | Schema | None = None,
        status: int = 200, query: type[Schema] | Schema | None = None, summary: str | None = None):
    """Records a route's schemas so /openapi.json can describe it; changes nothing at run time."""

    def decorator(view):
        view._openapi = {"body": body, "response": response, "status": status, "query": query,
                         "summary": summary}
        return view

    return decorator


def build_openapi(app: Flask, *, title: str) -> dict:
    spec = APISpec(title=title, version="1.0.0", openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        info = getattr(view, "_openapi", None)
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        operations = {}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict = {"responses": {}}
            params = re.findall(r"{([^}]+)}", path)
            if params:
                op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                    for p in params]
            if info:
                if info["summary"]:
                    op["summary"] = info["summary"]
                if info["body"] is not None:
                    op["requestBody"] = {"content": {"application/json": {"schema": info["body"]}}}
                if info["query"] is not None:
                    op.setdefault("parameters", []).append({"in": "query", "schema": info["query"]})
                if info["response"] is not None:
                    op["responses"][str(info["status"])] = {
                        "description": "OK", "content": {"application/json": {"schema": info["response"]}}}
                else:
                    op["responses"][str(info["status"])] = {"description": "OK"}
            else:
                op["responses"]["200"] = {"description": "OK"}
            op["responses"]["default"] = {"description": "application/problem+json (RFC 9457)"}
            operations[method.lower()] = op
        spec.path(path=path, operations=operations)
    return spec.to_dict()

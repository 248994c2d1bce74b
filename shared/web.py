"""What every Flask app of the suite gets: request ids, JSON logs, metrics, problem errors, probes, OpenAPI."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from urllib.parse import urlparse

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, Response, g, jsonify, request
from marshmallow import Schema
from sqlalchemy import text

from shared import metrics
from shared.errors import BadRequest, Mapped, UnsupportedMediaType, install_error_handlers
from shared.logs import configure_logging, correlation_id_var, request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def incoming_id(header: str) -> str:
    value = request.headers.get(header, "")
    return value if _SAFE_ID.match(value) else uuid.uuid4().hex


def create_base_app(name: str, config, *, error_map: dict[type[Exception], Mapped] | None = None,
                    readiness: Iterable[Callable[[], None]] = (), metrics_collectors=()) -> Flask:
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
        body, content_type = metrics.exposition(metrics_collectors)
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

def json_body() -> dict:
    """The request's JSON object, or a clear 400/415."""
    if not request.mimetype or request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("The body is not valid JSON.")
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


def load(schema: Schema, *, partial: bool = False) -> dict:
    return schema.load(json_body(), partial=partial)


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

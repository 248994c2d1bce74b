"""The proxy: checks the token for the prefix, forwards to the owning service, streams the answer back.

A plain WSGI callable rather than a Flask view: every request pays for this hop, so it does only
what it must (one route lookup, a cached token check, one pooled upstream call).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
import uuid
from urllib.parse import quote

from gateway.routes import PREFIX_ROLES, RouteTable, prefix_of
from gateway.upstream import (
    BodyIncomplete,
    BodyStream,
    Upstream,
    UpstreamBroken,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from shared import metrics
from shared.auth import TokenVerifier, check_role
from shared.errors import PROBLEM_BASE, ProblemError
from shared.logs import request_id_var

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Hop-by-hop headers (RFC 9110 7.6.1), Expect (our server already answered the client's 100-continue and we
# send the whole body, read or spooled, at once: forwarded, the service's own interim 100 is all it would buy),
# the framing (the upstream client sets its own length) and the headers the gateway sets itself.
_DROP_REQUEST = {"HTTP_CONNECTION", "HTTP_PROXY_CONNECTION", "HTTP_KEEP_ALIVE", "HTTP_PROXY_AUTHORIZATION",
                 "HTTP_TE", "HTTP_TRAILER", "HTTP_TRANSFER_ENCODING", "HTTP_UPGRADE", "HTTP_EXPECT",
                 "HTTP_CONTENT_LENGTH", "HTTP_HOST", "HTTP_X_REQUEST_ID",
                 "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST"}
_SMALL_BODY = 256 * 1024
# A request body above this (an upload: five 10 MB attachments) is spooled to a temporary file as it arrives, past
# its first MiB in memory, then sent on from there with its length: the gateway never holds one whole, and the
# service's thread never waits on a slow client (it gets the body at the network's speed, like nginx's buffering).
_SPOOL_ABOVE = 1024 * 1024
_SPOOL_PIECE = 256 * 1024


def _spooled(reader, limit: int, *, exact: bool = True) -> BodyStream | None:
    """Up to `limit` bytes of `reader` in a spooled temporary file, as a BodyStream of what came. `exact`: a body
    of a Content-Length, which must be `limit` bytes (None when it ended early); else a chunked body, whose
    length is what came (one byte past the caller's limit says it was too long)."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_ABOVE)  # noqa: SIM115 (closed after the request)
    left = limit
    while left:
        piece = reader.read(min(_SPOOL_PIECE, left))
        if not piece:
            break
        spool.write(piece)
        left -= len(piece)
    if exact and left:
        spool.close()
        return None
    length = spool.tell()
    spool.seek(0)
    return BodyStream(spool, length)
_DROP_RESPONSE = {"connection", "proxy-connection", "keep-alive", "proxy-authenticate", "te", "trailer",
                  "transfer-encoding", "upgrade", "server", "date"}


def _problem(start_response, status: int, title: str, detail: str, request_id: str, slug: str,
             headers: list[tuple[str, str]] | None = None):
    body = json.dumps({"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail,
                       "request_id": request_id}).encode()
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              413: "Content Too Large", 502: "Bad Gateway", 503: "Service Unavailable",
              504: "Gateway Timeout"}.get(status, "Error")
    # As every service's answers (shared.web): a problem may answer a request that carried a token.
    start_response(f"{status} {reason}", [("Content-Type", "application/problem+json"),
                                          ("Content-Length", str(len(body))), ("X-Request-ID", request_id),
                                          ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
                   + (headers or []))
    return [body]


class Proxy:
    def __init__(self, *, upstreams: dict[str, str], verifier: TokenVerifier, fallback, connect_timeout: float,
                 read_timeout: float, pool_size: int, max_body: int, routes: RouteTable | None = None,
                 hsts_max_age: int = 31536000, body_limits: dict[str, int] | None = None):
        self.upstreams = upstreams
        self.verifier = verifier
        self.fallback = fallback  # the Flask app: probes, metrics, OpenAPI
        self.routes = routes or RouteTable()
        self.max_body = max_body
        self.body_limits = dict(body_limits or {})  # upstream -> a larger limit than max_body (attachments)
        self.hsts = ("Strict-Transport-Security", f"max-age={hsts_max_age}")
        self.pools = {name: Upstream(url, connect_timeout=connect_timeout, read_timeout=read_timeout,
                                     pool_size=pool_size, stream_above=_SMALL_BODY)
                      for name, url in upstreams.items() if name != "gateway"}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("wsgi.url_scheme") == "https":
            # Served over HTTPS: TLS here, or a proxy's X-Forwarded-Proto that gunicorn trusted (it honours
            # the header only from FORWARDED_ALLOW_IPS, and sets wsgi.url_scheme from it).
            start_response = self._with_hsts(start_response)
        if not path.startswith("/api/"):
            return self.fallback(environ, start_response)
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request_id_var.set(request_id)
        status_holder = []

        def recording_start(status, headers, exc_info=None):
            status_holder.append(status[:3])
            return start_response(status, headers, exc_info)

        route_label = "unmatched"
        try:
            result, route_label = self._handle(environ, recording_start, path, request_id)
            return result
        finally:
            status = status_holder[0] if status_holder else "500"
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels("gateway", environ.get("REQUEST_METHOD", ""), route_label, status).inc()
            metrics.HTTP_LATENCY.labels("gateway", environ.get("REQUEST_METHOD", ""), route_label).observe(elapsed)

    def _with_hsts(self, start_response):
        def start(status, headers, exc_info=None):
            if not any(name.lower() == "strict-transport-security" for name, _ in headers):
                headers = [*headers, self.hsts]
            return start_response(status, headers, exc_info)

        return start

    def _handle(self, environ, start_response, path: str, request_id: str):
        prefix = prefix_of(path)
        if prefix is None:
            return _problem(start_response, 404, "Not found", "No such API path.", request_id, "not-found"), "unmatched"
        roles = PREFIX_ROLES[prefix]
        if roles is not None:
            try:
                header = environ.get("HTTP_AUTHORIZATION", "")
                scheme, _, token = header.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return _problem(start_response, 401, "Authentication required",
                                    "Sign in first: this needs a bearer access token.", request_id, "unauthorized",
                                    [("WWW-Authenticate", "Bearer")]), prefix
                check_role(self.verifier.principal(token.strip()), roles)
            except ProblemError as exc:  # its headers too: WWW-Authenticate with a 401, Retry-After with a 503
                extra = list(exc.headers.items())
                return _problem(start_response, exc.status, exc.title, exc.detail, request_id, exc.slug, extra), prefix
        route = self.routes.match(path)
        if route is None:
            return _problem(start_response, 404, "Not found", "No such API path.", request_id, "not-found"), prefix
        if route.upstream == "gateway":  # composed here from other routes' answers (gateway/composed.py)
            environ["HTTP_X_REQUEST_ID"] = request_id
            return self.fallback(environ, start_response), route.template
        return self._forward(environ, start_response, route.upstream, path, request_id), route.template

    def _forward(self, environ, start_response, upstream: str, path: str, request_id: str):
        headers = {"X-Request-ID": request_id}
        drop = _DROP_REQUEST
        if environ.get("HTTP_CONNECTION"):
            # Headers the client named in Connection are hop-by-hop too (RFC 9110 7.6.1).
            drop = drop | {"HTTP_" + t.strip().upper().replace("-", "_") for t in environ["HTTP_CONNECTION"].split(",")}
        for key, value in environ.items():
            if key.startswith("HTTP_") and key not in drop:
                headers[key[5:].replace("_", "-").title()] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        remote = environ.get("REMOTE_ADDR", "")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        headers["X-Forwarded-For"] = f"{forwarded}, {remote}" if forwarded else remote
        headers["X-Forwarded-Proto"] = environ.get("wsgi.url_scheme", "http")
        if environ.get("HTTP_HOST"):
            headers["X-Forwarded-Host"] = environ["HTTP_HOST"]

        body = None
        max_body = self.body_limits.get(upstream, self.max_body)
        length = environ.get("CONTENT_LENGTH")
        coding = environ.get("HTTP_TRANSFER_ENCODING")
        if coding is not None and (length or coding.strip().lower() != "chunked"):
            # Both framings at once is how request smuggling starts (RFC 9112 6.1): refuse, never guess.
            detail = ("Send either Content-Length or Transfer-Encoding, not both." if length
                      else "Transfer-Encoding may only be chunked.")
            return _problem(start_response, 400, "Bad request", detail, request_id, "bad-request")
        if length:
            if not length.isdigit():  # int() would take "-1", " 7" and "+7"
                return _problem(start_response, 400, "Bad request", "Content-Length is not a number.", request_id,
                                "bad-request")
            size = int(length)
            if size > max_body:
                return _problem(start_response, 413, "Content too large",
                                f"The body may be at most {max_body} bytes.", request_id, "payload-too-large")
            if size > _SPOOL_ABOVE:
                body = _spooled(environ["wsgi.input"], size)
            else:
                body = environ["wsgi.input"].read(size) if size else b""
            if body is None or (not isinstance(body, BodyStream) and len(body) < size):
                # the client stopped sending: what came is not the request it announced
                return _problem(start_response, 400, "Bad request", "The body ended before its Content-Length.",
                                request_id, "bad-request")
        elif coding is not None:  # chunked: bounded like a sized body, by reading one byte past the limit
            body = _spooled(environ["wsgi.input"], max_body + 1, exact=False)
            if body.length > max_body:
                body.reader.close()
                return _problem(start_response, 413, "Content too large",
                                f"The body may be at most {max_body} bytes.", request_id, "payload-too-large")
            if body.length <= _SPOOL_ABOVE:
                small = body.reader.read()
                body.reader.close()
                body = small

        # PATH_INFO arrives decoded (as latin-1 bytes, PEP 3333): encode it again so %3F, %23 and
        # non-ASCII reach the service as the client sent them.
        query = environ.get("QUERY_STRING")
        wire_path = quote(path.encode("latin-1"), safe="/!$&'()*+,;=:@~")
        url = f"{wire_path}?{query}" if query else wire_path
        try:
            try:
                response = self.pools[upstream].request(environ["REQUEST_METHOD"], url, list(headers.items()), body)
            finally:
                if isinstance(body, BodyStream):
                    body.reader.close()  # sent (or not): the spool's memory or disk goes now
        except BodyIncomplete:  # the spool could not be read back (its disk): nothing whole reached the service
            return _problem(start_response, 502, "Bad gateway", "The request could not be passed on whole.",
                            request_id, "bad-gateway")
        except UpstreamUnavailable as exc:
            metrics.UPSTREAM_ERRORS.labels(upstream, "unavailable").inc()
            log.warning("upstream unavailable", extra={"fields": {"upstream": upstream, "error": str(exc)}})
            return _problem(start_response, 503, "Service unavailable",
                            f"The {upstream} service is not answering; try again shortly.", request_id,
                            "service-unavailable", [("Retry-After", "5")])
        except UpstreamTimeout:
            metrics.UPSTREAM_ERRORS.labels(upstream, "timeout").inc()
            log.warning("upstream timed out", extra={"fields": {"upstream": upstream}})
            return _problem(start_response, 504, "Gateway timeout",
                            f"The {upstream} service took too long to answer.", request_id, "gateway-timeout")
        except UpstreamBroken as exc:
            metrics.UPSTREAM_ERRORS.labels(upstream, "bad_response").inc()
            log.warning("upstream failed", extra={"fields": {"upstream": upstream, "error": str(exc)}})
            return _problem(start_response, 502, "Bad gateway",
                            f"The {upstream} service gave no valid answer.", request_id, "bad-gateway")

        drop = _DROP_RESPONSE
        named = [v for k, v in response.headers if k.lower() == "connection"]
        if named:  # what the service named in Connection is hop-by-hop too (RFC 9110 7.6.1)
            drop = drop | {t.strip().lower() for v in named for t in v.split(",")}
        out_headers = [(k, v) for k, v in response.headers if k.lower() not in drop]
        if not any(k.lower() == "x-request-id" for k, _ in out_headers):
            out_headers.append(("X-Request-ID", request_id))
        start_response(f"{response.status} {response.reason}".strip(), out_headers)
        return [response.body] if response.chunks is None else response.chunks



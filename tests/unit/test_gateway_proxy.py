"""The gateway proxy against a fake upstream: a tiny WSGI server of our own on 127.0.0.1 that echoes
what it received. Token checks use a local signer; nothing leaves the machine.
"""

from __future__ import annotations

import io
import json
import re
import socket
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from werkzeug.test import Client

from gateway.proxy import Proxy
from shared.auth import JWKSCache, TokenVerifier

ECHOED_HEADERS = ("HTTP_", "CONTENT_TYPE", "CONTENT_LENGTH")


class Upstream:
    """Echoes method, path, query, headers and body as JSON; `/slow` waits until released."""

    def __init__(self):
        self.requests: list[dict] = []
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        seen = {
            "method": environ["REQUEST_METHOD"],
            # WSGI hands the path over as latin-1 decoded bytes; as UTF-8 it reads as sent
            "path": environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace"),
            "query": environ.get("QUERY_STRING", ""),
            "headers": {k: v for k, v in environ.items() if k.startswith(ECHOED_HEADERS)},
            "body": body.decode("utf-8", "replace"),
        }
        self.requests.append(seen)
        if seen["path"].endswith("/slow"):
            self.release.wait(5)
        status = "201 Created" if seen["path"].endswith("/created") else "200 OK"
        payload = json.dumps(seen).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                                ("X-Upstream", "identity"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return [payload]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def upstream():
    app = Upstream()
    server = make_server("127.0.0.1", 0, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    app.url = f"http://127.0.0.1:{server.server_port}"
    yield app
    app.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def seen(upstream) -> list[dict]:
    """What the upstream received during this test."""
    upstream.requests.clear()
    upstream.release.clear()
    yield upstream.requests
    upstream.release.set()


def fallback(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"fallback {environ['PATH_INFO']}".encode()]


def make_proxy(url: str, verifier, **overrides) -> Proxy:
    options = {"connect_timeout": 1.0, "read_timeout": 5.0, "pool_size": 4, "max_body": 1024}
    options.update(overrides)
    return Proxy(upstreams={"identity": url}, verifier=verifier, fallback=fallback, **options)


@pytest.fixture
def gateway(upstream, verifier) -> Client:
    return Client(make_proxy(upstream.url, verifier))


@pytest.fixture
def tokens(signer) -> dict[str, str]:
    return {
        "client": signer.access_token(user_id="u-c", role="client", client_id="c-1", ttl=300, session_id="s-c"),
        "staff": signer.access_token(user_id="u-s", role="staff", client_id=None, ttl=300, session_id="s-s"),
        "expired": signer.access_token(user_id="u-s", role="staff", client_id=None, ttl=-60, session_id="s-s"),
        "mfa": signer.mfa_token(user_id="u-s", role="staff", ttl=300),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def problem_of(response, status: int, slug: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_data())
    assert body["status"] == status and body["type"] == f"/problems/{slug}"
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


# --- access --------------------------------------------------------------------------------------

def test_staff_paths_need_a_token(gateway, seen):
    response = gateway.get("/api/v1/staff/users")
    problem_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert seen == []


def test_the_gateways_own_problems_are_never_cached_or_sniffed(gateway, seen):
    """Like every service's answers: a 401, 404 or 413 the gateway writes itself is no-store and nosniff too."""
    for response in (gateway.get("/api/v1/staff/users"), gateway.get("/api/v1/no-such-prefix"),
                     gateway.post("/api/v1/auth/login", data=b"x" * 2048, content_type="application/json")):
        assert response.mimetype == "application/problem+json"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert seen == []


@pytest.mark.parametrize("kind", ["expired", "mfa"])
def test_unusable_tokens_are_401(gateway, seen, tokens, kind):
    problem_of(gateway.get("/api/v1/staff/users", headers=bearer(tokens[kind])), 401, "unauthorized")
    assert seen == []


def test_a_token_signed_elsewhere_is_401(gateway, seen, other_signer):
    token = other_signer.access_token(user_id="u", role="admin", client_id=None, ttl=300)
    problem_of(gateway.get("/api/v1/staff/users", headers=bearer(token)), 401, "unauthorized")
    assert seen == []


def test_identity_down_before_its_keys_were_fetched_is_503_not_401(upstream, seen, tokens, signer):
    """A gateway process that has not fetched the signing keys yet, while identity is down: the token may be
    good, so 503 with Retry-After (a 401 would make the client sign its user out)."""
    def down():
        raise ConnectionRefusedError("identity is down")

    keys = JWKSCache("http://jwks.invalid/.well-known/jwks.json", fetch=down)
    gateway = Client(make_proxy(upstream.url, TokenVerifier(keys, issuer=signer.issuer, audience=signer.audience)))
    response = gateway.get("/api/v1/staff/users", headers=bearer(tokens["staff"]))
    problem_of(response, 503, "service-unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "WWW-Authenticate" not in response.headers
    assert seen == []


def test_a_client_token_on_staff_paths_is_403(gateway, seen, tokens):
    problem_of(gateway.get("/api/v1/staff/users", headers=bearer(tokens["client"])), 403, "forbidden")
    assert seen == []


def test_a_staff_token_on_portal_paths_is_403(gateway, seen, tokens):
    problem_of(gateway.get("/api/v1/portal/me", headers=bearer(tokens["staff"])), 403, "forbidden")
    assert seen == []


def test_the_right_role_is_forwarded(gateway, seen, tokens):
    assert gateway.get("/api/v1/staff/users", headers=bearer(tokens["staff"])).status_code == 200
    assert gateway.get("/api/v1/portal/me", headers=bearer(tokens["client"])).status_code == 200
    assert [s["path"] for s in seen] == ["/api/v1/staff/users", "/api/v1/portal/me"]
    # the upstream checks the token again, so it must receive it
    assert seen[0]["headers"]["HTTP_AUTHORIZATION"] == f"Bearer {tokens['staff']}"


def test_auth_paths_are_public(gateway, seen):
    assert gateway.post("/api/v1/auth/login", json={"email": "a@example.com"}).status_code == 200
    assert len(seen) == 1


def test_unknown_api_paths_are_404_problems(gateway, seen, tokens):
    problem_of(gateway.get("/api/v2/staff/users"), 404, "not-found")
    problem_of(gateway.get("/api/v1/authx/login"), 404, "not-found")
    problem_of(gateway.get("/api/v1/staff/no-such-thing", headers=bearer(tokens["staff"])), 404, "not-found")
    assert seen == []


def test_an_unknown_path_under_a_guarded_prefix_needs_the_token_first(gateway, seen):
    # no probing of which staff paths exist without a token
    problem_of(gateway.get("/api/v1/staff/no-such-thing"), 401, "unauthorized")


def test_non_api_paths_fall_through_to_the_fallback_app(gateway, seen):
    for path in ("/healthz", "/metrics", "/api-routes"):
        response = gateway.get(path)
        assert response.status_code == 200 and response.get_data(as_text=True) == f"fallback {path}"
    assert seen == []


# --- forwarding ----------------------------------------------------------------------------------

def test_method_path_query_and_body_are_forwarded(gateway, seen, tokens):
    response = gateway.open("/api/v1/staff/clients/c-9", method="PATCH", query_string="fields=a,b&x=%2F1",
                            data=b'{"phone": "555-0100"}', content_type="application/json",
                            headers=bearer(tokens["staff"]))
    assert response.status_code == 200
    (request,) = seen
    assert request["method"] == "PATCH"
    assert request["path"] == "/api/v1/staff/clients/c-9"
    assert request["query"] == "fields=a,b&x=%2F1"
    assert request["body"] == '{"phone": "555-0100"}'
    assert request["headers"]["CONTENT_TYPE"] == "application/json"
    assert request["headers"]["CONTENT_LENGTH"] == str(len(b'{"phone": "555-0100"}'))
    assert json.loads(response.get_data()) == request  # the answer comes back unchanged


def test_the_upstream_status_and_headers_come_back(gateway, seen):
    response = gateway.post("/api/v1/auth/created", json={})
    assert response.status_code == 201
    assert response.headers["X-Upstream"] == "identity"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert "Server" not in response.headers  # the upstream's server banner stays inside


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT", "HEAD"])
def test_every_method_is_forwarded(gateway, seen, tokens, method):
    response = gateway.open("/api/v1/staff/users/u-1", method=method, headers=bearer(tokens["staff"]))
    assert response.status_code == 200
    assert seen[0]["method"] == method


def test_a_request_id_is_added_and_returned(gateway, seen):
    response = gateway.get("/api/v1/auth/registration/t0k3n")
    request_id = seen[0]["headers"]["HTTP_X_REQUEST_ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.headers["X-Request-ID"] == request_id


def test_a_safe_request_id_is_kept_and_an_unsafe_one_replaced(gateway, seen):
    gateway.get("/api/v1/auth/x", headers={"X-Request-ID": "edge-123:abc"})
    gateway.get("/api/v1/auth/x", headers={"X-Request-ID": "bad id\u00e9<>"})
    assert seen[0]["headers"]["HTTP_X_REQUEST_ID"] == "edge-123:abc"
    assert re.fullmatch(r"[0-9a-f]{32}", seen[1]["headers"]["HTTP_X_REQUEST_ID"])


def test_x_forwarded_for_is_appended(gateway, seen):
    gateway.get("/api/v1/auth/x", environ_overrides={"REMOTE_ADDR": "198.51.100.9"})
    gateway.get("/api/v1/auth/x", headers={"X-Forwarded-For": "203.0.113.7"},
                environ_overrides={"REMOTE_ADDR": "198.51.100.9"})
    assert seen[0]["headers"]["HTTP_X_FORWARDED_FOR"] == "198.51.100.9"
    assert seen[1]["headers"]["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 198.51.100.9"
    assert seen[1]["headers"]["HTTP_X_FORWARDED_PROTO"] == "http"


def test_hop_by_hop_headers_are_not_forwarded(gateway, seen):
    gateway.get("/api/v1/auth/x", headers={
        "Connection": "keep-alive", "Keep-Alive": "timeout=5", "TE": "trailers", "Trailer": "Expires",
        "Upgrade": "websocket", "Proxy-Authorization": "Basic c2VjcmV0", "X-Custom": "kept",
    })
    received = seen[0]["headers"]
    for dropped in ("HTTP_CONNECTION", "HTTP_KEEP_ALIVE", "HTTP_TE", "HTTP_TRAILER", "HTTP_UPGRADE",
                    "HTTP_PROXY_AUTHORIZATION"):
        assert dropped not in received, dropped
    assert received["HTTP_X_CUSTOM"] == "kept"


def test_headers_named_in_connection_are_not_forwarded(gateway, seen):
    # RFC 9110 7.6.1: a proxy removes every header the Connection header lists as hop-by-hop.
    gateway.get("/api/v1/auth/x", headers={"Connection": "close, X-Hop-Secret", "X-Hop-Secret": "edge-only",
                                           "X-Custom": "kept"})
    received = seen[0]["headers"]
    assert received["HTTP_X_CUSTOM"] == "kept"
    assert "HTTP_X_HOP_SECRET" not in received


@pytest.mark.parametrize(("sent", "expected"), [
    ("/api/v1/auth/registration/a%3Fb", "/api/v1/auth/registration/a?b"),
    ("/api/v1/auth/registration/caf%C3%A9", "/api/v1/auth/registration/caf\u00e9"),
])
def test_an_encoded_path_reaches_the_upstream_unchanged(gateway, seen, sent, expected):
    # The proxy forwards the already-decoded PATH_INFO: a %3F becomes a real "?" (path cut, query
    # invented), and non-ASCII is encoded a second time.
    gateway.get(sent)
    assert seen[0]["path"] == expected
    assert seen[0]["query"] == ""


# --- limits and failures -----------------------------------------------------------------------------

def test_an_oversize_body_is_413_and_never_sent(gateway, seen):
    response = gateway.post("/api/v1/auth/login", data=b"x" * 1025, content_type="application/json")
    body = problem_of(response, 413, "payload-too-large")
    assert "1024" in body["detail"]
    assert seen == []


def test_a_body_of_exactly_max_body_is_forwarded(gateway, seen):
    response = gateway.post("/api/v1/auth/login", data=b"x" * 1024, content_type="application/json")
    assert response.status_code == 200
    assert len(seen[0]["body"]) == 1024


def test_a_service_with_a_larger_limit_takes_a_larger_body_streamed_whole(upstream, verifier, seen):
    big = b"y" * (2 * 1024 * 1024)  # over the size the gateway streams instead of reading whole
    gateway = Client(make_proxy(upstream.url, verifier, max_body=1024, body_limits={"identity": len(big)}))
    response = gateway.post("/api/v1/auth/login", data=big, content_type="application/octet-stream")
    assert response.status_code == 200 and seen[0]["body"] == big.decode()
    refused = gateway.post("/api/v1/auth/login", data=big + b"!", content_type="application/octet-stream")
    problem_of(refused, 413, "payload-too-large")
    assert len(seen) == 1


def test_a_large_body_shorter_than_its_length_is_400_and_never_sent(upstream, verifier, seen):
    gateway = Client(make_proxy(upstream.url, verifier, max_body=4 * 1024 * 1024))
    response = gateway.post("/api/v1/auth/login", data=b"z" * (2 * 1024 * 1024),
                            environ_overrides={"CONTENT_LENGTH": str(3 * 1024 * 1024)})
    body = problem_of(response, 400, "bad-request")
    assert "ended before its Content-Length" in body["detail"]
    assert seen == []  # spooled first: the service never saw a head for a body that did not come


def test_a_large_chunked_body_is_spooled_and_sent_with_its_length(upstream, verifier, seen):
    big = b"c" * (3 * 1024 * 1024)
    gateway = Client(make_proxy(upstream.url, verifier, max_body=4 * 1024 * 1024))
    response = gateway.post("/api/v1/auth/login", input_stream=io.BytesIO(big),
                            headers={"Transfer-Encoding": "chunked"}, content_type="application/octet-stream",
                            environ_overrides={"CONTENT_LENGTH": ""})
    assert response.status_code == 200 and seen[0]["body"] == big.decode()
    assert seen[0]["headers"]["CONTENT_LENGTH"] == str(len(big))
    too_big = gateway.post("/api/v1/auth/login", input_stream=io.BytesIO(big + b"c" * (1024 * 1024 + 1)),
                           headers={"Transfer-Encoding": "chunked"}, content_type="application/octet-stream",
                           environ_overrides={"CONTENT_LENGTH": ""})
    problem_of(too_big, 413, "payload-too-large")
    assert len(seen) == 1


def test_a_bad_content_length_is_400(gateway, seen):
    response = gateway.post("/api/v1/auth/login", data=b"{}", environ_overrides={"CONTENT_LENGTH": "ten"})
    problem_of(response, 400, "bad-request")
    assert seen == []


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_upstream_is_503(verifier, closed_port):
    gateway = Client(make_proxy(f"http://127.0.0.1:{closed_port}", verifier))
    response = gateway.get("/api/v1/auth/x")
    body = problem_of(response, 503, "service-unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "identity" in body["detail"]


def test_a_slow_upstream_is_504(upstream, seen, verifier):
    gateway = Client(make_proxy(upstream.url, verifier, read_timeout=0.2))
    response = gateway.get("/api/v1/auth/slow")
    problem_of(response, 504, "gateway-timeout")
    assert len(seen) == 1  # it did reach the upstream, which did not answer in time

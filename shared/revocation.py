"""Ended sessions: identity's list of revoked session ids, kept fresh in every process that checks tokens.

An access token names its session (`sid`, the refresh-token family). When a session ends (logout, a password
reset, a two-factor change, a deactivated staff user) identity lists it for as long as a token of it may still
be unexpired. Every process polls that list in a thread of its own (started on first use, after gunicorn's fork)
every `refresh_every` seconds, so the request path only looks a session up in memory.

What holds: while identity answers, a revocation is refused everywhere within refresh_every + the fetch timeout
(2 + 1 s). While it does not, the last list is kept (identity down also means no new sign-out can happen) for up to
`max_stale` seconds, after which signed-in requests are answered 503 until the list can be fetched again: a key or
network mistake that stops the polling shows at once instead of quietly turning revocation off.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

import urllib3
from prometheus_client import Counter, Gauge

from shared import metrics as _metrics  # noqa: F401 (sets prometheus-client's multiprocess mode up first)
from shared.config import env, service_url
from shared.errors import ServiceUnavailable, Unauthorized
from shared.logs import exception_line

log = logging.getLogger(__name__)

LIST_AGE = Gauge("revocation_list_age_seconds", "Seconds since the revoked-sessions list in use was fetched",
                 ["service"], multiprocess_mode="livemax")
FETCH_FAILURES = Counter("revocation_list_fetch_failures_total", "Failed fetches of identity's revoked sessions",
                         ["service"])

ENDED = "This session has ended; sign in again."
CANNOT_CHECK = "Sign-in cannot be checked right now; try again shortly."
PATH = "/internal/v1/revoked-sessions"


class RevocationsUnavailable(Exception):
    """Identity did not hand out its list of revoked sessions."""


def session_ids(document: dict) -> frozenset[str]:
    """The session ids of identity's answer ({"sessions": [{"sid", "revoked_at"}], "window_seconds"})."""
    sessions = document.get("sessions") if isinstance(document, dict) else None
    if not isinstance(sessions, list):
        raise RevocationsUnavailable("the revoked-sessions answer has no list of sessions")
    ids = []
    for entry in sessions:
        sid = entry.get("sid") if isinstance(entry, dict) else None
        if not isinstance(sid, str) or not sid:
            raise RevocationsUnavailable("a revoked session without an id")
        ids.append(sid)
    return frozenset(ids)


class IdentityRevocations:
    """GET identity's /internal/v1/revoked-sessions with the internal key. Answers None when nothing changed
    (a 304 to If-None-Match, or the same bytes as last time), so an unchanged list costs no parsing."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 1.0):
        self.url = url
        self._headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._http = urllib3.PoolManager(num_pools=1, maxsize=1, timeout=urllib3.Timeout(total=timeout),
                                         retries=False)
        self._etag: str | None = None
        self._body: bytes | None = None

    def __call__(self) -> dict | None:
        headers = dict(self._headers)
        if self._etag:
            headers["If-None-Match"] = self._etag
        response = self._http.request("GET", self.url, headers=headers)
        if response.status == 304:
            return None
        if response.status != 200:
            raise RevocationsUnavailable(f"identity answered {response.status} for the revoked sessions")
        if response.data == self._body:
            return None
        document = json.loads(response.data)
        session_ids(document)  # a malformed answer fails here, before it is remembered as the last one
        self._body, self._etag = response.data, response.headers.get("ETag")
        return document


class RevocationList:
    """Revoked session ids from `fetch` (a dict as identity answers, or None for "unchanged since last time")."""

    def __init__(self, fetch: Callable[[], dict | None], *, service: str = "", refresh_every: float = 2.0,
                 max_stale: float = 60.0, first_retry_after: float = 1.0, background: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        self.service = service
        self.refresh_every = refresh_every
        self.max_stale = max_stale
        self.first_retry_after = first_retry_after
        self.background = background
        self._fetch = fetch
        self._clock = clock
        self._revoked: frozenset[str] = frozenset()
        self._fetched_at: float | None = None  # when the last successful fetch started (its answer is newer)
        self._attempted_at: float | None = None
        self._failing_since: float | None = None
        self._warned_at: float | None = None
        self._created_at = clock()
        self._reset_after_fork()
        ref = weakref.ref(self)
        # A thread does not survive fork, and a lock held by one at fork time would stay held in the child.
        os.register_at_fork(after_in_child=lambda: (lambda me: me and me._reset_after_fork())(ref()))

    def _reset_after_fork(self) -> None:
        self._lock = threading.Lock()  # one fetch at a time
        self._start_lock = threading.Lock()
        self._started = False
        self._stopped = threading.Event()

    # --- the request path ------------------------------------------------------------------------
    def check(self, session_id: str) -> None:
        """Refuses an ended session (401); 503 when the list cannot be had or is older than max_stale."""
        if self.background and not self._started:
            self._start()
        fetched_at = self._fetched_at
        if fetched_at is None:
            fetched_at = self._load_first()
        if self._clock() - fetched_at > self.max_stale:
            raise ServiceUnavailable(CANNOT_CHECK)
        if session_id in self._revoked:
            raise Unauthorized(ENDED)

    def ensure_loaded(self) -> None:
        """Readiness: the list is here, or can be fetched now."""
        if self._fetched_at is None:
            self._load_first()

    def _load_first(self) -> float:
        # Until a first list is in, nothing can be let through: the token may be fine, so 503, not 401 (a
        # client would sign its user out). Attempts are a second apart, so requests do not queue up behind
        # one slow fetch after another.
        with self._lock:
            if self._fetched_at is None:
                recent = self._attempted_at is not None and \
                    self._clock() - self._attempted_at < self.first_retry_after
                if recent or not self._refresh_locked():
                    raise ServiceUnavailable(CANNOT_CHECK)
            return self._fetched_at

    # --- keeping it fresh ------------------------------------------------------------------------
    @property
    def age(self) -> float | None:
        return None if self._fetched_at is None else self._clock() - self._fetched_at

    def refresh(self) -> bool:
        """One fetch now; answers whether it worked. A failure keeps the last list."""
        with self._lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bool:
        started = self._clock()
        self._attempted_at = started
        try:
            document = self._fetch()
            revoked = None if document is None else session_ids(document)
        except Exception as exc:  # noqa: BLE001 (any failure: keep the last list, say so, try again)
            self._failed(started, exc)
            return False
        if revoked is not None:
            self._revoked = revoked
        self._fetched_at = started
        if self._failing_since is not None:
            log.info("revoked-sessions list fetched again",
                     extra={"fields": {"failing_for_seconds": round(started - self._failing_since, 1)}})
            self._failing_since = self._warned_at = None
        LIST_AGE.labels(self.service).set(self._clock() - started)
        return True

    def _failed(self, now: float, exc: Exception) -> None:
        FETCH_FAILURES.labels(self.service).inc()
        since = self._fetched_at if self._fetched_at is not None else self._created_at
        LIST_AGE.labels(self.service).set(now - since)
        if self._failing_since is None:
            self._failing_since = now
        if self._warned_at is None or now - self._warned_at >= 30:  # a line every 30 s, not every 2 s
            self._warned_at = now
            age = None if self._fetched_at is None else round(now - self._fetched_at, 1)
            log.warning("cannot fetch the revoked-sessions list: %s", type(exc).__name__,
                        extra={"fields": {"list_age_seconds": age, "max_stale_seconds": self.max_stale,
                                          "error": exception_line(exc)}})

    def _start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            threading.Thread(target=self._run, name="revocation-list", daemon=True).start()
            self._started = True

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # refresh() catches the fetch's errors; this keeps the thread alive regardless
                log.exception("revoked-sessions refresh failed")
            if self._stopped.wait(self.refresh_every):
                return

    def stop(self) -> None:
        self._stopped.set()


def revocation_list(config, *, fetch: Callable[[], dict | None] | None = None, **kwargs) -> RevocationList:
    """The list as a service or the gateway uses it: identity's internal route (or `fetch`, in identity itself).

    REVOKED_SESSIONS_URL (default <IDENTITY_URL>/internal/v1/revoked-sessions), REVOCATION_REFRESH_SECONDS (2),
    REVOCATION_MAX_STALE_SECONDS (60)."""
    refresh_every = float(env("REVOCATION_REFRESH_SECONDS", "2"))
    if fetch is None:
        url = env("REVOKED_SESSIONS_URL", service_url("identity") + PATH)
        fetch = IdentityRevocations(url, config.internal_api_key, timeout=min(1.0, refresh_every))
    kwargs.setdefault("refresh_every", refresh_every)
    kwargs.setdefault("max_stale", float(env("REVOCATION_MAX_STALE_SECONDS", "60")))
    return RevocationList(fetch, service=config.service, **kwargs)

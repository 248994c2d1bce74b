"""Browser sessions, as the OAuth 2.0 for Browser-Based Apps BCP's backend-for-frontend keeps them.

The browser holds one opaque, random cookie (HttpOnly, SameSite=Lax; Secure and `__Host-` over HTTPS). The
access and refresh tokens stay here, in Redis, under a key derived from the cookie and encrypted with a key
derived from it too: Redis alone (a dump, a replica) holds nothing anyone can sign in with, and no token ever
reaches page JavaScript or a URL.

A session record is a Redis hash of three fields, written separately so that two requests of one browser
never undo each other:
- `tokens`: the pair, written only at sign-in and by a refresh, under a per-session lock (identity rotates
  refresh tokens and treats a second use of one as theft, ending the whole session: two tabs refreshing at
  once must not both send it);
- `data`: what the pages keep between steps (a Pay Now in progress, a message for the next page);
- `seen`: when the user last did something. Idle for `idle_seconds` (15 minutes), the session ends: the next
  request revokes the refresh token and goes to Sign in. The hash itself lives a little longer than that, so the
  late request can still revoke; after that nobody holds a usable token anyway.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from redis.exceptions import LockError

# A refresh starts when the access token has less than this left (a page's calls must not run out mid-page).
REFRESH_AHEAD_SECONDS = 60
# Longer than the gateway's read timeout (15 s), so a slow identity never sees a second refresh with the same token.
_LOCK_SECONDS = 30.0
TOUCH_EVERY = 15.0
_GRACE_SECONDS = 300


@dataclass
class WebSession:
    key: str  # the cookie's value: never stored, never logged
    user_id: str
    role: str
    client_id: str | None
    access_token: str
    refresh_token: str
    access_expires_at: float
    seen: float
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_staff(self) -> bool:
        return self.role in ("staff", "admin")


def _ids(cookie: str) -> tuple[str, bytes]:
    raw = cookie.encode()
    record = hashlib.sha256(b"web-session-record:" + raw).hexdigest()
    key = base64.urlsafe_b64encode(hashlib.sha256(b"web-session-key:" + raw).digest())
    return record, key


class SessionStore:
    def __init__(self, redis, *, prefix: str = "web:", idle_seconds: int = 900):
        self.redis = redis
        self.prefix = prefix
        self.idle_seconds = idle_seconds

    def _name(self, record: str) -> str:
        return f"{self.prefix}session:{record}"

    def _ttl(self) -> int:
        return self.idle_seconds + _GRACE_SECONDS

    # --- life ----------------------------------------------------------------------------------
    def create(self, tokens: dict) -> WebSession:
        """A new session from a sign-in's answer; always a new cookie (no session fixation)."""
        cookie = secrets.token_urlsafe(32)
        user = tokens.get("user") or {}
        now = time.time()
        session = WebSession(key=cookie, user_id=user.get("id", ""), role=user.get("role", ""),
                             client_id=user.get("client_id"), access_token=tokens["access_token"],
                             refresh_token=tokens["refresh_token"],
                             access_expires_at=now + int(tokens.get("expires_in") or 0), seen=now)
        record, key = _ids(cookie)
        fernet = Fernet(key)
        name = self._name(record)
        pipe = self.redis.pipeline()
        pipe.hset(name, mapping={"tokens": fernet.encrypt(self._token_blob(session)),
                                 "data": fernet.encrypt(b"{}"), "seen": repr(now)})
        pipe.expire(name, self._ttl())
        pipe.execute()
        return session

    def load(self, cookie: str) -> tuple[WebSession | None, bool]:
        """(session, idle): the session of this cookie, or None; `idle` says it ended by idling (revoke it)."""
        if not cookie or len(cookie) > 100:
            return None, False
        record, key = _ids(cookie)
        values = self.redis.hmget(self._name(record), "tokens", "data", "seen")
        if values[0] is None:
            return None, False
        fernet = Fernet(key)
        try:
            tokens = json.loads(fernet.decrypt(values[0]))
            data = json.loads(fernet.decrypt(values[1])) if values[1] else {}
        except (InvalidToken, ValueError):
            return None, False
        session = WebSession(key=cookie, data=data, seen=float(values[2] or 0), **tokens)
        return session, time.time() - session.seen > self.idle_seconds

    def touch(self, session: WebSession) -> None:
        """The user did something: the idle clock starts again. Written at most every TOUCH_EVERY seconds (the
        15 minutes are kept to within that), so most pages cost one Redis round trip, not two."""
        now = time.time()
        if now - session.seen < TOUCH_EVERY:
            return
        session.seen = now
        name = self._name(_ids(session.key)[0])
        pipe = self.redis.pipeline()
        pipe.hset(name, "seen", repr(session.seen))
        pipe.expire(name, self._ttl())
        pipe.execute()

    def save_data(self, session: WebSession) -> None:
        record, key = _ids(session.key)
        self._write(record, "data", Fernet(key).encrypt(json.dumps(session.data).encode()))

    def end(self, session: WebSession) -> None:
        self.redis.delete(self._name(_ids(session.key)[0]))

    # --- tokens ----------------------------------------------------------------------------------
    @staticmethod
    def _token_blob(session: WebSession) -> bytes:
        return json.dumps({"user_id": session.user_id, "role": session.role, "client_id": session.client_id,
                           "access_token": session.access_token, "refresh_token": session.refresh_token,
                           "access_expires_at": session.access_expires_at}).encode()

    def needs_refresh(self, session: WebSession) -> bool:
        return session.access_expires_at - time.time() < REFRESH_AHEAD_SECONDS

    def refresh(self, session: WebSession, exchange) -> bool:
        """A new pair through `exchange(refresh_token) -> tokens | None`, once per session however many requests
        ask at the same moment; the others wait for it and use its result. False: the session cannot go on.
        `exchange` raises when identity could not say (down, slow): the session is kept for the next request."""
        record, key = _ids(session.key)
        lock = self.redis.lock(f"{self.prefix}refresh:{record}", timeout=_LOCK_SECONDS, blocking=False)
        if lock.acquire():
            try:
                reloaded, _ = self.load(session.key)  # another request may have refreshed just before the lock
                if reloaded is not None and not self.needs_refresh(reloaded):
                    self._adopt(session, reloaded)
                    return True
                tokens = exchange(session.refresh_token)
                if not tokens:
                    return False
                self.replace_tokens(session, tokens)
                return True
            finally:
                try:
                    lock.release()  # only our own lock (redis-py checks its token)
                except LockError:
                    pass  # it expired meanwhile: nothing of ours to release
        deadline = time.monotonic() + _LOCK_SECONDS
        while time.monotonic() < deadline:  # another request of this browser is refreshing: use its pair
            time.sleep(0.05)
            if not lock.locked():
                reloaded, _ = self.load(session.key)
                if reloaded is None or self.needs_refresh(reloaded):
                    return False
                self._adopt(session, reloaded)
                return True
        return False

    def replace_tokens(self, session: WebSession, tokens: dict) -> None:
        """A new pair the API handed over itself (two-factor set-up ends the user's other sessions and answers
        with a new one): the browser's session goes on with it."""
        record, key = _ids(session.key)
        session.access_token = tokens["access_token"]
        session.refresh_token = tokens["refresh_token"]
        session.access_expires_at = time.time() + int(tokens.get("expires_in") or 0)
        self._write(record, "tokens", Fernet(key).encrypt(self._token_blob(session)))

    def _write(self, record: str, field_name: str, value: bytes) -> None:
        """One field, and the record's lifetime with it: a write never leaves a record that does not expire."""
        name = self._name(record)
        pipe = self.redis.pipeline()
        pipe.hset(name, field_name, value)
        pipe.expire(name, self._ttl())
        pipe.execute()

    @staticmethod
    def _adopt(session: WebSession, other: WebSession) -> None:
        session.access_token = other.access_token
        session.refresh_token = other.refresh_token
        session.access_expires_at = other.access_expires_at

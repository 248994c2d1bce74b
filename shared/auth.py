"""Access-token verification against identity's JWKS and its list of ended sessions, and role checks for Flask
routes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps

import jwt
import urllib3
from flask import g, request

from shared.errors import Forbidden, ServiceUnavailable, Unauthorized
from shared.revocation import RevocationList

STAFF_ROLES = frozenset({"staff", "admin"})
CLIENT_ROLES = frozenset({"client"})


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    client_id: str | None
    email: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class KeysUnavailable(Exception):
    """Identity did not hand out its signing keys."""


class JWKSCache:
    """Public keys by kid, fetched once and again only for an unknown kid (at most every `min_refresh` s)."""

    def __init__(self, url: str, *, min_refresh: float = 30.0, timeout: float = 2.0,
                 fetch: Callable[[], dict] | None = None):
        self.url = url
        self.min_refresh = min_refresh
        self._keys: dict[str, object] = {}
        self._fetched_at = 0.0
        self._last_fetch_failed = False
        self._lock = threading.Lock()
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=timeout), retries=False)
        self._fetch = fetch or self._fetch_http

    def _fetch_http(self) -> dict:
        response = self._http.request("GET", self.url)
        if response.status != 200:
            raise KeysUnavailable(f"identity answered {response.status} for its signing keys")
        return json.loads(response.data)

    def _refresh(self) -> None:
        self._fetched_at = time.monotonic()  # a failed attempt counts too: no fetch storm while identity is down
        self._last_fetch_failed = True
        document = self._fetch()
        keys = {}
        for jwk in document.get("keys", []):
            keys[jwk["kid"]] = jwt.PyJWK.from_dict(jwk).key
        self._keys = keys
        self._fetched_at = time.monotonic()
        self._last_fetch_failed = False

    def ensure_loaded(self) -> None:
        """Readiness: keys are cached, or can be fetched now."""
        if not self._keys:
            with self._lock:
                if not self._keys:
                    self._refresh()

    def key(self, kid: str):
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            key = self._keys.get(kid)
            # Without any key yet, try again after a second, not min_refresh: a gateway that started while
            # identity was down recovers at once. Either way, failed attempts are spaced out too, so requests
            # do not queue on the lock behind one slow fetch after another.
            wait = self.min_refresh if self._keys else min(1.0, self.min_refresh)
            stale = time.monotonic() - self._fetched_at >= wait or not self._fetched_at
            if key is None and stale:
                try:
                    self._refresh()
                except Exception as exc:
                    # Identity unreachable: the token may well be good, so not 401 (a client would sign
                    # its user out); 503, try again shortly.
                    raise ServiceUnavailable("Sign-in cannot be checked right now; try again shortly.") from exc
                key = self._keys.get(kid)
        if key is None:
            if self._last_fetch_failed:  # a kid we could not look up (a rotation during an outage, say)
                raise ServiceUnavailable("Sign-in cannot be checked right now; try again shortly.")
            raise Unauthorized("The access token is not valid.")
        return key


class TokenVerifier:
    """Verifies RS256 access tokens. A verified token is remembered until it expires: the same token
    arrives on every request of a session, and a signature check costs far more than a dict lookup. Its
    session is looked up in `revocations` on every request, cached or not, so a session that ended is refused
    as soon as the list knows it. Without a revocation list nothing tells a live session from an ended one:
    access tokens are then refused (503), never let through unchecked."""

    def __init__(self, keys: JWKSCache, *, issuer: str, audience: str, revocations: RevocationList | None = None,
                 leeway: int = 5, cache_size: int = 20000):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.revocations = revocations
        self.leeway = leeway
        self.cache_size = cache_size
        self._verified: dict[str, tuple[float, str, Principal]] = {}

    def verify(self, token: str, *, purpose: str = "access") -> dict:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if not kid or header.get("alg") != "RS256":
                raise Unauthorized("The access token is not valid.")
            claims = jwt.decode(
                token, self.keys.key(kid), algorithms=["RS256"], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "iat", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The access token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The access token is not valid.") from exc
        # No default: a token that does not say what it is for is good for nothing.
        if claims.get("typ") != purpose:
            raise Unauthorized("The access token is not valid.")
        if purpose == "access":
            session_id = claims.get("sid")
            if not isinstance(session_id, str) or not session_id:  # a session nobody could end
                raise Unauthorized("The access token is not valid.")
            self._check_session(session_id)
        return claims

    def _check_session(self, session_id: str) -> None:
        if self.revocations is None:
            raise ServiceUnavailable("Sign-in cannot be checked right now; try again shortly.")
        self.revocations.check(session_id)

    def principal(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            expires, session_id, principal = cached
            if expires > time.time():
                self._check_session(session_id)
                return principal
            self._verified.pop(token, None)
        claims = self.verify(token)
        principal = Principal(user_id=claims["sub"], role=claims["role"], client_id=claims.get("client_id"),
                              email=claims.get("email"))
        if len(self._verified) >= self.cache_size:
            self._verified.clear()  # bounded; refilled by the next requests
        self._verified[token] = (float(claims["exp"]), claims["sid"], principal)
        return principal


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Sign in first: this needs a bearer access token.")
    return token.strip()


def check_role(principal: Principal, roles: frozenset[str]) -> None:
    if principal.role not in roles:
        raise Forbidden("Your role may not use this endpoint.")
    if principal.role == "client" and not principal.client_id:
        raise Forbidden("This account has no client record.")


def protect_blueprints(app, verifier_getter: Callable[[], TokenVerifier], roles: Mapping[str, frozenset[str]]) -> None:
    """Every route of the blueprints named in `roles` needs a valid token with one of that blueprint's roles; the
    principal lands in g.principal. One hook on the app, not on the blueprints: blueprints are module-level
    objects, and a hook added to one inside create_app would be added again (and refused by Flask) by every
    further app made in the same process."""
    required = dict(roles)

    @app.before_request
    def _authenticate():
        wanted = required.get(request.blueprint)
        if wanted is None:
            return
        principal = verifier_getter().principal(bearer_token())
        check_role(principal, wanted)
        g.principal = principal


def require_roles(*roles: str):
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal: Principal | None = getattr(g, "principal", None)
            if principal is None:
                raise Unauthorized()
            check_role(principal, allowed)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def current_client_id() -> str:
    """The signed-in client's own record id (a portal route's client: check_role made sure there is one)."""
    return current_principal().client_id


def current_principal() -> Principal:
    principal = getattr(g, "principal", None)
    if principal is None:
        raise Unauthorized()
    return principal

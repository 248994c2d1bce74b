"""shared.auth: the JWKS cache's fetch budget, the verified-token cache, what an access token must say, ended
sessions, roles, protected blueprints."""

from __future__ import annotations

import time

import pytest
from flask import Blueprint, Flask, g

from shared import auth
from shared.auth import (
    CLIENT_ROLES,
    STAFF_ROLES,
    JWKSCache,
    Principal,
    TokenVerifier,
    check_role,
    protect_blueprints,
    require_roles,
)
from shared.errors import Forbidden, ServiceUnavailable, Unauthorized, install_error_handlers
from shared.revocation import RevocationList


def access(signer, *, user_id: str, role: str, client_id: str | None, ttl: int, session_id: str = "s-1") -> str:
    """An access token as identity signs it at sign-in: typ access, and the session it belongs to."""
    claims = {"sub": user_id, "role": role, "typ": "access", "sid": session_id}
    if client_id:
        claims["client_id"] = client_id
    return signer.sign(claims, ttl)


class Clock:
    """Stands in for the `time` module inside shared.auth: monotonic and wall time move only when told."""

    def __init__(self):
        self.now = 1_000_000.0
        self.wall = time.time()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(auth, "time", fake)
    return fake


class CountingJWKS:
    """The JWKS endpoint as a fake: counts fetches, can switch documents or fail."""

    def __init__(self, document: dict):
        self.document = document
        self.calls = 0
        self.fail = False

    def __call__(self) -> dict:
        self.calls += 1
        if self.fail:
            raise ConnectionError("identity is down")
        return self.document


@pytest.fixture
def jwks(signer) -> CountingJWKS:
    return CountingJWKS(signer.jwks)


@pytest.fixture
def cache(jwks, clock) -> JWKSCache:
    return JWKSCache("http://jwks.invalid", min_refresh=30, fetch=jwks)


# --- JWKSCache -------------------------------------------------------------------------------------

def test_keys_are_fetched_once_then_served_from_memory(cache, jwks, signer):
    cache.ensure_loaded()
    cache.ensure_loaded()
    first = cache.key(signer.kid)
    assert cache.key(signer.kid) is first
    assert jwks.calls == 1


def test_the_first_lookup_fetches_without_ensure_loaded(cache, jwks, signer):
    assert cache.key(signer.kid) is not None
    assert jwks.calls == 1


def test_unknown_kids_refetch_at_most_once_per_min_refresh(cache, jwks, signer, clock):
    cache.key(signer.kid)
    for _ in range(5):  # a burst of made-up kids right after loading: no fetch at all
        with pytest.raises(Unauthorized):
            cache.key("made-up")
    assert jwks.calls == 1
    clock.advance(30)
    for _ in range(5):  # stale now: one fetch for the whole burst
        with pytest.raises(Unauthorized):
            cache.key("made-up")
    assert jwks.calls == 2
    clock.advance(29.9)
    with pytest.raises(Unauthorized):
        cache.key("made-up")
    assert jwks.calls == 2
    clock.advance(0.1)
    with pytest.raises(Unauthorized):
        cache.key("made-up")
    assert jwks.calls == 3


def test_a_rotated_key_is_picked_up_on_the_next_allowed_refresh(cache, jwks, signer, other_signer, clock):
    cache.key(signer.kid)
    jwks.document = {"keys": signer.jwks["keys"] + other_signer.jwks["keys"]}
    with pytest.raises(Unauthorized):
        cache.key(other_signer.kid)  # too soon after the last fetch
    clock.advance(31)
    assert cache.key(other_signer.kid) is not None
    assert cache.key(signer.kid) is not None
    assert jwks.calls == 2


def test_an_unreachable_identity_is_503_not_401_and_not_a_crash(cache, jwks, signer):
    """The token may be good: a 401 would make a client sign its user out over an identity outage."""
    jwks.fail = True
    with pytest.raises(ServiceUnavailable) as raised:
        cache.key(signer.kid)
    assert raised.value.status == 503 and raised.value.headers.get("Retry-After")


def test_a_failing_fetch_also_counts_against_min_refresh(cache, jwks, signer, clock):
    # While identity is down, every request carrying an unknown kid must not become one more
    # (2 s, lock-holding) JWKS call: the docstring promises at most one fetch every min_refresh s.
    cache.key(signer.kid)
    clock.advance(31)
    jwks.fail = True
    for _ in range(3):
        # the one fetch allowed fails; after it, no new fetch within min_refresh, and a kid that could not be
        # looked up is still "cannot check now" (503), not "your token is bad" (401)
        with pytest.raises(ServiceUnavailable):
            cache.key("rotated-kid")
        clock.advance(1)
    assert jwks.calls == 2


def test_without_any_key_yet_failed_fetches_are_a_second_apart(cache, jwks, signer, clock):
    """A gateway that started while identity is down: one fetch per second at most (no queue of 2 s fetches
    on the lock), and it recovers within a second of identity coming back."""
    jwks.fail = True
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            cache.key(signer.kid)
        clock.advance(0.2)
    assert jwks.calls == 1
    jwks.fail = False
    clock.advance(1)
    assert cache.key(signer.kid) is not None
    assert jwks.calls == 2


def test_an_unknown_kid_is_401_once_identity_answers_again(cache, jwks, signer, clock):
    cache.key(signer.kid)
    clock.advance(31)
    jwks.fail = True
    with pytest.raises(ServiceUnavailable):
        cache.key("rotated-kid")
    jwks.fail = False
    clock.advance(31)
    with pytest.raises(Unauthorized):  # identity answered, and the kid is not among its keys
        cache.key("rotated-kid")
    assert jwks.calls == 3


# --- TokenVerifier cache -----------------------------------------------------------------------------

def counting(verifier: TokenVerifier, monkeypatch) -> list:
    calls = []
    real = verifier.verify

    def verify(token, *, purpose="access"):
        calls.append(token)
        return real(token, purpose=purpose)

    monkeypatch.setattr(verifier, "verify", verify)
    return calls


def test_a_verified_token_is_answered_from_the_cache(signer, verifier, monkeypatch, clock):
    calls = counting(verifier, monkeypatch)
    token = access(signer, user_id="u-1", role="client", client_id="c-1", ttl=300)
    first = verifier.principal(token)
    assert verifier.principal(token) is first
    assert calls == [token]


def test_an_expired_cache_entry_is_dropped_and_checked_again(signer, verifier, monkeypatch, clock):
    calls = counting(verifier, monkeypatch)
    token = access(signer, user_id="u-1", role="client", client_id="c-1", ttl=300)
    verifier.principal(token)
    clock.advance(301)  # past exp by the cache's clock

    def expired(token, *, purpose="access"):
        calls.append(token)
        raise Unauthorized("The access token has expired.")

    monkeypatch.setattr(verifier, "verify", expired)
    with pytest.raises(Unauthorized):
        verifier.principal(token)  # the cached principal is not handed out any more
    assert calls == [token, token]


def test_a_refused_token_is_not_cached(other_signer, verifier, monkeypatch):
    calls = counting(verifier, monkeypatch)
    token = access(other_signer, user_id="u", role="staff", client_id=None, ttl=300)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verifier.principal(token)
    assert len(calls) == 2


def test_the_cache_is_bounded(signer, verifier_for):
    verifier = verifier_for(signer, cache_size=3)
    tokens = [access(signer, user_id=f"u-{i}", role="staff", client_id=None, ttl=300) for i in range(7)]
    for token in tokens:
        verifier.principal(token)
    assert len(verifier._verified) <= 3


# --- what an access token must say ---------------------------------------------------------------------

def test_a_token_without_typ_is_not_an_access_token(signer, verifier):
    """It used to default to "access": a token signed for anything else, minus its typ, passed as one."""
    token = signer.sign({"sub": "u", "role": "admin", "sid": "s-1"}, 300)
    with pytest.raises(Unauthorized):
        verifier.principal(token)
    with pytest.raises(Unauthorized):
        verifier.verify(token)
    with pytest.raises(Unauthorized):
        verifier.verify(token, purpose="mfa")


@pytest.mark.parametrize("sid", [None, "", 7, ["s-1"]])
def test_an_access_token_without_a_session_is_refused(signer, verifier, sid):
    """A token naming no session could never be ended by a logout."""
    claims = {"sub": "u", "role": "staff", "typ": "access"}
    if sid is not None:
        claims["sid"] = sid
    with pytest.raises(Unauthorized):
        verifier.principal(signer.sign(claims, 300))


def test_an_mfa_token_needs_no_session(signer, verifier):
    assert verifier.verify(signer.mfa_token(user_id="u", role="staff", ttl=300), purpose="mfa")["typ"] == "mfa"


# --- ended sessions ----------------------------------------------------------------------------------

class Ended:
    """identity's revoked-sessions route as a fake: the sessions it lists, and how often it was asked."""

    def __init__(self):
        self.sids: list[str] = []
        self.calls = 0
        self.fail = False

    def __call__(self):
        self.calls += 1
        if self.fail:
            raise ConnectionError("identity is down")
        return {"sessions": [{"sid": s, "revoked_at": 1.0} for s in self.sids], "window_seconds": 960}


@pytest.fixture
def ended() -> Ended:
    return Ended()


@pytest.fixture
def revocations(ended, clock) -> RevocationList:
    return RevocationList(ended, refresh_every=2, max_stale=60, background=False, clock=clock.monotonic)


@pytest.fixture
def checked(signer, verifier_for, revocations) -> TokenVerifier:
    return verifier_for(signer, revocations=revocations)


def test_a_cached_token_of_an_ended_session_is_refused(signer, checked, ended, revocations, monkeypatch, clock):
    """The verified-token cache keeps a principal until the token expires: it must not outlive the session."""
    calls = counting(checked, monkeypatch)
    token = access(signer, user_id="u-1", role="client", client_id="c-1", ttl=900, session_id="s-a")
    other = access(signer, user_id="u-1", role="client", client_id="c-1", ttl=900, session_id="s-b")
    assert checked.principal(token).user_id == "u-1"
    checked.principal(other)
    ended.sids.append("s-a")
    revocations.refresh()
    with pytest.raises(Unauthorized) as refused:
        checked.principal(token)
    assert refused.value.detail == "This session has ended; sign in again."
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}
    assert checked.principal(other).user_id == "u-1"  # the same user's other session goes on
    assert calls == [token, other]  # answered from the cache, and refused from it


def test_verify_refuses_an_ended_session_too(signer, checked, ended, revocations):
    token = access(signer, user_id="u", role="staff", client_id=None, ttl=300, session_id="s-x")
    ended.sids.append("s-x")
    revocations.refresh()
    with pytest.raises(Unauthorized, match="session has ended"):
        checked.verify(token)


def test_a_forged_token_naming_an_ended_session_is_just_invalid(other_signer, checked, ended, revocations):
    """The list is consulted after the signature: it tells nobody which sessions ended."""
    ended.sids.append("s-x")
    revocations.refresh()
    token = access(other_signer, user_id="u", role="staff", client_id=None, ttl=300, session_id="s-x")
    with pytest.raises(Unauthorized, match="not valid"):
        checked.principal(token)


def test_without_a_first_list_a_good_token_is_503_not_401(signer, checked, ended):
    ended.fail = True
    token = access(signer, user_id="u", role="staff", client_id=None, ttl=300)
    with pytest.raises(ServiceUnavailable) as raised:
        checked.principal(token)
    assert raised.value.headers.get("Retry-After")


def test_a_list_older_than_max_stale_is_503_for_cached_tokens_too(signer, checked, ended, revocations, clock):
    token = access(signer, user_id="u", role="staff", client_id=None, ttl=900)
    checked.principal(token)
    ended.fail = True
    clock.advance(30)
    revocations.refresh()
    checked.principal(token)  # identity unreachable for 30 s: the last list still serves
    clock.advance(31)
    revocations.refresh()
    with pytest.raises(ServiceUnavailable):
        checked.principal(token)


def test_a_verifier_without_a_revocation_list_lets_no_access_token_through(signer):
    keys = JWKSCache("http://jwks.invalid", fetch=lambda: signer.jwks)
    bare = TokenVerifier(keys, issuer=signer.issuer, audience=signer.audience)
    with pytest.raises(ServiceUnavailable):
        bare.principal(access(signer, user_id="u", role="staff", client_id=None, ttl=300))
    assert bare.verify(signer.mfa_token(user_id="u", role="staff", ttl=300), purpose="mfa")


def test_an_ended_session_on_a_protected_blueprint_is_a_401_problem(signer, checked, ended, revocations):
    app = Flask("protected")
    install_error_handlers(app)
    bp = Blueprint("portal", __name__, url_prefix="/portal")
    protect_blueprints(app, lambda: checked, {"portal": CLIENT_ROLES})
    bp.get("/me")(lambda: {"ok": True})
    app.register_blueprint(bp)
    client = app.test_client()
    token = access(signer, user_id="u", role="client", client_id="c-1", ttl=300, session_id="s-z")
    assert client.get("/portal/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    ended.sids.append("s-z")
    revocations.refresh()
    response = client.get("/portal/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["detail"] == "This session has ended; sign in again."


def test_a_cached_token_is_not_verified_again_however_long_the_list(signer, checked, revocations, ended, monkeypatch):
    """A cached token and a list of 10,000 ended sessions: each further check is a dictionary lookup and a set
    membership, never a signature check again (its cost per request is measured by `make bench`)."""
    import jwt

    ended.sids.extend(f"s-{i}" for i in range(10_000))
    revocations.refresh()
    token = access(signer, user_id="u", role="staff", client_id=None, ttl=300, session_id="live")
    decodes = []
    real_decode = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    first = checked.principal(token)
    assert all(checked.principal(token) is first for _ in range(1_000))
    assert len(decodes) == 1
    ended.sids.append("live")
    revocations.refresh()
    with pytest.raises(Unauthorized):  # the cache never outlives the session
        checked.principal(token)


# --- roles -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("principal", "roles"), [
    (Principal("u", "client", "c-1"), CLIENT_ROLES),
    (Principal("u", "staff", None), STAFF_ROLES),
    (Principal("u", "admin", None), STAFF_ROLES),
])
def test_check_role_allows(principal, roles):
    check_role(principal, roles)


@pytest.mark.parametrize(("principal", "roles", "why"), [
    (Principal("u", "client", None), CLIENT_ROLES, "no client record"),
    (Principal("u", "client", ""), CLIENT_ROLES, "no client record"),
    (Principal("u", "staff", None), CLIENT_ROLES, "role"),
    (Principal("u", "admin", None), CLIENT_ROLES, "role"),
    (Principal("u", "client", "c-1"), STAFF_ROLES, "role"),
    (Principal("u", "robot", None), STAFF_ROLES | CLIENT_ROLES, "role"),
])
def test_check_role_forbids(principal, roles, why):
    with pytest.raises(Forbidden, match=why):
        check_role(principal, roles)


@pytest.fixture
def protected_app(verifier):
    app = Flask("protected")
    install_error_handlers(app)
    bp = Blueprint("staff", __name__, url_prefix="/staff")
    protect_blueprints(app, lambda: verifier, {"staff": STAFF_ROLES})

    @bp.get("/whoami")
    def whoami():
        return {"user_id": g.principal.user_id}

    @bp.get("/admin-only")
    @require_roles("admin")
    def admin_only():
        return {"ok": True}

    app.register_blueprint(bp)
    return app.test_client()


def test_a_protected_blueprint_needs_a_bearer_token(protected_app):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer  "}):
        response = protected_app.get("/staff/whoami", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_protected_blueprint_checks_the_role_and_sets_the_principal(protected_app, signer):
    client_token = access(signer, user_id="u-c", role="client", client_id="c-1", ttl=300)
    staff_token = access(signer, user_id="u-s", role="staff", client_id=None, ttl=300)
    admin_token = access(signer, user_id="u-a", role="admin", client_id=None, ttl=300)
    def get(path, header):
        return protected_app.get(path, headers={"Authorization": header})

    assert get("/staff/whoami", f"Bearer {client_token}").status_code == 403
    response = get("/staff/whoami", f"bearer {staff_token}")  # the scheme is case-insensitive
    assert response.status_code == 200 and response.get_json() == {"user_id": "u-s"}
    assert get("/staff/admin-only", f"Bearer {staff_token}").status_code == 403
    assert get("/staff/admin-only", f"Bearer {admin_token}").status_code == 200

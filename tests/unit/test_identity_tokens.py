"""Identity's RS256 tokens as every service verifies them (shared.auth.TokenVerifier on identity's JWKS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from services.identity.domain.tokens import Signer, opaque_token, token_hash
from shared.auth import Principal
from shared.errors import Unauthorized

ISSUER = "portal-identity"  # as tests/unit/conftest.py signs
AUDIENCE = "portal"


def public_pem(signer: Signer) -> bytes:
    return signer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def unb64(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_an_access_token_verifies_into_a_principal(signer, verifier):
    token = signer.access_token(user_id="u-1", role="client", client_id="c-1", ttl=300, session_id="s-1")
    assert verifier.principal(token) == Principal(user_id="u-1", role="client", client_id="c-1")
    claims = verifier.verify(token)
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE and claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 300


def test_a_staff_token_has_no_client_id(signer, verifier):
    token = signer.access_token(user_id="u-2", role="staff", client_id=None, ttl=300, session_id="s-1")
    assert "client_id" not in verifier.verify(token)
    assert verifier.principal(token).is_staff


def test_the_header_names_the_signing_key(signer):
    header = jwt.get_unverified_header(signer.access_token(user_id="u", role="staff", client_id=None, ttl=60,
                                                           session_id="s-1"))
    assert header == {"alg": "RS256", "kid": signer.kid, "typ": "JWT"}
    assert [k["kid"] for k in signer.jwks["keys"]] == [signer.kid]
    assert "d" not in signer.jwks["keys"][0]  # the JWKS publishes the public key only


def test_an_expired_token_is_unauthorized(signer, verifier):
    # beyond the 5 s leeway
    token = signer.access_token(user_id="u", role="client", client_id="c", ttl=-60, session_id="s-1")
    with pytest.raises(Unauthorized, match="expired"):
        verifier.principal(token)


def test_a_token_signed_by_another_key_is_unauthorized(other_signer, verifier):
    token = other_signer.access_token(user_id="u", role="admin", client_id=None, ttl=300, session_id="s-1")
    with pytest.raises(Unauthorized):
        verifier.principal(token)


def test_another_key_reusing_our_kid_is_unauthorized(signer, other_signer, verifier):
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": 1, "exp": 4102444800, "sub": "u", "role": "admin"}
    forged = jwt.encode(claims, other_signer.private_key, algorithm="RS256", headers={"kid": signer.kid})
    with pytest.raises(Unauthorized):
        verifier.principal(forged)


def test_an_mfa_token_is_refused_as_an_access_token(signer, verifier):
    token = signer.mfa_token(user_id="u", role="staff", ttl=300)
    with pytest.raises(Unauthorized):
        verifier.principal(token)
    assert verifier.verify(token, purpose="mfa")["typ"] == "mfa"


def test_an_access_token_is_refused_as_an_mfa_token(signer, verifier):
    token = signer.access_token(user_id="u", role="staff", client_id=None, ttl=300, session_id="s-1")
    with pytest.raises(Unauthorized):
        verifier.verify(token, purpose="mfa")


def test_a_tampered_payload_is_refused(signer, verifier):
    token = signer.access_token(user_id="u", role="client", client_id="c-1", ttl=300, session_id="s-1")
    header, payload, signature = token.split(".")
    claims = unb64(payload)
    claims["role"] = "admin"
    tampered = ".".join([header, b64(claims), signature])
    with pytest.raises(Unauthorized):
        verifier.principal(tampered)


def test_alg_none_is_refused(signer, verifier):
    token = signer.access_token(user_id="u", role="admin", client_id=None, ttl=300, session_id="s-1")
    claims = unb64(token.split(".")[1])
    unsigned = b64({"alg": "none", "typ": "JWT", "kid": signer.kid}) + "." + b64(claims) + "."
    with pytest.raises(Unauthorized):
        verifier.principal(unsigned)


def test_hs256_signed_with_the_public_key_is_refused(signer, verifier):
    """The classic algorithm confusion: HMAC keyed with the published public key."""
    token = signer.access_token(user_id="u", role="admin", client_id=None, ttl=300, session_id="s-1")
    claims = unb64(token.split(".")[1])
    signing_input = b64({"alg": "HS256", "typ": "JWT", "kid": signer.kid}) + "." + b64(claims)
    mac = hmac.new(public_pem(signer), signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
    with pytest.raises(Unauthorized):
        verifier.principal(forged)


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30."])
def test_garbage_is_unauthorized(verifier, garbage):
    with pytest.raises(Unauthorized):
        verifier.principal(garbage)


def test_wrong_audience_or_issuer_is_refused(signer, verifier):
    for override in ({"aud": "another-app"}, {"iss": "someone-else"}):
        token = signer.sign({"sub": "u", "role": "staff", "typ": "access", **override}, 300)
        with pytest.raises(Unauthorized):
            verifier.principal(token)


def test_a_token_without_a_role_is_refused(signer, verifier):
    token = signer.sign({"sub": "u", "typ": "access"}, 300)
    with pytest.raises(Unauthorized):
        verifier.principal(token)


def test_the_kid_is_stable_across_loads_of_the_same_pem(private_key_pem, signer, other_signer):
    again = Signer.from_pem(private_key_pem, issuer="x", audience="y")
    assert again.kid == signer.kid
    assert again.jwks == signer.jwks
    assert other_signer.kid != signer.kid


def test_previous_public_keys_stay_in_the_jwks(private_key_pem, signer, other_private_key_pem, verifier_for):
    """After a rotation tokens signed by the previous key still verify until they expire."""
    previous = Signer.from_pem(other_private_key_pem, issuer=ISSUER, audience=AUDIENCE)
    rotated = Signer.from_pem(private_key_pem, issuer=ISSUER, audience=AUDIENCE,
                              previous_public_pems=[public_pem(previous)])
    assert [k["kid"] for k in rotated.jwks["keys"]] == [signer.kid, previous.kid]
    old_token = previous.access_token(user_id="u", role="staff", client_id=None, ttl=300, session_id="s-1")
    assert verifier_for(rotated).principal(old_token).user_id == "u"


def test_opaque_tokens_are_random_and_stored_as_sha256():
    first, second = opaque_token(), opaque_token()
    assert first != second and len(first) >= 43
    assert token_hash(first) == token_hash(first)
    assert len(token_hash(first)) == 64 and token_hash(first) != token_hash(second)
    assert first not in token_hash(first)


def test_an_access_token_names_its_session_and_an_mfa_token_does_not(signer, verifier):
    token = signer.access_token(user_id="u", role="staff", client_id=None, ttl=300, session_id="family-1")
    claims = verifier.verify(token)
    assert claims["sid"] == "family-1" and claims["typ"] == "access"
    mfa = verifier.verify(signer.mfa_token(user_id="u", role="staff", ttl=300), purpose="mfa")
    assert "sid" not in mfa and mfa["typ"] == "mfa"


def test_the_credentials_stamp_changes_with_the_password_or_the_sign_in_email_only():
    from datetime import UTC, datetime, timedelta

    from services.identity.domain.tokens import credentials_stamp

    at = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    stamp = credentials_stamp(user_id="u", email="a@b.test", password_changed_at=at)
    assert stamp == credentials_stamp(user_id="u", email="a@b.test", password_changed_at=at)
    assert stamp != credentials_stamp(user_id="u", email="a@b.test", password_changed_at=at + timedelta(microseconds=1))
    assert stamp != credentials_stamp(user_id="u", email="c@b.test", password_changed_at=at)
    assert stamp != credentials_stamp(user_id="v", email="a@b.test", password_changed_at=at)
    assert "a@b.test" not in stamp and "2026" not in stamp

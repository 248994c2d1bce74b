"""Signing keys, access and MFA tokens (RS256 JWT), and opaque one-time tokens stored only as hashes."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def opaque_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_jwk(public_key) -> dict:
    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    # RFC 7638 thumbprint as the key id: stable for the same key, different for a rotated one.
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    kid = jwt.utils.base64url_encode(hashlib.sha256(canonical.encode()).digest()).decode()
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return jwk


@dataclass
class Signer:
    private_key: object
    kid: str
    jwks: dict
    issuer: str
    audience: str

    @classmethod
    def from_pem(cls, pem: bytes, *, issuer: str, audience: str, previous_public_pems: list[bytes] = ()) -> Signer:
        private_key = serialization.load_pem_private_key(pem, password=None)
        current = _public_jwk(private_key.public_key())
        keys = [current] + [_public_jwk(serialization.load_pem_public_key(p)) for p in previous_public_pems]
        return cls(private_key=private_key, kid=current["kid"], jwks={"keys": keys}, issuer=issuer,
                   audience=audience)

    def sign(self, claims: dict, ttl: int) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "iat": now, "nbf": now, "exp": now + ttl,
                "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(body, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    def access_token(self, *, user_id: str, role: str, client_id: str | None, ttl: int,
                     session_id: str | None = None) -> str:
        """`session_id`: the session (refresh-token family) the token belongs to, as `sid`: ending the session
        ends its access tokens too, wherever they are checked."""
        claims = {"sub": user_id, "role": role, "typ": "access"}
        if client_id:
            claims["client_id"] = client_id
        if session_id:
            claims["sid"] = session_id
        return self.sign(claims, ttl)

    def mfa_token(self, *, user_id: str, role: str, ttl: int, credentials: str | None = None) -> str:
        """The second step of a sign-in; `credentials` (`credentials_stamp`) binds it to what the first step
        checked: a password reset or a new sign-in e-mail before the second step ends it (identity refuses a
        step without it)."""
        claims = {"sub": user_id, "role": role, "typ": "mfa"}
        if credentials is not None:
            claims["crd"] = credentials
        return self.sign(claims, ttl)


def credentials_stamp(*, user_id: str, email: str, password_changed_at: datetime) -> str:
    """Changes when the password (a reset sets password_changed_at) or the sign-in e-mail changes. A digest, so
    the token shows neither the address nor when the password last changed."""
    moment = int(password_changed_at.timestamp() * 1_000_000)
    return hashlib.sha256(f"{user_id}\n{email}\n{moment}".encode()).hexdigest()[:32]

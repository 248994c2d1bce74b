"""Signing keys and token verifiers for the unit tier: real RSA keys, no network (JWKS from a lambda)."""

from __future__ import annotations

import pytest

from services.identity.domain.tokens import Signer, generate_private_key_pem
from shared.auth import JWKSCache, TokenVerifier
from shared.revocation import RevocationList

ISSUER = "portal-identity"
AUDIENCE = "portal"


@pytest.fixture(scope="session")
def private_key_pem() -> bytes:
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def other_private_key_pem() -> bytes:
    """A second, unrelated key: tokens it signs must never verify against `signer`'s JWKS."""
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def signer(private_key_pem) -> Signer:
    return Signer.from_pem(private_key_pem, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def other_signer(other_private_key_pem) -> Signer:
    return Signer.from_pem(other_private_key_pem, issuer=ISSUER, audience=AUDIENCE)


def no_revocations() -> RevocationList:
    """An empty revoked-sessions list, fetched in memory on first use; no polling thread."""
    return RevocationList(lambda: {"sessions": [], "window_seconds": 960}, background=False)


def make_verifier(signer: Signer, **kwargs) -> TokenVerifier:
    """A verifier whose key cache reads `signer`'s JWKS in memory instead of over HTTP (and no session ended)."""
    keys = JWKSCache("http://jwks.invalid/.well-known/jwks.json", fetch=lambda: signer.jwks)
    kwargs.setdefault("revocations", no_revocations())
    return TokenVerifier(keys, issuer=signer.issuer, audience=signer.audience, **kwargs)


@pytest.fixture
def verifier(signer) -> TokenVerifier:
    """Fresh per test: TokenVerifier caches principals, which must not leak between tests."""
    return make_verifier(signer)


@pytest.fixture
def verifier_for():
    """make_verifier as a fixture, for tests that need a verifier on another signer or with options."""
    return make_verifier

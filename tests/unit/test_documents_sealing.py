"""The practice's seal on a completed form: sealing with pyHanko, and verify() telling an intact seal over the whole
file from a changed byte, a later revision, another certificate's seal and no seal at all."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from services.documents.pdf import render_completed_form
from services.documents.sealing import (
    SEAL_FIELD,
    development_certificate,
    load_practice_certificate,
    seal,
    verify,
)
from shared.config import ConfigError

PRACTICE = "Harbor Light Counseling"
SIGNED_AT = datetime(2026, 3, 14, 13, 26, 5, tzinfo=UTC)


def completed_form() -> dict:
    return {
        "practice": {"name": PRACTICE, "address_lines": ["1200 Market Street"], "timezone": "America/Chicago"},
        "form": {"title": "Consent to treatment", "version": 1},
        "sections": [{"title": "Consent", "fields": [
            {"label": "I consent to treatment.", "type": "checkbox", "answer": True}]}],
        "signature": {"full_name": "Zoë Ångström", "drawn_png": None, "signed_at": SIGNED_AT,
                      "disclosure_version": "esign-1"},
        "certificate": {"signer_name": "Zoë Ångström", "signer_email": "zoe@example.com",
                        "signed_in_how": "password", "signed_at_utc": SIGNED_AT, "ip_address": "203.0.113.42",
                        "user_agent": "Mozilla/5.0", "content_sha256": "ab" * 32, "form_id": "frm_1"},
        "audit": [{"event": "signed", "at_utc": SIGNED_AT, "ip": "203.0.113.42", "user_agent": "Mozilla/5.0"}],
    }


@pytest.fixture(scope="module")
def practice_pair() -> tuple[bytes, bytes]:
    return development_certificate(PRACTICE)


@pytest.fixture(scope="module")
def other_pair() -> tuple[bytes, bytes]:
    return development_certificate("Somebody Else's Practice")


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return render_completed_form(completed_form())


@pytest.fixture(scope="module")
def sealed_window(unsigned, practice_pair) -> tuple[bytes, datetime, datetime]:
    key_pem, cert_pem = practice_pair
    before = datetime.now(UTC).replace(microsecond=0)
    sealed = seal(unsigned, key_pem=key_pem, cert_pem=cert_pem, reason="Completed form, signed electronically",
                  location="Springfield, IL")
    return sealed, before, datetime.now(UTC)


@pytest.fixture(scope="module")
def sealed(sealed_window) -> bytes:
    return sealed_window[0]


def flipped(document: bytes, position: int) -> bytes:
    """`document` with one byte changed at `position` (a hex digit stays a hex digit, a line break a space)."""
    changed = bytearray(document)
    changed[position] = 0x20 if changed[position] in (0x0A, 0x0D) else changed[position] ^ 0x01
    return bytes(changed)


def contents_span(document: bytes) -> tuple[int, int]:
    """Where the hex digits of the seal's /Contents (its CMS signature container) start and end."""
    match = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", document)
    return match.span(1)


# --------------------------------------------------------------------------- sealing and verifying


def test_a_sealed_pdf_verifies_with_the_practice_certificate_and_its_signing_time(sealed_window, practice_pair):
    sealed, before, after = sealed_window
    result = verify(sealed, cert_pem=practice_pair[1])
    assert result.valid, result.problem
    assert (result.signed, result.intact, result.covers_whole_file, result.by_certificate) == (True,) * 4
    assert result.problem is None
    assert result.signer == PRACTICE
    assert result.signed_at.tzinfo is not None and before <= result.signed_at <= after


def test_the_seal_is_an_incremental_update_with_reason_location_and_no_change_allowed(sealed, unsigned):
    assert sealed.startswith(unsigned)  # the rendered bytes stay, the seal is appended
    [embedded] = PdfFileReader(io.BytesIO(sealed)).embedded_regular_signatures
    assert embedded.field_name == SEAL_FIELD
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert embedded.sig_object["/Reason"] == "Completed form, signed electronically"
    assert embedded.sig_object["/Location"] == "Springfield, IL"
    assert embedded.docmdp_level is not None and embedded.docmdp_level.value == 1  # certified: no changes


def test_a_changed_byte_of_the_content_breaks_the_seal(sealed, unsigned, practice_pair):
    # in the middle of the rendered form, far from the seal
    result = verify(flipped(sealed, len(unsigned) // 2), cert_pem=practice_pair[1])
    assert not result.intact and not result.valid
    assert "changed after it was sealed" in result.problem


def test_a_changed_byte_of_the_signature_breaks_the_seal(sealed, practice_pair):
    start, end = contents_span(sealed)
    hex_digits = sealed[start:end].rstrip(b"0")
    # the signature value is the last thing in the container; the zeros after it pad /Contents
    for position in (start + len(hex_digits) - 6, start + len(hex_digits) + 10, start + 6):
        result = verify(flipped(sealed, position), cert_pem=practice_pair[1])
        assert not result.intact and not result.valid, position


def test_a_byte_changed_anywhere_makes_verify_say_not_intact_and_never_raise(sealed, practice_pair):
    start, end = contents_span(sealed)
    positions = set(range(0, len(sealed), max(1, len(sealed) // 90)))
    positions |= set(range(start - 2, start + 40)) | {end, end + 1, len(sealed) - 2}  # the container's head
    for position in sorted(positions):
        result = verify(flipped(sealed, position), cert_pem=practice_pair[1])
        assert not result.intact and not result.valid, position


def test_an_incremental_update_after_sealing_is_detected(sealed, practice_pair):
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    writer.root["/Lang"] = generic.TextStringObject("fr")  # a one-word change to the document's catalog
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    result = verify(out.getvalue(), cert_pem=practice_pair[1])
    assert result.intact  # the sealed revision itself is untouched...
    assert not result.covers_whole_file and not result.valid  # ...but something came after it
    assert "added to the PDF after it was sealed" in result.problem


def test_bytes_appended_after_the_seal_are_detected(sealed, practice_pair):
    result = verify(sealed + b"\n% a comment\n", cert_pem=practice_pair[1])
    assert not result.covers_whole_file and not result.valid


def test_a_pdf_sealed_with_another_certificate_fails_the_certificate_check(unsigned, practice_pair, other_pair):
    key_pem, cert_pem = other_pair
    result = verify(seal(unsigned, key_pem=key_pem, cert_pem=cert_pem, reason="r", location="l"),
                    cert_pem=practice_pair[1])
    assert result.intact and result.covers_whole_file  # a sound seal...
    assert not result.by_certificate and not result.valid  # ...of somebody else's
    assert result.signer == "Somebody Else's Practice"
    assert "another certificate" in result.problem


def test_an_unsigned_pdf_is_not_valid(unsigned, practice_pair):
    result = verify(unsigned, cert_pem=practice_pair[1])
    assert (result.signed, result.intact, result.valid) == (False, False, False)
    assert "no seal" in result.problem


@pytest.mark.parametrize("damage", [b"", b"not a pdf at all", b"%PDF-1.7\n%%EOF\n"])
def test_what_is_not_a_pdf_is_an_answer_not_an_error(damage, practice_pair):
    result = verify(damage, cert_pem=practice_pair[1])
    assert not result.valid and not result.intact


def test_a_truncated_sealed_pdf_is_not_valid(sealed, practice_pair):
    result = verify(sealed[: len(sealed) - 40], cert_pem=practice_pair[1])
    assert not result.valid


def test_a_key_that_is_not_the_certificates_is_refused(unsigned, practice_pair, other_pair):
    with pytest.raises(ValueError, match="not the one of the certificate"):
        seal(unsigned, key_pem=other_pair[0], cert_pem=practice_pair[1], reason="r", location="l")


# --------------------------------------------------------------------------- the practice's certificate


def test_the_development_certificate_is_a_self_signed_two_year_signing_certificate(practice_pair):
    certificate = x509.load_pem_x509_certificate(practice_pair[1])
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == PRACTICE
    assert certificate.issuer == certificate.subject
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=729) < lifetime < timedelta(days=731)
    assert isinstance(certificate.public_key(), rsa.RSAPublicKey) and certificate.public_key().key_size == 2048


def test_the_practice_certificate_is_read_from_its_files(tmp_path, practice_pair):
    (tmp_path / "seal.key").write_bytes(practice_pair[0])
    (tmp_path / "seal.crt").write_bytes(practice_pair[1])
    assert load_practice_certificate(tmp_path / "seal.key", tmp_path / "seal.crt") == practice_pair


def test_a_missing_file_is_refused_naming_it(tmp_path, practice_pair):
    (tmp_path / "seal.crt").write_bytes(practice_pair[1])
    with pytest.raises(ConfigError, match=r"private key file .*seal\.key does not exist"):
        load_practice_certificate(tmp_path / "seal.key", tmp_path / "seal.crt")
    (tmp_path / "seal.key").write_bytes(practice_pair[0])
    with pytest.raises(ConfigError, match=r"certificate file .*other\.crt does not exist"):
        load_practice_certificate(tmp_path / "seal.key", tmp_path / "other.crt")


def test_a_placeholder_or_a_mismatched_pair_is_refused(tmp_path, practice_pair, other_pair):
    (tmp_path / "placeholder.key").write_text("CHANGE-ME")
    (tmp_path / "seal.crt").write_bytes(practice_pair[1])
    (tmp_path / "other.key").write_bytes(other_pair[0])
    with pytest.raises(ConfigError, match="does not hold an unencrypted PEM private key"):
        load_practice_certificate(tmp_path / "placeholder.key", tmp_path / "seal.crt")
    with pytest.raises(ConfigError, match="is not the key of the certificate"):
        load_practice_certificate(tmp_path / "other.key", tmp_path / "seal.crt")
    (tmp_path / "empty.crt").write_text("")
    with pytest.raises(ConfigError, match="holds no PEM certificate"):
        load_practice_certificate(tmp_path / "other.key", tmp_path / "empty.crt")


def test_sealing_and_verifying_work_in_a_thread_that_runs_an_event_loop(unsigned, practice_pair):
    """pyHanko runs its own loop: inside a running one (an async caller; Playwright's sync API in the same test
    run) seal() and verify() must still work, not raise 'asyncio.run() cannot be called from a running loop'."""
    import asyncio
    import threading

    async def inside_a_loop():
        sealed = seal(unsigned, key_pem=practice_pair[0], cert_pem=practice_pair[1], reason="r", location="l")
        return verify(sealed, cert_pem=practice_pair[1])

    # A thread of its own for this loop: the test's thread may run one already (Playwright's, in the full run).
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=asyncio.run(inside_a_loop())))
    thread.start()
    thread.join(60)
    assert outcome["result"].valid

"""The practice's digital seal on a completed form's PDF: sealing it with pyHanko and verifying the seal later.

A seal is a PAdES signature (ETSI.CAdES.detached, SHA-256) made with the practice's certificate, as a certification
signature that allows no later changes, so that a PDF reader shows "certified by <practice>" and flags anything
done to the file afterwards. The signing time is the /M entry of the signature dictionary, inside the signed bytes
(PAdES leaves the CMS signingTime attribute out); no time-stamping authority is asked, so it is the time the
practice's server claims.

verify() answers for one PDF and one certificate whether the seal is there, intact, covers the whole file (nothing
appended after it, not even an incremental update that a reader would show as a later revision) and was made with
that certificate. It never raises for the PDF it is given: a damaged file is an answer (intact False), not an error.

Key and certificate are PEM bytes. development_certificate() makes a self-signed pair for `make run` and the tests;
production reads the practice's from files (load_practice_certificate), as identity reads its signing key from the
files its environment names (services/identity/keys.py); creating a missing development pair once belongs to the
service's wiring, in the way identity's _read_or_create does it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from shared.config import ConfigError

__all__ = ["SEAL_FIELD", "Verification", "development_certificate", "load_practice_certificate", "seal", "verify"]

SEAL_FIELD = "PracticeSeal"
DEVELOPMENT_VALIDITY = timedelta(days=730)
MIN_RSA_BITS = 2048
_RESERVE_MARGIN = 4096  # bytes of /Contents beyond the certificates (a 4096-bit RSA value is 512)

# What a broken file's answer says; verify() words its other answers the same way.
_UNREADABLE = "The file cannot be read as a PDF: it was damaged or changed after it was sealed."


@dataclass(frozen=True)
class Verification:
    """What verify() found. `valid` is the one answer that matters; the others say why it is not."""

    signed: bool  # a seal (a PDF signature) is in the file
    intact: bool  # the sealed bytes are exactly the ones the seal's key signed
    covers_whole_file: bool  # the seal covers every byte of the file: nothing was appended after it
    by_certificate: bool  # the seal was made with the certificate verify() was given
    signed_at: datetime | None = None  # UTC, as embedded in the seal
    signer: str | None = None  # the common name of the certificate the seal was made with
    problem: str | None = None  # why it is not valid, in words a member of staff can act on

    @property
    def valid(self) -> bool:
        return self.signed and self.intact and self.covers_whole_file and self.by_certificate


# --------------------------------------------------------------------------- sealing


def seal(pdf: bytes, *, key_pem: bytes, cert_pem: bytes, reason: str, location: str) -> bytes:
    """`pdf` with the practice's seal added as an incremental update (the original bytes stay the first part).

    `cert_pem` holds the practice's certificate first, then any intermediate certificates of its chain, which are
    embedded so that a reader can build the path to a root it trusts. A key that is not the certificate's is
    refused (ValueError) instead of producing a seal that nothing can verify."""
    signer, reserved = _signer(key_pem, cert_pem)
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD, reason=reason, location=location, md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        # A certification signature locked against any change: readers then report every edit as breaking it.
        certify=True, docmdp_permissions=fields.MDPPerm.NO_CHANGES)
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    return _outside_any_loop(signers.sign_pdf, writer, metadata, signer=signer, bytes_reserved=reserved).getvalue()


class _PracticeSigner(signers.SimpleSigner):
    """pyHanko's in-memory signer, keeping the parsed private key: SimpleSigner parses it again from DER for every
    signature it makes, and loading an RSA key (with its consistency check) costs about as much as the rest of a
    seal."""

    def __init__(self, *, private_key, **kwargs) -> None:
        super().__init__(**kwargs)
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        digest = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self._private_key, rsa.RSAPrivateKey):
            return self._private_key.sign(data, padding.PKCS1v15(), digest)
        if mechanism == "ecdsa" and isinstance(self._private_key, ec.EllipticCurvePrivateKey):
            return self._private_key.sign(data, ec.ECDSA(digest))
        return super().sign_raw(data, digest_algorithm)


@lru_cache(maxsize=8)
def _signer(key_pem: bytes, cert_pem: bytes) -> tuple[_PracticeSigner, int]:
    """The signer, parsed once per key pair, and the bytes to reserve for its signature container."""
    certificates = list(load_certs_from_pemder_data(cert_pem))
    if not certificates:
        raise ValueError("cert_pem holds no certificate")
    key = serialization.load_pem_private_key(key_pem, password=None)
    if _public_der(key.public_key()) != _public_der(_cryptography_cert(certificates[0]).public_key()):
        raise ValueError("the private key is not the one of the certificate (the first in cert_pem)")
    chain = SimpleCertificateStore()
    chain.register_multiple(certificates[1:])
    signer = _PracticeSigner(private_key=key, signing_cert=certificates[0], cert_registry=chain,
                             signing_key=load_private_key_from_pemder_data(key_pem, passphrase=None))
    # The container holds the certificates, one signature value and the signed attributes (about 1 kB with
    # RSA 2048): reserving that much plus a margin spares pyHanko a trial signature to measure it.
    reserved = _RESERVE_MARGIN + sum(len(certificate.dump()) for certificate in certificates)
    return signer, reserved + reserved % 2  # pyHanko wants it even


# --------------------------------------------------------------------------- verifying


def verify(pdf: bytes, *, cert_pem: bytes) -> Verification:
    """Whether `pdf` carries an intact seal over the whole file made with the certificate in `cert_pem` (its first;
    any further ones are that certificate's chain).

    The seal checked is the newest signature: the one that has to cover the file's end. Besides what pyHanko
    checks (the digest of the signed byte ranges, the signature value, the signed attributes binding the signer's
    certificate), the parts of the signature container that nothing signs must be as a seal writes them, so that a
    byte changed anywhere in the file makes `intact` False."""
    certificates = list(load_certs_from_pemder_data(cert_pem))
    expected = certificates[0].dump() if certificates else b""
    try:
        reader = PdfFileReader(BytesIO(pdf))
        signatures = reader.embedded_regular_signatures
    except Exception:  # a damaged file is an answer, whatever pyHanko raised on reading it
        return Verification(signed=False, intact=False, covers_whole_file=False, by_certificate=False,
                            problem=_UNREADABLE)
    if not signatures:
        return Verification(signed=False, intact=False, covers_whole_file=False, by_certificate=False,
                            problem="The PDF carries no seal: it was not sealed by the practice, or the seal was "
                                    "removed or damaged.")
    embedded = signatures[-1]
    try:
        signer_cert = embedded.signer_cert
        context = ValidationContext(trust_roots=certificates[:1], other_certs=certificates[1:])
        status = _outside_any_loop(validate_pdf_signature, embedded, context, skip_diff=True)
        flaw = _container_flaw(embedded, signer_cert)
    except Exception:  # as above: a mangled signature container is an answer too
        return Verification(signed=True, intact=False, covers_whole_file=False, by_certificate=False,
                            problem="The seal is damaged: the PDF was changed after it was sealed.")

    intact = bool(status.intact and status.valid) and flaw is None
    covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    by_certificate = signer_cert.dump() == expected
    signed_at = status.signer_reported_dt
    problem = None
    if not intact:
        problem = "The PDF was changed after it was sealed: the sealed content no longer matches the seal."
    elif not covers:
        problem = ("Something was added to the PDF after it was sealed (a later revision): the seal does not "
                   "cover the whole file.")
    elif not by_certificate:
        problem = "The PDF was sealed with another certificate, not the practice's."
    return Verification(signed=True, intact=intact, covers_whole_file=covers, by_certificate=by_certificate,
                        signed_at=signed_at.astimezone(UTC) if signed_at else None,
                        signer=_common_name(signer_cert), problem=problem)


def _container_flaw(embedded, signer_cert: asn1_x509.Certificate) -> str | None:
    """What in the unsigned parts of the signature container differs from what seal() writes, or None.

    The signature covers the file around /Contents and the signer's signed attributes; the version numbers and
    the list of digest algorithms of the CMS SignedData, and the zeros that pad /Contents to its reserved size,
    are outside both. A reader ignores them, so a change there cannot alter what the document says, but the
    answer to "was a byte changed" must still be yes."""
    raw = embedded.pkcs7_content
    length = _der_length(raw)
    if length is None or any(raw[length:]):
        return "bytes after the signature container"
    signed_data, signer_info = embedded.signed_data, embedded.signer_info
    if len(signed_data["signer_infos"]) != 1 or signer_info["unsigned_attrs"].native:
        return "another signer or unsigned attributes"
    if signed_data["version"].native != "v1" or signer_info["version"].native != "v1":
        return "a version a seal does not write"
    digest = signer_info["digest_algorithm"]
    if [algorithm.dump() for algorithm in signed_data["digest_algorithms"]] != [digest.dump()]:
        return "digest algorithms that are not the signer's"
    if digest["parameters"].native is not None:
        return "digest algorithm parameters"
    if not _soundly_issued(signer_cert, [signer_cert, *embedded.other_embedded_certs]):
        return "a signer certificate whose own signature does not verify"
    return None


def _der_length(raw: bytes) -> int | None:
    """The length of the DER ContentInfo at the start of `raw`, or None unless it is one SEQUENCE whose two
    elements (the content type and the content) fill it exactly: a length made larger would otherwise take in
    some of the zeros after it, which a lenient parser skips."""
    if not raw or raw[0] != 0x30:
        return None
    outer = _element(raw, 0)
    if outer is None:
        return None
    start, end = outer
    for _ in range(2):
        element = _element(raw, start)
        if element is None:
            return None
        start = element[1]
    return end if start == end else None


def _element(raw: bytes, offset: int) -> tuple[int, int] | None:
    """(where its contents start, where it ends) of the DER element at `offset`, or None if it does not fit."""
    if offset + 2 > len(raw):
        return None
    first = raw[offset + 1]
    if first < 0x80:
        start, length = offset + 2, first
    else:
        count = first & 0x7F
        if not 1 <= count <= 4 or offset + 2 + count > len(raw):
            return None
        start, length = offset + 2 + count, int.from_bytes(raw[offset + 2:offset + 2 + count], "big")
    return (start, start + length) if start + length <= len(raw) else None


def _soundly_issued(cert: asn1_x509.Certificate, candidates: list[asn1_x509.Certificate]) -> bool:
    """Whether the certificate's own signature verifies with the key of its issuer, when the issuer is among
    `candidates` (itself, for a self-signed one). With no issuer at hand there is nothing to check: the signed
    ESS attribute that names the certificate's hash still binds it to the seal."""
    try:
        subject = _cryptography_cert(cert)
    except ValueError:
        return False
    for candidate in candidates:
        try:
            issuer = _cryptography_cert(candidate)
        except ValueError:
            continue
        if issuer.subject != subject.issuer:
            continue
        try:
            subject.verify_directly_issued_by(issuer)
            return True
        except (ValueError, TypeError, InvalidSignature):
            return False
    return True


def _cryptography_cert(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _common_name(cert: asn1_x509.Certificate) -> str | None:
    try:
        return cert.subject.native.get("common_name")
    except (ValueError, TypeError, AttributeError):
        return None


# --------------------------------------------------------------------------- the practice's certificate


def development_certificate(practice_name: str) -> tuple[bytes, bytes]:
    """(key_pem, cert_pem): a self-signed certificate for development and tests, never for production.

    RSA 2048 rather than P-256: every PDF reader verifies RSA seals, not all of them ECDSA ones."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, practice_name.strip() or "Practice")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # a clock a little behind still accepts it
        .not_valid_after(now + DEVELOPMENT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def load_practice_certificate(key_file: str | Path, cert_file: str | Path) -> tuple[bytes, bytes]:
    """(key_pem, cert_pem) read from the two files, checked enough that a seal made with them will verify.

    Refused with a ConfigError that names the file (never its content): a missing file, a key that is not an
    unencrypted PEM RSA (2048 bits or more) or EC key, a certificate file without a certificate, a key that is
    not the certificate's, a certificate outside its validity period. It never creates anything."""
    key_path, cert_path = Path(key_file), Path(cert_file)
    for path, what in ((key_path, "private key"), (cert_path, "certificate")):
        if not path.is_file():
            raise ConfigError(f"The practice's seal {what} file {path} does not exist: mount the practice's "
                              f"{what} there (PEM), or point the setting at it.")
    key_pem, cert_pem = key_path.read_bytes(), cert_path.read_bytes()
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{key_path} does not hold an unencrypted PEM private key (a placeholder, or one "
                          "protected by a passphrase?).") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(f"{key_path} holds an RSA key of {key.key_size} bits; a seal needs at least "
                              f"{MIN_RSA_BITS}.")
    elif not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{key_path} must hold an RSA or EC private key.")
    try:
        certificates = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        certificates = []
    if not certificates:
        raise ConfigError(f"{cert_path} holds no PEM certificate.")
    leaf = certificates[0]
    if _public_der(leaf.public_key()) != _public_der(key.public_key()):
        raise ConfigError(f"The key in {key_path} is not the key of the certificate in {cert_path} (its first).")
    now = datetime.now(UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ConfigError(f"The certificate in {cert_path} is valid from {leaf.not_valid_before_utc:%Y-%m-%d} to "
                          f"{leaf.not_valid_after_utc:%Y-%m-%d}, not now: renew it.")
    return key_pem, cert_pem


def _outside_any_loop(call, *args, **kwargs):
    """pyHanko's synchronous calls run their own asyncio loop (asyncio.run), which refuses to start inside a running
    one: in a thread with a loop (an async caller, or Playwright's sync API beside it in the test run) the call goes
    to a worker thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call(*args, **kwargs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(call, *args, **kwargs).result()

"""The central system's certificate authority: its own CA, the server certificate, and the
client certificates issued to terminals at enrollment (端末の登録)."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.errors import InvalidValue

CA_VALIDITY = timedelta(days=3653)
SERVER_VALIDITY = timedelta(days=825)
CLIENT_VALIDITY = timedelta(days=730)
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class KeyAndCert:
    key_pem: bytes
    cert_pem: bytes


def fingerprint(cert_der: bytes) -> str:
    """The SHA-256 of a certificate's DER encoding, in hex."""
    return hashlib.sha256(cert_der).hexdigest()


def pem_fingerprint(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sesshu central"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(now: datetime) -> KeyAndCert:
    """A self-signed ECDSA P-256 CA, valid for ten years."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("sesshu central CA")
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyAndCert(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))


def _load_ca(ca: KeyAndCert) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("the CA key is not an ECDSA key")
    return key, x509.load_pem_x509_certificate(ca.cert_pem)


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def make_server_cert(ca: KeyAndCert, names: Sequence[str], now: datetime) -> KeyAndCert:
    """The server's certificate for localhost, 127.0.0.1, ::1 and ``names``."""
    ca_key, ca_cert = _load_ca(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    every = list(dict.fromkeys([*DEFAULT_NAMES, *names]))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(every[0] if names else "localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + SERVER_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_alt_name(n) for n in every]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return KeyAndCert(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class IssuedCert:
    cert_pem: bytes
    fingerprint: str
    serial: str


def _check_csr_key(csr: x509.CertificateSigningRequest) -> None:
    public = csr.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.key_size < 256:
            raise InvalidValue("csr_pem", "central.csr_weak_key")
    elif isinstance(public, rsa.RSAPublicKey):
        if public.key_size < 2048:
            raise InvalidValue("csr_pem", "central.csr_weak_key")
    elif not isinstance(public, ed25519.Ed25519PublicKey):
        raise InvalidValue("csr_pem", "central.csr_weak_key")


def load_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    """A certificate request whose self-signature holds; ``InvalidValue`` otherwise."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise InvalidValue("csr_pem", "central.csr_unreadable") from None
    try:
        valid = csr.is_signature_valid
    except (InvalidSignature, ValueError):
        valid = False
    if not valid:
        raise InvalidValue("csr_pem", "central.csr_bad_signature")
    _check_csr_key(csr)
    return csr


def sign_csr(ca: KeyAndCert, csr_pem: bytes, terminal: str, now: datetime) -> IssuedCert:
    """A client certificate for ``terminal`` (CN), clientAuth only, valid for two years."""
    csr = load_csr(csr_pem)
    ca_key, ca_cert = _load_ca(ca)
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(terminal))
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(serial)
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CLIENT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedCert(
        cert.public_bytes(serialization.Encoding.PEM),
        fingerprint(cert.public_bytes(serialization.Encoding.DER)),
        f"{serial:x}",
    )


def make_csr(terminal: str) -> KeyAndCert:
    """A fresh P-256 key and a CSR for it (what a terminal sends at enrollment; used in tests)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, terminal)]))
        .sign(key, hashes.SHA256())
    )
    return KeyAndCert(_key_pem(key), csr.public_bytes(serialization.Encoding.PEM))


def pem_to_der(cert_pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)

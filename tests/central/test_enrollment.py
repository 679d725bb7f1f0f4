"""Enrollment rules: one-time tokens, certificates, authentication and revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from central import pki
from central.service import CentralService
from core.clock import FixedClock
from core.errors import AuthenticationFailed, InvalidValue, NotFound, PermissionDenied
from tests.central.conftest import Terminal, enroll

SIGNING_KEY = "ab" * 32


def _csr(name: str = "T-1") -> str:
    return pki.make_csr(name).cert_pem.decode()


def _enroll_with(service: CentralService, token: str, name: str = "T-1") -> str:
    answer = service.enroll(token, name, _csr(name), Terminal(name, _key()).public_hex)
    return str(answer["certificate_pem"])


def _key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def test_token_names_the_server_and_stores_only_a_hash(service: CentralService) -> None:
    token = service.create_token("T-1")
    secret, fingerprint = token.split(".")
    assert fingerprint == service.conf.public["server_fingerprint"]
    assert len(secret) == 43
    assert "=" not in secret
    stored = service.db.query("SELECT secret_hash FROM enrollment_tokens")
    assert stored
    assert all(secret not in str(row) for row in stored)


def test_enrollment_issues_a_client_certificate(service: CentralService) -> None:
    token = service.create_token("T-1")
    cert = x509.load_pem_x509_certificate(_enroll_with(service, token).encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "T-1"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ca = x509.load_pem_x509_certificate(service.conf.file("ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert service.authenticate(pki.pem_to_der(cert.public_bytes(serialization.Encoding.PEM)))


def test_a_token_is_used_once(service: CentralService) -> None:
    token = service.create_token("T-1")
    _enroll_with(service, token)
    with pytest.raises(AuthenticationFailed) as refused:
        _enroll_with(service, token)
    assert refused.value.key == "central.token_used"


def test_a_token_expires_after_seven_days(
    service: CentralService, central_clock: FixedClock
) -> None:
    token = service.create_token("T-1")
    central_clock.advance(timedelta(days=7, seconds=1))
    with pytest.raises(AuthenticationFailed) as refused:
        _enroll_with(service, token)
    assert refused.value.key == "central.token_expired"


def test_a_token_is_for_one_terminal_name(service: CentralService) -> None:
    token = service.create_token("T-1")
    with pytest.raises(AuthenticationFailed) as refused:
        _enroll_with(service, token, "T-2")
    assert refused.value.key == "central.token_other_terminal"
    _enroll_with(service, token, "T-1")


def test_an_unknown_token_is_refused_and_audited(service: CentralService) -> None:
    with pytest.raises(AuthenticationFailed) as refused:
        _enroll_with(service, "not-a-token")
    assert refused.value.key == "central.token_unknown"
    actions = [row[0] for row in service.db.query("SELECT action FROM audit ORDER BY seq")]
    assert actions[-1] == "central.enroll_refused"


def test_a_failed_enrollment_does_not_use_up_the_token(service: CentralService) -> None:
    token = service.create_token("T-1")
    with pytest.raises(InvalidValue) as refused:
        service.enroll(token, "T-1", "-----BEGIN CERTIFICATE REQUEST-----\nxx", SIGNING_KEY)
    assert refused.value.issues[0].field == "csr_pem"
    _enroll_with(service, token)


def test_a_csr_with_a_bad_signature_is_refused(service: CentralService) -> None:
    good = pki.make_csr("T-1").cert_pem
    csr = x509.load_pem_x509_csr(good)
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(InvalidValue) as refused:
        pki.sign_csr(service.conf.ca, tampered, "T-1", service.clock.now())
    assert refused.value.key == "central.csr_bad_signature"


def test_a_bad_signing_key_is_refused(service: CentralService) -> None:
    token = service.create_token("T-1")
    with pytest.raises(InvalidValue) as refused:
        service.enroll(token, "T-1", _csr(), "zz")
    assert refused.value.issues[0].field == "signing_public_key"


def test_unknown_certificate_is_not_a_terminal(service: CentralService) -> None:
    other_ca = pki.make_ca(service.clock.now())
    issued = pki.sign_csr(other_ca, pki.make_csr("T-1").cert_pem, "T-1", service.clock.now())
    with pytest.raises(AuthenticationFailed) as refused:
        service.authenticate(pki.pem_to_der(issued.cert_pem))
    assert refused.value.key == "central.unknown_terminal"


def test_re_enrolling_replaces_the_certificate(service: CentralService) -> None:
    first = enroll(service, "T-1")
    second = enroll(service, "T-1")
    assert service.authenticate(second.cert_der) == "T-1"
    with pytest.raises(AuthenticationFailed):
        service.authenticate(first.cert_der)


def test_a_revoked_terminal_is_refused_everywhere(service: CentralService) -> None:
    terminal = enroll(service, "T-1")
    pending = service.create_token("T-1")
    service.revoke("T-1")
    with pytest.raises(PermissionDenied) as refused:
        service.authenticate(terminal.cert_der)
    assert refused.value.key == "central.revoked"
    with pytest.raises(AuthenticationFailed):
        _enroll_with(service, pending)
    with pytest.raises(PermissionDenied):
        service.create_token("T-1")
    with pytest.raises(PermissionDenied):
        service.push("T-1", [])
    assert [t.status for t in service.terminals()] == ["revoked"]


def test_revoking_an_unknown_terminal_says_so(service: CentralService) -> None:
    with pytest.raises(NotFound):
        service.revoke("T-9")

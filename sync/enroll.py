"""Enrollment: make the terminal's keys, pin the central server, receive a client certificate.

The token is ``<secret>.<server_fingerprint_hex>`` (SHA-256 of the server certificate, DER).
The server is pinned before the secret leaves: the TLS connection is made without CA checks
(the CA is what enrollment delivers), the peer certificate's fingerprint must equal the
token's, and the request goes over that same connection.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import secrets
import ssl
from typing import Any
from urllib.parse import urlsplit

import pyrage
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.errors import InvalidValue, SyncFailed
from core.ports import Enrollment
from core.sync import PROTOCOL

FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
TIMEOUT = 30.0


def parse_token(token: str) -> tuple[str, str]:
    secret, dot, fingerprint = token.strip().rpartition(".")
    fingerprint = fingerprint.lower().replace(":", "")
    if not dot or not secret or not FINGERPRINT.match(fingerprint):
        raise InvalidValue("token", "sync.token_malformed")
    return secret, fingerprint


def enroll(url: str, token: str, terminal: str, signing_public_key: str) -> Enrollment:
    """Implements ``core.ports.Enroller``."""
    secret, fingerprint = parse_token(token)
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidValue("central", "sync.url_not_https")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, terminal)]))
        .sign(key, hashes.SHA256())
    )
    identity = pyrage.x25519.Identity.generate()
    body = {
        "protocol": PROTOCOL,
        "terminal": terminal,
        "token": secret,
        "csr_pem": csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "signing_public_key": signing_public_key,
        "age_recipient": str(identity.to_public()),
    }
    answer = _post_pinned(parts.hostname, parts.port or 443, fingerprint, body)
    try:
        certificate_pem = str(answer["certificate_pem"])
        ca_pem = str(answer["ca_pem"])
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
        x509.load_pem_x509_certificates(ca_pem.encode("ascii"))
        central = answer.get("central") or {}
        info = {str(k): str(v) for k, v in dict(central).items()}
    except (KeyError, TypeError, ValueError) as error:
        raise SyncFailed("sync.malformed") from error
    if certificate.public_key() != key.public_key():
        raise SyncFailed("sync.malformed")
    info.setdefault("server_fingerprint", fingerprint)
    password = secrets.token_urlsafe(32)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode("ascii")),
    ).decode("ascii")
    return Enrollment(
        central=url.rstrip("/"),
        terminal=str(answer.get("terminal") or terminal),
        certificate_pem=certificate_pem,
        ca_pem=ca_pem,
        key_pem=key_pem,
        key_password=password,
        age_identity=str(identity),
        central_info=info,
    )


def _post_pinned(host: str, port: int, fingerprint: str, body: dict[str, Any]) -> Any:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # pinned by fingerprint below instead
    connection = http.client.HTTPSConnection(host, port, context=context, timeout=TIMEOUT)
    try:
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as error:
            raise SyncFailed("sync.unreachable") from error
        sock = connection.sock
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
        seen = hashlib.sha256(der or b"").hexdigest()
        if der is None or not hmac.compare_digest(seen, fingerprint):
            raise SyncFailed("sync.server_mismatch")
        try:
            connection.request(
                "POST",
                "/v1/enroll",
                body=json.dumps(body).encode("utf-8"),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise SyncFailed("sync.unreachable") from error
    finally:
        connection.close()
    if response.status in (401, 403):
        raise SyncFailed("sync.refused")
    if response.status >= 400:
        raise SyncFailed("sync.enroll_failed", status=response.status)
    try:
        return json.loads(payload)
    except ValueError as error:
        raise SyncFailed("sync.malformed") from error

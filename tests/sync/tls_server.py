"""A tiny HTTPS server on loopback standing in for the central system's TLS edge."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, ip: bool = False
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key() if hasattr(key, "public_key") else key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass
class Central:
    url: str
    fingerprint: str
    requests: list[tuple[str, dict[str, Any] | None, bool]] = field(default_factory=list)
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)


@contextmanager
def tls_central(folder: Path) -> Iterator[Central]:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("127.0.0.1", server_key, "test CA", ca_key, ca=False, ip=True)
    (folder / "server.pem").write_text(_pem(server) + _pem(ca))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    context.load_verify_locations(cadata=_pem(ca))
    context.verify_mode = ssl.CERT_OPTIONAL
    fingerprint = hashlib.sha256(server.public_bytes(serialization.Encoding.DER)).hexdigest()
    central = Central("", fingerprint)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, doc: Any) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _client(self) -> bool:
            sock = self.connection
            return isinstance(sock, ssl.SSLSocket) and bool(sock.getpeercert())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            doc = json.loads(self.rfile.read(length))
            central.requests.append((self.path, doc, self._client()))
            if self.path != "/v1/enroll":
                self._answer(*central.answers.get(self.path, (404, {})))
                return
            csr = x509.load_pem_x509_csr(doc["csr_pem"].encode())
            cert = _certificate(doc["terminal"], csr.public_key(), "test CA", ca_key, ca=False)
            self._answer(
                200,
                {
                    "certificate_pem": _pem(cert),
                    "ca_pem": _pem(ca),
                    "terminal": doc["terminal"],
                    "central": {"server_fingerprint": fingerprint, "age_recipient": "age1x"},
                },
            )

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            central.requests.append((self.path, None, self._client()))
            if not self._client():
                self._answer(403, {"error": "unknown_terminal"})
                return
            self._answer(*central.answers.get(path, (404, {})))

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    central.url = f"https://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield central
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)

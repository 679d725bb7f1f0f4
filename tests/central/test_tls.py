"""End to end over real mutual TLS on loopback: ``sesshu central serve`` in its own process."""

from __future__ import annotations

import json
import re
import signal
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from central import pki
from core.clock import JST
from core.sync import PROTOCOL, EntryKind
from sync.wire import push_json
from tests.central.conftest import Terminal, record
from tests.subprocess_env import SESSHU, sandbox_env, sesshu

pytestmark = pytest.mark.slow
URL = re.compile(r"https://[^\s]+")


@dataclass
class Running:
    root: Path
    conf: Path
    url: str
    process: subprocess.Popen[str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return sesshu(self.root, "central", *args, "--dir", str(self.conf))

    def token(self, terminal: str) -> str:
        return str(json.loads(self.cli("enroll", "--terminal", terminal, "--json").stdout)["token"])


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("central")
    conf = root / "conf"
    sesshu(root, "central", "init", "--dir", str(conf), "--json")
    process = subprocess.Popen(
        [SESSHU, "central", "serve", "--dir", str(conf), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sandbox_env(root),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = URL.search(line)
    if found is None:
        process.kill()
        pytest.fail(f"the server did not announce itself: {line!r}")
    running = Running(root, conf, found.group(0), process)
    yield running
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def tls_context(
    conf: Path, cert: Path | None = None, key: Path | None = None, tls12: bool = False
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(conf / "ca.pem"))
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None and key is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


def enroll_over_tls(central: Running, name: str, tmp_path: Path) -> tuple[Terminal, Path, Path]:
    terminal = Terminal(name, ed25519.Ed25519PrivateKey.generate())
    csr = pki.make_csr(name)
    with httpx.Client(verify=tls_context(central.conf), base_url=central.url) as anonymous:
        answer = anonymous.post(
            "/v1/enroll",
            json={
                "protocol": PROTOCOL,
                "terminal": name,
                "token": central.token(name),
                "csr_pem": csr.cert_pem.decode(),
                "signing_public_key": terminal.public_hex,
            },
        )
    assert answer.status_code == 200, answer.text
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert.write_text(answer.json()["certificate_pem"])
    key.write_bytes(csr.key_pem)
    terminal.cert_pem = cert.read_bytes()
    return terminal, cert, key


def test_an_enrolled_terminal_pushes_and_pulls(central: Running, tmp_path: Path) -> None:
    terminal, cert, key = enroll_over_tls(central, "T-1", tmp_path)
    context = tls_context(central.conf, cert, key)
    with httpx.Client(verify=context, base_url=central.url) as http:
        entry = terminal.entry(EntryKind.RECORD, "R-TLS", "upsert", record("R-TLS"))
        pushed = http.post("/v1/push", json=push_json("T-1", [entry]))
        assert [a["status"] for a in pushed.json()["acks"]] == ["applied"]
        pulled = http.get("/v1/pull", params={"cursor": 0}).json()
        assert [c["key"] for c in pulled["changes"]] == ["R-TLS"]
        assert http.get("/v1/status").json()["terminal"] == "T-1"


def test_no_certificate_is_401(central: Running) -> None:
    with httpx.Client(verify=tls_context(central.conf), base_url=central.url) as anonymous:
        answer = anonymous.get("/v1/status")
    assert (answer.status_code, answer.json()) == (401, {"error": "certificate_required"})


def test_a_certificate_from_another_ca_fails_the_handshake(
    central: Running, tmp_path: Path
) -> None:
    now = datetime.now(JST)
    other = pki.make_ca(now)
    csr = pki.make_csr("T-1")
    issued = pki.sign_csr(other, csr.cert_pem, "T-1", now)
    cert, key = tmp_path / "other.pem", tmp_path / "other.key"
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(csr.key_pem)
    with (
        httpx.Client(verify=tls_context(central.conf, cert, key), base_url=central.url) as http,
        pytest.raises(httpx.TransportError),
    ):
        http.get("/v1/status")


def test_a_revoked_terminal_is_403(central: Running, tmp_path: Path) -> None:
    _, cert, key = enroll_over_tls(central, "T-2", tmp_path)
    central.cli("revoke", "--terminal", "T-2")
    with httpx.Client(verify=tls_context(central.conf, cert, key), base_url=central.url) as http:
        answer = http.get("/v1/status")
    assert (answer.status_code, answer.json()) == (403, {"error": "revoked"})


def test_a_tls12_client_is_refused(central: Running) -> None:
    context = tls_context(central.conf, tls12=True)
    with (
        httpx.Client(verify=context, base_url=central.url) as http,
        pytest.raises(httpx.ConnectError),
    ):
        http.get("/v1/status")


def test_the_server_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    sesshu(tmp_path, "central", "init", "--dir", str(conf))
    process = subprocess.Popen(
        [SESSHU, "central", "serve", "--dir", str(conf), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sandbox_env(tmp_path),
    )
    assert process.stdout is not None
    assert URL.search(process.stdout.readline())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0

"""Central system fixtures: a CONF directory, a service on SQLite or PostgreSQL, and terminals
enrolled with real CSRs and Ed25519 keys."""

from __future__ import annotations

import os
import secrets
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from central import pki
from central.config import CentralDir
from central.service import CentralService
from central.setup import initialise
from core.audit import checkpoint_message
from core.clock import JST, FixedClock
from core.sync import Entry, EntryKind
from sync.wire import entry_json, parse_push, push_json

POSTGRES_HOST = "postgresql://{user}@127.0.0.1:5432/test"
REQUIRE_ENV = "SESSHU_REQUIRE_POSTGRES"


def postgres_base_url() -> str | None:
    """A URL that connects to the test database, trying the OS user and then ``postgres``."""
    for user in dict.fromkeys([os.environ.get("USER", ""), "postgres"]):
        if not user:
            continue
        url = POSTGRES_HOST.format(user=user)
        try:
            with psycopg.connect(url, connect_timeout=2):
                return url
        except psycopg.OperationalError:
            continue
    return None


_POSTGRES: list[str | None] = []


def postgres_url_or_skip() -> str:
    if not _POSTGRES:
        _POSTGRES.append(postgres_base_url())
    url = _POSTGRES[0]
    if url is None:
        reason = "PostgreSQL is not reachable at 127.0.0.1:5432 (database test, trust auth)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1")
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    base = postgres_url_or_skip()
    schema = f"central_test_{os.getpid()}_{secrets.token_hex(4)}"
    yield f"{base}?schema={schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def central_clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=JST))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def conf(tmp_path: Path, db_url: str | None, central_clock: FixedClock) -> CentralDir:
    return initialise(tmp_path / "conf", db_url, [], central_clock)


@pytest.fixture
def service(conf: CentralDir, central_clock: FixedClock) -> Iterator[CentralService]:
    opened = CentralService.open(conf, clock=central_clock)
    yield opened
    opened.close()


@dataclass
class Terminal:
    """A terminal as the tests drive it: its key, certificate and outbox sequence."""

    name: str
    signing: ed25519.Ed25519PrivateKey
    key_pem: bytes = b""
    cert_pem: bytes = b""
    seq: int = 0
    sent: list[Entry] = field(default_factory=list)

    @property
    def public_hex(self) -> str:
        return (
            self.signing.public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            .hex()
        )

    @property
    def cert_der(self) -> bytes:
        return pki.pem_to_der(self.cert_pem)

    def entry(
        self,
        kind: EntryKind,
        key: str,
        op: str,
        data: dict[str, Any],
        base: int = 0,
        version: int | None = None,
    ) -> Entry:
        """An entry that has passed the wire's format check (as the server receives it)."""
        self.seq += 1
        made = Entry(
            uuid=str(uuidlib.uuid4()),
            seq=self.seq,
            kind=kind,
            key=key,
            op=op,
            base_version=base,
            version=version if version is not None else (1 if op == "upsert" else base + 1),
            data=data,
            at="2026-11-24T10:00:00.000000+09:00",
        )
        _, (checked,) = parse_push(push_json(self.name, [made]))
        assert entry_json(checked) == entry_json(made)
        return checked

    def checkpoint(
        self, seq: int, chain_hash: str, key: ed25519.Ed25519PrivateKey | None = None
    ) -> Entry:
        at = "2026-11-24T10:00:00.000000+09:00"
        signer = key or self.signing
        signature = signer.sign(checkpoint_message(self.name, seq, chain_hash, at)).hex()
        return self.entry(
            EntryKind.CHECKPOINT,
            str(seq),
            "append",
            {
                "seq": seq,
                "hash": chain_hash,
                "at": at,
                "terminal": self.name,
                "signature": signature,
                "public_key": self.public_hex,
            },
        )


def enroll(service: CentralService, name: str) -> Terminal:
    terminal = Terminal(name, ed25519.Ed25519PrivateKey.generate())
    csr = pki.make_csr(name)
    answer = service.enroll(
        service.create_token(name), name, csr.cert_pem.decode(), terminal.public_hex
    )
    terminal.key_pem = csr.key_pem
    terminal.cert_pem = answer["certificate_pem"].encode()
    return terminal


def record(uid: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uid": uid,
        "atena": "000123",
        "vaccine": "MR",
        "dose": 1,
        "date": "2026-10-01",
        "lot": "LOT-1",
        "status": "active",
        "source": "batch",
        "keyed_by": "op1",
        "verified_by": "ver1",
        "created_at": "2026-10-02T09:00:00.000000+09:00",
    }
    data.update(changes)
    return data


def resident(atena: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "atena": atena,
        "mynumber": "123456789018",
        "name": "山田 太郎",
        "kana": "ヤマダ タロウ",
        "birth": "2020-04-01",
        "sex": "M",
        "postal": "444-0001",
        "address": "岡崎市康生町1",
        "status": "resident",
    }
    data.update(changes)
    return data

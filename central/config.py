"""The central system's configuration directory (CONF): keys, certificates and the database URL.

Files: ``central.json`` {"db", "created_at", "names"}; ``ca.pem``/``ca.key``; ``server.pem``/
``server.key``; ``signing.key`` (Ed25519, raw 32 bytes); ``age.key`` (an age X25519 identity);
``sqlite.key`` (the SQLCipher key, 64 hex digits); ``public.json`` (fingerprints and public keys a
terminal may pin). Every ``*.key`` file is readable by the owner only (0600).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pyrage import x25519

from central import pki
from central.files import read_json, write_atomic, write_json
from core.clock import timestamp
from core.errors import InvalidValue, StoreError

DIR_ENV = "SESSHU_CENTRAL_DIR"
DB_ENV = "SESSHU_CENTRAL_DB"
SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def default_dir() -> Path:
    chosen = os.environ.get(DIR_ENV)
    return Path(chosen) if chosen else platformdirs.user_data_path("sesshu-central")


def default_db_url(conf: Path) -> str:
    return f"{SQLITE_PREFIX}{conf.absolute() / 'central.db'}"


def check_db_url(url: str) -> str:
    if url.startswith(SQLITE_PREFIX) and len(url) > len(SQLITE_PREFIX):
        return url
    if url.startswith(POSTGRES_PREFIXES):
        return url
    raise InvalidValue("db", "central.db_url")


@dataclass(frozen=True)
class CentralDir:
    """An initialised CONF directory."""

    path: Path

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def settings(self) -> dict[str, Any]:
        document = read_json(self.file("central.json"))
        if not isinstance(document, dict):
            raise StoreError("central.conf_damaged", path=str(self.path))
        return document

    def db_url(self, override: str | None = None) -> str:
        chosen = override or os.environ.get(DB_ENV) or str(self.settings["db"])
        return check_db_url(chosen)

    @property
    def public(self) -> dict[str, str]:
        document = read_json(self.file("public.json"))
        return {str(k): str(v) for k, v in document.items()}

    @property
    def ca(self) -> pki.KeyAndCert:
        return pki.KeyAndCert(self.file("ca.key").read_bytes(), self.file("ca.pem").read_bytes())

    @property
    def sqlite_key(self) -> bytes:
        return bytes.fromhex(self.file("sqlite.key").read_text("ascii").strip())

    @property
    def signing_key(self) -> ed25519.Ed25519PrivateKey:
        return ed25519.Ed25519PrivateKey.from_private_bytes(self.file("signing.key").read_bytes())

    @property
    def age_identity(self) -> x25519.Identity:
        return x25519.Identity.from_str(self.file("age.key").read_text("ascii").strip())


def open_dir(path: Path) -> CentralDir:
    """The CONF directory at ``path``; ``StoreError`` if it was never initialised."""
    if not (path / "central.json").is_file():
        raise StoreError("central.conf_missing", path=str(path))
    return CentralDir(path)


def _raw_public(key: ed25519.Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        .hex()
    )


def create_dir(path: Path, db_url: str | None, names: Sequence[str], now: datetime) -> CentralDir:
    """Create CONF with a new CA, server certificate and keys; refuse an existing, non-empty one.

    The database is not touched here (``central.setup.initialise`` migrates it); if anything
    fails, the files written so far are removed again.
    """
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise StoreError("central.conf_exists", path=str(path))
    url = check_db_url(db_url) if db_url else default_db_url(path)
    created = not path.exists()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        ca = pki.make_ca(now)
        server = pki.make_server_cert(ca, names, now)
        signing = ed25519.Ed25519PrivateKey.generate()
        age = x25519.Identity.generate()
        write_atomic(path / "ca.key", ca.key_pem, private=True)
        write_atomic(path / "ca.pem", ca.cert_pem)
        write_atomic(path / "server.key", server.key_pem, private=True)
        write_atomic(path / "server.pem", server.cert_pem + ca.cert_pem)
        write_atomic(
            path / "signing.key",
            signing.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            ),
            private=True,
        )
        write_atomic(path / "age.key", (str(age) + "\n").encode("ascii"), private=True)
        write_atomic(path / "sqlite.key", (secrets.token_hex(32) + "\n").encode(), private=True)
        write_json(
            path / "public.json",
            {
                "server_fingerprint": pki.pem_fingerprint(server.cert_pem),
                "ca_fingerprint": pki.pem_fingerprint(ca.cert_pem),
                "signing_public_key": _raw_public(signing),
                "age_recipient": str(age.to_public()),
            },
        )
        write_json(
            path / "central.json",
            {"db": url, "created_at": timestamp(now), "names": list(names)},
        )
    except BaseException:
        remove_dir(path, created)
        raise
    return CentralDir(path)


def remove_dir(path: Path, created: bool) -> None:
    """Undo ``create_dir``: the whole directory if it was created, else only its contents."""
    if created:
        shutil.rmtree(path, ignore_errors=True)
        return
    for child in path.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)

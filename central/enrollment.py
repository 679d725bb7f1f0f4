"""Enrollment (端末の登録): one-time tokens, client certificates, authentication, revocation.

A token is ``<secret>.<server fingerprint>``: the secret (32 random bytes, URL-safe base64) is
used once within seven days, and only its SHA-256 is stored; the fingerprint lets the terminal
pin the server's certificate before it sends anything.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from pyrage import x25519

from central import audit, pki
from central.audit import CentralAction
from central.config import CentralDir
from central.db import Database
from core.audit import JSONValue
from core.clock import Clock, parse_timestamp, timestamp
from core.errors import (
    AuthenticationFailed,
    InvalidValue,
    NotFound,
    PermissionDenied,
    SesshuError,
)
from sync.wire import TERMINAL_PATTERN

TOKEN_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class TerminalInfo:
    name: str
    status: str
    cert_fingerprint: str | None
    cert_serial: str | None
    signing_public_key: str
    age_recipient: str
    enrolled_at: str
    revoked_at: str | None
    last_seen: str | None
    last_push: str | None


TERMINAL_COLUMNS = (
    "name, status, cert_fingerprint, cert_serial, signing_public_key, age_recipient,"
    " enrolled_at, revoked_at, last_seen, last_push"
)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii", "replace")).hexdigest()


def token_secret(token: str) -> str:
    """The secret part of a token (the terminal may send the whole token or the secret)."""
    return token.strip().split(".", 1)[0]


def check_terminal_name(name: str) -> str:
    if not TERMINAL_PATTERN.match(name):
        raise InvalidValue("terminal", "central.terminal_name")
    return name


def check_signing_key(value: str) -> str:
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))
    except ValueError:
        raise InvalidValue("signing_public_key", "central.signing_key") from None
    return value.lower()


def check_age_recipient(value: str) -> str:
    if not value:
        return ""
    try:
        x25519.Recipient.from_str(value)
    except Exception:  # noqa: BLE001 - pyrage raises its own untyped errors
        raise InvalidValue("age_recipient", "central.age_recipient") from None
    return value


class Enrollment:
    def __init__(self, db: Database, conf: CentralDir, clock: Clock) -> None:
        self._db = db
        self._conf = conf
        self._clock = clock

    def terminal(self, name: str) -> TerminalInfo | None:
        row = self._db.one(f"SELECT {TERMINAL_COLUMNS} FROM terminals WHERE name = ?", (name,))
        return TerminalInfo(*row) if row else None

    def terminals(self) -> list[TerminalInfo]:
        rows = self._db.query(f"SELECT {TERMINAL_COLUMNS} FROM terminals ORDER BY name")
        return [TerminalInfo(*row) for row in rows]

    def create_token(self, terminal: str) -> str:
        check_terminal_name(terminal)
        known = self.terminal(terminal)
        if known is not None and known.status == "revoked":
            raise PermissionDenied("central.terminal_revoked", terminal=terminal)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        now = self._clock.now()
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO enrollment_tokens (secret_hash, terminal, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (secret_hash(secret), terminal, timestamp(now), timestamp(now + TOKEN_LIFETIME)),
            )
            audit.append(self._db, timestamp(now), "admin", CentralAction.TOKEN_CREATED, terminal)
        return f"{secret}.{self._conf.public['server_fingerprint']}"

    def enroll(
        self,
        token: str,
        terminal: str,
        csr_pem: str,
        signing_public_key: str,
        age_recipient: str = "",
    ) -> dict[str, Any]:
        """Issue ``terminal`` its client certificate; the token is used up only on success."""
        try:
            return self._enroll(token, terminal, csr_pem, signing_public_key, age_recipient)
        except SesshuError as error:
            with self._db.transaction():
                audit.append(
                    self._db,
                    timestamp(self._clock.now()),
                    "enrollment",
                    CentralAction.ENROLL_REFUSED,
                    terminal if TERMINAL_PATTERN.match(terminal) else None,
                    {"reason": error.key},
                )
            raise

    def _enroll(
        self, token: str, terminal: str, csr_pem: str, signing_key: str, age_recipient: str
    ) -> dict[str, Any]:
        check_terminal_name(terminal)
        signing_key = check_signing_key(signing_key)
        age_recipient = check_age_recipient(age_recipient)
        issued = self.admit(
            token,
            terminal,
            signing_key,
            age_recipient,
            lambda now: pki.sign_csr(
                self._conf.ca, csr_pem.encode("ascii", "replace"), terminal, now
            ),
            {},
        )
        assert issued is not None
        return {
            "certificate_pem": issued.cert_pem.decode("ascii"),
            "ca_pem": self._conf.file("ca.pem").read_text("ascii"),
            "terminal": terminal,
            "central": self._conf.public,
        }

    def admit(
        self,
        token: str,
        terminal: str,
        signing_key: str,
        age_recipient: str,
        issue: Callable[[datetime], pki.IssuedCert | None],
        detail: Mapping[str, JSONValue],
    ) -> pki.IssuedCert | None:
        """Redeem a one-time token for ``terminal`` and register the terminal with the
        certificate ``issue`` makes (None for a terminal that only ever travels on media: one
        enrolled again that way loses the certificate it had)."""
        now = self._clock.now()
        at = timestamp(now)
        hashed = secret_hash(token_secret(token))
        with self._db.transaction():
            row = self._db.one(
                "SELECT terminal, expires_at, used_at FROM enrollment_tokens WHERE secret_hash = ?",
                (hashed,),
            )
            if row is None:
                raise AuthenticationFailed("central.token_unknown")
            token_terminal, expires_at, used_at = row
            if used_at is not None:
                raise AuthenticationFailed("central.token_used")
            if parse_timestamp(str(expires_at)) <= now:
                raise AuthenticationFailed("central.token_expired")
            if token_terminal != terminal:
                raise AuthenticationFailed("central.token_other_terminal", terminal=terminal)
            known = self.terminal(terminal)
            if known is not None and known.status == "revoked":
                raise PermissionDenied("central.terminal_revoked", terminal=terminal)
            issued: pki.IssuedCert | None = issue(now)
            fingerprint = issued.fingerprint if issued is not None else None
            self._db.execute(
                "UPDATE enrollment_tokens SET used_at = ? WHERE secret_hash = ?", (at, hashed)
            )
            self._db.execute(
                "INSERT INTO terminals (name, status, cert_fingerprint, cert_serial,"
                " signing_public_key, age_recipient, enrolled_at)"
                " VALUES (?, 'enrolled', ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET cert_fingerprint = excluded.cert_fingerprint,"
                " cert_serial = excluded.cert_serial,"
                " signing_public_key = excluded.signing_public_key,"
                " age_recipient = excluded.age_recipient, enrolled_at = excluded.enrolled_at",
                (
                    terminal,
                    fingerprint,
                    issued.serial if issued is not None else None,
                    signing_key,
                    age_recipient,
                    at,
                ),
            )
            audit.append(
                self._db,
                at,
                "enrollment",
                CentralAction.ENROLLED,
                terminal,
                {**detail, "fingerprint": fingerprint, "renewed": known is not None},
            )
        return issued

    def authenticate(self, cert_der: bytes) -> str:
        """The enrolled, unrevoked terminal whose current certificate this is."""
        found = self._db.one(
            "SELECT name, status FROM terminals WHERE cert_fingerprint = ?",
            (pki.fingerprint(cert_der),),
        )
        if found is None:
            raise AuthenticationFailed("central.unknown_terminal")
        if found[1] != "enrolled":
            raise PermissionDenied("central.revoked", terminal=found[0])
        return str(found[0])

    def touch(self, terminal: str) -> None:
        self._db.execute(
            "UPDATE terminals SET last_seen = ? WHERE name = ?",
            (timestamp(self._clock.now()), terminal),
        )

    def revoke(self, terminal: str) -> None:
        known = self.terminal(terminal)
        if known is None:
            raise NotFound("central.terminal_unknown", terminal=terminal)
        if known.status == "revoked":
            return
        at = timestamp(self._clock.now())
        with self._db.transaction():
            self._db.execute(
                "UPDATE terminals SET status = 'revoked', revoked_at = ? WHERE name = ?",
                (at, terminal),
            )
            self._db.execute(
                "UPDATE enrollment_tokens SET used_at = ? WHERE terminal = ? AND used_at IS NULL",
                (at, terminal),
            )
            audit.append(self._db, at, "admin", CentralAction.REVOKED, terminal)

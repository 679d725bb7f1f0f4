"""The open store: one SQLCipher connection, one writer, every write one transaction."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlite_utils import Database

from core.audit import AuditEvent, SignatureCheck
from core.clock import Clock, parse_timestamp
from core.errors import RuleViolation, StoreError
from core.ports import PendingEvent
from storage import crypto, public_masters
from storage.batches import SqlBatches, SqlMasters, SqlRecords
from storage.changes import SqlChanges
from storage.database import connect, integrity_problems
from storage.database_types import Connection
from storage.exports import SqlExports, SqlMedia
from storage.keyfile import KeyData, KeyFile, pending_aad, seal_data_key
from storage.migration_store import SqlMigration
from storage.provision import SqlProvisions
from storage.repositories import SqlAudit, SqlSettings, SqlUsers
from storage.residents import SqlResidents
from storage.slots import SqlKeySlots
from storage.sync_store import SqlSync, refresh_status

SESSIONS_SUFFIX = ".sessions"
BULK_PRAGMAS = ("synchronous = NORMAL", "wal_autocheckpoint = 16384", "foreign_keys = OFF")
SESSION_PRAGMAS_AFTER_BULK = (
    "synchronous = FULL",
    "wal_autocheckpoint = 1000",
    "foreign_keys = ON",
    "wal_checkpoint(PASSIVE)",
)


class SqlUnitOfWork:
    def __init__(self, store: SqlStore, *, writable: bool) -> None:
        conn = store.conn
        self.conn = conn
        self.db = store.db
        self.users = SqlUsers(conn)
        self.audit = SqlAudit(conn, store.terminal, store.clock, store.sign, writable=writable)
        self.settings = SqlSettings(conn)
        self.residents = SqlResidents(conn, store.mynumber_digest)
        self.masters = SqlMasters(conn)
        self.batches = SqlBatches(conn)
        self.records = SqlRecords(conn)
        self.changes = SqlChanges(conn)
        self.exports = SqlExports(conn)
        self.media = SqlMedia(conn)
        self.provisions = SqlProvisions(conn, store.mynumber_digest)
        self.sync = SqlSync(conn, store.store_id, store.terminal, store.mynumber_digest)
        self.migration = SqlMigration(conn, store.store_id, store.mynumber_digest, store.sign)


class SqlStore:
    """Implements ``core.ports.OpenStore`` over one SQLCipher connection."""

    def __init__(
        self,
        path: Path,
        conn: Connection,
        keyfile: KeyFile,
        data_key: bytes,
        key_id: str,
        clock: Clock,
    ) -> None:
        self.path = path
        self.conn = conn
        self.db = Database(conn, execute_plugins=False)
        self.keyfile = keyfile
        self.clock = clock
        self._data_key = data_key
        self._key_id = key_id
        self._lock = threading.RLock()
        self._sessions_fd = -1
        with _translated():
            row = conn.execute(
                "SELECT name, signing_private, signing_public, inbox_private, lookup_key "
                "FROM terminal_identity WHERE id = 1"
            ).fetchone()
        if row is None:
            raise StoreError("store.corrupt", path=str(path))
        self._terminal, self._signing_private, self._signing_public = row[0], row[1], row[2]
        self._inbox_private, self.lookup_key = bytes(row[3]), bytes(row[4])
        self._keyed_digest = hmac.new(self.lookup_key, digestmod=hashlib.sha256)
        self.store_id = self.meta("store_id") or ""
        if self.store_id != keyfile.read()["store_id"]:
            raise StoreError("store.mismatch", path=str(path))
        self._keyslots = SqlKeySlots(self)
        self._sessions_fd = _hold_session_lock(path)

    @property
    def terminal(self) -> str:
        return str(self._terminal)

    @property
    def keyslots(self) -> SqlKeySlots:
        return self._keyslots

    @property
    def signature_check(self) -> SignatureCheck:
        return crypto.ed25519_verify

    @property
    def data_key(self) -> tuple[str, bytes]:
        return self._key_id, self._data_key

    @property
    def signing_public_key(self) -> str:
        return str(self._signing_public)

    def sign(self, message: bytes) -> tuple[str, str]:
        return crypto.ed25519_sign(self._signing_private, message).hex(), self.signing_public_key

    def mynumber_digest(self, number: str) -> bytes:
        """HMAC-SHA256 under the lookup key, from a keyed state made once (a bulk pull hashes
        a million numbers; setting up the key each time costs more than the hash)."""
        keyed = self._keyed_digest.copy()
        keyed.update(number.encode("ascii"))
        return keyed.digest()

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    @property
    def is_demo(self) -> bool:
        return self.meta("demo") == "1"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SqlUnitOfWork]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; nested calls become savepoints."""
        with self._lock, _translated():
            if self.conn.in_transaction:
                name = f"sp_{secrets.token_hex(8)}"
                self.conn.execute(f"SAVEPOINT {name}")
                try:
                    yield SqlUnitOfWork(self, writable=True)
                except BaseException:
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    self.conn.execute(f"RELEASE SAVEPOINT {name}")
                    raise
                self.conn.execute(f"RELEASE SAVEPOINT {name}")
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqlUnitOfWork(self, writable=True)
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def reader(self) -> Iterator[SqlUnitOfWork]:
        """A consistent read snapshot; nothing may be written through it."""
        with self._lock, _translated():
            if self.conn.in_transaction:
                yield SqlUnitOfWork(self, writable=False)
                return
            self.conn.execute("BEGIN")
            try:
                yield SqlUnitOfWork(self, writable=False)
            finally:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def bulk_durability(self) -> Iterator[None]:
        """Settings for a long, resumable bulk load (a migration), restored afterwards.

        - ``synchronous = NORMAL``: in WAL mode a commit waits for no fsync; a power cut may
          lose the last batches, never consistency, and each batch commits together with the
          progress that resumes it.
        - A larger WAL between checkpoints (64 MiB), so hot pages are copied back less often.
        - ``foreign_keys = OFF``: the load itself checks that every 宛名番号 exists, in the
          same transaction (``core.migration.model.screen``).
        """
        with self._lock, _translated():
            for pragma in BULK_PRAGMAS:
                self.conn.execute(f"PRAGMA {pragma}")
        try:
            yield
        finally:
            with self._lock, _translated():
                for pragma in SESSION_PRAGMAS_AFTER_BULK:
                    self.conn.execute(f"PRAGMA {pragma}")

    def trusted_signing_keys(self) -> frozenset[str]:
        return frozenset({self.signing_public_key})

    def pending_events(self) -> list[PendingEvent]:
        data = self.keyfile.read()
        events = []
        for item in data.get("pending", []):
            plain = crypto.unseal(self._inbox_private, item, pending_aad(self.store_id, item["id"]))
            body = json.loads(plain)
            event = AuditEvent(body["action"], body["user"], body["target"], body["detail"])
            events.append(PendingEvent(item["id"], parse_timestamp(body["at"]), event))
        return events

    def discard_pending(self, ids: list[str]) -> None:
        if not ids:
            return
        gone = set(ids)
        with self.keyfile.update() as data:
            data["pending"] = [p for p in data.get("pending", []) if p["id"] not in gone]

    def integrity_problems(self) -> list[str]:
        with self._lock, _translated():
            return integrity_problems(self.conn)

    def rekey(self) -> None:
        """Rotate the data key and rewrap every slot, crash-safe at each step.

        1. seal the new key into every slot beside the old one; 2. ``PRAGMA rekey``;
        3. drop the old key from the sidecar. Opening tries each sealed key, so a crash
        between any two steps leaves a store that opens.
        """
        if not _try_exclusive(self._sessions_fd):
            raise RuleViolation("store.rekey_busy")
        new_key = crypto.random_bytes(crypto.DATA_KEY_BYTES)
        new_id = secrets.token_hex(8)
        try:
            with self.keyfile.update() as data:
                _check_current_key(data, self._key_id)
                for slot_name, slot in data["slots"].items():
                    seal_data_key(self.store_id, slot_name, slot, new_id, new_key)
                data["data_keys"] = [*data["data_keys"], new_id]
            with self._lock, _translated():
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
                self.conn.close()
                # A fresh connection: SQLCipher's integrity check on the rekeyed connection
                # still reads with the old page keys.
                self.conn = connect(self.path, new_key)
                self.db = Database(self.conn, execute_plugins=False)
            with self.keyfile.update() as data:
                data["data_keys"] = [new_id]
                for slot in data["slots"].values():
                    slot["sealed"] = {new_id: slot["sealed"][new_id]}
            self._data_key, self._key_id = new_key, new_id
        finally:
            fcntl.flock(self._sessions_fd, fcntl.LOCK_SH)

    def checkpoint_wal(self) -> None:
        with self._lock, _translated():
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlcipher3.Error, OSError):
                if not self.conn.in_transaction:
                    public_masters.refresh(self.path, self.conn)
                    refresh_status(self.path, self.conn)
            with contextlib.suppress(sqlcipher3.Error):
                self.conn.close()
            if self._sessions_fd >= 0:
                os.close(self._sessions_fd)
                self._sessions_fd = -1


def _check_current_key(data: KeyData, key_id: str) -> None:
    if data["data_keys"][0] != key_id:
        raise StoreError("store.rekeyed_elsewhere")


def _hold_session_lock(path: Path) -> int:
    fd = os.open(path.with_name(path.name + SESSIONS_SUFFIX), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _try_exclusive(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Turn database failures into ``StoreError`` with a key a user can read."""
    try:
        yield
    except sqlcipher3.OperationalError as error:
        text = str(error).lower()
        key = "store.busy" if "locked" in text or "busy" in text else "store.corrupt"
        raise StoreError(key) from error
    except sqlcipher3.IntegrityError as error:
        raise StoreError("store.constraint") from error
    except sqlcipher3.DatabaseError as error:
        raise StoreError("store.corrupt") from error


def pending_record(event: AuditEvent, at: datetime) -> bytes:
    from core.clock import timestamp

    body: dict[str, Any] = {
        "at": timestamp(at),
        "action": event.action,
        "user": event.user,
        "target": event.target,
        "detail": dict(event.detail),
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")

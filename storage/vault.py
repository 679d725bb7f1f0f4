"""The closed store (KeyVault) and creating a new store.

Opening: the user's password (Argon2id) unwraps their slot's X25519 key, which unseals the data
key, which opens SQLCipher. Rekeying seals a new data key to every slot's public key, so no
password is needed to rotate it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from core.audit import Action, AuditEvent
from core.clock import Clock, timestamp
from core.errors import AuthenticationFailed, StoreError
from core.ports import GuardState
from storage import bulk_load, crypto
from storage.database import connect
from storage.keyfile import (
    FORMAT,
    RECOVERY_SLOT,
    KeyData,
    KeyFile,
    burn_kdf_time,
    make_slot,
    new_recovery_secret,
    normalize_recovery_secret,
    pending_aad,
    sidecar_path,
    slot_data_keys,
    slot_private_key,
    user_slot,
)
from storage.migrations import MIGRATIONS
from storage.store import SqlStore, pending_record


class Vault:
    """Implements ``core.ports.KeyVault`` for a store file and its sidecar."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path.expanduser().absolute()
        self.clock = clock
        if not self.path.is_file():
            if sidecar_path(self.path).is_file():
                raise StoreError("store.incomplete", path=str(self.path))
            raise StoreError("store.missing", path=str(self.path))
        self.keyfile = KeyFile(self.path)
        self._data = self.keyfile.read()

    def _reload(self) -> KeyData:
        self._data = self.keyfile.read()
        return self._data

    @property
    def terminal(self) -> str:
        return str(self._data["terminal"])

    @property
    def signing_public_key(self) -> str:
        return str(self._data["terminal_public_key"])

    @property
    def is_demo(self) -> bool:
        return self._data.get("demo") is True

    @property
    def store_id(self) -> str:
        return str(self._data["store_id"])

    def guard(self, name: str) -> GuardState:
        entry = self._reload().get("guard", {}).get(name)
        if not entry:
            return GuardState()
        return GuardState(int(entry.get("failures", 0)), bool(entry.get("locked", False)))

    def set_guard(self, name: str, state: GuardState) -> None:
        with self.keyfile.update() as data:
            guards = data.setdefault("guard", {})
            if state == GuardState():
                guards.pop(name, None)
            else:
                guards[name] = {"failures": state.failures, "locked": state.locked}
        self._reload()

    def has_slot(self, name: str) -> bool:
        return user_slot(name) in self._reload()["slots"]

    def _private_key(self, slot: str, secret: str) -> bytes | None:
        slot_data = self._reload()["slots"].get(slot)
        if slot_data is None:
            burn_kdf_time(secret)
            return None
        try:
            return slot_private_key(self.store_id, slot, slot_data, secret)
        except crypto.UnwrapFailed:
            return None

    def password_matches(self, name: str, password: str) -> bool:
        return self._private_key(user_slot(name), password) is not None

    def open_as(self, name: str, password: str) -> SqlStore:
        return self._open(user_slot(name), password, "auth.failed")

    def open_with_recovery(self, secret: str) -> SqlStore:
        return self._open(RECOVERY_SLOT, normalize_recovery_secret(secret), "recovery.wrong")

    def _open(self, slot: str, secret: str, failure_key: str) -> SqlStore:
        private = self._private_key(slot, secret)
        if private is None:
            raise AuthenticationFailed(failure_key)
        data = self._data
        try:
            keys = slot_data_keys(
                self.store_id, slot, data["slots"][slot], private, data["data_keys"]
            )
        except crypto.UnwrapFailed:
            raise StoreError("store.keyslots_corrupt", path=str(self.keyfile.path)) from None
        for key_id, key in zip(data["data_keys"], keys, strict=False):
            try:
                conn = connect(self.path, key)
            except StoreError:
                continue
            try:
                store = SqlStore(self.path, conn, self.keyfile, key, key_id, self.clock)
            except BaseException:
                conn.close()
                raise
            try:
                apply_migrations(store)
                finish_interrupted_bulk_load(store)
            except BaseException:
                store.close()
                raise
            return store
        raise StoreError("store.corrupt", path=str(self.path))

    def queue_event(self, event: AuditEvent, at: datetime) -> None:
        event_id = uuid.uuid4().hex
        inbox = crypto.unb64(self._data["inbox_public_key"])
        box = crypto.seal(inbox, pending_record(event, at), pending_aad(self.store_id, event_id))
        with self.keyfile.update() as data:
            data.setdefault("pending", []).append({"id": event_id, **box})
        self._reload()


def finish_interrupted_bulk_load(store: SqlStore) -> None:
    """An initial pull cut midway left the search index to be built: build it before use."""
    if bulk_load.active(store.conn):
        with store.transaction():
            bulk_load.finish(store.conn)


def apply_migrations(store: SqlStore) -> list[str]:
    """Apply pending migrations in one transaction, together with their audit event."""
    pending = [m.name for m in MIGRATIONS.pending(store.db)]
    if not pending:
        return []
    with store.transaction() as uow:
        MIGRATIONS.apply(store.db)
        uow.audit.append(
            AuditEvent(Action.STORE_MIGRATED.value, None, "store", {"applied": pending})
        )
    return pending


class SqlStoreFactory:
    """Creates a new store. Files are built under temporary names and renamed at the end."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path.expanduser().absolute()
        self.clock = clock

    @contextlib.contextmanager
    def create(self, terminal: str, admin: str, password: str) -> Iterator[tuple[SqlStore, str]]:
        final_sidecar = sidecar_path(self.path)
        if self.path.exists() or final_sidecar.exists():
            raise StoreError("store.exists", path=str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = self.path.with_name(f".{self.path.name}.init-{secrets.token_hex(4)}")
        keyfile = KeyFile(temp)
        recovery = new_recovery_secret()
        store: SqlStore | None = None
        try:
            store = self._build(temp, keyfile, terminal, admin, password, recovery)
            yield store, recovery
            store.checkpoint_wal()
            store.close()
            store = None
            os.replace(keyfile.path, final_sidecar)
            os.replace(temp, self.path)
        finally:
            if store is not None:
                store.close()
            for leftover in _store_files(temp):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()

    def _build(
        self,
        temp: Path,
        keyfile: KeyFile,
        terminal: str,
        admin: str,
        password: str,
        recovery: str,
    ) -> SqlStore:
        store_id = uuid.uuid4().hex
        key_id = secrets.token_hex(8)
        data_key = crypto.random_bytes(crypto.DATA_KEY_BYTES)
        signing_private, signing_public = crypto.ed25519_generate()
        inbox_private, inbox_public = crypto.x25519_generate()
        keys = {key_id: data_key}
        keyfile.write(
            {
                "format": FORMAT,
                "store_id": store_id,
                "terminal": terminal,
                "terminal_public_key": signing_public.hex(),
                "inbox_public_key": crypto.b64(inbox_public),
                "data_keys": [key_id],
                "slots": {
                    user_slot(admin): make_slot(store_id, user_slot(admin), password, keys),
                    RECOVERY_SLOT: make_slot(store_id, RECOVERY_SLOT, recovery, keys),
                },
                "guard": {},
                "pending": [],
            }
        )
        conn = connect(temp, data_key, create=True)
        os.chmod(temp, 0o600)
        now = timestamp(self.clock.now())
        with contextlib.ExitStack() as stack:
            stack.callback(conn.close)
            conn.execute("BEGIN IMMEDIATE")
            from sqlite_utils import Database

            MIGRATIONS.apply(Database(conn, execute_plugins=False))
            conn.execute(
                "INSERT INTO terminal_identity (id, name, signing_private, signing_public, "
                "inbox_private, lookup_key, created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
                (
                    terminal,
                    signing_private,
                    signing_public.hex(),
                    inbox_private,
                    crypto.random_bytes(32),
                    now,
                ),
            )
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("store_id", store_id), ("created_at", now), ("format", "sesshu-store/1")],
            )
            conn.execute("COMMIT")
            stack.pop_all()
        return SqlStore(temp, conn, keyfile, data_key, key_id, self.clock)


def _store_files(path: Path) -> list[Path]:
    names = ["", "-wal", "-shm", ".keyslots", ".lock", ".sessions", ".masters.json"]
    return [path.with_name(path.name + suffix) for suffix in names]

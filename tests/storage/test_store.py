"""The store: migrations on open, rekey crash safety, settings pinned on every connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from core.clock import SystemClock
from core.errors import RuleViolation
from core.ports import AuditFilter
from core.services.auth import AuthService
from core.services.setup import StoreMaintenance
from storage import crypto
from storage.keyfile import KeyFile, seal_data_key
from storage.migrations import MIGRATIONS
from storage.store import SqlStore
from storage.vault import Vault
from tests.conftest import PASSWORD, Sessions


def login(path: Path, user: str = "adm1") -> SqlStore:
    _, store = AuthService(Vault(path, SystemClock()), SystemClock()).login(user, PASSWORD)
    assert isinstance(store, SqlStore)
    return store


def test_cipher_settings_are_pinned_on_every_connection(sessions: Sessions) -> None:
    conn = sessions.login("adm1").store.conn
    assert conn.execute("PRAGMA cipher_page_size").fetchone()[0] == "4096"
    assert conn.execute("PRAGMA cipher_hmac_algorithm").fetchone()[0] == "HMAC_SHA512"
    assert conn.execute("PRAGMA cipher_kdf_algorithm").fetchone()[0] == "PBKDF2_HMAC_SHA512"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.fixture
def extra_migration() -> Iterator[str]:
    name = "9999_test_extra"

    def extra(db: Database) -> None:
        db.execute("CREATE TABLE test_extra (a TEXT)")

    MIGRATIONS(name=name)(extra)
    yield name
    MIGRATIONS._migrations = [m for m in MIGRATIONS._migrations if m.name != name]


def test_pending_migrations_apply_on_open_with_an_audit_event(
    store_path: Path, extra_migration: str
) -> None:
    store = login(store_path)
    try:
        assert "test_extra" in store.db.table_names()
        with store.reader() as uow:
            events = uow.audit.find(AuditFilter(action="store.migrated"))
        assert json.loads(events[0].detail) == {"applied": [extra_migration]}
    finally:
        store.close()
    store = login(store_path)
    try:
        with store.reader() as uow:
            assert len(uow.audit.find(AuditFilter(action="store.migrated"))) == 1
    finally:
        store.close()


def test_rekey_interrupted_after_the_database_changed(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = login(store_path)
    import storage.store as module

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(module, "connect", crash)
    with pytest.raises(RuntimeError):
        store.rekey()
    monkeypatch.undo()
    store.close()
    data = KeyFile(store_path).read()
    assert len(data["data_keys"]) == 2
    reopened = login(store_path, "op1")
    reopened.close()


def test_rekey_interrupted_before_the_database_changed(store_path: Path) -> None:
    new_id, new_key = "pending", crypto.random_bytes(32)
    with KeyFile(store_path).update() as data:
        for name, slot in data["slots"].items():
            seal_data_key(data["store_id"], name, slot, new_id, new_key)
        data["data_keys"].append(new_id)
    login(store_path, "op1").close()


def test_rekey_needs_every_other_session_closed(sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    sessions.login("op1")
    with pytest.raises(RuleViolation):
        StoreMaintenance(admin.ctx).rekey()

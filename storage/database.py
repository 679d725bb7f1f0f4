"""Opening a SQLCipher 4 database with pinned cipher settings and the pragmas sesshu relies on."""

from __future__ import annotations

from pathlib import Path

import sqlcipher3

from core.errors import StoreError
from storage import search_keys
from storage.database_types import Connection

# Pinned explicitly, although they are SQLCipher 4's defaults, so that a future default change
# cannot silently produce stores other terminals cannot read.
CIPHER_SETTINGS = (
    ("cipher_compatibility", "4"),
    ("cipher_page_size", "4096"),
    ("cipher_hmac_algorithm", "HMAC_SHA512"),
    ("cipher_kdf_algorithm", "PBKDF2_HMAC_SHA512"),
)

SESSION_PRAGMAS = (
    ("foreign_keys", "ON"),
    ("temp_store", "MEMORY"),
    ("secure_delete", "ON"),
    ("busy_timeout", "15000"),
    ("synchronous", "FULL"),
    ("cache_size", "-65536"),
)


def _null(_value: None) -> None:
    return None


def bind_none_quickly() -> None:
    """Bind ``None`` through a registered adapter.

    Without one, the DB-API module looks for ``__conform__``/``__adapt__`` on every ``None``
    parameter and swallows the AttributeError each time: about 1.5 µs per NULL, which made
    a wide row of mostly empty fields cost five times a full one in a bulk load.
    """
    sqlcipher3.register_adapter(type(None), _null)


def connect(path: Path, key: bytes, *, create: bool = False) -> Connection:
    """Open ``path`` with the raw 256-bit ``key``; raise ``StoreError`` if it is not ours."""
    bind_none_quickly()
    if not create:
        if not path.is_file():
            raise StoreError("store.missing", path=str(path))
        if path.stat().st_size == 0:
            raise StoreError("store.unreadable", path=str(path))
    conn = sqlcipher3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=15.0
    )
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        for name, value in CIPHER_SETTINGS:
            conn.execute(f"PRAGMA {name} = {value}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        for name, value in SESSION_PRAGMAS:
            conn.execute(f"PRAGMA {name} = {value}")
        search_keys.register(conn)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError("store.corrupt", path=str(path))
    except sqlcipher3.DatabaseError as error:
        conn.close()
        raise StoreError("store.unreadable", path=str(path)) from error
    except BaseException:
        conn.close()
        raise
    return conn


def integrity_problems(conn: Connection) -> list[str]:
    """Run ``cipher_integrity_check`` (page HMACs) and ``integrity_check`` (b-trees)."""
    problems = [f"cipher: {row[0]}" for row in conn.execute("PRAGMA cipher_integrity_check")]
    rows = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if rows != ["ok"]:
        problems += [f"integrity: {row}" for row in rows]
    return problems

"""The initial pull of a whole registry into an empty residents table, with the search index
built once at the end instead of row by row.

Keeping the full-text index (``resident_text``) and the search-key indexes current costs more
than the row itself; built in one pass over a million residents they cost a fraction. So the
first page of an initial pull drops them (their exact DDL is kept in ``sync_state``, in the
same transaction), and the last page recreates them and fills the index from every resident.

If the pull is cut midway, the store is left without those indexes only until it is next
opened: ``finish_interrupted`` (run at every open, after the migrations) rebuilds them from
what was loaded, before anyone can search. The uniqueness rules (one 宛名番号, one active
個人番号) are never dropped.
"""

from __future__ import annotations

import json

from storage.database_types import Connection

BULK_STATE = "bulk_load_ddl"
# Only for pulls big enough to gain from it.
BULK_MIN_ROWS = 1000
DEFERRED = (
    "residents_text_insert",
    "residents_text_update",
    "residents_text_delete",
    "residents_birth_name",
    "residents_kana",
    "residents_kana_loose",
    "residents_mynumber",
)
_REBUILD = (
    "INSERT INTO resident_text (rowid, name, variant, address) "
    "SELECT id, sesshu_name_terms(name), sesshu_variant_terms(name), "
    "sesshu_address_terms(address) FROM residents"
)


def _state(conn: Connection) -> str | None:
    row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (BULK_STATE,)).fetchone()
    return str(row[0]) if row else None


def active(conn: Connection) -> bool:
    return _state(conn) is not None


def may_begin(conn: Connection, resident_rows: int) -> bool:
    """An initial pull: many residents coming, none here yet, no bulk load under way."""
    if resident_rows < BULK_MIN_ROWS or active(conn):
        return False
    return conn.execute("SELECT 1 FROM residents LIMIT 1").fetchone() is None


def begin(conn: Connection) -> None:
    """Drop the deferred triggers and indexes, keeping their DDL (inside the caller's
    transaction, so the drop and the record of it commit together)."""
    ddl = dict(
        conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE name IN ({', '.join('?' * len(DEFERRED))})",
            DEFERRED,
        ).fetchall()
    )
    kept = [(name, ddl[name]) for name in DEFERRED if name in ddl]
    conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, ?)",
        (BULK_STATE, json.dumps(kept, ensure_ascii=False)),
    )
    for name, sql in kept:
        kind = "TRIGGER" if sql.lstrip().upper().startswith("CREATE TRIGGER") else "INDEX"
        conn.execute(f"DROP {kind} {name}")


def finish(conn: Connection) -> bool:
    """Recreate what ``begin`` dropped and index every resident; False if nothing was pending."""
    saved = _state(conn)
    if saved is None:
        return False
    kept: list[list[str]] = json.loads(saved)
    conn.execute("INSERT INTO resident_text (resident_text) VALUES ('delete-all')")
    for name, sql in kept:
        if not name.startswith("residents_text_"):
            conn.execute(sql)
    conn.execute(_REBUILD)
    for name, sql in kept:
        if name.startswith("residents_text_"):
            conn.execute(sql)
    conn.execute("DELETE FROM sync_state WHERE key = ?", (BULK_STATE,))
    return True

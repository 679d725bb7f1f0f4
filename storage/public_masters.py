"""A plaintext copy of the public masters, so ``sesshu catalog`` works without logging in.

It holds only what is public anyway: vaccine codes, makers, the medical institutions' codes
and names (協力医療機関) and the legal bases of provision. No resident data and no physician
names are ever written here. The store remains the authority; the copy is refreshed whenever a
store is closed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from storage.database_types import Connection
from storage.keyfile import atomic_write

SUFFIX = ".masters.json"


def masters_path(store: Path) -> Path:
    return store.with_name(store.name + SUFFIX)


def snapshot(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    def rows(sql: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
        return [dict(zip(keys, row, strict=True)) for row in conn.execute(sql).fetchall()]

    return {
        "vaccines": rows(
            "SELECT code, name, name_en, category FROM vaccines WHERE active ORDER BY rowid",
            ("code", "name", "name_en", "category"),
        ),
        "makers": rows(
            "SELECT code, name, name_en FROM makers WHERE active ORDER BY rowid",
            ("code", "name", "name_en"),
        ),
        "institutions": rows(
            "SELECT code, name FROM institutions WHERE active ORDER BY code", ("code", "name")
        ),
        "legal_bases": rows(
            "SELECT key, title, title_en, items, mynumber FROM legal_bases ORDER BY key",
            ("key", "title", "title_en", "items", "mynumber"),
        ),
    }


def refresh(store: Path, conn: Connection) -> None:
    data = json.dumps(snapshot(conn), ensure_ascii=False, indent=1).encode()
    path = masters_path(store)
    if not path.exists() or path.read_bytes() != data:
        atomic_write(path, data, mode=0o644)


def read(store: Path) -> dict[str, list[dict[str, Any]]] | None:
    path = masters_path(store)
    if not path.exists():
        return None
    loaded: dict[str, list[dict[str, Any]]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded

"""Synced entities as the central system stores them, the change log terminals pull, and
conflicts waiting for a supervisor (所属長).

An entity's data is stored as one text: a JSON object with exactly the kind's wire fields, in
wire order (missing ones as null), so equal data is equal text and a pull can splice it into
its answer without decoding it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from central.db import Database, Row, placeholders
from core.sync import RESIDENT_CORRECTABLE, Conflict, Data, EntryKind, fields_of


def data_text(kind: str, data: Data) -> str:
    return json.dumps(
        {name: data.get(name) for name in fields_of(kind)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def load(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TypeError("stored data is not an object")
    return value


def merge_resident(registry: Mapping[str, Any], correction: Mapping[str, Any]) -> dict[str, Any]:
    """The registry's resident with only the fields a terminal may correct taken from it."""
    merged = dict(registry)
    for name in RESIDENT_CORRECTABLE:
        if name in correction:
            merged[name] = correction[name]
    return merged


@dataclass(frozen=True)
class Entity:
    kind: str
    key: str
    version: int
    text: str

    @property
    def data(self) -> dict[str, Any]:
        return load(self.text)


def get_entity(db: Database, kind: str, key: str) -> Entity | None:
    kind = str(kind)
    row = db.one("SELECT version, data FROM entities WHERE kind = ? AND key = ?", (kind, key))
    return Entity(kind, key, int(row[0]), str(row[1])) if row else None


def put_entity(db: Database, entity: Entity, origin: str, at: str) -> None:
    """Store ``entity`` and append it to the change log, in the caller's transaction."""
    db.execute(
        "INSERT INTO entities (kind, key, version, data, origin) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version,"
        " data = excluded.data, origin = excluded.origin",
        (str(entity.kind), entity.key, entity.version, entity.text, origin),
    )
    append_change(db, entity, origin, at)


def append_change(db: Database, entity: Entity, origin: str, at: str) -> None:
    db.execute(
        "INSERT INTO changes (kind, key, version, data, origin, at) VALUES (?, ?, ?, ?, ?, ?)",
        (str(entity.kind), entity.key, entity.version, entity.text, origin, at),
    )


CONFLICT_COLUMNS = (
    "id, kind, key, base_version, server_version, server_data, client_data, client_user,"
    " terminal, opened_at, status, decided_by, choice"
)


def conflict_of(row: Row) -> Conflict:
    (cid, kind, key, base, server_version, server_data, client_data, user, terminal) = row[:9]
    opened_at, status, decided_by, choice = row[9:]
    return Conflict(
        id=int(cid),
        kind=EntryKind(kind),
        key=str(key),
        base_version=int(base),
        server_version=int(server_version),
        server_data=load(server_data) if server_data is not None else None,
        client_data=load(client_data),
        client_user=str(user),
        terminal=str(terminal),
        opened_at=str(opened_at),
        status=str(status),
        decided_by=decided_by,
        choice=choice,
    )


def get_conflict(db: Database, conflict_id: int) -> Conflict | None:
    row = db.one(f"SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE id = ?", (conflict_id,))
    return conflict_of(row) if row else None


def open_conflict_id(db: Database, terminal: str, kind: str, key: str) -> int | None:
    found = db.scalar(
        "SELECT id FROM conflicts WHERE terminal = ? AND kind = ? AND key = ? AND status = 'open'"
        " ORDER BY id LIMIT 1",
        (terminal, str(kind), key),
    )
    return int(found) if found is not None else None


class BatchEntities:
    """The entities one push batch reads and writes: looked up in bulk before the batch,
    written in bulk after it (in order), so a batch costs a few round trips, not a few per
    entry. Every read of an entity during the batch must go through here."""

    def __init__(self, db: Database, origin: str, at: str) -> None:
        self._db = db
        self._origin = origin
        self._at = at
        self._known: dict[tuple[str, str], Entity | None] = {}
        self._written: dict[tuple[str, str], Entity] = {}
        self._changes: list[Entity] = []

    def prefetch(self, keys: Sequence[tuple[str, str]]) -> None:
        wanted = [k for k in dict.fromkeys(keys) if k not in self._known]
        for kind in {kind for kind, _ in wanted}:
            names = [key for k, key in wanted if k == kind]
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                for key, version, text in self._lookup(kind, chunk):
                    self._known[(kind, str(key))] = Entity(kind, str(key), int(version), str(text))
                for key in chunk:
                    self._known.setdefault((kind, key), None)

    def _lookup(self, kind: str, keys: list[str]) -> list[Row]:
        if self._db.is_postgres:
            # One index probe per key: a plain ``key IN (…)`` is planned on statistics that
            # may be stale (a young table) and then scans every entity of the kind.
            return self._db.query(
                "SELECT k.key, e.version, e.data FROM unnest(?::text[]) AS k(key)"
                " CROSS JOIN LATERAL (SELECT version, data FROM entities"
                " WHERE kind = ? AND key = k.key) AS e",
                [keys, kind],
            )
        return self._db.query(
            f"SELECT key, version, data FROM entities WHERE kind = ? AND key IN"
            f" ({placeholders(len(keys))})",
            [kind, *keys],
        )

    def get(self, kind: str, key: str) -> Entity | None:
        name = (str(kind), key)
        if name not in self._known:
            self._known[name] = get_entity(self._db, name[0], key)
        return self._known[name]

    def put(self, entity: Entity) -> None:
        """Store ``entity`` (a new version) and append it to the change log."""
        stored = Entity(str(entity.kind), entity.key, entity.version, entity.text)
        self._known[(stored.kind, stored.key)] = stored
        self._written[(stored.kind, stored.key)] = stored
        self._changes.append(stored)

    def rebroadcast(self, entity: Entity) -> None:
        """Append the current version to the change log again (every terminal converges)."""
        self._changes.append(entity)

    def flush(self) -> None:
        self._db.executemany(
            "INSERT INTO entities (kind, key, version, data, origin) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version,"
            " data = excluded.data, origin = excluded.origin",
            [(e.kind, e.key, e.version, e.text, self._origin) for e in self._written.values()],
        )
        self._db.executemany(
            "INSERT INTO changes (kind, key, version, data, origin, at) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.kind, e.key, e.version, e.text, self._origin, self._at) for e in self._changes],
        )
        self._written.clear()
        self._changes.clear()


def open_conflicts(db: Database, terminal: str) -> dict[tuple[str, str], int]:
    rows = db.query(
        "SELECT kind, key, id FROM conflicts WHERE terminal = ? AND status = 'open' ORDER BY id",
        (terminal,),
    )
    found: dict[tuple[str, str], int] = {}
    for kind, key, cid in rows:
        found.setdefault((str(kind), str(key)), int(cid))
    return found

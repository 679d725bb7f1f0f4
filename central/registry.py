"""Registry import (宛名・マスタの取込): residents and master data as JSON lines.

Each line is ``{"kind": "resident"|"vaccine"|"institution"|"physician", "key", "data"}``. The
whole file is format-checked first and nothing is applied if any line is wrong; then it is
applied in one transaction, in chunks: an entity whose data changed gets version + 1 and a
change terminals pull; an unchanged one is left alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from central import audit
from central.audit import CentralAction
from central.db import Database, placeholders
from central.entities import data_text
from core.clock import Clock, timestamp
from core.errors import Issue, ValidationFailed
from sync.wire import check_data

IMPORTABLE = frozenset({"resident", "vaccine", "institution", "physician"})
CHUNK = 1000
MAX_PROBLEMS = 100
ORIGIN = "registry"


@dataclass(frozen=True)
class RegistryImported:
    added: int
    changed: int
    unchanged: int

    @property
    def lines(self) -> int:
        return self.added + self.changed + self.unchanged


def _parse(line: str, number: int) -> tuple[tuple[str, str, str] | None, list[Issue]]:
    def issue(field: str, reason: str) -> Issue:
        params = {"line": number, "name": field, "reason": reason}
        return Issue("", "central.registry_problem", params)

    try:
        doc = json.loads(line)
    except ValueError:
        return None, [issue("", "not_json")]
    if not isinstance(doc, dict):
        return None, [issue("", "not_object")]
    kind, key = doc.get("kind"), doc.get("key")
    problems: list[Issue] = []
    if kind not in IMPORTABLE:
        return None, [issue("kind", "unknown_kind")]
    if not isinstance(key, str) or not key or len(key) > 200:
        problems.append(issue("key", "required_text"))
    problems += [issue(p.field, p.reason) for p in check_data(str(kind), doc.get("data"), 0)]
    if problems:
        return None, problems
    return (str(kind), str(key), data_text(str(kind), doc["data"])), []


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def check_file(path: Path) -> int:
    """Format-check every line; ``ValidationFailed`` lists the problems (up to a hundred)."""
    problems: list[Issue] = []
    count = 0
    try:
        for number, line in _lines(path):
            count += 1
            problems += _parse(line, number)[1]
            if len(problems) >= MAX_PROBLEMS:
                break
    except UnicodeDecodeError:
        problems.append(
            Issue("", "central.registry_problem", {"line": 0, "name": "", "reason": "not_utf8"})
        )
    if problems:
        raise ValidationFailed(problems[:MAX_PROBLEMS])
    return count


def import_registry(db: Database, path: Path, clock: Clock) -> RegistryImported:
    check_file(path)
    at = timestamp(clock.now())
    added = changed = unchanged = 0
    with db.transaction(changes=True):
        chunk: dict[tuple[str, str], str] = {}
        for number, line in _lines(path):
            parsed = _parse(line, number)[0]
            if parsed is None:  # pragma: no cover - check_file refused the file already
                raise ValidationFailed([Issue("", "central.registry_problem", {"line": number})])
            chunk[(parsed[0], parsed[1])] = parsed[2]
            if len(chunk) >= CHUNK:
                counts = _apply(db, chunk, at)
                added, changed, unchanged = (
                    added + counts[0],
                    changed + counts[1],
                    unchanged + counts[2],
                )
                chunk = {}
        counts = _apply(db, chunk, at)
        added, changed, unchanged = added + counts[0], changed + counts[1], unchanged + counts[2]
        result = RegistryImported(added, changed, unchanged)
        audit.append(
            db,
            at,
            "registry",
            CentralAction.REGISTRY_IMPORTED,
            path.name,
            {"added": added, "changed": changed, "unchanged": unchanged},
        )
    return result


def _apply(db: Database, chunk: dict[tuple[str, str], str], at: str) -> tuple[int, int, int]:
    """Store one chunk; the counts added, changed and unchanged."""
    if not chunk:
        return 0, 0, 0
    if db.is_postgres:
        return _apply_postgres(db, chunk, at)
    existing: dict[tuple[str, str], tuple[int, str]] = {}
    for kind in {kind for kind, _ in chunk}:
        keys = [key for k, key in chunk if k == kind]
        for key, version, text in db.query(
            f"SELECT key, version, data FROM entities WHERE kind = ? AND key IN"
            f" ({placeholders(len(keys))})",
            [kind, *keys],
        ):
            existing[(kind, str(key))] = (int(version), str(text))
    rows: list[tuple[str, str, int, str]] = []
    added = unchanged = 0
    for (kind, key), text in chunk.items():
        known = existing.get((kind, key))
        if known is None:
            rows.append((kind, key, 1, text))
            added += 1
        elif known[1] == text:
            unchanged += 1
        else:
            rows.append((kind, key, known[0] + 1, text))
    db.executemany(
        f"INSERT INTO entities (kind, key, version, data, origin) VALUES (?, ?, ?, ?, ?){UPSERT}",
        [(kind, key, version, text, ORIGIN) for kind, key, version, text in rows],
    )
    db.executemany(
        "INSERT INTO changes (kind, key, version, data, origin, at) VALUES (?, ?, ?, ?, ?, ?)",
        [(kind, key, version, text, ORIGIN, at) for kind, key, version, text in rows],
    )
    return added, len(rows) - added, unchanged


UPSERT = (
    " ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version,"
    " data = excluded.data, origin = excluded.origin"
)


def _apply_postgres(
    db: Database, chunk: dict[tuple[str, str], str], at: str
) -> tuple[int, int, int]:
    """The same on PostgreSQL, decided by the server: COPY into a staging table, then one
    upsert that skips unchanged rows and returns what it wrote (a lookup by key list would be
    planned on statistics that predate this transaction, and scan the whole kind per chunk)."""
    db.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS registry_stage"
        " (kind TEXT, key TEXT, data TEXT) ON COMMIT DELETE ROWS"
    )
    db.execute("DELETE FROM registry_stage")
    db.copy_rows(
        "registry_stage",
        ("kind", "key", "data"),
        [(kind, key, text) for (kind, key), text in chunk.items()],
    )
    written = db.query(
        "INSERT INTO entities AS e (kind, key, version, data, origin)"
        " SELECT kind, key, 1, data, ? FROM registry_stage"
        " ON CONFLICT (kind, key) DO UPDATE SET version = e.version + 1,"
        " data = excluded.data, origin = excluded.origin WHERE e.data <> excluded.data"
        " RETURNING e.kind, e.key, e.version, e.data",
        (ORIGIN,),
    )
    db.copy_rows(
        "changes",
        ("kind", "key", "version", "data", "origin", "at"),
        [(kind, key, version, text, ORIGIN, at) for kind, key, version, text in written],
    )
    added = sum(1 for row in written if int(row[2]) == 1)
    return added, len(written) - added, len(chunk) - len(written)

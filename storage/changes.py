"""The pending changes repository, and the record and resident writes a confirmed change makes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.changes import (
    RECORD_FIELDS,
    RESIDENT_FIELDS,
    ChangeKind,
    ChangeStatus,
    Evidence,
    FieldValue,
    IdDocument,
    PendingChange,
    RecordSnapshot,
    Values,
)
from core.clock import parse_timestamp, timestamp
from core.errors import VersionConflict
from core.residents import RecordStatus
from storage.database_types import Connection

SOURCE = "change"  # vaccinations.source of a record registered through a four-eyes change

_COLUMNS = (
    "id, kind, atena, record, before_values, after_values, evidence, evidence_detail, reason, "
    "proposed_by, proposed_at, status, base_version, decided_by, decided_at, decision_note, "
    "(SELECT r.name FROM residents r WHERE r.atena = c.atena), "
    "(SELECT v.vaccine || ' ' || COALESCE(v.dose, '-') FROM vaccinations v WHERE v.id = c.record)"
)
_RECORD_COLUMNS = ", ".join(RECORD_FIELDS)


def _json(values: Values) -> str:
    return json.dumps(dict(values), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _change(row: tuple[Any, ...]) -> PendingChange:
    return PendingChange(
        id=row[0],
        kind=ChangeKind(row[1]),
        atena=row[2],
        record=row[3],
        before=json.loads(row[4]),
        after=json.loads(row[5]),
        evidence=Evidence(row[6]),
        id_document=IdDocument(row[7]) if row[7] else None,
        reason=row[8],
        proposed_by=row[9],
        proposed_at=parse_timestamp(row[10]),
        status=ChangeStatus(row[11]),
        base_version=row[12],
        decided_by=row[13],
        decided_at=parse_timestamp(row[14]) if row[14] else None,
        decision_note=row[15],
        person_name=row[16],
        record_label=row[17],
    )


def _stored(name: str, value: FieldValue) -> FieldValue:
    return int(bool(value)) if name == "date_unknown" else value


class SqlChanges:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, change: PendingChange) -> int:
        cursor = self._conn.execute(
            "INSERT INTO pending_changes (kind, atena, record, before_values, after_values, "
            "evidence, evidence_detail, reason, proposed_by, proposed_at, status, base_version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                change.kind.value,
                change.atena,
                change.record,
                _json(change.before),
                _json(change.after),
                change.evidence.value,
                change.id_document.value if change.id_document else None,
                change.reason,
                change.proposed_by,
                timestamp(change.proposed_at),
                change.status.value,
                change.base_version,
            ),
        )
        return int(cursor.lastrowid)

    def get(self, change_id: int) -> PendingChange | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM pending_changes c WHERE id = ?", (change_id,)
        ).fetchone()
        return _change(row) if row else None

    def find(
        self, status: ChangeStatus | None = None, atena: str | None = None, limit: int = 200
    ) -> list[PendingChange]:
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if atena is not None:
            clauses.append("atena = ?")
            params.append(atena)
        where = " AND ".join(clauses) or "1"
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM pending_changes c WHERE {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_change(row) for row in rows]

    def open_on(self, atena: str, record: int | None) -> PendingChange | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM pending_changes c "
            "WHERE atena = ? AND COALESCE(record, 0) = ? AND status = 'pending'",
            (atena, record or 0),
        ).fetchone()
        return _change(row) if row else None

    def decide(self, change: PendingChange) -> None:
        cursor = self._conn.execute(
            "UPDATE pending_changes SET status = ?, decided_by = ?, decided_at = ?, "
            "decision_note = ? WHERE id = ? AND status = 'pending'",
            (
                change.status.value,
                change.decided_by,
                timestamp(change.decided_at) if change.decided_at else None,
                change.decision_note,
                change.id,
            ),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("change.already_decided_elsewhere")

    def record(self, record_id: int) -> RecordSnapshot | None:
        row = self._conn.execute(
            f"SELECT id, atena, status, version, {_RECORD_COLUMNS} FROM vaccinations WHERE id = ?",
            (record_id,),
        ).fetchone()
        if row is None:
            return None
        values = dict(zip(RECORD_FIELDS, row[4:], strict=True))
        values["date_unknown"] = bool(values["date_unknown"])
        return RecordSnapshot(row[0], row[1], RecordStatus(row[2]), row[3], values)

    def add_record(self, atena: str, values: Values, keyed_by: str, at: datetime) -> int:
        names = [n for n in RECORD_FIELDS if n in values]
        columns = ", ".join([*names, "atena", "status", "source", "keyed_by", "created_at"])
        cursor = self._conn.execute(
            f"INSERT INTO vaccinations ({columns}) VALUES ({', '.join('?' * (len(names) + 5))})",
            (
                *(_stored(n, values[n]) for n in names),
                atena,
                RecordStatus.PENDING.value,
                SOURCE,
                keyed_by,
                timestamp(at),
            ),
        )
        return int(cursor.lastrowid)

    def update_record(
        self,
        record_id: int,
        values: Values,
        *,
        version: int | None,
        status: str | None = None,
        verified_by: str | None = None,
        void_reason: str | None = None,
    ) -> None:
        sets = [(n, _stored(n, values[n])) for n in RECORD_FIELDS if n in values]
        extra = {"status": status, "verified_by": verified_by, "void_reason": void_reason}
        sets += [(column, value) for column, value in extra.items() if value is not None]
        assignments = "".join(f"{column} = ?, " for column, _ in sets)
        where, params = "id = ?", [record_id]
        if version is not None:
            where += " AND version = ?"
            params.append(version)
        cursor = self._conn.execute(
            f"UPDATE vaccinations SET {assignments}version = version + 1 WHERE {where}",
            (*(value for _, value in sets), *params),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("change.target_changed")

    def update_resident(self, atena: str, values: Values, *, version: int, at: datetime) -> None:
        names = [n for n in RESIDENT_FIELDS if n in values]
        assignments = "".join(f"{n} = ?, " for n in names)
        cursor = self._conn.execute(
            f"UPDATE residents SET {assignments}version = version + 1, updated_at = ? "
            "WHERE atena = ? AND version = ?",
            (*(values[n] for n in names), timestamp(at), atena, version),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("change.target_changed")

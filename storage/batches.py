"""SQL repositories for masters, slip batches and the vaccination records they become."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from core.batches import (
    Attribution,
    Batch,
    BatchStatus,
    NewRecord,
    Outcome,
    RecordKey,
    Resolution,
    SlipEntry,
    SlipOutcome,
)
from core.clock import parse_timestamp, timestamp
from core.errors import VersionConflict
from core.masters import MasterEntry
from core.slips import SlipValues
from storage.database_types import Connection


class SqlMasters:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _entries(self, sql: str, params: tuple[Any, ...] = ()) -> list[MasterEntry]:
        return [MasterEntry(*row) for row in self._conn.execute(sql, params).fetchall()]

    def vaccines(self) -> list[MasterEntry]:
        return self._entries(
            "SELECT code, name, name_en, NULL FROM vaccines WHERE active ORDER BY rowid"
        )

    def makers(self) -> list[MasterEntry]:
        return self._entries("SELECT code, name, name_en, NULL FROM makers WHERE active")

    def institutions(self) -> list[MasterEntry]:
        return self._entries(
            "SELECT code, name, NULL, NULL FROM institutions WHERE active ORDER BY code"
        )

    def physicians(self, institution: str | None = None) -> list[MasterEntry]:
        sql = "SELECT code, name, NULL, institution FROM physicians WHERE active"
        if institution is None:
            return self._entries(sql + " ORDER BY code")
        return self._entries(sql + " AND institution = ? ORDER BY code", (institution,))


_BATCH_COLUMNS = (
    "id, source, received, control_count, expected_vaccine, status, created_by, created_at, "
    "committed_by, committed_at, override_reason, version"
)


def _batch(row: tuple[Any, ...]) -> Batch:
    return Batch(
        id=row[0],
        source=row[1],
        received=date.fromisoformat(row[2]),
        control_count=row[3],
        expected_vaccine=row[4],
        status=BatchStatus(row[5]),
        created_by=row[6],
        created_at=parse_timestamp(row[7]),
        committed_by=row[8],
        committed_at=parse_timestamp(row[9]) if row[9] else None,
        override_reason=row[10],
        version=row[11],
    )


def _entry(row: tuple[Any, ...]) -> SlipEntry:
    values = cast(SlipValues, json.loads(row[3]))
    return SlipEntry(row[0], row[1], row[2], values, row[4], parse_timestamp(row[5]), row[6])


def _resolution(row: tuple[Any, ...]) -> Resolution:
    return Resolution(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        cast(Attribution, row[6]),
        row[7],
        row[8],
        parse_timestamp(row[9]),
    )


_ENTRY_COLUMNS = "batch, pass, slip, fields, keyed_by, keyed_at, duration_ms"
_RESOLUTION_COLUMNS = (
    "batch, slip, field, value, pass1, pass2, attribution, reason, resolved_by, resolved_at"
)


class SqlBatches:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, batch: Batch) -> int:
        cursor = self._conn.execute(
            "INSERT INTO batches (source, received, control_count, expected_vaccine, status, "
            "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                batch.source,
                batch.received.isoformat(),
                batch.control_count,
                batch.expected_vaccine,
                batch.status.value,
                batch.created_by,
                timestamp(batch.created_at),
            ),
        )
        return int(cursor.lastrowid or 0)

    def get(self, batch_id: int) -> Batch | None:
        row = self._conn.execute(
            f"SELECT {_BATCH_COLUMNS} FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        return _batch(row) if row else None

    def all(self, limit: int = 200) -> list[Batch]:
        rows = self._conn.execute(
            f"SELECT {_BATCH_COLUMNS} FROM batches ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_batch(row) for row in rows]

    def update(self, batch: Batch) -> Batch:
        cursor = self._conn.execute(
            "UPDATE batches SET status = ?, committed_by = ?, committed_at = ?, "
            "override_reason = ?, version = version + 1 WHERE id = ? AND version = ?",
            (
                batch.status.value,
                batch.committed_by,
                timestamp(batch.committed_at) if batch.committed_at else None,
                batch.override_reason,
                batch.id,
                batch.version,
            ),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("store.version_conflict", target=f"batch:{batch.id}")
        stored = self.get(batch.id)
        assert stored is not None
        return stored

    def entries(self, batch_id: int, pass_no: int | None = None) -> list[SlipEntry]:
        if pass_no is None:
            rows = self._conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM batch_entries WHERE batch = ?", (batch_id,)
            )
        else:
            rows = self._conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM batch_entries WHERE batch = ? AND pass = ?",
                (batch_id, pass_no),
            )
        return [_entry(row) for row in rows]

    def entry(self, batch_id: int, pass_no: int, slip: str) -> SlipEntry | None:
        row = self._conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM batch_entries WHERE batch = ? AND pass = ? AND slip = ?",
            (batch_id, pass_no, slip),
        ).fetchone()
        return _entry(row) if row else None

    def put_entry(self, entry: SlipEntry) -> None:
        self._conn.execute(
            f"INSERT OR REPLACE INTO batch_entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry.batch,
                entry.pass_no,
                entry.slip,
                json.dumps(entry.values, ensure_ascii=False, sort_keys=True),
                entry.keyed_by,
                timestamp(entry.keyed_at),
                entry.duration_ms,
            ),
        )

    def keyers(self, batch_id: int) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {1: set(), 2: set()}
        rows = self._conn.execute(
            "SELECT DISTINCT pass, keyed_by FROM batch_entries WHERE batch = ?", (batch_id,)
        )
        for pass_no, user in rows:
            found[pass_no].add(user)
        return found

    def resolutions(self, batch_id: int) -> list[Resolution]:
        rows = self._conn.execute(
            f"SELECT {_RESOLUTION_COLUMNS} FROM batch_resolutions WHERE batch = ?", (batch_id,)
        )
        return [_resolution(row) for row in rows]

    def all_resolutions(self) -> list[Resolution]:
        rows = self._conn.execute(f"SELECT {_RESOLUTION_COLUMNS} FROM batch_resolutions")
        return [_resolution(row) for row in rows]

    def put_resolution(self, resolution: Resolution) -> None:
        r = resolution
        self._conn.execute(
            f"INSERT OR REPLACE INTO batch_resolutions ({_RESOLUTION_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.batch,
                r.slip,
                r.field,
                r.value,
                r.pass1,
                r.pass2,
                r.attribution,
                r.reason,
                r.resolved_by,
                timestamp(r.resolved_at),
            ),
        )

    def outcomes(self, batch_id: int) -> list[SlipOutcome]:
        rows = self._conn.execute(
            "SELECT batch, slip, outcome, record, flags, decided_by, decided_at, reason "
            "FROM batch_slips WHERE batch = ?",
            (batch_id,),
        )
        return [
            SlipOutcome(
                row[0],
                row[1],
                cast(Outcome, row[2]),
                row[3],
                tuple(json.loads(row[4])),
                row[5],
                parse_timestamp(row[6]) if row[6] else None,
                row[7],
            )
            for row in rows
        ]

    def put_outcome(self, outcome: SlipOutcome) -> None:
        o = outcome
        self._conn.execute(
            "INSERT OR REPLACE INTO batch_slips (batch, slip, outcome, record, flags, "
            "decided_by, decided_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                o.batch,
                o.slip,
                o.outcome,
                o.record,
                json.dumps(list(o.flags)),
                o.decided_by,
                timestamp(o.decided_at) if o.decided_at else None,
                o.reason,
            ),
        )

    def add_reader(self, batch_id: int, user: str, at: datetime) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO batch_readers (batch, user, at) VALUES (?, ?, ?)",
            (batch_id, user, timestamp(at)),
        )

    def readers(self, batch_id: int) -> set[str]:
        rows = self._conn.execute("SELECT user FROM batch_readers WHERE batch = ?", (batch_id,))
        return {row[0] for row in rows}

    def user_entries(self, user: str | None = None) -> list[SlipEntry]:
        if user is None:
            rows = self._conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM batch_entries")
        else:
            rows = self._conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM batch_entries WHERE keyed_by = ?", (user,)
            )
        return [_entry(row) for row in rows]


_RECORD_COLUMNS = (
    "atena, vaccine, dose, date, date_unknown, amount, maker, lot, institution, physician, "
    "venue, copay, note, status, source, keyed_by, verified_by, created_at"
)


class SqlRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def history(self, atenas: Iterable[str]) -> dict[str, list[RecordKey]]:
        wanted = sorted(set(atenas))
        found: dict[str, list[RecordKey]] = {a: [] for a in wanted}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._conn.execute(
                "SELECT atena, vaccine, dose, date FROM vaccinations "
                f"WHERE atena IN ({', '.join('?' * len(chunk))}) AND status != 'voided'",
                chunk,
            )
            for atena, vaccine, dose, day in rows:
                found[atena].append(
                    RecordKey(vaccine, dose, date.fromisoformat(day) if day else None)
                )
        return found

    def add(self, record: NewRecord) -> int:
        r = record
        cursor = self._conn.execute(
            f"INSERT INTO vaccinations ({_RECORD_COLUMNS}) VALUES ({', '.join('?' * 18)})",
            (
                r.atena,
                r.vaccine,
                r.dose,
                r.date.isoformat() if r.date else None,
                int(r.date_unknown),
                r.amount,
                r.maker,
                r.lot,
                r.institution,
                r.physician,
                r.venue,
                r.copay,
                r.note,
                r.status,
                r.source,
                r.keyed_by,
                r.verified_by,
                timestamp(r.created_at),
            ),
        )
        return int(cursor.lastrowid or 0)

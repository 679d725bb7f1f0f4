"""The exports table and the media ledger (媒体管理簿) over SQLCipher."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.clock import parse_timestamp, timestamp
from core.errors import VersionConflict
from core.exports import (
    Export,
    ExportKind,
    ExportStatus,
    MediaEvent,
    MediaStatus,
    Medium,
    PayloadSpec,
    media_label,
)
from storage.database_types import Connection

_EXPORT_COLUMNS = (
    "id, kind, provision_case, spec, content_hash, status, created_by, created_at, recipients, "
    "decided_by, decided_at, comment, version"
)
_MEDIA_COLUMNS = (
    "id, label, media_type, export, provision_case, created_by, witness, created_at, status, "
    "location, content_hash, path, verified_at, problems, holder, handed_at, returned_at, "
    "disposed_at, disposal_method, disposal_witness, certificate, version"
)


def optional_time(text: str | None) -> datetime | None:
    return parse_timestamp(text) if text else None


def optional_stamp(at: datetime | None) -> str | None:
    return timestamp(at) if at is not None else None


def _export(row: tuple[Any, ...]) -> Export:
    return Export(
        id=row[0],
        kind=ExportKind(row[1]),
        case=row[2],
        spec=PayloadSpec.from_json(row[3]),
        content_hash=row[4],
        status=ExportStatus(row[5]),
        created_by=row[6],
        created_at=parse_timestamp(row[7]),
        recipients=tuple(json.loads(row[8])),
        decided_by=row[9],
        decided_at=optional_time(row[10]),
        comment=row[11],
        version=row[12],
    )


def _medium(row: tuple[Any, ...]) -> Medium:
    return Medium(
        id=row[0],
        label=row[1],
        media_type=row[2],
        export=row[3],
        case=row[4],
        created_by=row[5],
        witness=row[6],
        created_at=parse_timestamp(row[7]),
        status=MediaStatus(row[8]),
        location=row[9],
        content_hash=row[10],
        path=row[11],
        verified_at=optional_time(row[12]),
        problems=tuple(json.loads(row[13])),
        holder=row[14],
        handed_at=optional_time(row[15]),
        returned_at=optional_time(row[16]),
        disposed_at=optional_time(row[17]),
        disposal_method=row[18],
        disposal_witness=row[19],
        certificate=row[20],
        version=row[21],
    )


class SqlExports:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        kind: ExportKind,
        case: int | None,
        spec: PayloadSpec,
        content_hash: str,
        recipients: tuple[str, ...],
        created_by: str,
        at: datetime,
        status: ExportStatus,
    ) -> Export:
        cursor = self._conn.execute(
            "INSERT INTO exports (kind, provision_case, spec, content_hash, recipients, status, "
            "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kind.value,
                case,
                spec.to_json(),
                content_hash,
                json.dumps(list(recipients)),
                status.value,
                created_by,
                timestamp(at),
            ),
        )
        export = self.get(int(cursor.lastrowid or 0))
        assert export is not None
        return export

    def get(self, export: int) -> Export | None:
        row = self._conn.execute(
            f"SELECT {_EXPORT_COLUMNS} FROM exports WHERE id = ?", (export,)
        ).fetchone()
        return _export(row) if row else None

    def find(self, status: ExportStatus | None = None, limit: int = 200) -> list[Export]:
        where, params = ("WHERE status = ?", (status.value,)) if status else ("", ())
        rows = self._conn.execute(
            f"SELECT {_EXPORT_COLUMNS} FROM exports {where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_export(row) for row in rows]

    def save(self, export: Export) -> Export:
        cursor = self._conn.execute(
            "UPDATE exports SET status = ?, decided_by = ?, decided_at = ?, comment = ?, "
            "version = version + 1 WHERE id = ? AND version = ?",
            (
                export.status.value,
                export.decided_by,
                optional_stamp(export.decided_at),
                export.comment,
                export.id,
                export.version,
            ),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("export.changed", export=export.id)
        return replace(export, version=export.version + 1)


class SqlMedia:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def register(
        self,
        export: Export,
        media_type: str,
        created_by: str,
        witness: str,
        at: datetime,
        location: str,
        terminal: str,
    ) -> Medium:
        (next_id,) = self._conn.execute("SELECT COALESCE(max(id), 0) + 1 FROM media").fetchone()
        self._conn.execute(
            "INSERT INTO media (id, label, media_type, export, provision_case, created_by, "
            "witness, created_at, status, location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                next_id,
                media_label(terminal, next_id, at),
                media_type,
                export.id,
                export.case,
                created_by,
                witness,
                timestamp(at),
                MediaStatus.WRITING.value,
                location,
            ),
        )
        medium = self.get(next_id)
        assert medium is not None
        return medium

    def get(self, medium: int) -> Medium | None:
        row = self._conn.execute(
            f"SELECT {_MEDIA_COLUMNS} FROM media WHERE id = ?", (medium,)
        ).fetchone()
        return _medium(row) if row else None

    def find(self, open_only: bool = False, case: int | None = None) -> list[Medium]:
        clauses: list[str] = []
        params: list[object] = []
        if open_only:
            clauses.append("status NOT IN ('disposed', 'erased')")
        if case is not None:
            clauses.append("provision_case = ?")
            params.append(case)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            f"SELECT {_MEDIA_COLUMNS} FROM media {where} ORDER BY id DESC", params
        ).fetchall()
        return [_medium(row) for row in rows]

    def save(self, medium: Medium) -> Medium:
        cursor = self._conn.execute(
            "UPDATE media SET status = ?, location = ?, content_hash = ?, path = ?, "
            "verified_at = ?, problems = ?, holder = ?, handed_at = ?, returned_at = ?, "
            "disposed_at = ?, disposal_method = ?, disposal_witness = ?, certificate = ?, "
            "version = version + 1 WHERE id = ? AND version = ?",
            (
                medium.status.value,
                medium.location,
                medium.content_hash,
                medium.path,
                optional_stamp(medium.verified_at),
                json.dumps(list(medium.problems), ensure_ascii=False),
                medium.holder,
                optional_stamp(medium.handed_at),
                optional_stamp(medium.returned_at),
                optional_stamp(medium.disposed_at),
                medium.disposal_method,
                medium.disposal_witness,
                medium.certificate,
                medium.id,
                medium.version,
            ),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("media.changed", medium=medium.id)
        return replace(medium, version=medium.version + 1)

    def add_event(self, event: MediaEvent) -> None:
        self._conn.execute(
            "INSERT INTO media_events (medium, at, user, event, detail) VALUES (?, ?, ?, ?, ?)",
            (
                event.medium,
                timestamp(event.at),
                event.user,
                event.event,
                json.dumps(event.detail, ensure_ascii=False, sort_keys=True),
            ),
        )

    def events(self, medium: int) -> list[MediaEvent]:
        rows = self._conn.execute(
            "SELECT medium, at, user, event, detail FROM media_events WHERE medium = ? ORDER BY id",
            (medium,),
        ).fetchall()
        return [MediaEvent(r[0], parse_timestamp(r[1]), r[2], r[3], json.loads(r[4])) for r in rows]

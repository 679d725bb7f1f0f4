"""Provision cases, recipients, legal bases, ledger stages and provision records over SQLCipher."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from core.clock import parse_timestamp, timestamp
from core.errors import VersionConflict
from core.provision import (
    Case,
    CasePerson,
    CaseStatus,
    FlagDecision,
    LegalBasis,
    ProvisionRecord,
    Recipient,
    RecipientKind,
    Selection,
    Stage,
    StageEntry,
)
from storage.database_types import Connection
from storage.exports import optional_stamp, optional_time

_CASE_COLUMNS = (
    "id, requester, staff, supervisor, recipient, basis, purpose, items, delivery, "
    "retention_deadline, approval_ref, selection, status, created_at, approved_hash, decided_by, "
    "decided_at, decision_comment, checked_by, checked_at, checked_hash, executed_by, "
    "executed_at, version"
)
_RECORD_COLUMNS = (
    "id, provision_case, outcome, at, requester, approver, executor, recipient, basis, items, "
    "persons, content_hash, reason, keep_until"
)
PERSONS_PER_QUERY = 500


def _case(row: tuple[Any, ...]) -> Case:
    return Case(
        id=row[0],
        requester=row[1],
        staff=tuple(json.loads(row[2])),
        supervisor=row[3],
        recipient=row[4],
        basis=row[5],
        purpose=row[6],
        items=tuple(row[7].split(",")),
        delivery=row[8],
        retention_deadline=date.fromisoformat(row[9]) if row[9] else None,
        approval_ref=row[10],
        selection=Selection.from_json(row[11]),
        status=CaseStatus(row[12]),
        created_at=parse_timestamp(row[13]),
        approved_hash=row[14],
        decided_by=row[15],
        decided_at=optional_time(row[16]),
        decision_comment=row[17],
        checked_by=row[18],
        checked_at=optional_time(row[19]),
        checked_hash=row[20],
        executed_by=row[21],
        executed_at=optional_time(row[22]),
        version=row[23],
    )


def _recipient(row: tuple[Any, ...]) -> Recipient:
    return Recipient(
        id=row[0],
        name=row[1],
        kind=RecipientKind(row[2]),
        code=row[3],
        contact=row[4],
        age_recipients=tuple(json.loads(row[5])),
        created_by=row[6],
        created_at=parse_timestamp(row[7]),
    )


def _record(row: tuple[Any, ...]) -> ProvisionRecord:
    return ProvisionRecord(
        id=row[0],
        case=row[1],
        outcome=row[2],
        at=parse_timestamp(row[3]),
        requester=row[4],
        approver=row[5],
        executor=row[6],
        recipient=row[7],
        basis=row[8],
        items=tuple(i for i in row[9].split(",") if i),
        persons=row[10],
        content_hash=row[11],
        reason=row[12],
        keep_until=date.fromisoformat(row[13]),
    )


class SqlProvisions:
    def __init__(self, conn: Connection, digest: Callable[[str], bytes]) -> None:
        self._conn = conn
        self._digest = digest

    # --- recipients and bases ------------------------------------------------------------

    def add_recipient(
        self,
        name: str,
        kind: RecipientKind,
        code: str | None,
        contact: str,
        age_recipients: tuple[str, ...],
        created_by: str,
        at: datetime,
    ) -> Recipient:
        cursor = self._conn.execute(
            "INSERT INTO recipients (name, kind, code, contact, age_recipients, created_by, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, kind.value, code, contact, json.dumps(list(age_recipients)), created_by,
             timestamp(at)),
        )  # fmt: skip
        recipient = self.recipient(int(cursor.lastrowid or 0))
        assert recipient is not None
        return recipient

    def recipient(self, recipient_id: int) -> Recipient | None:
        row = self._conn.execute(
            "SELECT id, name, kind, code, contact, age_recipients, created_by, created_at "
            "FROM recipients WHERE id = ?",
            (recipient_id,),
        ).fetchone()
        return _recipient(row) if row else None

    def recipients(self) -> list[Recipient]:
        rows = self._conn.execute(
            "SELECT id, name, kind, code, contact, age_recipients, created_by, created_at "
            "FROM recipients ORDER BY id"
        ).fetchall()
        return [_recipient(row) for row in rows]

    def bases(self) -> list[LegalBasis]:
        rows = self._conn.execute(
            "SELECT key, title, title_en, items, mynumber FROM legal_bases ORDER BY key"
        ).fetchall()
        return [LegalBasis(r[0], r[1], r[2], tuple(r[3].split(",")), bool(r[4])) for r in rows]

    def basis(self, key: str) -> LegalBasis | None:
        return next((b for b in self.bases() if b.key == key), None)

    def put_basis(self, basis: LegalBasis) -> None:
        self._conn.execute(
            "INSERT INTO legal_bases (key, title, title_en, items, mynumber) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET title = excluded.title, title_en = excluded.title_en, "
            "items = excluded.items, mynumber = excluded.mynumber",
            (basis.key, basis.title, basis.title_en, ",".join(basis.items), int(basis.mynumber)),
        )

    # --- cases ---------------------------------------------------------------------------

    def add_case(self, case: Case) -> Case:
        cursor = self._conn.execute(
            "INSERT INTO provision_cases (requester, staff, supervisor, recipient, basis, "
            "purpose, items, delivery, retention_deadline, approval_ref, selection, status, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                case.requester,
                json.dumps(list(case.staff), ensure_ascii=False),
                case.supervisor,
                case.recipient,
                case.basis,
                case.purpose,
                ",".join(case.items),
                case.delivery,
                case.retention_deadline.isoformat() if case.retention_deadline else None,
                case.approval_ref,
                case.selection.to_json(),
                case.status.value,
                timestamp(case.created_at),
            ),
        )
        stored = self.case(int(cursor.lastrowid or 0))
        assert stored is not None
        return stored

    def case(self, case_id: int) -> Case | None:
        row = self._conn.execute(
            f"SELECT {_CASE_COLUMNS} FROM provision_cases WHERE id = ?", (case_id,)
        ).fetchone()
        return _case(row) if row else None

    def cases(self, status: CaseStatus | None = None) -> list[Case]:
        where, params = ("WHERE status = ?", (status.value,)) if status else ("", ())
        rows = self._conn.execute(
            f"SELECT {_CASE_COLUMNS} FROM provision_cases {where} ORDER BY id DESC", params
        ).fetchall()
        return [_case(row) for row in rows]

    def save_case(self, case: Case) -> Case:
        cursor = self._conn.execute(
            "UPDATE provision_cases SET purpose = ?, items = ?, delivery = ?, "
            "retention_deadline = ?, approval_ref = ?, status = ?, approved_hash = ?, "
            "decided_by = ?, decided_at = ?, decision_comment = ?, checked_by = ?, "
            "checked_at = ?, checked_hash = ?, executed_by = ?, executed_at = ?, "
            "version = version + 1 WHERE id = ? AND version = ?",
            (
                case.purpose,
                ",".join(case.items),
                case.delivery,
                case.retention_deadline.isoformat() if case.retention_deadline else None,
                case.approval_ref,
                case.status.value,
                case.approved_hash,
                case.decided_by,
                optional_stamp(case.decided_at),
                case.decision_comment,
                case.checked_by,
                optional_stamp(case.checked_at),
                case.checked_hash,
                case.executed_by,
                optional_stamp(case.executed_at),
                case.id,
                case.version,
            ),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("provision.changed", case=case.id)
        return replace(case, version=case.version + 1)

    # --- persons ---------------------------------------------------------------------------

    def add_persons(self, case_id: int, persons: list[CasePerson]) -> None:
        self._conn.executemany(
            "INSERT INTO provision_persons (provision_case, atena, flags, decision) "
            "VALUES (?, ?, ?, ?)",
            [
                (case_id, p.atena, ",".join(p.flags), p.decision.value if p.decision else None)
                for p in persons
            ],
        )

    def persons(self, case_id: int) -> list[CasePerson]:
        rows = self._conn.execute(
            "SELECT atena, flags, decision FROM provision_persons WHERE provision_case = ? "
            "ORDER BY atena",
            (case_id,),
        ).fetchall()
        return [
            CasePerson(
                r[0], tuple(f for f in r[1].split(",") if f), FlagDecision(r[2]) if r[2] else None
            )
            for r in rows
        ]

    def decide_person(self, case_id: int, atena: str, decision: FlagDecision) -> bool:
        cursor = self._conn.execute(
            "UPDATE provision_persons SET decision = ? WHERE provision_case = ? AND atena = ? "
            "AND decision IS NOT NULL",
            (decision.value, case_id, atena),
        )
        return bool(cursor.rowcount == 1)

    def frame(self, sex: str, born_from: date, born_to: date) -> list[str]:
        """Residents (status resident) of one stratum, by 宛名番号."""
        sql = "SELECT atena FROM residents WHERE status = 'resident' AND birth BETWEEN ? AND ?" + (
            "" if sex == "*" else " AND sex = ?"
        )
        params: tuple[str, ...] = (born_from.isoformat(), born_to.isoformat())
        if sex != "*":
            params = (*params, sex)
        return [row[0] for row in self._conn.execute(sql, params)]

    def person_flags(self, atenas: list[str]) -> dict[str, tuple[str, ...]]:
        """Each known resident's warning flags (absent: no such 宛名番号)."""
        found: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(atenas), PERSONS_PER_QUERY):
            part = atenas[start : start + PERSONS_PER_QUERY]
            marks = ", ".join("?" * len(part))
            rows = self._conn.execute(
                f"SELECT atena, dv_flag, status, no_auto_answer FROM residents "
                f"WHERE atena IN ({marks})",
                part,
            )
            for atena, dv, status, no_auto in rows:
                flags = []
                if dv:
                    flags.append("dv")
                if status != "resident":
                    flags.append(status)
                if no_auto:
                    flags.append("no_auto_answer")
                found[atena] = tuple(flags)
        return found

    def preview_rows(self, case_id: int, limit: int) -> list[tuple[str, str, str, str, str]]:
        """A few included persons: 宛名番号, name, kana, birth, sex."""
        rows = self._conn.execute(
            "SELECT r.atena, r.name, r.kana, r.birth, r.sex FROM provision_persons p "
            "JOIN residents r ON r.atena = p.atena WHERE p.provision_case = ? "
            "AND COALESCE(p.decision, '') != 'removed' ORDER BY p.atena LIMIT ?",
            (case_id, limit),
        ).fetchall()
        return [tuple(row) for row in rows]

    def match_mover(self, mynumber: str, former_code: str) -> str | None:
        """The mover-in with this 個人番号 who came from this municipality, if any."""
        row = self._conn.execute(
            "SELECT atena FROM residents WHERE mynumber_hmac = ? AND former_code = ?",
            (self._digest(mynumber), former_code),
        ).fetchone()
        return str(row[0]) if row else None

    # --- ledger and records ------------------------------------------------------------------

    def add_stage(self, entry: StageEntry) -> None:
        self._conn.execute(
            "INSERT INTO provision_stages (provision_case, stage, at, user, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (entry.case, entry.stage.value, timestamp(entry.at), entry.user,
             json.dumps(entry.detail, ensure_ascii=False, sort_keys=True)),
        )  # fmt: skip

    def stages(self, case_id: int) -> list[StageEntry]:
        rows = self._conn.execute(
            "SELECT provision_case, stage, at, user, detail FROM provision_stages "
            "WHERE provision_case = ? ORDER BY id",
            (case_id,),
        ).fetchall()
        return [
            StageEntry(r[0], Stage(r[1]), parse_timestamp(r[2]), r[3], json.loads(r[4]))
            for r in rows
        ]

    def add_record(self, record: ProvisionRecord) -> int:
        cursor = self._conn.execute(
            "INSERT INTO provision_records (provision_case, outcome, at, requester, approver, "
            "executor, recipient, basis, items, persons, content_hash, reason, keep_until) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.case,
                record.outcome,
                timestamp(record.at),
                record.requester,
                record.approver,
                record.executor,
                record.recipient,
                record.basis,
                ",".join(record.items),
                record.persons,
                record.content_hash,
                record.reason,
                record.keep_until.isoformat(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def records(
        self, since: date | None = None, until: date | None = None
    ) -> list[ProvisionRecord]:
        clauses, params = [], []
        if since is not None:
            clauses.append("at >= ?")
            params.append(since.isoformat())
        if until is not None:
            clauses.append("substr(at, 1, 10) <= ?")
            params.append(until.isoformat())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM provision_records {where} ORDER BY id", params
        ).fetchall()
        return [_record(row) for row in rows]

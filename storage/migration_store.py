"""The store side of a migration: runs and their progress, batch lookups and inserts, the
target's reconciliation totals, whole tables for export, and signed reports."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence, Set
from datetime import datetime
from typing import Any

import sqlcipher3

from core.clock import parse_timestamp, timestamp
from core.migration.convert import RowIssue, Value
from core.migration.model import FileProgress, Lookups, Run, RunStatus
from core.migration.schema import TABLES
from core.migration.totals import TableTotals
from storage import bulk_load
from storage.database_types import Connection
from storage.search_keys import cached_kana_key, cached_kana_loose_key

Digest = Callable[[str], bytes]
Signer = Callable[[bytes], tuple[str, str]]

IN_CHUNK = 900
FETCH = 20_000
_RUN_COLUMNS = (
    "id, source, identity, layout, layout_digest, started_by, started_at, status, finished_at, "
    "approved_by, approved_at, reconciliation"
)
# How each open-layout column is read back from its table.
_EXPRESSIONS: dict[str, dict[str, str]] = {
    "vaccinations": {"record_key": "COALESCE(uid, {store} || ':' || id)"},
}
_WHERE = {"vaccinations": "WHERE status IN ('verified', 'voided')"}


def _run(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        source=row[1],
        identity=row[2],
        layout=row[3],
        layout_digest=row[4],
        started_by=row[5],
        started_at=parse_timestamp(row[6]),
        status=RunStatus(row[7]),
        finished_at=parse_timestamp(row[8]) if row[8] else None,
        approved_by=row[9],
        approved_at=parse_timestamp(row[10]) if row[10] else None,
        reconciliation=row[11],
    )


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


class SqlMigration:
    def __init__(self, conn: Connection, store_id: str, digest: Digest, sign: Signer) -> None:
        self._conn = conn
        self._store_id = store_id
        self._digest = digest
        self._sign = sign

    # --- runs ------------------------------------------------------------------------------

    def vaccine_codes(self) -> frozenset[str]:
        return frozenset(r[0] for r in self._conn.execute("SELECT code FROM vaccines"))

    def open_run(self, identity: str) -> Run | None:
        row = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM migration_runs WHERE identity = ? AND status = 'running' "
            "ORDER BY id DESC LIMIT 1",
            (identity,),
        ).fetchone()
        return _run(row) if row else None

    def add_run(self, run: Run) -> int:
        cursor = self._conn.execute(
            "INSERT INTO migration_runs (source, identity, layout, layout_digest, started_by, "
            "started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                run.source,
                run.identity,
                run.layout,
                run.layout_digest,
                run.started_by,
                timestamp(run.started_at),
                run.status.value,
            ),
        )
        return int(cursor.lastrowid or 0)

    def get_run(self, run_id: int) -> Run | None:
        row = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM migration_runs WHERE id = ?", (run_id,)
        ).fetchone()
        return _run(row) if row else None

    def runs(self) -> list[Run]:
        rows = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM migration_runs ORDER BY id DESC")
        return [_run(r) for r in rows]

    def finish_run(self, run_id: int, status: RunStatus, at: datetime) -> None:
        self._conn.execute(
            "UPDATE migration_runs SET status = ?, finished_at = ? WHERE id = ?",
            (status.value, timestamp(at), run_id),
        )

    def approve_run(self, run_id: int, by: str, at: datetime, note: str, report: int) -> None:
        self._conn.execute(
            "UPDATE migration_runs SET status = 'approved', approved_by = ?, approved_at = ?, "
            "approval_note = ?, reconciliation = ? WHERE id = ?",
            (by, timestamp(at), note, report, run_id),
        )

    def progress(self, run_id: int) -> dict[str, FileProgress]:
        rows = self._conn.execute(
            "SELECT file, tbl, records, loaded, skipped, errors, done FROM migration_progress "
            "WHERE run = ?",
            (run_id,),
        )
        return {r[0]: FileProgress(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows}

    def put_progress(self, run_id: int, progress: FileProgress) -> None:
        self._conn.execute(
            "INSERT INTO migration_progress (run, file, tbl, records, loaded, skipped, errors, "
            "done) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run, file) DO UPDATE SET "
            "records = excluded.records, loaded = excluded.loaded, skipped = excluded.skipped, "
            "errors = excluded.errors, done = excluded.done",
            (
                run_id,
                progress.file,
                progress.table,
                progress.records,
                progress.loaded,
                progress.skipped,
                progress.errors,
                int(progress.done),
            ),
        )

    def add_issues(self, run_id: int, issues: Sequence[RowIssue]) -> None:
        self._conn.executemany(
            "INSERT INTO migration_issues (run, file, line, field, raw, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, i.file, i.line, i.field, i.raw, i.reason) for i in issues],
        )

    def issue_count(self, run_id: int) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM migration_issues WHERE run = ?", (run_id,)
        ).fetchone()
        return int(row[0])

    def issues(self, run_id: int, limit: int) -> list[RowIssue]:
        rows = self._conn.execute(
            "SELECT file, line, field, raw, reason FROM migration_issues WHERE run = ? "
            "ORDER BY file, line LIMIT ?",
            (run_id, limit),
        )
        return [RowIssue(*r) for r in rows]

    # --- loading ---------------------------------------------------------------------------

    def lookups(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        rows: Sequence[Sequence[Value]],
        existing_for: Set[str] | None = None,
    ) -> Lookups:
        """What the store holds for a batch. ``existing_for`` narrows the search for keys
        already present to the rows of those 宛名番号 (None: every row of the batch)."""
        atena_at = columns.index("atena") if "atena" in columns else None
        atenas = sorted({str(r[atena_at]) for r in rows}) if atena_at is not None else []
        positions = [columns.index(k) for k in key]
        existing: dict[tuple[Value, ...], int | None] = {}
        if existing_for is not None:
            rows = [r for r in rows if atena_at is not None and r[atena_at] in existing_for]
        searched = (
            atenas if existing_for is None else sorted(a for a in atenas if a in existing_for)
        )
        if table == "residents":
            for part in _chunks(searched):
                found = self._conn.execute(
                    f"SELECT atena, migration_run FROM residents WHERE atena IN ({_marks(part)})",
                    part,
                )
                existing.update({(r[0],): r[1] for r in found})
            return Lookups(existing, frozenset(), self._active_numbers(columns, rows))
        known: set[str] = set()
        for part in _chunks(atenas):
            found = self._conn.execute(
                f"SELECT atena FROM residents WHERE atena IN ({_marks(part)})", part
            )
            known.update(r[0] for r in found)
        if list(key) == ["record_key"]:
            keys = sorted({str(r[positions[0]]) for r in rows if r[positions[0]] is not None})
            if existing_for is not None:
                keys = []
            for part in _chunks(keys):
                found = self._conn.execute(
                    f"SELECT uid, migration_run FROM vaccinations WHERE uid IN ({_marks(part)})",
                    part,
                )
                existing.update({(r[0],): r[1] for r in found})
        else:
            names = ", ".join(key)
            extra = "AND status != 'pending'" if table == "vaccinations" else ""
            for part in _chunks(searched):
                found = self._conn.execute(
                    f"SELECT {names}, migration_run FROM {table} "
                    f"WHERE atena IN ({_marks(part)}) {extra}",
                    part,
                )
                existing.update({tuple(r[:-1]): r[-1] for r in found})
        return Lookups(existing, frozenset(known))

    def _active_numbers(
        self, columns: Sequence[str], rows: Sequence[Sequence[Value]]
    ) -> frozenset[str]:
        if "mynumber" not in columns:
            return frozenset()
        at = columns.index("mynumber")
        numbers = sorted({str(r[at]) for r in rows if r[at] is not None})
        digests = {self._digest(n): n for n in numbers}
        held: set[str] = set()
        keys = list(digests)
        for part in _chunks(keys):
            found = self._conn.execute(
                "SELECT mynumber_hmac FROM residents WHERE status = 'resident' "
                f"AND mynumber_hmac IN ({_marks(part)})",
                part,
            )
            held.update(digests[bytes(r[0])] for r in found)
        return frozenset(held)

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Value]],
        run_id: int,
        at: datetime,
    ) -> None:
        if not rows:
            return
        now = timestamp(at)
        if table == "residents":
            self._insert_residents(columns, rows, run_id, now)
            return
        names = ["uid" if c == "record_key" else c for c in columns]
        constants: dict[str, Any] = {"migration_run": run_id, "source": f"migration:{run_id}"}
        if table == "vaccinations":
            constants |= {"version": 1, "synced_version": 1}
            if "status" not in columns:
                constants["status"] = "verified"
        if "created_at" not in columns:
            constants["created_at"] = now
        elif any(r[columns.index("created_at")] is None for r in rows):
            at_index = columns.index("created_at")
            rows = [
                r if r[at_index] is not None else (*r[:at_index], now, *r[at_index + 1 :])
                for r in rows
            ]
        fixed = tuple(constants.values())
        self._conn.executemany(
            f"INSERT INTO {table} ({', '.join([*names, *constants])}) "
            f"VALUES ({', '.join('?' * (len(names) + len(constants)))})",
            [(*row, *fixed) for row in rows],
        )

    def insert_unless_conflict(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Value]],
        run_id: int,
        at: datetime,
    ) -> bool:
        """Insert, or insert nothing and return False if a uniqueness rule refused a row
        (a 宛名番号, record key or active 個人番号 already present)."""
        self._conn.execute("SAVEPOINT migration_batch")
        try:
            self.insert(table, columns, rows, run_id, at)
        except sqlcipher3.IntegrityError:
            self._conn.execute("ROLLBACK TO migration_batch")
            self._conn.execute("RELEASE migration_batch")
            return False
        self._conn.execute("RELEASE migration_batch")
        return True

    def foreign_rows(self, table: str, run_id: int) -> bool:
        """Whether ``table`` holds rows other than this run's."""
        row = self._conn.execute(
            f"SELECT 1 FROM {table} WHERE migration_run IS NOT ? LIMIT 1", (run_id,)
        ).fetchone()
        return row is not None

    def _insert_residents(
        self, columns: Sequence[str], rows: Sequence[Sequence[Value]], run_id: int, now: str
    ) -> None:
        kana_at = columns.index("kana")
        number_at = columns.index("mynumber") if "mynumber" in columns else None
        digest = self._digest
        values = []
        for row in rows:
            kana = str(row[kana_at])
            number = row[number_at] if number_at is not None else None
            values.append(
                (
                    *row,
                    digest(str(number)) if number else None,
                    cached_kana_key(kana),
                    cached_kana_loose_key(kana),
                    run_id,
                    now,
                )
            )
        names = [*columns, "mynumber_hmac", "kana_key", "kana_loose_key", "migration_run"]
        self._conn.executemany(
            f"INSERT INTO residents ({', '.join(names)}, version, synced_version, updated_at) "
            f"VALUES ({', '.join('?' * len(names))}, 1, 1, ?)",
            values,
        )

    def begin_bulk(self, expected: int) -> bool:
        """Defer the search index while a large residents file loads into an empty table."""
        if not bulk_load.may_begin(self._conn, expected):
            return False
        bulk_load.begin(self._conn)
        return True

    def finish_bulk(self) -> bool:
        return bulk_load.finish(self._conn)

    # --- reading back ----------------------------------------------------------------------

    def _select(self, table: str, columns: Sequence[str]) -> str:
        expressions = _EXPRESSIONS.get(table, {})
        store = f"'{self._store_id}'"
        parts = [expressions.get(c, c).format(store=store) for c in columns]
        return f"SELECT {', '.join(parts)} FROM {table} {_WHERE.get(table, '')}"

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Value, ...]]]:
        """Every row of ``table`` (records: verified and voided) in stored order, in batches."""
        cursor = self._conn.execute(self._select(table, columns) + " ORDER BY id")
        while batch := cursor.fetchmany(FETCH):
            yield batch

    def totals(self, table: str, columns: Sequence[str]) -> TableTotals:
        totals = TableTotals(tuple(columns))
        cursor = self._conn.execute(self._select(table, columns))
        while batch := cursor.fetchmany(FETCH):
            totals.add_rows(batch)
        return totals

    def count(self, table: str) -> int:
        row = self._conn.execute(f"SELECT COUNT(*) FROM {table} {_WHERE.get(table, '')}").fetchone()
        return int(row[0])

    def find(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        wanted: Sequence[Sequence[Value]],
    ) -> dict[tuple[Value, ...], tuple[Value, ...]]:
        """Rows by key, for the side-by-side sample."""
        found: dict[tuple[Value, ...], tuple[Value, ...]] = {}
        select = self._select(table, columns)
        expressions = _EXPRESSIONS.get(table, {})
        store = f"'{self._store_id}'"
        conditions = " AND ".join(f"{expressions.get(k, k).format(store=store)} IS ?" for k in key)
        joiner = " AND " if _WHERE.get(table) else " WHERE "
        positions = [list(columns).index(k) for k in key]
        for values in wanted:
            row = self._conn.execute(
                f"{select}{joiner}{conditions} LIMIT 1", tuple(values)
            ).fetchone()
            if row is not None:
                found[tuple(values)] = tuple(row)
        del positions
        return found

    # --- reports ---------------------------------------------------------------------------

    def add_report(
        self,
        run_id: int | None,
        source: str,
        by: str,
        at: datetime,
        equal: bool,
        report: dict[str, Any],
    ) -> tuple[int, str, str]:
        """Keep a reconciliation report signed with the terminal key; (id, hash, signature)."""
        text = json.dumps(report, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        report_hash = hashlib.sha256(text.encode()).hexdigest()
        signature, public_key = self._sign(text.encode())
        cursor = self._conn.execute(
            "INSERT INTO migration_reports (run, source, made_by, made_at, equal, report, "
            "report_hash, signature, public_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                source,
                by,
                timestamp(at),
                int(equal),
                text,
                report_hash,
                signature,
                public_key,
            ),
        )
        return int(cursor.lastrowid or 0), report_hash, signature

    def report(self, report_id: int) -> tuple[int | None, bool, str, str, str] | None:
        """(run, equal, report text, signature, public key) of a kept report."""
        row = self._conn.execute(
            "SELECT run, equal, report, signature, public_key FROM migration_reports WHERE id = ?",
            (report_id,),
        ).fetchone()
        return (row[0], bool(row[1]), row[2], row[3], row[4]) if row else None

    def latest_report(self, run_id: int) -> int | None:
        row = self._conn.execute(
            "SELECT MAX(id) FROM migration_reports WHERE run = ?", (run_id,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None


def open_rows(
    conn: Connection, table: str, columns: Sequence[str]
) -> Iterator[list[tuple[Value, ...]]]:
    """A table in the open layout, in stored order, in batches (the store id from meta)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    repository = SqlMigration(conn, str(row[0]) if row else "", _no_digest, _no_signer)
    return repository.rows(table, columns)


def _no_digest(_number: str) -> bytes:
    raise RuntimeError("reading rows needs no 個人番号 digest")


def _no_signer(_message: bytes) -> tuple[str, str]:
    raise RuntimeError("reading rows signs nothing")


def _marks(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


def table_columns(table: str) -> tuple[str, ...]:
    return TABLES[table].names

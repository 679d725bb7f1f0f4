"""The terminal side of sync in the store: outbox, cursor, held changes, conflicts, totals.

The outbox itself is filled by triggers (migration ``0009_sync``); this repository reads it,
records the central system's answers, and applies pulled pages. A pulled row is written with
``version = synced_version``, so the triggers never send it back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from core.clock import timestamp
from core.ports import AckOutcome, PullOutcome
from core.sync import (
    CHECKPOINT_FIELDS,
    COMPARED_TABLES,
    MASTER_FIELDS,
    PROVISION_FIELDS,
    RECORD_FIELDS,
    RESIDENT_FIELDS,
    AckStatus,
    Change,
    ChangeKind,
    Choice,
    Conflict,
    Data,
    Entry,
    EntryKind,
    PullPage,
    PushResult,
    TableTotal,
    TotalsBuilder,
)
from storage import bulk_load
from storage.database_types import Connection
from storage.keyfile import atomic_write
from storage.search_keys import cached_kana_key, cached_kana_loose_key

Digest = Callable[[str], bytes]

CURSOR = "cursor"
STATUS_SUFFIX = ".sync.json"
FLAGS = frozenset({"date_unknown", "dv_flag", "no_auto_answer", "active"})
IN_CHUNK = 900
NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%f', 'now', '+9 hours') || '+09:00'"

_RECORD_COLUMNS = [n for n in RECORD_FIELDS if n != "uid"]
_RESIDENT_COLUMNS = [n for n in RESIDENT_FIELDS if n != "mynumber"]
_RESIDENT_FLAG_INDEXES = [i for i, n in enumerate(_RESIDENT_COLUMNS) if n in FLAGS]
_ENTRY_COLUMNS = "uuid, seq, kind, key, op, base_version, version, data, at"
_CONFLICT_COLUMNS = (
    "id, kind, key, base_version, server_version, server_data, client_data, client_user, "
    "terminal, opened_at, status, decided_by, choice"
)


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _wire(fields: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row in wire form: flags as booleans, everything else as stored."""
    return {
        name: (bool(value) if name in FLAGS and value is not None else value)
        for name, value in zip(fields, row, strict=True)
    }


def _stored(name: str, value: Any) -> Any:
    return int(bool(value)) if name in FLAGS else value


def _entry(row: Sequence[Any]) -> Entry:
    return Entry(
        uuid=row[0],
        seq=row[1],
        kind=EntryKind(row[2]),
        key=row[3],
        op=row[4],
        base_version=row[5],
        version=row[6],
        data=json.loads(row[7]),
        at=row[8],
    )


def _conflict(row: Sequence[Any]) -> Conflict:
    return Conflict(
        id=row[0],
        kind=EntryKind(row[1]),
        key=row[2],
        base_version=row[3],
        server_version=row[4],
        server_data=json.loads(row[5]) if row[5] is not None else None,
        client_data=json.loads(row[6]),
        client_user=row[7],
        terminal=row[8],
        opened_at=row[9],
        status=row[10],
        decided_by=row[11],
        choice=row[12],
    )


def _json(data: Data | None) -> str | None:
    if data is None:
        return None
    return json.dumps(dict(data), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class SqlSync:
    """Implements ``core.ports.SyncRepository``."""

    def __init__(self, conn: Connection, store_id: str, terminal: str, digest: Digest) -> None:
        self._conn = conn
        self._store_id = store_id
        self._terminal = terminal
        self._digest = digest
        self._own = f"{store_id}:"

    # --- state -----------------------------------------------------------------------------

    def identity(self) -> tuple[str, str]:
        row = self._conn.execute(
            "SELECT name, signing_public FROM terminal_identity WHERE id = 1"
        ).fetchone()
        return str(row[0]), str(row[1])

    def state(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM sync_state").fetchall())

    def put_state(self, values: Mapping[str, str | None]) -> None:
        for key, value in values.items():
            if value is None:
                self._conn.execute("DELETE FROM sync_state WHERE key = ?", (key,))
            else:
                self._conn.execute(
                    "INSERT INTO sync_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    # --- push ------------------------------------------------------------------------------

    def pending(self, limit: int) -> list[Entry]:
        rows = self._conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [_entry(row) for row in rows]

    def pending_count(self) -> int:
        row = self._conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'")
        return int(row.fetchone()[0])

    def held_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM sync_held").fetchone()[0])

    def apply_acks(self, result: PushResult) -> AckOutcome:
        self.save_conflicts(result.conflicts)
        updates: list[tuple[str, str, str]] = []
        counts = {AckStatus.CONFLICT: 0, AckStatus.REJECTED: 0}
        acked = 0
        for ack in result.acks:
            if ack.status in (AckStatus.APPLIED, AckStatus.DUPLICATE):
                updates.append(("acked", ack.reason or ack.status.value, ack.uuid))
                acked += 1
            else:
                reason = ack.reason
                if ack.status is AckStatus.CONFLICT and ack.conflict is not None:
                    reason = reason or f"conflict {ack.conflict}"
                updates.append((ack.status.value, reason, ack.uuid))
                counts[ack.status] += 1
        self._conn.executemany(
            f"UPDATE outbox SET status = ?, reason = ?, acked_at = {NOW_SQL} "
            "WHERE uuid = ? AND status = 'pending'",
            updates,
        )
        return AckOutcome(acked, counts[AckStatus.CONFLICT], counts[AckStatus.REJECTED])

    # --- pull ------------------------------------------------------------------------------

    def apply_page(self, page: PullPage) -> PullOutcome:
        """Apply one page and move the cursor past it, in the caller's transaction.

        An initial pull of a whole registry defers the search index to its last page
        (``storage.bulk_load``).
        """
        residents = sum(1 for c in page.changes if c.kind is ChangeKind.RESIDENT)
        if page.more and bulk_load.may_begin(self._conn, residents):
            bulk_load.begin(self._conn)
        outcome = self._apply(page.changes)
        self.put_state({CURSOR: str(page.next_cursor)})
        if not page.more:
            bulk_load.finish(self._conn)
        return outcome

    def retry_held(self) -> PullOutcome:
        rows = self._conn.execute(
            "SELECT seq, kind, key, version, data, origin FROM sync_held ORDER BY seq"
        ).fetchall()
        if not rows:
            return PullOutcome()
        self._conn.execute("DELETE FROM sync_held")
        changes = [
            Change(row[0], ChangeKind(row[1]), row[2], row[3], json.loads(row[4]), row[5])
            for row in rows
        ]
        return self._apply(changes)

    def _apply(self, changes: Iterable[Change]) -> PullOutcome:
        latest: dict[tuple[ChangeKind, str], Change] = {}
        for change in changes:
            known = latest.get((change.kind, change.key))
            if known is None or change.version >= known.version:
                latest[(change.kind, change.key)] = change
        by_kind: dict[ChangeKind, list[Change]] = {}
        for change in sorted(latest.values(), key=lambda c: c.seq):
            by_kind.setdefault(change.kind, []).append(change)
        total = PullOutcome()
        for kind in (
            ChangeKind.VACCINE,
            ChangeKind.INSTITUTION,
            ChangeKind.PHYSICIAN,
            ChangeKind.RESIDENT,
            ChangeKind.RECORD,
        ):
            found = by_kind.get(kind, [])
            if not found:
                continue
            if kind is ChangeKind.RESIDENT:
                outcome = self._apply_residents(found)
            elif kind is ChangeKind.RECORD:
                outcome = self._apply_records(found)
            else:
                outcome = self._apply_masters(kind, found)
            total = PullOutcome(
                total.applied + outcome.applied,
                total.held + outcome.held,
                total.skipped + outcome.skipped,
            )
        return total

    def _keys_in(self, sql: str, keys: Sequence[Any]) -> set[Any]:
        found: set[Any] = set()
        for chunk in _chunks(keys):
            found |= {row[0] for row in self._conn.execute(sql.format(_marks(len(chunk))), chunk)}
        return found

    def _blocked(self, keys: Sequence[str]) -> set[str]:
        """Keys with unacknowledged outbox entries or an open conflict."""
        return self._keys_in(
            "SELECT key FROM outbox WHERE status = 'pending' AND key IN ({})", keys
        ) | self._keys_in(
            "SELECT key FROM sync_conflicts WHERE status = 'open' AND key IN ({})", keys
        )

    def _hold(self, held: Sequence[tuple[Change, str]]) -> None:
        self._conn.executemany(
            "INSERT INTO sync_held (kind, key, seq, version, data, origin, reason, held_at) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, {NOW_SQL}) "
            "ON CONFLICT (kind, key) DO UPDATE SET seq = excluded.seq, "
            "version = excluded.version, data = excluded.data, origin = excluded.origin, "
            "reason = excluded.reason, held_at = excluded.held_at "
            "WHERE excluded.version >= sync_held.version",
            [
                (c.kind.value, c.key, c.seq, c.version, _json(c.data), c.origin, reason)
                for c, reason in held
            ],
        )

    def _release(self, kind: ChangeKind, keys: Sequence[str]) -> None:
        """Drop held changes superseded by a change applied (or found not newer) now."""
        for chunk in _chunks(keys):
            self._conn.execute(
                f"DELETE FROM sync_held WHERE kind = ? AND key IN ({_marks(len(chunk))})",
                (kind.value, *chunk),
            )

    def _apply_residents(self, changes: list[Change]) -> PullOutcome:
        keys = [c.key for c in changes]
        local: dict[str, int] = {}
        for chunk in _chunks(keys):
            rows = self._conn.execute(
                f"SELECT atena, version FROM residents WHERE atena IN ({_marks(len(chunk))})",
                chunk,
            )
            local.update(dict(rows.fetchall()))
        blocked = self._blocked(keys) | self._keys_in(
            "SELECT atena FROM pending_changes WHERE status = 'pending' AND record IS NULL "
            "AND atena IN ({})",
            keys,
        )
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        held: list[tuple[Change, str]] = []
        done: list[str] = []
        skipped = 0
        now = timestamp(datetime.now().astimezone())
        for change in changes:
            version = local.get(change.key)
            if change.key in blocked:
                held.append((change, "local_change"))
                continue
            if version is not None and change.version <= version:
                skipped += 1
                done.append(change.key)
                continue
            done.append(change.key)
            values = self._resident_values(change, now)
            if version is None:
                inserts.append(values)
            else:
                updates.append((*values[1:], change.key))
        names = [*_RESIDENT_COLUMNS, "mynumber", "mynumber_hmac", "kana_key", "kana_loose_key"]
        extra = "version, synced_version, updated_at"
        if inserts:
            self._conn.executemany(
                f"INSERT INTO residents ({', '.join(names)}, {extra}) "
                f"VALUES ({_marks(len(names) + 3)})",
                inserts,
            )
        if updates:
            assignments = ", ".join(f"{n} = ?" for n in names[1:])
            self._conn.executemany(
                f"UPDATE residents SET {assignments}, version = ?, synced_version = ?, "
                "updated_at = ? WHERE atena = ?",
                updates,
            )
        self._hold(held)
        self._release(ChangeKind.RESIDENT, done)
        return PullOutcome(len(inserts) + len(updates), len(held), skipped)

    def _resident_values(self, change: Change, now: str) -> tuple[Any, ...]:
        data = change.data
        mynumber = data.get("mynumber")
        kana = str(data.get("kana") or "")
        values = [data.get(n) for n in _RESIDENT_COLUMNS]
        for index in _RESIDENT_FLAG_INDEXES:
            values[index] = int(bool(values[index]))
        return (
            *values,
            mynumber,
            self._digest(str(mynumber)) if mynumber else None,
            cached_kana_key(kana),
            cached_kana_loose_key(kana),
            change.version,
            change.version,
            now,
        )

    def _local_id(self, key: str) -> int | None:
        if key.startswith(self._own) and key[len(self._own) :].isdigit():
            return int(key[len(self._own) :])
        return None

    def _apply_records(self, changes: list[Change]) -> PullOutcome:
        keys = [c.key for c in changes]
        own = [i for c in changes if (i := self._local_id(c.key)) is not None]
        others = [c.key for c in changes if self._local_id(c.key) is None]
        local: dict[str, tuple[int, int, str]] = {}  # key → (id, version, status)
        for chunk in _chunks(own):
            rows = self._conn.execute(
                f"SELECT id, version, status FROM vaccinations WHERE id IN ({_marks(len(chunk))})",
                chunk,
            )
            local.update({f"{self._own}{r[0]}": (r[0], r[1], r[2]) for r in rows})
        for chunk in _chunks(others):
            rows = self._conn.execute(
                "SELECT uid, id, version, status FROM vaccinations "
                f"WHERE uid IN ({_marks(len(chunk))})",
                chunk,
            )
            local.update({r[0]: (r[1], r[2], r[3]) for r in rows})
        ids = [v[0] for v in local.values()]
        blocked = self._blocked(keys)
        open_changes = self._keys_in(
            "SELECT record FROM pending_changes WHERE status = 'pending' AND record IN ({})", ids
        )
        atenas = sorted({str(c.data.get("atena")) for c in changes})
        residents = self._keys_in("SELECT atena FROM residents WHERE atena IN ({})", atenas)
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        held: list[tuple[Change, str]] = []
        done: list[str] = []
        skipped = 0
        for change in changes:
            found = local.get(change.key)
            if change.key in blocked or (
                found is not None and (found[2] == "pending" or found[0] in open_changes)
            ):
                held.append((change, "local_change"))
                continue
            if found is not None and change.version <= found[1]:
                skipped += 1
                done.append(change.key)
                continue
            if change.data.get("atena") not in residents:
                held.append((change, "resident_missing"))
                continue
            done.append(change.key)
            values = tuple(_stored(n, change.data.get(n)) for n in _RECORD_COLUMNS)
            if found is None:
                uid = None if self._local_id(change.key) is not None else change.key
                inserts.append((*values, uid, change.version, change.version))
            else:
                updates.append((*values, change.version, change.version, found[0]))
        if inserts:
            self._conn.executemany(
                f"INSERT INTO vaccinations ({', '.join(_RECORD_COLUMNS)}, uid, version, "
                f"synced_version) VALUES ({_marks(len(_RECORD_COLUMNS) + 3)})",
                inserts,
            )
        if updates:
            assignments = ", ".join(f"{n} = ?" for n in _RECORD_COLUMNS)
            self._conn.executemany(
                f"UPDATE vaccinations SET {assignments}, version = ?, synced_version = ? "
                "WHERE id = ?",
                updates,
            )
        self._hold(held)
        self._release(ChangeKind.RECORD, done)
        return PullOutcome(len(inserts) + len(updates), len(held), skipped)

    def _apply_masters(self, kind: ChangeKind, changes: list[Change]) -> PullOutcome:
        fields = MASTER_FIELDS[kind]
        table = COMPARED_TABLE_OF[kind]
        defaults = {"name_en": "''", "category": "''", "active": "1"}
        columns = [*fields, "definition"] if kind is ChangeKind.VACCINE else list(fields)
        values = [f"COALESCE(?, {defaults[n]})" if n in defaults else "?" for n in fields] + (
            ["'{}'"] if kind is ChangeKind.VACCINE else []
        )
        assignments = ", ".join(f"{n} = excluded.{n}" for n in fields[1:])
        self._conn.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)}) "
            f"ON CONFLICT (code) DO UPDATE SET {assignments}",
            [
                tuple(
                    _stored(n, c.data.get(n)) if c.data.get(n) is not None else None for n in fields
                )
                for c in changes
            ],
        )
        self._release(kind, [c.key for c in changes])
        return PullOutcome(applied=len(changes))

    # --- conflicts -------------------------------------------------------------------------

    def save_conflicts(self, conflicts: Iterable[Conflict]) -> None:
        self._conn.executemany(
            f"INSERT INTO sync_conflicts ({_CONFLICT_COLUMNS}) "
            f"VALUES ({_marks(13)}) ON CONFLICT (id) DO UPDATE SET "
            "server_version = excluded.server_version, server_data = excluded.server_data, "
            "status = excluded.status, decided_by = excluded.decided_by, "
            "choice = excluded.choice, "
            "client_user = CASE WHEN excluded.client_user != '' THEN excluded.client_user "
            "ELSE sync_conflicts.client_user END "
            "WHERE sync_conflicts.status = 'open' AND excluded.status != 'open'",
            [
                (
                    c.id,
                    c.kind.value,
                    c.key,
                    c.base_version,
                    c.server_version,
                    _json(c.server_data),
                    _json(c.client_data),
                    c.client_user or self._changed_by(c),
                    c.terminal,
                    c.opened_at,
                    "open" if c.decided_by is None else c.status,
                    c.decided_by,
                    c.choice,
                )
                for c in conflicts
            ],
        )

    def _changed_by(self, conflict: Conflict) -> str:
        """Who confirmed the local change, when the central system did not say."""
        if conflict.kind is EntryKind.RESIDENT:
            row = self._conn.execute(
                "SELECT decided_by FROM pending_changes WHERE atena = ? AND record IS NULL "
                "AND status = 'confirmed' ORDER BY id DESC LIMIT 1",
                (conflict.key,),
            ).fetchone()
            return str(row[0]) if row else ""
        record = self._record_id(conflict.key)
        row = self._conn.execute(
            "SELECT decided_by FROM pending_changes WHERE record = ? AND status = 'confirmed' "
            "ORDER BY id DESC LIMIT 1",
            (record,),
        ).fetchone()
        if row:
            return str(row[0])
        return str(conflict.client_data.get("verified_by") or "")

    def _record_id(self, key: str) -> int | None:
        local = self._local_id(key)
        if local is not None:
            return local
        row = self._conn.execute("SELECT id FROM vaccinations WHERE uid = ?", (key,)).fetchone()
        return int(row[0]) if row else None

    def conflicts(self, status: str | None = "open") -> list[Conflict]:
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        rows = self._conn.execute(
            f"SELECT {_CONFLICT_COLUMNS} FROM sync_conflicts {where} ORDER BY id", params
        ).fetchall()
        return [_conflict(row) for row in rows]

    def conflict(self, conflict_id: int) -> Conflict | None:
        row = self._conn.execute(
            f"SELECT {_CONFLICT_COLUMNS} FROM sync_conflicts WHERE id = ?", (conflict_id,)
        ).fetchone()
        return _conflict(row) if row else None

    def current(self, conflict: Conflict) -> Data | None:
        if conflict.kind is EntryKind.RESIDENT:
            row = self._conn.execute(
                f"SELECT {', '.join(RESIDENT_FIELDS)} FROM residents WHERE atena = ?",
                (conflict.key,),
            ).fetchone()
            if row is None:
                return None
            data = _wire(RESIDENT_FIELDS, row)
            data["mynumber"] = None
            return data
        record = self._record_id(conflict.key)
        row = self._conn.execute(
            f"SELECT {', '.join(_RECORD_COLUMNS)} FROM vaccinations WHERE id = ?", (record,)
        ).fetchone()
        if row is None:
            return None
        return {"uid": conflict.key, **_wire(_RECORD_COLUMNS, row)}

    def decide(
        self, conflict: Conflict, choice: Choice, user: str, reason: str, at: datetime
    ) -> None:
        local = self.current(conflict) if choice is Choice.LOCAL else None
        data = {
            "conflict": conflict.id,
            "choice": choice.value,
            "decided_by": user,
            "reason": reason,
            "data": dict(local) if local is not None else None,
        }
        self._conn.execute(
            "INSERT INTO outbox (uuid, kind, key, op, base_version, version, data, at) "
            "VALUES (?, 'decision', ?, 'decide', ?, ?, ?, ?)",
            (
                str(uuid.uuid4()),
                conflict.key,
                conflict.server_version,
                conflict.server_version + 1,
                _json(data),
                timestamp(at),
            ),
        )
        cursor = self._conn.execute(
            "UPDATE sync_conflicts SET status = 'decided', decided_by = ?, decided_at = ?, "
            "choice = ?, reason = ? WHERE id = ? AND status = 'open'",
            (user, timestamp(at), choice.value, reason, conflict.id),
        )
        if cursor.rowcount != 1:
            from core.errors import VersionConflict

            raise VersionConflict("sync.conflict_decided", conflict=conflict.id)

    def apply_central(self, conflict: Conflict) -> None:
        if conflict.server_data is None:
            return
        version = conflict.server_version
        data = conflict.server_data
        if conflict.kind is EntryKind.RESIDENT:
            names = [n for n in _RESIDENT_COLUMNS if n != "atena"]
            assignments = "".join(f"{n} = ?, " for n in names)
            self._conn.execute(
                f"UPDATE residents SET {assignments}version = ?, synced_version = ? "
                "WHERE atena = ?",
                (*(_stored(n, data.get(n)) for n in names), version, version, conflict.key),
            )
            return
        record = self._record_id(conflict.key)
        assignments = "".join(f"{n} = ?, " for n in _RECORD_COLUMNS)
        self._conn.execute(
            f"UPDATE vaccinations SET {assignments}version = ?, synced_version = ? WHERE id = ?",
            (*(_stored(n, data.get(n)) for n in _RECORD_COLUMNS), version, version, record),
        )

    # --- comparison ------------------------------------------------------------------------

    def totals(self) -> dict[str, TableTotal]:
        builder = TotalsBuilder()
        for table in COMPARED_TABLES:
            builder.totals[table] = TableTotal()
        builder.extend("residents", "resident", self._rows("residents", RESIDENT_FIELDS, ""))
        own = f"'{self._own}' || id"
        records = self._conn.execute(
            f"SELECT COALESCE(uid, {own}), {', '.join(_RECORD_COLUMNS)} FROM vaccinations "
            "WHERE status IN ('verified', 'voided')"
        )
        builder.extend("records", "record", _stream(RECORD_FIELDS, records))
        for kind, fields in MASTER_FIELDS.items():
            table = COMPARED_TABLE_OF[kind]
            builder.extend(table, kind.value, self._rows(table, fields, ""))
        builder.extend(
            "provisions", "provision", self._rows("provision_records", PROVISION_FIELDS, "")
        )
        builder.extend(
            "checkpoints",
            "checkpoint",
            # New checkpoints are made all the time; compare those the central system has
            # acknowledged (a contradicted one stays unacknowledged and shows as different).
            self._rows(
                "audit_checkpoints",
                CHECKPOINT_FIELDS,
                "WHERE terminal = ? AND terminal || ':' || seq IN "
                "(SELECT key FROM outbox WHERE kind = 'checkpoint' AND status = 'acked')",
                self._terminal,
            ),
        )
        return builder.totals

    def _rows(
        self, table: str, fields: Sequence[str], where: str, *params: Any
    ) -> Iterator[dict[str, Any]]:
        cursor = self._conn.execute(f"SELECT {', '.join(fields)} FROM {table} {where}", params)
        return _stream(fields, cursor)


COMPARED_TABLE_OF = {
    ChangeKind.VACCINE: "vaccines",
    ChangeKind.INSTITUTION: "institutions",
    ChangeKind.PHYSICIAN: "physicians",
}


def _stream(fields: Sequence[str], cursor: Any) -> Iterator[dict[str, Any]]:
    while rows := cursor.fetchmany(5000):
        for row in rows:
            yield _wire(fields, row)


# --- the status sidecar ------------------------------------------------------------------


def status_path(store: Path) -> Path:
    return store.with_name(store.name + STATUS_SUFFIX)


STATUS_KEYS = ("central", "last_sync_at", "last_error", "errors", CURSOR)


def status_snapshot(conn: Connection) -> dict[str, Any]:
    """What ``sesshu sync status`` shows without a login: counts, times and error keys only."""
    state = dict(
        conn.execute(
            f"SELECT key, value FROM sync_state WHERE key IN ({_marks(len(STATUS_KEYS))})",
            STATUS_KEYS,
        ).fetchall()
    )
    pending = conn.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]
    conflicts = conn.execute(
        "SELECT count(*) FROM sync_conflicts WHERE status = 'open'"
    ).fetchone()[0]
    held = conn.execute("SELECT count(*) FROM sync_held").fetchone()[0]
    return {
        "central": state.get("central", ""),
        "last_sync": state.get("last_sync_at"),
        "pending": int(pending),
        "conflicts": int(conflicts),
        "held": int(held),
        "errors": int(state.get("errors", "0")),
        "last_error": state.get("last_error", ""),
        "cursor": int(state.get(CURSOR, "0")),
    }


def refresh_status(store: Path, conn: Connection) -> None:
    """Rewrite the sidecar of an enrolled store (a store never enrolled leaves no file)."""
    path = status_path(store)
    enrolled = conn.execute("SELECT 1 FROM sync_state WHERE key = 'central'").fetchone()
    if enrolled is None and not path.exists():
        return
    data = json.dumps(status_snapshot(conn), ensure_ascii=False, indent=1).encode()
    if not path.exists() or path.read_bytes() != data:
        atomic_write(path, data, mode=0o600)


def read_status(store: Path) -> dict[str, Any] | None:
    path = status_path(store)
    if not path.exists():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded

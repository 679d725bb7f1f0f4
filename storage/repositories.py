"""SQL implementations of core's repositories (users, audit trail, settings)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from core.accounts import Account
from core.audit import (
    CHECKPOINT_INTERVAL,
    GENESIS_HASH,
    AuditEvent,
    AuditRecord,
    Checkpoint,
    canonical_json,
    checkpoint_message,
    event_digest,
)
from core.clock import Clock, parse_timestamp, timestamp
from core.errors import VersionConflict
from core.ports import AuditFilter, AuditReview
from core.roles import Role
from storage.database_types import Connection

Signer = Callable[[bytes], tuple[str, str]]  # message → (signature hex, public key hex)

_USER_COLUMNS = (
    "name, display_name, roles, mynumber_access, contractor, valid_from, valid_to, "
    "password_changed_at, must_change_password, locked, failed_logins, created_at, "
    "created_by, version"
)


def _user_row(account: Account) -> tuple[Any, ...]:
    return (
        account.name,
        account.display_name,
        json.dumps(sorted(r.value for r in account.roles)),
        int(account.mynumber_access),
        int(account.contractor),
        account.valid_from.isoformat(),
        account.valid_to.isoformat() if account.valid_to else None,
        timestamp(account.password_changed_at),
        int(account.must_change_password),
        int(account.locked),
        account.failed_logins,
        timestamp(account.created_at),
        account.created_by,
        account.version,
    )


def _account(row: tuple[Any, ...]) -> Account:
    return Account(
        name=row[0],
        display_name=row[1],
        roles=frozenset(Role(r) for r in json.loads(row[2])),
        mynumber_access=bool(row[3]),
        contractor=bool(row[4]),
        valid_from=date.fromisoformat(row[5]),
        valid_to=date.fromisoformat(row[6]) if row[6] else None,
        password_changed_at=parse_timestamp(row[7]),
        must_change_password=bool(row[8]),
        locked=bool(row[9]),
        failed_logins=row[10],
        created_at=parse_timestamp(row[11]),
        created_by=row[12],
        version=row[13],
    )


class SqlUsers:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, name: str) -> Account | None:
        row = self._conn.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)
        ).fetchone()
        return _account(row) if row else None

    def all(self) -> list[Account]:
        rows = self._conn.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")
        return [_account(row) for row in rows]

    def add(self, account: Account) -> None:
        self._conn.execute(
            f"INSERT INTO users ({_USER_COLUMNS}) VALUES ({', '.join('?' * 14)})",
            _user_row(account),
        )

    def update(self, account: Account) -> Account:
        row = _user_row(account)
        assignments = ", ".join(f"{c.strip()} = ?" for c in _USER_COLUMNS.split(",")[1:-1])
        cursor = self._conn.execute(
            f"UPDATE users SET {assignments}, version = version + 1 WHERE name = ? AND version = ?",
            (*row[1:-1], account.name, account.version),
        )
        if cursor.rowcount != 1:
            raise VersionConflict("store.version_conflict", target=f"user:{account.name}")
        stored = self.get(account.name)
        assert stored is not None
        return stored


_AUDIT_COLUMNS = "seq, at, terminal, user, action, target, detail, prev_hash, hash"


def _record(row: tuple[Any, ...]) -> AuditRecord:
    return AuditRecord(*row)


class SqlAudit:
    """The audit chain. Appends are only allowed inside a write transaction."""

    def __init__(
        self,
        conn: Connection,
        terminal: str,
        clock: Clock,
        signer: Signer,
        *,
        writable: bool,
    ) -> None:
        self._conn = conn
        self._terminal = terminal
        self._clock = clock
        self._signer = signer
        self._writable = writable

    def _require_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("audit append outside a write transaction")

    def head(self) -> tuple[int, str] | None:
        row = self._conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        return (row[0], row[1]) if row else None

    def append(self, event: AuditEvent, at: datetime | None = None) -> int:
        self._require_writable()
        seq, prev = self.head() or (0, GENESIS_HASH)
        seq += 1
        when = timestamp(at or self._clock.now())
        detail = canonical_json(event.detail)
        digest = event_digest(
            prev, seq, when, self._terminal, event.user, event.action, event.target, detail
        )
        self._conn.execute(
            f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                when,
                self._terminal,
                event.user,
                event.action,
                event.target,
                detail,
                prev,
                digest,
            ),
        )
        if seq % CHECKPOINT_INTERVAL == 0:
            self._sign(seq, digest)
        return seq

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head unless it is signed already."""
        self._require_writable()
        head = self.head()
        if head is None:
            return None
        existing = self._conn.execute(
            "SELECT seq FROM audit_checkpoints WHERE seq = ?", (head[0],)
        ).fetchone()
        if existing is None:
            self._sign(*head)
        return self.checkpoints()[-1]

    def _sign(self, seq: int, digest: str) -> None:
        at = timestamp(self._clock.now())
        signature, public_key = self._signer(checkpoint_message(self._terminal, seq, digest, at))
        self._conn.execute(
            "INSERT INTO audit_checkpoints (seq, hash, at, terminal, signature, public_key) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (seq, digest, at, self._terminal, signature, public_key),
        )

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._conn.execute(
            "SELECT seq, hash, at, terminal, signature, public_key FROM audit_checkpoints "
            "ORDER BY seq"
        )
        return [Checkpoint(*row) for row in rows]

    def records(self, since_seq: int = 1) -> Iterator[AuditRecord]:
        cursor = self._conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE seq >= ? ORDER BY seq", (since_seq,)
        )
        while rows := cursor.fetchmany(2000):
            yield from (_record(row) for row in rows)

    def between(self, start: datetime, end: datetime) -> Iterator[AuditRecord]:
        cursor = self._conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE at >= ? AND at < ? ORDER BY seq",
            (timestamp(start), timestamp(end)),
        )
        while rows := cursor.fetchmany(2000):
            yield from (_record(row) for row in rows)

    def find(self, query: AuditFilter) -> list[AuditRecord]:
        clauses: list[str] = []
        params: list[object] = []
        if query.user:
            clauses.append("user = ?")
            params.append(query.user)
        if query.action:
            clauses.append("action LIKE ? ESCAPE '\\'")
            params.append(_like_escape(query.action) + "%")
        if query.target:
            clauses.append("target LIKE ? ESCAPE '\\'")
            params.append("%" + _like_escape(query.target) + "%")
        if query.since:
            clauses.append("at >= ?")
            params.append(query.since.isoformat())
        if query.until:
            clauses.append("at < ?")
            params.append((query.until + timedelta(days=1)).isoformat())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit {where} ORDER BY seq DESC LIMIT ?",
            (*params, query.limit),
        )
        return [_record(row) for row in rows]

    def add_review(self, review: AuditReview) -> None:
        self._require_writable()
        self._conn.execute(
            "INSERT INTO audit_reviews (month, reviewer, at, note) VALUES (?, ?, ?, ?)",
            (review.month, review.reviewer, review.at, review.note),
        )

    def reviews(self, month: str) -> list[AuditReview]:
        rows = self._conn.execute(
            "SELECT month, reviewer, at, note FROM audit_reviews WHERE month = ? ORDER BY id",
            (month,),
        )
        return [AuditReview(*row) for row in rows]

    def mark_ingested(self, pending_id: str) -> bool:
        """Record a pending event as joined; False if it had joined before."""
        self._require_writable()
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO pending_ingested (id, at) VALUES (?, ?)",
            (pending_id, timestamp(self._clock.now())),
        )
        return bool(cursor.rowcount == 1)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlSettings:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def put(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def all(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM settings").fetchall())

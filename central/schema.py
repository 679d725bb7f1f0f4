"""The central database's schema, as migrations registered in code (one list for both backends).

DDL is written once; ``{serial}`` becomes ``INTEGER PRIMARY KEY`` on SQLite and ``BIGSERIAL
PRIMARY KEY`` on PostgreSQL, ``{int}`` becomes ``INTEGER``/``BIGINT``.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY", "int": "INTEGER"},
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "int": "BIGINT"},
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]

    def for_backend(self, backend: str) -> list[str]:
        return [statement.format(**TYPES[backend]) for statement in self.statements]


MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS central_migrations (
    version {int} PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""

INITIAL = Migration(
    1,
    "initial",
    (
        """CREATE TABLE terminals (
            name TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('enrolled', 'revoked')),
            cert_fingerprint TEXT,
            cert_serial TEXT,
            signing_public_key TEXT NOT NULL,
            age_recipient TEXT NOT NULL,
            enrolled_at TEXT NOT NULL,
            revoked_at TEXT,
            last_seen TEXT,
            last_push TEXT
        )""",
        "CREATE UNIQUE INDEX terminals_fingerprint ON terminals (cert_fingerprint)",
        """CREATE TABLE enrollment_tokens (
            secret_hash TEXT PRIMARY KEY,
            terminal TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        )""",
        """CREATE TABLE received (
            uuid TEXT PRIMARY KEY,
            terminal TEXT NOT NULL,
            seq {int} NOT NULL,
            status TEXT NOT NULL,
            conflict {int},
            reason TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        """CREATE TABLE entities (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            version {int} NOT NULL,
            data TEXT NOT NULL,
            origin TEXT NOT NULL,
            PRIMARY KEY (kind, key)
        )""",
        """CREATE TABLE changes (
            seq {serial},
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            version {int} NOT NULL,
            data TEXT NOT NULL,
            origin TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
        """CREATE TABLE conflicts (
            id {serial},
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            terminal TEXT NOT NULL,
            entry_uuid TEXT NOT NULL,
            base_version {int} NOT NULL,
            server_version {int} NOT NULL,
            server_data TEXT,
            client_data TEXT NOT NULL,
            client_user TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'decided')),
            opened_at TEXT NOT NULL,
            decided_by TEXT,
            decided_at TEXT,
            choice TEXT,
            reason TEXT
        )""",
        "CREATE INDEX conflicts_open ON conflicts (terminal, kind, key, status)",
        """CREATE TABLE checkpoints (
            terminal TEXT NOT NULL,
            seq {int} NOT NULL,
            hash TEXT NOT NULL,
            at TEXT NOT NULL,
            signature TEXT NOT NULL,
            public_key TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (terminal, seq)
        )""",
        """CREATE TABLE provisions (
            terminal TEXT NOT NULL,
            key TEXT NOT NULL,
            data TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (terminal, key)
        )""",
        """CREATE TABLE audit (
            seq {int} PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
    ),
)

PUSH_ORDER = Migration(
    2,
    "push_order",
    ("ALTER TABLE terminals ADD COLUMN pushed_seq {int}",),
)

MIGRATIONS: tuple[Migration, ...] = (INITIAL, PUSH_ORDER)

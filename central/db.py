"""One small database class over DB-API for both backends, chosen by URL.

- ``sqlite:///path`` (``sqlite:////abs/path``): SQLCipher with a raw 256-bit key, so personal
  data stays encrypted at rest; WAL, foreign keys, one connection.
- ``postgresql://…[?schema=NAME]``: psycopg 3; ``schema`` is created if missing and put first on
  the search path (each test run uses its own).

SQL is written once with ``?`` placeholders; they become ``%s`` for psycopg. Every use of the
connection holds one lock, so the ASGI threadpool never interleaves two transactions.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import sqlcipher3

from central.config import POSTGRES_PREFIXES, SQLITE_PREFIX, check_db_url
from central.schema import MIGRATIONS, MIGRATIONS_TABLE
from core.clock import timestamp
from core.errors import StoreError
from storage.database import bind_none_quickly

Backend = Literal["sqlite", "postgresql"]
Row = tuple[Any, ...]
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Serialises every transaction that appends changes, so change seqs commit in order.
CHANGES_LOCK = 0x5E55_4C0C
DB_ERRORS: tuple[type[Exception], ...] = (sqlcipher3.Error, psycopg.Error)


def split_postgres_url(url: str) -> tuple[str, str | None]:
    """The connection URL without ``schema=``, and the schema name if one was given."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for name, value in query if name == "schema"), None)
    rest = [(name, value) for name, value in query if name != "schema"]
    if schema is not None and not SCHEMA_NAME.match(schema):
        raise StoreError("central.schema_name")
    return urlunsplit(parts._replace(query=urlencode(rest))), schema


def sqlite_path(url: str) -> Path:
    return Path(url[len(SQLITE_PREFIX) :])


class Database:
    """A connection, its backend, and the lock every statement is run under."""

    def __init__(self, conn: Any, backend: Backend) -> None:
        self._conn = conn
        self.backend: Backend = backend
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def open(cls, url: str, sqlite_key: bytes | None = None) -> Database:
        """Connect and apply every pending migration."""
        check_db_url(url)
        if url.startswith(POSTGRES_PREFIXES):
            database = cls._open_postgres(url)
        else:
            if sqlite_key is None or len(sqlite_key) != 32:
                raise StoreError("central.sqlite_key")
            database = cls._open_sqlite(sqlite_path(url), sqlite_key)
        try:
            database.migrate()
        except BaseException:
            database.close()
            raise
        return database

    @classmethod
    def _open_sqlite(cls, path: Path, key: bytes) -> Database:
        bind_none_quickly()
        conn = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            conn.execute("PRAGMA cipher_compatibility = 4")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            for pragma in (
                "foreign_keys = ON",
                "temp_store = MEMORY",
                "secure_delete = ON",
                "busy_timeout = 15000",
                "synchronous = NORMAL",
                "cache_size = -65536",
            ):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlcipher3.DatabaseError as error:
            conn.close()
            raise StoreError("central.db_unreadable", path=str(path)) from error
        return cls(conn, "sqlite")

    @classmethod
    def _open_postgres(cls, url: str) -> Database:
        conninfo, schema = split_postgres_url(url)
        try:
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.OperationalError as error:
            raise StoreError("central.db_unreachable") from error
        if schema is not None:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'SET search_path TO "{schema}"')
        return cls(conn, "postgresql")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _sql(self, sql: str) -> str:
        if self.backend == "postgresql":
            return sql.replace("%", "%%").replace("?", "%s")
        return sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._lock:
            self._conn.execute(self._sql(sql), tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return [tuple(row) for row in self._conn.execute(self._sql(sql), tuple(params))]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self._lock:
            row = self._conn.execute(self._sql(sql), tuple(params)).fetchone()
            return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return row[0] if row is not None else None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(row) for row in rows]
        if not batch:
            return
        with self._lock:
            if self.backend == "postgresql":
                with self._conn.cursor() as cursor:
                    cursor.executemany(self._sql(sql), batch)
            else:
                self._conn.executemany(sql, batch)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Bulk insert: ``COPY … FROM STDIN`` on PostgreSQL, ``executemany`` on SQLite."""
        names = ", ".join(columns)
        if self.backend != "postgresql":
            self.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders(len(columns))})", rows
            )
            return
        with (
            self._lock,
            self._conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    @contextlib.contextmanager
    def transaction(self, *, changes: bool = False) -> Iterator[None]:
        """One transaction (nested calls join the outer one). ``changes=True`` also takes the
        lock that keeps change seqs in commit order on PostgreSQL (SQLite's writer lock does)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE" if self.backend == "sqlite" else "BEGIN")
            self._depth = 1
            try:
                if changes and self.backend == "postgresql":
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGES_LOCK,))
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def migrate(self, now: datetime | None = None) -> list[int]:
        """Apply every migration not yet recorded; the versions applied."""
        from core.clock import SystemClock

        at = timestamp(now or SystemClock().now())
        applied: list[int] = []
        with self.transaction(changes=True):
            self.execute(MIGRATIONS_TABLE.format(int="BIGINT" if self.is_postgres else "INTEGER"))
            done = {int(row[0]) for row in self.query("SELECT version FROM central_migrations")}
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.for_backend(self.backend):
                    self.execute(statement)
                self.execute(
                    "INSERT INTO central_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, at),
                )
                applied.append(migration.version)
        return applied

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"


def placeholders(count: int) -> str:
    return ", ".join("?" * count)

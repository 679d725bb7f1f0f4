"""Whole tables as CSV streams for an export payload, read straight from the store.

Rows stream from SQLite into the encryptor: no plaintext file is ever written, and memory
stays bounded by one fetch of rows. The same generator gives the content hash that an
approval is bound to, so a change in the data after approval changes the hash.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from core.exports import PayloadSpec
from core.migration.schema import TABLES as MIGRATION_TABLES
from storage.database_types import Connection
from storage.open_layout import Counted, datapackage
from storage.open_layout import csv_chunks as csv_chunks_of

FETCH = 2000
TABLES: dict[str, tuple[str, ...]] = {
    "residents": (
        "atena", "mynumber", "name", "kana", "alias_name", "alias_kana", "birth", "sex",
        "postal", "address", "household", "relation", "status", "status_date", "status_reason",
        "dv_flag", "no_auto_answer", "guardian",
    ),
    "vaccinations": (
        "id", "atena", "vaccine", "dose", "date", "date_unknown", "amount", "maker", "lot",
        "institution", "physician", "venue", "copay", "note", "status", "source", "keyed_by",
        "verified_by", "created_at", "void_reason",
    ),
}  # fmt: skip
ORDER = {"residents": "id", "vaccinations": "id"}


def csv_chunks(conn: Connection, table: str, columns: tuple[str, ...]) -> Iterator[bytes]:
    """UTF-8 CSV with a header row, in stable order, a few thousand rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {ORDER[table]}")
    while True:
        rows: list[Any] = cursor.fetchmany(FETCH)
        if not rows:
            break
        writer.writerows(rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


class ChunkReader(io.RawIOBase):
    """A read-only binary stream over an iterator of chunks (for the streaming encryptor)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def table_stream(conn: Connection, table: str) -> Callable[[], io.BufferedReader]:
    """An opener for PayloadFile: each call streams the table afresh."""

    def open_stream() -> io.BufferedReader:
        return io.BufferedReader(ChunkReader(csv_chunks(conn, table, TABLES[table])), 1 << 20)

    return open_stream


def content_hash(conn: Connection, tables: tuple[str, ...] = tuple(TABLES)) -> str:
    """SHA-256 over every table's CSV, in order: what an approval is bound to."""
    digest = hashlib.sha256()
    for table in tables:
        digest.update(f"{table}\n".encode())
        for chunk in csv_chunks(conn, table, TABLES[table]):
            digest.update(chunk)
    return digest.hexdigest()


# Items a provision may carry, and the resident columns each one puts in persons.csv.
ITEM_COLUMNS: dict[str, tuple[str, ...]] = {
    "atena": ("atena",),
    "name": ("name",),
    "kana": ("kana",),
    "birth": ("birth",),
    "sex": ("sex",),
    "address": ("postal", "address"),
    "mynumber": ("mynumber",),
}
HISTORY_COLUMNS = ("atena", "vaccine", "dose", "date", "lot", "institution")
PERSONS_PER_QUERY = 500


def person_columns(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(column for item in items for column in ITEM_COLUMNS.get(item, ()))


def _person_chunks(
    conn: Connection, persons: tuple[str, ...], columns: tuple[str, ...], sql: str
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    ordered = sorted(persons)
    for start in range(0, len(ordered), PERSONS_PER_QUERY):
        part = ordered[start : start + PERSONS_PER_QUERY]
        marks = ", ".join("?" * len(part))
        writer.writerows(conn.execute(sql.format(marks=marks), part).fetchall())
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def spec_streams(conn: Connection, spec: PayloadSpec) -> dict[str, Callable[[], Iterator[bytes]]]:
    """Each payload file of ``spec`` by name, as a function that streams its CSV afresh."""
    streams: dict[str, Callable[[], Iterator[bytes]]] = {}
    opened = [t.removeprefix(OPEN) for t in spec.tables if t.startswith(OPEN)]
    for table in spec.tables:
        if table.startswith(OPEN):
            continue
        if table not in TABLES:
            raise ValueError(f"not an exportable table: {table}")
        streams[f"{table}.csv"] = functools.partial(csv_chunks, conn, table, TABLES[table])
    for name in opened:
        streams[f"{name}.csv"] = functools.partial(_open_chunks, conn, name, None)
    if opened:
        streams["datapackage.json"] = functools.partial(_descriptor_chunks, conn, tuple(opened))
    if spec.persons:
        columns = person_columns(spec.items)
        persons_sql = (
            f"SELECT {', '.join(columns)} FROM residents WHERE atena IN ({{marks}}) ORDER BY atena"
        )
        streams["persons.csv"] = functools.partial(
            _person_chunks, conn, spec.persons, columns, persons_sql
        )
        if "history" in spec.items:
            history_sql = (
                f"SELECT {', '.join(HISTORY_COLUMNS)} FROM vaccinations WHERE atena IN ({{marks}}) "
                "AND status = 'verified' ORDER BY atena, date, id"
            )
            streams["history.csv"] = functools.partial(
                _person_chunks, conn, spec.persons, HISTORY_COLUMNS, history_sql
            )
    return streams


OPEN = "open:"  # a table in the open layout of a migration package (core.migration.schema)


def _open_chunks(conn: Connection, table: str, counted: Counted | None) -> Iterator[bytes]:
    from storage.migration_store import open_rows

    columns = MIGRATION_TABLES[table].names
    return csv_chunks_of(columns, open_rows(conn, table, columns), counted or Counted())


def _descriptor_chunks(conn: Connection, tables: tuple[str, ...]) -> Iterator[bytes]:
    """``datapackage.json``: the CSVs are streamed once more to size and hash them."""
    files = []
    for table in tables:
        counted = Counted()
        for _ in _open_chunks(conn, table, counted):
            pass
        files.append((f"{table}.csv", table, counted))
    codes = {"vaccine": [r[0] for r in conn.execute("SELECT code FROM vaccines ORDER BY code")]}
    descriptor = datapackage(files, codes)
    yield json.dumps(descriptor, ensure_ascii=False, indent=1).encode()


def spec_hash(conn: Connection, spec: PayloadSpec) -> str:
    """SHA-256 over every payload file of ``spec``, by name, in order."""
    digest = hashlib.sha256()
    for name, stream in spec_streams(conn, spec).items():
        digest.update(f"{name}\n".encode())
        for chunk in stream():
            digest.update(chunk)
    return digest.hexdigest()


def hashed(name: str, chunks: Iterator[bytes], digest: Any) -> Iterator[bytes]:
    """The chunks unchanged, fed to ``digest`` as ``spec_hash`` does: what was written is known."""
    digest.update(f"{name}\n".encode())
    for chunk in chunks:
        digest.update(chunk)
        yield chunk

"""The open layout as bytes: UTF-8 CSV chunks of a table, and the Frictionless Data Package
descriptor of such files (types, required fields, code lists, size and SHA-256 of each).

Used by ``sesshu migrate export`` and by a migration export on a medium, so both write the
same files the same way.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.migration.convert import Value
from core.migration.schema import CODE_LISTS, TABLES, Kind

_TYPES = {
    Kind.TEXT: "string",
    Kind.KANA: "string",
    Kind.DATE: "date",
    Kind.INT: "integer",
    Kind.FLAG: "integer",
    Kind.CODE: "string",
    Kind.ATENA: "string",
    Kind.MYNUMBER: "string",
}


@dataclass
class Counted:
    """Rows, bytes and SHA-256 of a file as it is produced."""

    rows: int = 0
    bytes: int = 0
    digest: Any = field(default_factory=hashlib.sha256)


def csv_chunks(
    columns: Sequence[str], batches: Iterator[list[tuple[Value, ...]]], counted: Counted
) -> Iterator[bytes]:
    """UTF-8 CSV with a header row; counts rows and hashes what it yields."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for batch in batches:
        writer.writerows(batch)
        counted.rows += len(batch)
        chunk = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        counted.bytes += len(chunk)
        counted.digest.update(chunk)
        yield chunk
    tail = buffer.getvalue().encode()
    if tail:
        counted.bytes += len(tail)
        counted.digest.update(tail)
        yield tail


def datapackage(
    files: Sequence[tuple[str, str, Counted]], codes: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """The Frictionless descriptor of the open layout's CSV files."""
    lists = {name: list(values) for name, values in CODE_LISTS.items()} | {
        name: sorted(values) for name, values in codes.items()
    }
    resources = []
    for name, table_name, counted in files:
        table = TABLES[table_name]
        fields = []
        for column in table.columns:
            described: dict[str, Any] = {"name": column.name, "type": _TYPES[column.kind]}
            constraints: dict[str, Any] = {}
            if column.required:
                constraints["required"] = True
            if column.codes and column.codes in lists:
                constraints["enum"] = lists[column.codes]
            if column.kind is Kind.FLAG:
                constraints["enum"] = [0, 1]
            if column.kind is Kind.MYNUMBER:
                constraints["pattern"] = "[0-9]{12}"
            if constraints:
                described["constraints"] = constraints
            fields.append(described)
        schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
        if table.name == "residents":
            schema["primaryKey"] = ["atena"]
        else:
            schema["foreignKeys"] = [
                {"fields": ["atena"], "reference": {"resource": "residents", "fields": ["atena"]}}
            ]
        resources.append(
            {
                "name": table.name,
                "path": name,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {"delimiter": ",", "header": True, "lineTerminator": "\r\n"},
                "bytes": counted.bytes,
                "hash": f"sha256:{counted.digest.hexdigest()}",
                "rows": counted.rows,
                "schema": schema,
            }
        )
    return {
        "profile": "tabular-data-package",
        "name": "sesshu-migration",
        "title": "sesshu 予防接種記録 移行データ (migration package)",
        "resources": resources,
    }

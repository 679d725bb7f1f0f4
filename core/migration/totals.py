"""Reconciliation totals (照合用の集計): per table, the row count; per field, how many values
are empty, an order-independent hash total and, for numeric fields, the sum.

A hash total is the sum, modulo 2**64, of the 64-bit xxh3 hash of each value's text (``None``
hashes as its own marker). Source and target are totalled the same way from the same stored
form, so any value lost, added or changed shows as a different total for that field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import xxhash

from core.migration.schema import TABLES

_MASK = 2**64 - 1
_hash = xxhash.xxh3_64_intdigest
_NONE = _hash(b"None")  # what str(None) hashes to: empty cells count in the total too


@dataclass
class FieldTotal:
    empty: int = 0
    hash_total: int = 0
    sum: int | None = None

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"empty": self.empty, "hash_total": f"{self.hash_total:016x}"}
        if self.sum is not None:
            document["sum"] = self.sum
        return document


@dataclass
class TableTotals:
    columns: tuple[str, ...]
    rows: int = 0
    fields: dict[str, FieldTotal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.columns:
            self.fields.setdefault(name, FieldTotal())

    def add_columns(self, count: int, columns: Sequence[Sequence[object]]) -> None:
        """Add ``count`` rows given column by column (in ``self.columns`` order)."""
        self.rows += count
        for name, values in zip(self.columns, columns, strict=True):
            total = self.fields[name]
            empty = values.count(None)
            total.empty += empty
            hashed = (
                empty * _NONE  # a column left empty costs no hashing
                if empty == len(values)
                else sum(map(_hash, map(str.encode, map(str, values))))
            )
            total.hash_total = (total.hash_total + hashed) & _MASK
            if _numeric(name, self.columns):
                total.sum = (total.sum or 0) + sum(v for v in values if isinstance(v, int))

    def add_rows(self, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            self.add_columns(len(rows), list(zip(*rows, strict=True)))

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "fields": {n: t.as_dict() for n, t in self.fields.items()}}


_NUMERIC: dict[tuple[str, ...], frozenset[str]] = {}


def _numeric(name: str, columns: tuple[str, ...]) -> bool:
    known = _NUMERIC.get(columns)
    if known is None:
        known = frozenset(
            c.name for t in TABLES.values() for c in t.columns if c.numeric and c.name in columns
        )
        _NUMERIC[columns] = known
    return name in known


@dataclass(frozen=True)
class FieldDifference:
    table: str
    field: str
    source: Mapping[str, Any]
    target: Mapping[str, Any]


def differences(
    source: Mapping[str, TableTotals], target: Mapping[str, TableTotals]
) -> list[dict[str, Any]]:
    """Every count or field total that differs, as report entries."""
    found: list[dict[str, Any]] = []
    for table, ours in source.items():
        theirs = target.get(table)
        if theirs is None:
            found.append({"table": table, "field": None, "source": ours.rows, "target": None})
            continue
        if ours.rows != theirs.rows:
            found.append(
                {"table": table, "field": None, "source": ours.rows, "target": theirs.rows}
            )
        for name, total in ours.fields.items():
            other = theirs.fields.get(name)
            if other is None or other.as_dict() != total.as_dict():
                found.append(
                    {
                        "table": table,
                        "field": name,
                        "source": total.as_dict(),
                        "target": other.as_dict() if other else None,
                    }
                )
    return found


def merged(parts: Iterable[Mapping[str, TableTotals]]) -> dict[str, TableTotals]:
    """Totals of several files of the same tables, added up."""
    result: dict[str, TableTotals] = {}
    for part in parts:
        for table, totals in part.items():
            into = result.get(table)
            if into is None:
                result[table] = totals
                continue
            into.rows += totals.rows
            for name, total in totals.fields.items():
                mine = into.fields.setdefault(name, FieldTotal())
                mine.empty += total.empty
                mine.hash_total = (mine.hash_total + total.hash_total) & _MASK
                if total.sum is not None:
                    mine.sum = (mine.sum or 0) + total.sum
    return result

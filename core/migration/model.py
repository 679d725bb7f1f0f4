"""Migration runs and the rules that look across rows: duplicate keys, unknown 宛名番号 and a
個人番号 held by two active residents.

A load checks each batch against the store (what earlier batches and earlier runs left there);
a dry run writes nothing, so it keeps what it has seen of the source in memory instead: the
宛名番号 and 個人番号 of the residents file (a million short strings), and for every other key
a 64-bit hash and a line number in compact arrays, sorted out at the end.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from operator import itemgetter

from core.migration.convert import Converted, RowIssue, Value
from core.migration.layout import FileSpec, Layout
from core.migration.schema import TABLES, Table

ISSUES_KEPT = 10_000  # per run, in the store; the counts are always complete


class RunStatus(StrEnum):
    RUNNING = "running"
    LOADED = "loaded"
    LOADED_WITH_ERRORS = "loaded_with_errors"
    APPROVED = "approved"


@dataclass(frozen=True)
class Run:
    id: int
    source: str
    identity: str
    layout: str
    layout_digest: str
    started_by: str
    started_at: datetime
    status: RunStatus
    finished_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    reconciliation: int | None = None  # the report the cut-over was approved on


@dataclass
class FileProgress:
    file: str
    table: str
    records: int = 0  # records read (what a resumed run skips)
    loaded: int = 0
    skipped: int = 0  # already in the store from an earlier run
    errors: int = 0  # records not loaded because of a problem
    done: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "table": self.table,
            "records": self.records,
            "loaded": self.loaded,
            "skipped": self.skipped,
            "errors": self.errors,
            "done": self.done,
        }


@dataclass(frozen=True)
class SourcePlan:
    """What an import or reconciliation reads: the files in load order, under one layout."""

    source: str  # as the user named it
    identity: str  # SHA-256 over the layout and each file's name, size and first bytes
    layout: Layout
    files: tuple[FileSpec, ...]


@dataclass(frozen=True)
class Tick:
    """Progress of one file, for a progress bar: records so far, of an estimated total."""

    file: str
    table: str
    records: int
    estimated: int
    loaded: int
    errors: int


@dataclass(frozen=True)
class Lookups:
    """What the store holds for one batch's keys."""

    existing: Mapping[tuple[Value, ...], int | None]  # key → run that loaded it (None: not one)
    residents: frozenset[str]  # the batch's 宛名番号 known to the store
    mynumbers: frozenset[str] = frozenset()  # 個人番号 of the batch held by an active resident


@dataclass
class Screened:
    lines: list[int]
    rows: list[tuple[Value, ...]]
    skipped: int
    issues: list[RowIssue]


@dataclass
class SourceMemory:
    """A dry run's memory of the source: residents seen, and every other key as a hash."""

    residents: set[str] = field(default_factory=set)
    mynumbers: set[str] = field(default_factory=set)
    _hashes: list[array[int]] = field(default_factory=lambda: [array("q") for _ in range(256)])
    _lines: list[array[int]] = field(default_factory=lambda: [array("q") for _ in range(256)])
    _files: dict[int, str] = field(default_factory=dict)

    def remember(
        self, file_number: int, file: str, table: str, line: int, key: tuple[Value, ...]
    ) -> None:
        self._files[file_number] = file
        digest = hash((table, key))  # a process-salted hash: it lives only as long as the run
        bucket = digest & 0xFF
        self._hashes[bucket].append(digest)
        self._lines[bucket].append((file_number << 40) | line)

    def duplicates(self) -> list[RowIssue]:
        """The second and later lines of every key seen more than once."""
        found: list[RowIssue] = []
        for hashes, lines in zip(self._hashes, self._lines, strict=True):
            first: dict[int, int] = {}
            for digest, where in zip(hashes, lines, strict=True):
                if digest in first:
                    found.append(
                        RowIssue(
                            self._files[where >> 40],
                            where & (2**40 - 1),
                            "key",
                            f"first: line {first[digest] & (2**40 - 1)}",
                            "duplicate_key",
                        )
                    )
                else:
                    first[digest] = where
        return found


def screen(
    spec: FileSpec,
    key: Sequence[str],
    batch: Converted,
    run: int | None,
    lookups: Lookups,
    memory: SourceMemory | None = None,
    file_number: int = 0,
) -> Screened:
    """Keep the rows that may be loaded; report the rest.

    ``run`` is the load's run (None in a dry run, which passes ``memory`` instead). A key
    already in the store from another run is skipped (a re-run loads nothing twice); one loaded
    by this run, or seen earlier in this batch, is a duplicate in the source.
    """
    table = TABLES[spec.table]
    columns = spec.columns
    positions = [columns.index(name) for name in key]
    atena_at = columns.index("atena") if "atena" in columns else None
    mynumber_at = columns.index("mynumber") if "mynumber" in columns else None
    status_at = (
        columns.index("status") if table.name == "residents" and "status" in columns else None
    )
    if memory is None and _all_clear(table, batch, positions, atena_at, mynumber_at, lookups):
        return Screened(list(batch.lines), list(batch.rows), 0, list(batch.issues))
    seen: set[tuple[Value, ...]] = set()
    numbers: set[str] = set()
    result = Screened([], [], 0, list(batch.issues))
    for line, row in zip(batch.lines, batch.rows, strict=True):
        problem: tuple[str, str, str] | None = None
        row_key = tuple(row[p] for p in positions)
        loaded_by = lookups.existing.get(row_key, -1)
        if memory is None and (row_key in seen or (run is not None and loaded_by == run)):
            problem = ("key", _text(row_key), "duplicate_key")
        elif loaded_by != -1:
            result.skipped += 1
            seen.add(row_key)
            continue
        elif table.belongs_to_resident and atena_at is not None:
            atena = row[atena_at]
            if atena not in lookups.residents and (memory is None or atena not in memory.residents):
                problem = ("atena", str(atena), "unknown_atena")
        if problem is None and mynumber_at is not None and row[mynumber_at] is not None:
            number = str(row[mynumber_at])
            active = status_at is None or row[status_at] == "resident"
            held = number in numbers or number in lookups.mynumbers
            if memory is not None:
                held = held or number in memory.mynumbers
            if active and held:
                problem = ("mynumber", "************", "duplicate_mynumber")
            elif active:
                numbers.add(number)
        if problem is not None:
            result.issues.append(RowIssue(spec.path, line, *problem))
            continue
        seen.add(row_key)
        if memory is not None:
            memory.remember(file_number, spec.path, table.name, line, row_key)
            if table.name == "residents" and atena_at is not None:
                memory.residents.add(str(row[atena_at]))
        result.lines.append(line)
        result.rows.append(row)
    if memory is not None:
        memory.mynumbers |= numbers
    result.issues.sort(key=lambda i: i.line)
    return result


def _all_clear(
    table: Table,
    batch: Converted,
    positions: Sequence[int],
    atena_at: int | None,
    mynumber_at: int | None,
    lookups: Lookups,
) -> bool:
    """The common case of a load, checked set-wise: nothing here yet, no key twice, every
    resident known, no 個人番号 twice (then ``screen`` need not look row by row)."""
    rows = batch.rows
    getter = itemgetter(*positions)
    keys = [(k,) for k in map(getter, rows)] if len(positions) == 1 else list(map(getter, rows))
    if len(set(keys)) != len(keys) or not lookups.existing.keys().isdisjoint(keys):
        return False
    known = lookups.residents
    if (
        table.belongs_to_resident
        and atena_at is not None
        and not set(map(itemgetter(atena_at), rows)) <= known
    ):
        return False
    if mynumber_at is not None:
        numbers = [r[mynumber_at] for r in rows if r[mynumber_at] is not None]
        unique = set(numbers)
        if len(unique) != len(numbers) or not lookups.mynumbers.isdisjoint(unique):
            return False
    return True


def _text(key: tuple[Value, ...]) -> str:
    return "|".join("" if v is None else str(v) for v in key)

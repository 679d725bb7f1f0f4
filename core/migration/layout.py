"""Layout files (レイアウト定義): how a legacy file's fields map onto sesshu's tables.

A layout is TOML (parsed with ``tomllib`` at the edge and handed here as a dict)::

    name = "旧システムA 住民・接種 (固定長 CP932)"

    [[files]]
    table = "residents"          # one of core.migration.schema.TABLES
    path = "JUMIN.DAT"           # relative to the source directory
    format = "fixed"             # "fixed" or "csv"
    encoding = "cp932"           # "cp932", "utf-8", "utf-8-sig" or "auto" (BOM, UTF-8, else CP932)
    record_length = 120          # fixed: bytes per record, line end excluded
    line_end = "crlf"            # fixed: "crlf", "lf" or "none"

    [[files.fields]]
    column = "atena"             # the sesshu column it fills
    start = 1                    # fixed: first byte, counted from 1
    length = 10                  # fixed: bytes
    # header = "宛名番号"         # csv: the header cell (default: the column name)
    # date = "era7"              # dates: "iso", "yyyymmdd", "era7", "wareki" or "auto"
    # map = "vaccine"            # a code mapping under [maps.NAME]

    [maps.vaccine]
    "01" = "BCG"

    [gaiji]                      # 外字 in the private use area → the character it stands for
    "U+E000" = "髙"

The same layout drives the legacy writer of ``migrate export --layout``, so a layout must be
reversible: a code mapping may not send two legacy codes to one sesshu code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import Issue, ValidationFailed
from core.migration.schema import TABLES, Kind

Format = Literal["csv", "fixed"]
Encoding = Literal["auto", "utf-8", "utf-8-sig", "cp932"]
DateFormat = Literal["iso", "yyyymmdd", "era7", "wareki", "auto"]
LineEnd = Literal["crlf", "lf", "none"]

FORMATS: tuple[Format, ...] = ("csv", "fixed")
ENCODINGS: tuple[Encoding, ...] = ("auto", "utf-8", "utf-8-sig", "cp932")
DATE_FORMATS: tuple[DateFormat, ...] = ("iso", "yyyymmdd", "era7", "wareki", "auto")
LINE_ENDS: dict[LineEnd, bytes] = {"crlf": b"\r\n", "lf": b"\n", "none": b""}
DEFAULT_FILES = {name: f"{name}.csv" for name in TABLES}


@dataclass(frozen=True)
class FieldSpec:
    column: str
    header: str | None = None  # csv
    start: int | None = None  # fixed, 1-based byte
    length: int | None = None  # fixed, bytes
    date: DateFormat = "auto"
    map: str | None = None

    @property
    def heading(self) -> str:
        return self.header or self.column


@dataclass(frozen=True)
class FileSpec:
    table: str
    path: str
    format: Format = "csv"
    encoding: Encoding = "auto"
    fields: tuple[FieldSpec, ...] = ()
    delimiter: str = ","
    record_length: int = 0
    line_end: LineEnd = "crlf"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields)

    @property
    def line_bytes(self) -> bytes:
        return LINE_ENDS[self.line_end]


@dataclass(frozen=True)
class Layout:
    name: str
    files: tuple[FileSpec, ...]
    maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    gaiji: Mapping[str, str] = field(default_factory=dict)  # private-use character → text
    digest: str = ""  # SHA-256 of the layout file, recorded with every run

    def reverse_map(self, name: str) -> dict[str, str]:
        return {value: code for code, value in self.maps[name].items()}


def default_layout(present: Mapping[str, tuple[str, ...]]) -> Layout:
    """The open layout: ``TABLE.csv`` files whose headers are sesshu's column names.

    ``present`` gives, per file found, its header; unknown header cells are reported.
    """
    files: list[FileSpec] = []
    issues: list[Issue] = []
    for table, header in present.items():
        known = set(TABLES[table].names)
        for cell in header:
            if cell not in known:
                issues.append(
                    Issue(
                        f"{DEFAULT_FILES[table]}:header",
                        "migration.layout.unknown_column",
                        {"value": cell, "accepted": ", ".join(TABLES[table].names)},
                    )
                )
        fields = tuple(FieldSpec(column=cell) for cell in header if cell in known)
        files.append(FileSpec(table=table, path=DEFAULT_FILES[table], fields=fields))
    if issues:
        raise ValidationFailed(issues)
    return Layout(name="sesshu", files=tuple(files))


def parse_layout(document: Mapping[str, Any], text: bytes) -> Layout:
    """A layout from its parsed TOML, every problem reported at once."""
    issues: list[Issue] = []

    def problem(where: str, key: str, **params: object) -> None:
        issues.append(Issue(where, key, params))

    maps = _maps(document.get("maps", {}), problem)
    gaiji = _gaiji(document.get("gaiji", {}), problem)
    files: list[FileSpec] = []
    raw_files = document.get("files")
    if not isinstance(raw_files, list) or not raw_files:
        problem("files", "migration.layout.no_files")
        raw_files = []
    for index, raw in enumerate(raw_files, start=1):
        spec = _file(raw, f"files[{index}]", maps, problem)
        if spec is not None:
            files.append(spec)
    if issues:
        raise ValidationFailed(issues)
    name = str(document.get("name") or "layout")
    return Layout(name, tuple(files), maps, gaiji, hashlib.sha256(text).hexdigest())


Problem = Any  # Callable[[str, str, **object], None]; a plain alias keeps mypy readable here


def _choice(
    raw: Mapping[str, Any],
    key: str,
    accepted: tuple[str, ...],
    default: str,
    where: str,
    problem: Problem,
) -> str:
    value = raw.get(key, default)
    if value not in accepted:
        problem(
            f"{where}.{key}",
            "migration.layout.choice",
            value=str(value),
            accepted=", ".join(accepted),
        )
        return default
    return str(value)


def _maps(raw: Any, problem: Problem) -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    if not isinstance(raw, dict):
        problem("maps", "migration.layout.table_expected")
        return maps
    for name, pairs in raw.items():
        if not isinstance(pairs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()
        ):
            problem(f"maps.{name}", "migration.layout.map_strings")
            continue
        targets = list(pairs.values())
        repeated = sorted({v for v in targets if targets.count(v) > 1})
        if repeated:
            problem(
                f"maps.{name}", "migration.layout.map_not_reversible", value=", ".join(repeated)
            )
        maps[str(name)] = dict(pairs)
    return maps


def _gaiji(raw: Any, problem: Problem) -> dict[str, str]:
    gaiji: dict[str, str] = {}
    if not isinstance(raw, dict):
        problem("gaiji", "migration.layout.table_expected")
        return gaiji
    for code, text in raw.items():
        point = str(code).upper().removeprefix("U+")
        try:
            character = chr(int(point, 16))
        except ValueError:
            problem(f"gaiji.{code}", "migration.layout.gaiji_code", value=str(code))
            continue
        if not isinstance(text, str) or not text:
            problem(f"gaiji.{code}", "migration.layout.gaiji_text", value=str(code))
            continue
        gaiji[character] = text
    return gaiji


def _file(
    raw: Any, where: str, maps: Mapping[str, Mapping[str, str]], problem: Problem
) -> FileSpec | None:
    if not isinstance(raw, dict):
        problem(where, "migration.layout.table_expected")
        return None
    table = raw.get("table")
    if table not in TABLES:
        problem(
            f"{where}.table",
            "migration.layout.choice",
            value=str(table),
            accepted=", ".join(TABLES),
        )
        return None
    path = raw.get("path")
    if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
        problem(f"{where}.path", "migration.layout.path", value=str(path))
        return None
    fmt = _choice(raw, "format", FORMATS, "csv", where, problem)
    encoding = _choice(raw, "encoding", ENCODINGS, "auto", where, problem)
    line_end = _choice(raw, "line_end", tuple(LINE_ENDS), "crlf", where, problem)
    record_length = raw.get("record_length", 0)
    if fmt == "fixed" and (not isinstance(record_length, int) or record_length <= 0):
        problem(f"{where}.record_length", "migration.layout.positive", value=str(record_length))
        record_length = 0
    delimiter = raw.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        problem(f"{where}.delimiter", "migration.layout.delimiter", value=str(delimiter))
        delimiter = ","
    target = TABLES[table]
    fields: list[FieldSpec] = []
    seen: set[str] = set()
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        problem(f"{where}.fields", "migration.layout.no_fields")
        raw_fields = []
    for index, item in enumerate(raw_fields, start=1):
        spot = f"{where}.fields[{index}]"
        if not isinstance(item, dict):
            problem(spot, "migration.layout.table_expected")
            continue
        column = item.get("column")
        if column not in target.names:
            problem(
                f"{spot}.column",
                "migration.layout.choice",
                value=str(column),
                accepted=", ".join(target.names),
            )
            continue
        if column in seen:
            problem(f"{spot}.column", "migration.layout.repeated", value=str(column))
            continue
        seen.add(column)
        start, length = item.get("start"), item.get("length")
        if fmt == "fixed" and not (
            isinstance(start, int)
            and isinstance(length, int)
            and start >= 1
            and length >= 1
            and start - 1 + length <= record_length
        ):
            problem(
                spot,
                "migration.layout.span",
                value=f"{start}+{length}",
                limit=str(record_length),
            )
            continue
        date_format = _choice(item, "date", DATE_FORMATS, "auto", spot, problem)
        if date_format != "auto" and target.column(column).kind is not Kind.DATE:
            problem(f"{spot}.date", "migration.layout.not_a_date", value=str(column))
        mapping = item.get("map")
        if mapping is not None and mapping not in maps:
            problem(
                f"{spot}.map",
                "migration.layout.choice",
                value=str(mapping),
                accepted=", ".join(maps) or "-",
            )
            mapping = None
        header = item.get("header")
        fields.append(
            FieldSpec(
                column=str(column),
                header=str(header) if header is not None else None,
                start=start if fmt == "fixed" else None,
                length=length if fmt == "fixed" else None,
                date=date_format,  # type: ignore[arg-type]
                map=mapping,
            )
        )
    missing = [c.name for c in target.columns if c.required and c.name not in seen]
    if missing and raw_fields:
        problem(f"{where}.fields", "migration.layout.required_missing", value=", ".join(missing))
    return FileSpec(
        table=table,
        path=path,
        format=fmt,  # type: ignore[arg-type]
        encoding=encoding,  # type: ignore[arg-type]
        fields=tuple(fields),
        delimiter=delimiter,
        record_length=record_length if fmt == "fixed" else 0,
        line_end=line_end,  # type: ignore[arg-type]
    )

"""From a legacy file's text to sesshu's stored values, with every problem as data.

A batch of raw records is converted column by column: a whole column is checked at once where
it can be (a text column with no half-width kana or 外字 passes with one search over the
batch), and only a column that fails the quick check is looked at value by value. Each
problem names the file, the line, the field, the raw value and a reason code:

``encoding``        a byte the file's encoding does not define (from the reader)
``date``            not a date in the declared format, or a day that does not exist
``int`` / ``flag``  not a whole number / not 0 or 1
``code``            a value outside the column's code list
``unmapped_code``   a legacy code the layout's mapping does not know
``mynumber_check``  a 個人番号 whose check digit is wrong (or not 12 digits)
``atena``           a 宛名番号 that is not 1–15 digits
``kana``            a カナ field holding something other than kana
``gaiji``           a private-use character (外字) the layout's [gaiji] table does not map
``required``        an empty required field

Cross-row problems (``duplicate_key``, ``unknown_atena``, ``duplicate_mynumber``) are found by
the import itself, which sees the whole source and the store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from core.errors import InvalidValue
from core.identifiers import is_valid_mynumber
from core.japanese.kana import is_kana_name, to_katakana, widen_halfwidth_kana
from core.japanese.wareki import from_era_code, parse_date
from core.migration.layout import FieldSpec, FileSpec, Layout
from core.migration.schema import CODE_LISTS, TABLES, Column, Kind

Value = str | int | None


class RawProblemLike(Protocol):
    @property
    def field(self) -> str: ...
    @property
    def raw(self) -> str: ...
    @property
    def reason(self) -> str: ...


class RawRecordLike(Protocol):
    @property
    def line(self) -> int: ...
    @property
    def values(self) -> tuple[str, ...] | None: ...
    @property
    def problems(self) -> Sequence[RawProblemLike]: ...


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One problem in a source file, for the dry-run report and the run's record."""

    file: str
    line: int
    field: str
    raw: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "raw": self.raw,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Converted:
    """A batch after conversion: good rows (line, values in ``columns`` order) and problems.

    ``records`` counts every record read, good or not (what a resumed run skips).
    """

    records: int
    lines: list[int]
    rows: list[tuple[Value, ...]]
    issues: list[RowIssue]


class _Bad(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Half-width kana and the private use area: what a text column must be looked at for.
_SPECIAL = re.compile("[\uff61-\uff9f\ue000-\uf8ff]")
_PRIVATE = re.compile("[\ue000-\uf8ff]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COMPACT_DATE = re.compile(r"[0-9]{8}")
_ATENA = re.compile(r"[0-9]{1,15}")
# Whole columns at once, one value per line.
_ATENA_LINES = re.compile(r"(?:[0-9]{1,15}\n)*[0-9]{1,15}")
_ISO_LINES = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}\n)*[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COMPACT_LINES = re.compile(r"(?:[0-9]{8}\n)*[0-9]{8}")

ValueFn = Callable[[str], Value]


def _date_fn(form: str) -> ValueFn:
    def iso(text: str) -> Value:
        if _ISO_DATE.fullmatch(text) is None:
            raise _Bad("date")
        try:
            date.fromisoformat(text)
        except ValueError:
            raise _Bad("date") from None
        return text

    def compact(text: str) -> Value:
        if _COMPACT_DATE.fullmatch(text) is None:
            raise _Bad("date")
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            raise _Bad("date") from None

    def era7(text: str) -> Value:
        try:
            return from_era_code(text).isoformat()
        except InvalidValue:
            raise _Bad("date") from None

    def any_form(text: str) -> Value:
        if _ISO_DATE.fullmatch(text) is not None:
            return iso(text)
        try:
            return parse_date(text).isoformat()
        except InvalidValue:
            raise _Bad("date") from None

    return {"iso": iso, "yyyymmdd": compact, "era7": era7}.get(form, any_form)


def _int(text: str) -> Value:
    folded = unicodedata.normalize("NFKC", text)
    if not folded.lstrip("-").isdecimal() or not folded.isascii():
        raise _Bad("int")
    return int(folded)


def _flag(text: str) -> Value:
    if text not in ("0", "1"):
        raise _Bad("flag")
    return int(text)


def _atena(text: str) -> Value:
    if _ATENA.fullmatch(text) is None:
        raise _Bad("atena")
    return text


def _mynumber(text: str) -> Value:
    if not is_valid_mynumber(text) or len(text) != 12:
        raise _Bad("mynumber_check")
    return text


class _ColumnConverter:
    """Converts one column of a batch; ``None`` in, ``None`` out for an empty cell."""

    def __init__(
        self,
        column: Column,
        spec: FieldSpec,
        layout: Layout,
        codes: Mapping[str, frozenset[str]],
    ) -> None:
        self.name = column.name
        self.required = column.required
        self.default = column.default
        self.kind = column.kind
        self._gaiji = layout.gaiji
        self._map = layout.maps[spec.map] if spec.map else None
        self._date_form = spec.date
        self._allowed = codes.get(column.codes or "", frozenset()) if column.codes else None
        self._one: ValueFn = {
            Kind.TEXT: self._text,
            Kind.KANA: self._kana,
            Kind.DATE: _date_fn(spec.date),
            Kind.INT: _int,
            Kind.FLAG: _flag,
            Kind.CODE: self._code,
            Kind.ATENA: _atena,
            Kind.MYNUMBER: _mynumber,
        }[column.kind]

    def _widen(self, text: str) -> str:
        if _PRIVATE.search(text) is not None:
            if any(_PRIVATE.fullmatch(c) and c not in self._gaiji for c in text):
                raise _Bad("gaiji")
            text = "".join(self._gaiji.get(c, c) for c in text)
        return widen_halfwidth_kana(text)

    def _text(self, text: str) -> Value:
        return self._widen(text) if _SPECIAL.search(text) else text

    def _kana(self, text: str) -> Value:
        if _PRIVATE.search(text) is not None:
            raise _Bad("gaiji")
        kana = to_katakana(text)
        if not is_kana_name(kana):
            raise _Bad("kana")
        return kana

    def _code(self, text: str) -> Value:
        if self._map is not None:
            mapped = self._map.get(text)
            if mapped is None:
                raise _Bad("unmapped_code")
            text = mapped
        if self._allowed is not None and text not in self._allowed:
            raise _Bad("code")
        return text

    def column(self, cells: Sequence[str]) -> tuple[list[Value], dict[int, str]]:
        """The converted column, and the reason for each position that failed."""
        quick = self._quick(cells)
        if quick is not None:
            return quick, {}
        values: list[Value] = []
        bad: dict[int, str] = {}
        one = self._one
        for index, text in enumerate(cells):
            if not text:
                values.append(self.default)
                if self.required:
                    bad[index] = "required"
                continue
            try:
                values.append(one(text))
            except _Bad as problem:
                values.append(None)
                bad[index] = problem.reason
        return values, bad

    def _quick(self, cells: Sequence[str]) -> list[Value] | None:
        """The whole column at C speed when nothing in it needs a closer look."""
        if self.required and not all(cells):
            return None
        empty = self.default
        if self.kind is Kind.TEXT:
            if _SPECIAL.search("".join(cells)) is None:
                return [c or empty for c in cells]
            return None
        if self.kind is Kind.CODE and self._map is None and self._allowed is not None:
            allowed = self._allowed
            if all(c in allowed for c in cells if c):
                return [c or empty for c in cells]
            return None
        if self.kind is Kind.FLAG:
            if all(c in ("0", "1", "") for c in cells):
                return [int(c) if c else empty for c in cells]
            return None
        if self.kind is Kind.INT:
            try:
                return [int(c) if c else None for c in cells]
            except ValueError:
                return None
        if self.kind is Kind.DATE and self._date_form in ("iso", "auto", "yyyymmdd"):
            return self._quick_dates(cells)
        if self.kind is Kind.ATENA:
            filled = [c for c in cells if c]
            if filled and _ATENA_LINES.fullmatch("\n".join(filled)) is None:
                return None
            return [c or empty for c in cells]
        return None

    def _quick_dates(self, cells: Sequence[str]) -> list[Value] | None:
        filled = [c for c in cells if c]
        if not filled:
            return [self.default for _ in cells]
        compact = self._date_form == "yyyymmdd"
        shape = _COMPACT_LINES if compact else _ISO_LINES
        if shape.fullmatch("\n".join(filled)) is None:
            return None
        values = [f"{c[:4]}-{c[4:6]}-{c[6:]}" if c else c for c in cells] if compact else cells
        try:
            for _ in map(date.fromisoformat, filter(None, values)):
                pass
        except ValueError:
            return None
        return [v or self.default for v in values]


class FileConverter:
    """Converts the raw records of one source file into rows of its table's columns."""

    def __init__(self, spec: FileSpec, layout: Layout, codes: Mapping[str, frozenset[str]]) -> None:
        table = TABLES[spec.table]
        self.file = spec.path
        self.table = table
        self.columns = spec.columns
        all_codes = {k: frozenset(v) for k, v in CODE_LISTS.items()} | dict(codes)
        self._converters = [
            _ColumnConverter(table.column(f.column), f, layout, all_codes) for f in spec.fields
        ]

    def convert(self, records: Sequence[RawRecordLike]) -> Converted:
        """The good rows, each a tuple in ``self.columns`` order, and every problem."""
        lines, columns, issues = self.convert_columns(records)
        rows = list(zip(*columns, strict=True)) if lines else []
        return Converted(len(records), lines, rows, issues)

    def convert_columns(
        self, records: Sequence[RawRecordLike]
    ) -> tuple[list[int], list[list[Value]], list[RowIssue]]:
        """Like ``convert``, but the good rows column by column (what totals want)."""
        issues: list[RowIssue] = []
        good: list[RawRecordLike] = []
        for record in records:
            if record.values is None or record.problems:
                issues.extend(
                    RowIssue(self.file, record.line, p.field, p.raw, p.reason)
                    for p in record.problems
                )
            else:
                good.append(record)
        if not good:
            return [], [[] for _ in self._converters], issues
        cells = list(zip(*(r.values for r in good if r.values is not None), strict=True))
        columns: list[list[Value]] = []
        failed: dict[int, list[tuple[str, str, str]]] = {}
        for index, converter in enumerate(self._converters):
            values, bad = converter.column(cells[index])
            columns.append(values)
            for position, reason in bad.items():
                failed.setdefault(position, []).append(
                    (converter.name, cells[index][position], reason)
                )
        lines = [r.line for r in good]
        if failed:
            for position in sorted(failed):
                issues.extend(
                    RowIssue(self.file, lines[position], name, raw, reason)
                    for name, raw, reason in failed[position]
                )
            keep = [i for i in range(len(lines)) if i not in failed]
            lines = [lines[i] for i in keep]
            columns = [[column[i] for i in keep] for column in columns]
        issues.sort(key=lambda i: i.line)
        return lines, columns, issues

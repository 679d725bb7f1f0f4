"""The legacy-compatible writer (旧形式出力): sesshu's rows in a layout's file format.

The layout that reads a legacy file also writes one (``migrate export --layout FILE.toml``):
code mappings and 外字 are reversed, dates take the field's format, fixed-width fields are
padded with spaces. Nothing is lost silently: a character the encoding lacks is written as 〓
and reported as ``Unrepresentable``; a value longer than its field is cut at a character
boundary and reported as ``Overflow``. The caller treats either as a failed export.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from core.japanese.wareki import format_wareki, to_era_code
from core.migration.layout import FieldSpec, FileSpec, Layout
from core.migration.schema import TABLES, Kind

GETA = "〓"  # U+3013 GETA MARK, written in place of a character the encoding lacks
_WRITE_BUFFER = 1 << 20
_CSV_BATCH = 10_000
_CP932_UNDEFINED = re.compile("[\x80\uf8f0-\uf8f3]")  # encodable, but the readers reject them


@dataclass(frozen=True, slots=True)
class Unrepresentable:
    """A character the output encoding (or a fixed-width line) cannot hold."""

    table: str
    line: int  # physical line of the output, from 1 (a CSV header is line 1)
    column: str
    character: str
    codepoint: str  # "U+20BB7"


@dataclass(frozen=True, slots=True)
class Overflow:
    """A value longer than its fixed-width field; written cut at a character boundary."""

    table: str
    line: int
    column: str
    value_length: int  # bytes, once encoded
    field_length: int


@dataclass(frozen=True)
class WriteResult:
    rows: int
    sha256: str
    bytes: int
    unrepresentable: tuple[Unrepresentable, ...] = ()
    overflows: tuple[Overflow, ...] = ()

    @property
    def faithful(self) -> bool:
        """Every value was written whole and as given."""
        return not self.unrepresentable and not self.overflows


def write_file(
    path: Path, spec: FileSpec, layout: Layout, rows: Iterable[Sequence[object | None]]
) -> WriteResult:
    """Write ``rows`` (values in the order of ``spec.columns``) as ``path``, atomically.

    The file appears whole or not at all: it is written beside ``path`` with mode 0600,
    flushed to disk and renamed over.
    """
    with _AtomicFile(path) as out:
        return _written(out, spec, layout, rows)


class _Sink(Protocol):
    def write(self, data: bytes) -> None: ...


class _Hashed(_Sink, Protocol):
    sha256: Any
    size: int


def _written(
    out: _Hashed, spec: FileSpec, layout: Layout, rows: Iterable[Sequence[object | None]]
) -> WriteResult:
    writer = _Writer(spec, layout)
    if spec.format == "csv":
        writer.write_csv(out, rows)
    else:
        writer.write_fixed(out, rows)
    return WriteResult(
        rows=writer.rows,
        sha256=out.sha256.hexdigest(),
        bytes=out.size,
        unrepresentable=tuple(writer.unrepresentable),
        overflows=tuple(writer.overflows),
    )


class _Stream:
    """Forwards to a binary stream, hashing and counting what passes."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._target.write(data)
        self.sha256.update(data)
        self.size += len(data)


def write_stream(
    target: BinaryIO, spec: FileSpec, layout: Layout, rows: Iterable[Sequence[object | None]]
) -> WriteResult:
    """Write ``rows`` in the layout to an open binary stream (an encryptor's pipe, say)."""
    return _written(_Stream(target), spec, layout, rows)


class _AtomicFile:
    """A temporary file beside the target, hashed as written, renamed over it when whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._temporary = ""
        self._handle: BinaryIO | None = None

    def __enter__(self) -> _AtomicFile:
        fd, self._temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        self._handle = os.fdopen(fd, "wb", buffering=_WRITE_BUFFER)
        return self

    def write(self, data: bytes) -> None:
        assert self._handle is not None
        self._handle.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        assert self._handle is not None
        try:
            try:
                if error is None:
                    self._handle.flush()
                    os.fsync(self._handle.fileno())
            finally:
                self._handle.close()
            if error is None:
                os.replace(self._temporary, self.path)
        except BaseException:
            self._discard()
            raise
        if error is None:
            _fsync_directory(self.path.parent)
        else:
            self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temporary)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encoding(spec: FileSpec) -> str:
    if spec.encoding == "auto":
        return "cp932" if spec.format == "fixed" else "utf-8"
    return spec.encoding


class _Writer:
    def __init__(self, spec: FileSpec, layout: Layout) -> None:
        self.spec = spec
        self.table = spec.table
        self.encoding = _encoding(spec)
        self.codec = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        # The codec's own function: str.encode("cp932") looks the codec up on every call.
        encode = codecs.lookup(self.codec).encode
        self.encode: Callable[[str], bytes] = lambda text: encode(text)[0]
        self.texts = [_formatter(spec, field, layout) for field in spec.fields]
        self.rows = 0
        self.unrepresentable: list[Unrepresentable] = []
        self.overflows: list[Overflow] = []

    def row_texts(self, row: Sequence[object | None]) -> list[str]:
        if len(row) != len(self.texts):
            raise ValueError(f"{self.table}: {len(row)} values for {len(self.texts)} columns")
        return [text(value) for text, value in zip(self.texts, row, strict=True)]

    def representable(self, text: str, column: str, line: int, fixed: bool) -> str:
        """``text`` with each character the output cannot hold reported and made 〓."""
        if self._whole(text) and not (fixed and ("\n" in text or "\r" in text)):
            return text
        kept: list[str] = []
        for character in text:
            if self._whole(character) and not (fixed and character in "\r\n"):
                kept.append(character)
                continue
            point = f"U+{ord(character):04X}"
            self.unrepresentable.append(Unrepresentable(self.table, line, column, character, point))
            kept.append(GETA)
        return "".join(kept)

    def _whole(self, text: str) -> bool:
        """Whether ``text`` encodes and reads back unchanged (no undefined CP932 byte)."""
        try:
            self.encode(text)
        except UnicodeEncodeError:
            return False
        return self.codec != "cp932" or not _CP932_UNDEFINED.search(text)

    def write_fixed(self, out: _Sink, rows: Iterable[Sequence[object | None]]) -> None:
        """One record per row, laid out by one ``str.format`` call when it can be.

        The template pads each text to its field's width in characters; for a text with
        double-byte characters the width is reduced by the bytes they add. If the encoded
        record is not exactly ``record_length`` bytes (a value too long), or anything cannot be
        written as it is, the row is laid out field by field and the problems reported.
        """
        length, ending = self.spec.record_length, self.spec.line_bytes
        template = _template(self.spec)
        sizes = [field.length or 0 for field in self.spec.fields]
        for line, row in enumerate(rows, start=1):
            texts = self.row_texts(row)
            data = self._laid_out(template, texts, sizes) if template is not None else b""
            if len(data) != length:
                data = self._record(texts, line)
            out.write(data + ending)
            self.rows += 1

    def _laid_out(self, template: str, texts: list[str], sizes: list[int]) -> bytes:
        """The record by the template, or b"" if a field needs looking at one by one."""
        joined = "".join(texts)
        if joined.isascii():
            if "\n" in joined or "\r" in joined:
                return b""
            return template.format(*texts, *sizes).encode("ascii")
        try:
            widths = [
                size if text.isascii() else max(size - len(self.encode(text)) + len(text), 0)
                for text, size in zip(texts, sizes, strict=True)
            ]
        except UnicodeEncodeError:
            return b""
        text = template.format(*texts, *widths)
        return self.encode(text) if self._writable(text) else b""

    def _writable(self, text: str) -> bool:
        """Whether a fixed-width record's text can be written as it is."""
        return "\n" not in text and "\r" not in text and self._whole(text)

    def _record(self, texts: list[str], line: int) -> bytes:
        record = bytearray(b" " * self.spec.record_length)
        for field, text in zip(self.spec.fields, texts, strict=True):
            if not text or field.start is None or field.length is None:
                continue
            data = self._encoded_field(text, field.column, line)
            if len(data) > field.length:
                self.overflows.append(
                    Overflow(self.table, line, field.column, len(data), field.length)
                )
                data = _cut(data.decode(self.codec), field.length, self.encode)
            record[field.start - 1 : field.start - 1 + len(data)] = data
        return bytes(record)

    def _encoded_field(self, text: str, column: str, line: int) -> bytes:
        if self._writable(text):
            return self.encode(text)
        return self.encode(self.representable(text, column, line, fixed=True))

    def write_csv(self, out: _Sink, rows: Iterable[Sequence[object | None]]) -> None:
        """The header, then the rows; a batch that encodes whole is written in one piece."""
        if self.encoding == "utf-8-sig":
            out.write(codecs.BOM_UTF8)
        ending = self.spec.line_bytes.decode("ascii") or "\r\n"
        header = [f.heading for f in self.spec.fields]
        line = 1 + self._write_rows(out, [header], 1, ending)
        for batch in _batches(rows, _CSV_BATCH):
            line += self._write_rows(out, [self.row_texts(row) for row in batch], line, ending)
            self.rows += len(batch)

    def _write_rows(self, out: _Sink, rows: list[list[str]], line: int, ending: str) -> int:
        """Write rows whose first line is ``line``; the number of lines written."""
        text = self._rendered(rows, ending)
        if self._whole(text):
            out.write(self.encode(text))
            return _line_breaks(text)
        written = 0
        for cells in rows:
            safe = [
                self.representable(cell, field.column, line + written, fixed=False)
                for cell, field in zip(cells, self.spec.fields, strict=True)
            ]
            row_text = self._rendered([safe], ending)
            out.write(self.encode(row_text))
            written += _line_breaks(row_text)
        return written

    def _rendered(self, rows: list[list[str]], ending: str) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.spec.delimiter, lineterminator=ending).writerows(rows)
        return buffer.getvalue()


def _batches(
    rows: Iterable[Sequence[object | None]], size: int
) -> Iterator[list[Sequence[object | None]]]:
    batch: list[Sequence[object | None]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _line_breaks(text: str) -> int:
    """Physical line ends as the readers count them: CRLF, LF or a lone CR."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _cut(text: str, size: int, encode: Callable[[str], bytes]) -> bytes:
    """The longest start of ``text`` that fits ``size`` bytes, never half a character."""
    data = b""
    for character in text:
        encoded = encode(character)
        if len(data) + len(encoded) > size:
            break
        data += encoded
    return data


def _template(spec: FileSpec) -> str | None:
    """A ``str.format`` template laying out a record: argument i is field i's text and
    argument n + i the width it is padded to; gaps are spaces. None when fields overlap."""
    parts: list[str] = []
    position = 0
    count = len(spec.fields)
    fields = sorted(enumerate(spec.fields), key=lambda item: item[1].start or 0)
    for index, field in fields:
        if field.start is None or field.length is None or field.start - 1 < position:
            return None
        parts.append(" " * (field.start - 1 - position) + f"{{{index}:<{{{count + index}}}}}")
        position = field.start - 1 + field.length
    return "".join(parts) + " " * (spec.record_length - position)


def _formatter(spec: FileSpec, field: FieldSpec, layout: Layout) -> Callable[[object | None], str]:
    """How one column's stored value becomes the text of the legacy field."""
    kind = TABLES[spec.table].column(field.column).kind
    if kind is Kind.DATE:
        return _date_formatter(field)
    reverse = layout.reverse_map(field.map) if field.map else {}
    gaiji = _gaiji_writer(layout) if kind in (Kind.TEXT, Kind.KANA) else None

    def text(value: object | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            out = value
        else:
            out = str(int(value)) if isinstance(value, bool) else str(value)
        if reverse:
            out = reverse.get(out, out)
        if gaiji is not None and not out.isascii():
            out = gaiji(out)
        return out

    return text


def _date_formatter(field: FieldSpec) -> Callable[[object | None], str]:
    def text(value: object | None) -> str:
        if value is None or value == "":
            return ""
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        if field.date == "yyyymmdd":
            return f"{day.year:04d}{day.month:02d}{day.day:02d}"
        if field.date == "era7":
            return to_era_code(day)
        if field.date == "wareki":
            return format_wareki(day, "short")
        return day.isoformat()

    return text


def _gaiji_writer(layout: Layout) -> Callable[[str], str] | None:
    """The layout's 外字 table reversed: the text a private-use character stands for → it.

    When two characters stand for the same text, the first in the layout is written.
    """
    if not layout.gaiji:
        return None
    reverse: dict[str, str] = {}
    for character, text in layout.gaiji.items():
        reverse.setdefault(text, character)
    if all(len(text) == 1 for text in reverse):
        table = str.maketrans(reverse)
        return lambda value: value.translate(table)
    pattern = re.compile("|".join(re.escape(t) for t in sorted(reverse, key=len, reverse=True)))
    return lambda value: pattern.sub(lambda m: reverse[m.group()], value)

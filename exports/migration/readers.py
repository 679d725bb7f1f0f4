"""Reading a legacy source file (移行元ファイル) into raw text records, in bounded batches.

A file is read in blocks of whole lines (about 1 MiB). A block is decoded in one call when it
can be; only a block holding a bad byte is decoded line by line, each bad byte kept as a lone
surrogate (``\\udcXX``) so that the cell or field holding it is reported with the byte in hex.
Nothing is ever replaced silently.

CP932 as Python decodes it maps five bytes that CP932 leaves undefined (0x80, 0xA0, 0xFD-0xFF)
onto U+0080 and U+F8F0-U+F8F3; they count as bad bytes here. The user-defined area
(0xF040-0xF9FC, 外字) decodes to private use characters U+E000-U+E757 and is passed through.

Speed: a block's records are built with the cyclic garbage collector paused (they hold no
cycles); without the pause, collections triggered by millions of short-lived lists cost as much
as the parsing. The pause never spans a ``yield``.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, Literal

from core.migration.layout import FileSpec

DetectedEncoding = Literal["utf-8", "utf-8-sig", "cp932"]

HEAD_BYTES = 64 * 1024
"""How much of a file ``encoding = "auto"`` looks at."""
REPORT_CHARS = 40
"""How much of a broken record a problem quotes."""

_BLOCK_BYTES = 1 << 20
_QUOTED_SPAN_LIMIT = 16 << 20
"""A quoted CSV field may run over lines; a block grows to close it, up to this size."""
_STRIP = " \u3000"
_DOS_EOF = b"\x1a"
_SURROGATE = re.compile("[\udc00-\udcff]")
_CP932_UNDEFINED = re.compile("[\x80\uf8f0-\uf8f3]")
_CP932_UNDEFINED_BYTES = (b"\x80", b"\xa0", b"\xfd", b"\xfe", b"\xff")
_NOT_CP932_LEAD = bytes(b for b in range(256) if not (0x81 <= b <= 0x9F or 0xE0 <= b <= 0xFC))
_CP932_AS_SURROGATES = {
    0x80: 0xDC80,
    0xF8F0: 0xDCA0,
    0xF8F1: 0xDCFD,
    0xF8F2: 0xDCFE,
    0xF8F3: 0xDCFF,
}


@dataclass(frozen=True, slots=True)
class RawProblem:
    """Why a record cannot be used as read.

    ``reason`` is ``encoding`` (a byte the encoding does not define, or a field cut inside a
    character), ``columns`` (a CSV row whose cell count differs from the header, or that the
    csv module cannot split at all), ``record_length`` (a fixed-width line of the wrong length)
    or ``header`` (a heading the layout needs is missing from the CSV header).
    """

    field: str  # FieldSpec.column, or "" for the whole record
    raw: str  # decoded text; a byte that failed is written as \xNN
    reason: str


@dataclass(frozen=True, slots=True)
class RawRecord:
    line: int  # physical line where the record starts, from 1 (a CSV header is line 1)
    values: tuple[str, ...] | None  # one stripped text per FileSpec.fields; None if unusable
    problems: tuple[RawProblem, ...] = ()


_new = object.__new__
_set_line, _set_values, _set_problems = (
    vars(RawRecord)[name].__set__ for name in ("line", "values", "problems")
)


def _good(line: int, values: tuple[str, ...]) -> RawRecord:
    """``RawRecord(line, values)``, made without the frozen dataclass's ``__init__``.

    That ``__init__`` goes through ``object.__setattr__`` once per field; setting the slots
    directly gives the same object in half the time, which matters at millions of records.
    """
    record: RawRecord = _new(RawRecord)
    _set_line(record, line)
    _set_values(record, values)
    _set_problems(record, ())
    return record


def detect_encoding(head: bytes) -> DetectedEncoding:
    """BOM → ``utf-8-sig``; valid UTF-8 → ``utf-8``; else ``cp932``.

    ``head`` is the start of a file, so a UTF-8 character cut at its very end is allowed.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp932"
    return "utf-8"


def read_batches(
    path: Path,
    spec: FileSpec,
    *,
    skip: int = 0,
    batch_size: int = 10_000,
    opener: Callable[[Path], BinaryIO] | None = None,
) -> Iterator[list[RawRecord]]:
    """The file's data records in batches of at most ``batch_size``, after ``skip`` records.

    ``skip`` counts data records, broken ones included (blank lines are not records), so a run
    that stopped after N records resumes with ``skip=N``. A CSV file whose header lacks a heading
    the layout needs yields one record at line 1 with a ``header`` problem per missing heading.
    ``encoding = "auto"`` is decided on the file's first read: at least ``HEAD_BYTES``, usually
    a whole block (1 MiB), which catches more CP932 files whose first lines are all ASCII.
    """
    if batch_size < 1 or skip < 0:
        raise ValueError("batch_size must be positive and skip not negative")
    with (opener or _open_binary)(path) as stream:
        head = _read_head(stream)
        encoding = detect_encoding(head) if spec.encoding == "auto" else spec.encoding
        if encoding != "cp932" and head.startswith(codecs.BOM_UTF8):
            head = head[len(codecs.BOM_UTF8) :]
        codec = "cp932" if encoding == "cp932" else "utf-8"
        chunks = _chunks(stream, head)
        reader = _CsvReader(spec, codec) if spec.format == "csv" else _FixedReader(spec, codec)
        pending: list[RawRecord] = []
        for records in reader.blocks(chunks, skip):
            pending = pending + records if pending else records
            start = 0
            while len(pending) - start >= batch_size:
                yield pending[start : start + batch_size]
                start += batch_size
            pending = pending[start:]
        if pending:
            yield pending


def _open_binary(path: Path) -> BinaryIO:
    return path.open("rb")


def _read_head(stream: BinaryIO) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < HEAD_BYTES:
        part = stream.read(_BLOCK_BYTES)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _chunks(stream: BinaryIO, head: bytes) -> Iterator[bytes]:
    if head:
        yield head
    while chunk := stream.read(_BLOCK_BYTES):
        yield chunk


@contextmanager
def _gc_paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _escape(text: str) -> str:
    """Bad bytes (kept as surrogates) in the ``\\xNN`` form of a report."""
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def _is_cp932_lead(byte: int) -> bool:
    return 0x81 <= byte <= 0x9F or 0xE0 <= byte <= 0xFC


def _is_cp932_trail(byte: int) -> bool:
    return 0x40 <= byte <= 0xFC and byte != 0x7F


def _decode_marked(data: bytes, codec: str) -> str:
    """Decode, keeping every byte that fails as a surrogate ``\\udcXX``.

    A CP932 lead byte followed by a trail byte it does not pair with (0x85 0x40) is one bad
    character: both bytes are marked, not only the lead byte the codec complains about.
    """
    parts: list[str] = []
    position = 0
    while True:
        try:
            parts.append(data[position:].decode(codec))
            break
        except UnicodeDecodeError as error:
            start, end = position + error.start, position + error.end
            parts.append(data[position:start].decode(codec))
            if (
                codec == "cp932"
                and end == start + 1
                and end < len(data)
                and _is_cp932_lead(data[start])
                and _is_cp932_trail(data[end])
            ):
                end += 1
            parts.append("".join(chr(0xDC00 + byte) for byte in data[start:end]))
            position = end
    text = "".join(parts)
    return text.translate(_CP932_AS_SURROGATES) if codec == "cp932" else text


def _cp932_suspect(data: bytes, codec: str) -> bool:
    """Whether CP932 data may hold an undefined byte the codec decodes without complaint."""
    return codec == "cp932" and any(byte in data for byte in _CP932_UNDEFINED_BYTES)


def _decode_block(block: bytes, codec: str) -> tuple[str, bool]:
    """A block's text and whether it decoded cleanly (if not, bad bytes are surrogates)."""
    try:
        text = block.decode(codec)
    except UnicodeDecodeError:
        pass
    else:
        if not _cp932_suspect(block, codec) or not _CP932_UNDEFINED.search(text):
            return text, True
    return "".join(_decode_marked(line, codec) for line in block.splitlines(keepends=True)), False


def _picker(keys: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A fast ``lambda items: tuple(items[key] for key in keys)``."""
    if not keys:
        return lambda items: ()
    if len(keys) == 1:
        only = keys[0]
        return lambda items: (items[only],)
    return itemgetter(*keys)


def _stripped(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(str.strip, values, repeat(_STRIP)))


class _Unparsable(list[str]):
    """A CSV row the csv module refused (a NUL byte, a quoted field running on too long)."""

    def __init__(self, raw: str) -> None:
        super().__init__()
        self.raw = raw


class _CsvReader:
    def __init__(self, spec: FileSpec, codec: str) -> None:
        self.spec = spec
        self.codec = codec
        self.delimiter = spec.delimiter
        edge = re.escape(spec.delimiter) + '"\\r\\n'
        # A space or U+3000 next to a delimiter, quote or line end: some cell needs stripping.
        self.padded = [re.compile(f"{c}(?:(?=[{edge}]|\\Z)|(?<=[{edge}]{c}))") for c in _STRIP]
        self.width = 0
        self.pick = _picker([0])
        self.in_order = False  # the fields are the header's cells, in order

    def blocks(self, chunks: Iterator[bytes], skip: int) -> Iterator[list[RawRecord]]:
        blocks = _csv_blocks(chunks)
        text, clean = _decode_block(next(blocks, b""), self.codec)
        missing, text, line = self._take_header(text)
        if missing:
            yield [RawRecord(1, None, tuple(missing))]
            return
        while True:
            with _gc_paused():
                records, lines, skip = self._block_records(text, line, skip, clean)
            line += lines
            if records:
                yield records
            block = next(blocks, None)
            if block is None:
                return
            text, clean = _decode_block(block, self.codec)

    def _take_header(self, text: str) -> tuple[list[RawProblem], str, int]:
        """Problems with the header row, the text after it and the number of the next line."""
        taken: list[str] = []

        def lines() -> Iterator[str]:
            for line in io.StringIO(text, newline=""):
                taken.append(line)
                yield line

        reader = csv.reader(lines(), delimiter=self.delimiter)
        try:
            header = next((row for row in reader if row), [])
        except csv.Error:  # a header the csv module cannot split has none of the headings
            header = []
        headings = [cell.strip(_STRIP) for cell in header]
        missing = [
            RawProblem(f.column, f.heading, "header")
            for f in self.spec.fields
            if f.heading not in headings
        ]
        if not missing:
            self.width = len(headings)
            indexes = [headings.index(f.heading) for f in self.spec.fields]
            self.pick = _picker(indexes)
            self.in_order = indexes == list(range(self.width))
        return missing, text[sum(map(len, taken)) :], len(taken) + 1

    def _block_records(
        self, text: str, first: int, skip: int, clean: bool
    ) -> tuple[list[RawRecord], int, int]:
        """A block's records after ``skip``, its number of lines, and how many are left to skip.

        A block without quotes or lone CRs is split with ``str.split``, several times faster
        than the csv module; any other block goes through the csv module.
        """
        lines = self._plain_lines(text)
        if lines is None:
            starts, rows, count = self._parsed_rows(text, first)
            if skip >= len(rows):
                return [], count, skip - len(rows)
            return self._records(text, starts[skip:], rows[skip:], clean), count, 0
        count = len(lines)
        numbers: Sequence[int] = range(first, first + count)
        if "" in lines:
            numbers = [first + i for i, line in enumerate(lines) if line]
            lines = [line for line in lines if line]
        if skip >= len(lines):
            return [], count, skip - len(lines)
        numbers, lines = numbers[skip:], lines[skip:]
        if not clean:
            rows = [line.split(self.delimiter) for line in lines]
            return self._records(text, numbers, rows, clean), count, 0
        delimiter, width, careful = self.delimiter, self.width, self._careful
        pick = tuple if self.in_order else self.pick
        if self._padded(text):
            return (
                [
                    _good(n, _stripped(pick(c)))
                    if len(c := line.split(delimiter)) == width
                    else careful(n, c)
                    for n, line in zip(numbers, lines, strict=True)
                ],
                count,
                0,
            )
        return (
            [
                _good(n, pick(c)) if len(c := line.split(delimiter)) == width else careful(n, c)
                for n, line in zip(numbers, lines, strict=True)
            ],
            count,
            0,
        )

    def _plain_lines(self, text: str) -> list[str] | None:
        """The block's lines if ``str.split`` can cut them into cells, else None."""
        if self.width < 2 or '"' in text:
            return None
        plain = text.replace("\r\n", "\n") if "\r" in text else text
        if "\r" in plain:
            return None
        lines = plain.split("\n")
        if lines[-1] == "":
            lines.pop()
        return lines

    def _padded(self, text: str) -> bool:
        """Whether some cell of the block may start or end with a space to strip."""
        return text[:1] in (" ", "\u3000") or any(p.search(text) for p in self.padded)

    def _parsed_rows(self, text: str, first: int) -> tuple[list[int], list[list[str]], int]:
        lines = list(io.StringIO(text, newline=""))
        reader = csv.reader(lines, delimiter=self.delimiter)
        starts: list[int] = []
        rows: list[list[str]] = []
        previous = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                row = _Unparsable(lines[reader.line_num - 1])
            if row or isinstance(row, _Unparsable):
                rows.append(row)
                starts.append(first + previous)
            previous = reader.line_num
        return starts, rows, len(lines)

    def _records(
        self, text: str, starts: Sequence[int], rows: list[list[str]], clean: bool
    ) -> list[RawRecord]:
        width, pick = self.width, self.pick
        padded = self._padded(text)
        records: list[RawRecord] = []
        append = records.append
        for start, cells in zip(starts, rows, strict=True):
            if len(cells) != width or not clean:
                append(self._careful(start, cells))
            elif padded:
                append(_good(start, _stripped(pick(cells))))
            else:
                append(_good(start, pick(cells)))
        return records

    def _careful(self, start: int, cells: list[str]) -> RawRecord:
        """A row of the wrong width, or from a block that held a bad byte."""
        if len(cells) != self.width:
            raw = cells.raw if isinstance(cells, _Unparsable) else self.delimiter.join(cells)
            return RawRecord(start, None, (RawProblem("", _escape(raw)[:REPORT_CHARS], "columns"),))
        values = _stripped(self.pick(cells))
        problems = tuple(
            RawProblem(f.column, _escape(value), "encoding")
            for f, value in zip(self.spec.fields, values, strict=True)
            if _SURROGATE.search(value)
        )
        return RawRecord(start, None, problems) if problems else RawRecord(start, values)


def _csv_blocks(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Blocks of whole CSV lines, each ending outside any quoted field where it can.

    An even number of quote characters before a line end means that line end is not inside a
    quoted field (for a well-formed file: quotes only enclose fields, and inner ones are doubled).
    """
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0 or (data.count(b'"', 0, cut) % 2 and len(data) < _QUOTED_SPAN_LIMIT):
            pending = data
            continue
        yield data[:cut]
        pending = data[cut:]
    if pending.endswith(_DOS_EOF):
        pending = pending[:-1]
    if pending:
        yield pending


class _FixedReader:
    """Fixed-width records: ``record_length`` bytes, then the line end.

    Each record is cut at every field edge (so also around the gaps between fields) into
    segments decoded one by one. When every segment decodes, every cut falls between two
    characters: no field starts or ends inside a double-byte character.
    """

    def __init__(self, spec: FileSpec, codec: str) -> None:
        self.spec = spec
        self.codec = codec
        self.length = spec.record_length
        self.spans = [
            (f.start - 1, f.start - 1 + f.length) for f in spec.fields if f.start and f.length
        ]
        if len(self.spans) != len(spec.fields):
            raise ValueError(f"{spec.path}: a fixed-width field needs a start and a length")
        cuts = sorted({0, self.length} | {edge for span in self.spans for edge in span})
        self.cut = _picker([slice(a, b) for a, b in pairwise(cuts)])
        self.field_segments = [(cuts.index(a), cuts.index(b)) for a, b in self.spans]
        self.single = all(b == a + 1 for a, b in self.field_segments)
        self.pick = _picker([a for a, _ in self.field_segments])
        self.pick_ascii = _picker([slice(a, b) for a, b in self.spans])
        cut = self.cut
        self.decode_segments: Callable[[bytes], tuple[str, ...]]
        if codec == "cp932":
            # The codec's own function: bytes.decode("cp932") looks the codec up on every call.
            decode, text_of = codecs.lookup("cp932").decode, itemgetter(0)
            self.decode_segments = lambda data: tuple(map(text_of, map(decode, cut(data))))
            self.decode_cp932 = decode
        else:
            self.decode_segments = lambda data: tuple(map(bytes.decode, cut(data)))

    def blocks(self, chunks: Iterator[bytes], skip: int) -> Iterator[list[RawRecord]]:
        line = 0
        for lines, suspect in _fixed_lines(chunks, self.spec.line_bytes, self.length, self.codec):
            if skip >= len(lines):
                skip -= len(lines)
                line += len(lines)
                continue
            with _gc_paused():
                records = [
                    self._record(number, data, suspect)
                    for number, data in enumerate(lines[skip:], start=line + skip + 1)
                ]
            line += len(lines)
            skip = 0
            yield records

    def _record(self, line: int, data: bytes, suspect: bool) -> RawRecord:
        if len(data) != self.length:
            raw = _escape(_decode_marked(data, self.codec))[:REPORT_CHARS]
            return RawRecord(line, None, (RawProblem("", raw, "record_length"),))
        if self.single and data.isascii():
            return _good(line, _stripped(self.pick_ascii(data.decode("ascii"))))
        if self.single and self.codec == "cp932" and not data.translate(None, _NOT_CP932_LEAD):
            text = self.decode_cp932(data)[0]  # one byte per character: sliced by byte offsets
            if suspect and _CP932_UNDEFINED.search(text):
                return self._careful(line, data)
            return _good(line, _stripped(self.pick_ascii(text)))
        try:
            texts = self.decode_segments(data)
        except UnicodeDecodeError:
            return self._careful(line, data)
        if suspect and _CP932_UNDEFINED.search("".join(texts)):
            return self._careful(line, data)
        if self.single:
            return _good(line, _stripped(self.pick(texts)))
        values = tuple("".join(texts[a:b]).strip(_STRIP) for a, b in self.field_segments)
        return RawRecord(line, values)

    def _careful(self, line: int, data: bytes) -> RawRecord:
        """Find the fields that hold a bad byte or start or end inside a character."""
        starts = _character_starts(data, self.codec)
        values: list[str] = []
        problems: list[RawProblem] = []
        for field, (a, b) in zip(self.spec.fields, self.spans, strict=True):
            text = _decode_marked(data[a:b], self.codec)
            if a not in starts:
                raw = f"\\x{data[a]:02x}" + _escape(_decode_marked(data[a + 1 : b], self.codec))
                problems.append(RawProblem(field.column, raw.strip(_STRIP), "encoding"))
            elif _SURROGATE.search(text) or (b not in starts and b != len(data)):
                problems.append(RawProblem(field.column, _escape(text.strip(_STRIP)), "encoding"))
            values.append(text.strip(_STRIP))
        if problems:
            return RawRecord(line, None, tuple(problems))
        return RawRecord(line, tuple(values))


def _character_starts(data: bytes, codec: str) -> set[int]:
    """The offsets where a character starts, scanning from the record's first byte."""
    starts: set[int] = set()
    position = 0
    while position < len(data):
        starts.add(position)
        byte = data[position]
        if codec == "cp932":
            position += 2 if _is_cp932_lead(byte) else 1
        elif 0xC2 <= byte <= 0xDF:
            position += 2
        elif 0xE0 <= byte <= 0xEF:
            position += 3
        elif 0xF0 <= byte <= 0xF4:
            position += 4
        else:
            position += 1
    return starts


def _fixed_lines(
    chunks: Iterator[bytes], ending: bytes, length: int, codec: str
) -> Iterator[tuple[list[bytes], bool]]:
    """Lists of records without their line ends, each with whether it is CP932-suspect.

    The last record may lack its line end; a DOS end-of-file mark (0x1A) after it is dropped.
    """
    pending = b""
    for chunk in chunks:
        data = pending + chunk if pending else chunk
        if ending:
            cut = data.rfind(ending) + len(ending)
            if cut < len(ending):
                pending = data
                continue
            lines = data[: cut - len(ending)].split(ending)
        else:
            cut = len(data) - len(data) % length
            lines = [data[i : i + length] for i in range(0, cut, length)]
        pending = data[cut:]
        if lines:
            yield lines, _cp932_suspect(data, codec)
    if pending == _DOS_EOF or (
        ending and pending.endswith(_DOS_EOF) and len(pending) == length + 1
    ):
        pending = pending[:-1]
    if pending:
        yield [pending], _cp932_suspect(pending, codec)

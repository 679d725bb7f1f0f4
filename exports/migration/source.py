"""A legacy dataset on disk as ``core.services.migration.MigrationSource``.

SOURCE is a directory (its files named by the layout, or ``TABLE.csv`` in the open layout) or
one CSV file named after its table. Reading and converting a large file runs in a second
process, so that on a two-core terminal one core parses while the other writes the store;
batches pass through a bounded queue (a pipe, never a file), which also bounds memory.
"""

from __future__ import annotations

import csv
import hashlib
import multiprocessing
import os
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any, BinaryIO

import pyrage

from core.errors import InvalidValue, ValidationFailed
from core.migration.convert import Converted, FileConverter, Value
from core.migration.layout import DEFAULT_FILES, FileSpec, Layout, default_layout, parse_layout
from core.migration.model import SourcePlan
from core.migration.schema import TABLES
from core.migration.totals import TableTotals
from exports.migration.readers import detect_encoding, read_batches

PARALLEL_MIN_BYTES = 8 << 20
BATCH = 20_000  # rows per transaction: fewer commits, still a small loss on a crash
QUEUE_DEPTH = 4
SAMPLE = SAMPLE_ROWS = 5
_HEAD = 64 << 10


def load_layout(path: Path) -> Layout:
    try:
        text = path.read_bytes()
    except OSError as error:
        raise InvalidValue("layout", "migration.layout.unreadable", path=str(path)) from error
    try:
        document = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidValue("layout", "migration.layout.syntax", detail=str(error)) from None
    return parse_layout(document, text)


Opener = Callable[[Path], BinaryIO]


def _plain(path: Path) -> BinaryIO:
    return path.open("rb")


class SealedFiles:
    """Opens ``NAME`` of a bag's payload by decrypting ``NAME.age`` as it is read.

    age streams: a thread decrypts into a pipe that the reader reads, so no plaintext file
    is ever written. Picklable (the identity is a string), for the reading process.
    """

    def __init__(self, identity: str) -> None:
        self._identity = identity

    def __call__(self, path: Path) -> BinaryIO:
        sealed = Path(f"{path}.age").open("rb")  # noqa: SIM115 - closed by the pump thread
        key = pyrage.x25519.Identity.from_str(self._identity)
        read_end, write_end = os.pipe()

        def pump() -> None:
            with sealed, os.fdopen(write_end, "wb") as plain:
                try:
                    pyrage.decrypt_io(sealed, plain, [key])
                except (BrokenPipeError, pyrage.DecryptError):
                    return  # the reader stopped early, or sees a cut stream and says so

        threading.Thread(target=pump, daemon=True, name="age-decrypt").start()
        return os.fdopen(read_end, "rb")


def _header(path: Path, opener: Opener) -> tuple[str, ...]:
    with opener(path) as handle:
        head = handle.read(_HEAD)
    encoding = detect_encoding(head)
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        line = first.decode(encoding)
    except UnicodeDecodeError:
        raise InvalidValue("source", "migration.source.header", path=path.name) from None
    return tuple(cell.strip(" \u3000") for cell in next(csv.reader([line]), []))


class DiskSource:
    """A directory of files, one CSV file, or a sesshu migration package (a sealed bag)."""

    def __init__(
        self,
        source: Path,
        layout: Layout | None = None,
        *,
        parallel: bool = True,
        identity: str | None = None,
    ) -> None:
        self.source = source
        self.root = source if source.is_dir() else source.parent
        self._layout = layout
        self.parallel = parallel
        self._plan: SourcePlan | None = None
        self.opener: Opener = _plain
        self._suffix = ""
        if (source / "bagit.txt").is_file():
            if identity is None:
                raise InvalidValue("identity", "migration.source.identity_required")
            self.root = source / "data"
            self.opener = SealedFiles(identity)
            self._suffix = ".age"

    @staticmethod
    def is_package(source: Path) -> bool:
        return (source / "bagit.txt").is_file()

    def _on_disk(self, name: str) -> Path:
        return self.root / f"{name}{self._suffix}"

    # --- the plan --------------------------------------------------------------------------

    def plan(self) -> SourcePlan:
        if self._plan is None:
            self._plan = self._make_plan()
        return self._plan

    def _make_plan(self) -> SourcePlan:
        if not self.source.exists():
            raise InvalidValue("source", "migration.source.missing", path=str(self.source))
        layout = self._layout
        if layout is None:
            present: dict[str, tuple[str, ...]] = {}
            if self.source.is_dir():
                for table, name in DEFAULT_FILES.items():
                    if self._on_disk(name).is_file():
                        present[table] = _header(self.root / name, self.opener)
            elif self.source.stem in TABLES:
                present[self.source.stem] = _header(self.source, self.opener)
            if not present:
                raise InvalidValue(
                    "source",
                    "migration.source.no_files",
                    accepted=", ".join(DEFAULT_FILES.values()),
                )
            layout = default_layout(present)
            if not self.source.is_dir():
                only = layout.files[0]
                layout = Layout(
                    layout.name,
                    (FileSpec(only.table, self.source.name, fields=only.fields),),
                )
        files = tuple(spec for spec in layout.files if self._on_disk(spec.path).is_file())
        missing = [spec.path for spec in layout.files if spec not in files]
        if missing:
            raise ValidationFailed(
                [
                    InvalidValue("source", "migration.source.file_missing", path=p).issues[0]
                    for p in missing
                ]
            )
        digest = hashlib.sha256(layout.digest.encode())
        for spec in files:
            path = self._on_disk(spec.path)
            size = path.stat().st_size
            digest.update(f"{spec.path}\0{size}\0".encode())
            with path.open("rb") as handle:
                digest.update(handle.read(_HEAD))
                handle.seek(max(0, size - _HEAD))
                digest.update(handle.read(_HEAD))
        return SourcePlan(str(self.source), digest.hexdigest(), layout, files)

    def estimate(self, spec: FileSpec) -> int:
        """Records in the file, estimated from its size (for the progress bar's ETA)."""
        size = self._on_disk(spec.path).stat().st_size
        if spec.format == "fixed":
            return max(1, size // (spec.record_length + len(spec.line_bytes)))
        with self.opener(self.root / spec.path) as handle:
            head = handle.read(1 << 20)
        lines = head.count(b"\n")
        if len(head) >= size or lines <= 1:
            return max(0, lines - 1 + (0 if head.endswith(b"\n") else 1))
        return max(1, round(size * lines / len(head)) - 1)

    # --- reading ---------------------------------------------------------------------------

    def batches(
        self, spec: FileSpec, skip: int, codes: Mapping[str, frozenset[str]]
    ) -> Iterator[Converted]:
        path = self.root / spec.path
        layout = self.plan().layout
        if not self.parallel or self._on_disk(spec.path).stat().st_size < PARALLEL_MIN_BYTES:
            yield from _converted(path, spec, layout, skip, codes, self.opener)
            return
        arguments = (str(path), spec, layout, skip, dict(codes), self.opener)
        yield from _in_worker(_produce_batches, arguments)

    def totals(
        self, codes: Mapping[str, frozenset[str]]
    ) -> Callable[[], tuple[dict[str, TableTotals], dict[str, list[tuple[Value, ...]]]]]:
        """Start totalling the source (in a second process when large); call to collect."""
        plan = self.plan()
        arguments = (str(self.root), plan.files, plan.layout, dict(codes), self.opener)
        big = sum(self._on_disk(s.path).stat().st_size for s in plan.files) >= PARALLEL_MIN_BYTES
        if not self.parallel or not big:
            result = _source_totals(*arguments)
            return lambda: result
        results = _in_worker(_produce_totals, arguments)
        return lambda: next(results)


def _converted(
    path: Path,
    spec: FileSpec,
    layout: Layout,
    skip: int,
    codes: Mapping[str, frozenset[str]],
    opener: Opener,
) -> Iterator[Converted]:
    converter = FileConverter(spec, layout, codes)
    for records in read_batches(path, spec, skip=skip, batch_size=BATCH, opener=opener):
        yield converter.convert(records)


def _source_totals(
    root: str,
    files: tuple[FileSpec, ...],
    layout: Layout,
    codes: Mapping[str, frozenset[str]],
    opener: Opener,
) -> tuple[dict[str, TableTotals], dict[str, list[tuple[Value, ...]]]]:
    totals: dict[str, TableTotals] = {}
    firsts: dict[str, list[tuple[Value, ...]]] = {}
    for spec in files:
        table = totals.setdefault(spec.table, TableTotals(spec.columns))
        sample = firsts.setdefault(spec.table, [])
        converter = FileConverter(spec, layout, codes)
        path = Path(root) / spec.path
        for records in read_batches(path, spec, batch_size=BATCH, opener=opener):
            lines, columns, _ = converter.convert_columns(records)
            table.add_columns(len(lines), columns)
            table.rows += len(records) - len(lines)  # every record counts
            if len(sample) < SAMPLE_ROWS and lines:
                wanted = min(SAMPLE_ROWS - len(sample), len(lines))
                sample.extend(tuple(column[i] for column in columns) for i in range(wanted))
    return totals, firsts


# --- the second process ---------------------------------------------------------------------

_DONE = "done"
_FAILED = "failed"


def _produce_batches(
    queue: Any,
    path: str,
    spec: FileSpec,
    layout: Layout,
    skip: int,
    codes: dict[str, frozenset[str]],
    opener: Opener,
) -> None:
    for batch in _converted(Path(path), spec, layout, skip, codes, opener):
        queue.put(batch)


def _produce_totals(
    queue: Any,
    root: str,
    files: tuple[FileSpec, ...],
    layout: Layout,
    codes: dict[str, frozenset[str]],
    opener: Opener,
) -> None:
    queue.put(_source_totals(root, files, layout, codes, opener))


def _follow_parent(parent: int) -> None:
    """End this reading process as soon as the one it reads for is gone (killed, say)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _worker(target: Callable[..., None], queue: Any, arguments: tuple[Any, ...]) -> None:
    threading.Thread(target=_follow_parent, args=(os.getppid(),), daemon=True).start()
    try:
        target(queue, *arguments)
    except Exception as error:  # noqa: BLE001 - reported to the parent, which raises it
        queue.put((_FAILED, type(error).__name__, getattr(error, "key", "")))
        return
    queue.put(_DONE)


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr.

    Under Textual ``sys.stderr`` is an object without a usable file descriptor, which the
    tracker would hand to its process (``bad value(s) in fds_to_keep``).
    """
    shown = sys.stderr
    if sys.__stderr__ is not None:
        sys.stderr = sys.__stderr__
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = shown


def _in_worker(target: Callable[..., None], arguments: tuple[Any, ...]) -> Iterator[Any]:
    """Start ``target`` in a second process now; iterate over what it sends."""
    _start_resource_tracker()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=QUEUE_DEPTH)
    process = context.Process(target=_worker, args=(target, queue, arguments), daemon=True)
    process.start()
    return _drained(process, queue)


def _drained(process: Any, queue: Any) -> Iterator[Any]:
    try:
        while True:
            item = queue.get()
            if item == _DONE:
                return
            if isinstance(item, tuple) and len(item) == 3 and item[0] == _FAILED:
                raise InvalidValue("source", "migration.source.unreadable", detail=item[1])
            yield item
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        queue.close()

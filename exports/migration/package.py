"""The package for the next system: every table in the open layout, inside a signed,
encrypted bag (``exports.bundle``), so the dataset is never plaintext on disk.

Payload (``data/*.age``, age-encrypted; decrypt with the standard ``age`` tool)::

    residents.csv vaccinations.csv notices.csv consents.csv   UTF-8, header row, RFC 4180
    datapackage.json                                          Frictionless Data Package

``datapackage.json`` describes every field (type, required, code list) and gives each CSV's
size and SHA-256; ``manifest-sha256.txt`` of the bag lists the SHA-256 of every encrypted
file; the bag's signature (terminal key) covers the manifests. With a layout file the tables
are written in that legacy layout instead (CP932 fixed width, say), from the same rows.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path, PurePath
from typing import Any, BinaryIO

from core.migration.convert import Value
from core.migration.layout import FileSpec, Layout
from core.services.migration import PackageFile, PackageWritten, TableRows
from exports.bundle import PayloadFile, build_bundle
from exports.migration.legacy import write_stream
from storage.export_payload import ChunkReader
from storage.open_layout import Counted, csv_chunks, datapackage
from storage.store import SqlStore

BUFFER = 1 << 20
Signer = Callable[[bytes], tuple[str, str]]


class BagPackage:
    """Implements ``core.services.migration.MigrationPackage``."""

    def __init__(
        self,
        *,
        signer: Signer,
        info: Mapping[str, str],
        checkpoint: Mapping[str, object],
        recipients: Sequence[str] = (),
        codes: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._signer = signer
        self._info = info
        self._checkpoint = checkpoint
        self._recipients = list(recipients)
        self._codes = codes or {}

    def write(
        self,
        out: PurePath,
        tables: Sequence[tuple[str, tuple[str, ...], TableRows]],
        layout: Layout | None,
    ) -> PackageWritten:
        target = Path(out)
        counted: list[tuple[str, str, Counted]] = []
        collected: dict[str, list[Mapping[str, Any]]] = {"unrepresentable": [], "overflows": []}

        def payload() -> Iterator[PayloadFile]:
            if layout is None:
                for table, columns, rows in tables:
                    tally = Counted()
                    counted.append((f"{table}.csv", table, tally))
                    yield PayloadFile(f"{table}.csv", _opener(csv_chunks(columns, rows(), tally)))
                descriptor = datapackage(counted, self._codes)
                text = json.dumps(descriptor, ensure_ascii=False, indent=1).encode()
                yield PayloadFile("datapackage.json", _opener(iter([text])))
                return
            yield from legacy_payload(layout, tables, counted, collected)

        bundle = build_bundle(
            target,
            payload(),
            signer=self._signer,
            info=self._info,
            checkpoint=self._checkpoint,
            recipients=self._recipients or None,
        )
        return PackageWritten(
            out=str(target),
            files=tuple(
                PackageFile(name, table, c.rows, c.bytes, c.digest.hexdigest())
                for name, table, c in counted
            ),
            unrepresentable=tuple(collected["unrepresentable"]),
            overflows=tuple(collected["overflows"]),
            passphrase=bundle.passphrase,
            bundle_hash=bundle.content_hash,
        )


def package_for(
    store: SqlStore, user: str, today: str, recipients: Sequence[str] = ()
) -> BagPackage:
    """The package of an open store: signed with its terminal key, carrying its latest
    audit checkpoint, with the store's vaccine codes as the code list."""
    with store.reader() as uow:
        points = uow.audit.checkpoints()
        codes = {"vaccine": sorted(uow.migration.vaccine_codes())}
    return BagPackage(
        signer=store.sign,
        info={
            "Source-Organization": "sesshu",
            "Bag-Group-Identifier": "migration",
            "Contact-Name": user,
            "Bagging-Date": today,
            "External-Description": "sesshu migration package (open layout)",
        },
        checkpoint=dataclasses.asdict(points[-1]) if points else {},
        recipients=recipients,
        codes=codes,
    )


def _opener(chunks: Iterator[bytes]) -> Callable[[], io.BufferedReader]:
    def open_stream() -> io.BufferedReader:
        return io.BufferedReader(ChunkReader(chunks), BUFFER)

    return open_stream


def legacy_payload(
    layout: Layout,
    tables: Sequence[tuple[str, tuple[str, ...], TableRows]],
    counted: list[tuple[str, str, Counted]],
    collected: dict[str, list[Mapping[str, Any]]],
) -> Iterator[PayloadFile]:
    """Each file of ``layout`` written from the store's rows by the legacy writer.

    The writer runs in a thread feeding a pipe that the encryptor reads, so the legacy file
    exists only encrypted; what could not be written as it is gets reported, never hidden.
    """
    by_table = {name: (columns, rows) for name, columns, rows in tables}
    for spec in layout.files:
        columns, rows = by_table[spec.table]
        positions = [columns.index(c) for c in spec.columns]
        tally = Counted()
        counted.append((spec.path, spec.table, tally))
        yield PayloadFile(
            spec.path, _legacy_opener(spec, layout, rows, positions, tally, collected)
        )


def _legacy_opener(
    spec: FileSpec,
    layout: Layout,
    rows: TableRows,
    positions: list[int],
    tally: Counted,
    collected: dict[str, list[Mapping[str, Any]]],
) -> Callable[[], BinaryIO]:
    def projected() -> Iterator[tuple[Value, ...]]:
        for batch in rows():
            for row in batch:
                yield tuple(row[p] for p in positions)

    def open_stream() -> BinaryIO:
        read_end, write_end = os.pipe()
        failure: list[BaseException] = []

        def pump() -> None:
            with os.fdopen(write_end, "wb") as sink:
                try:
                    result = write_stream(sink, spec, layout, projected())
                except BrokenPipeError:
                    return
                except BaseException as error:  # noqa: BLE001 - re-raised by the reader
                    failure.append(error)
                    return
            tally.rows, tally.bytes = result.rows, result.bytes
            tally.digest = _Fixed(result.sha256)
            collected["unrepresentable"].extend(asdict(u) for u in result.unrepresentable)
            collected["overflows"].extend(asdict(o) for o in result.overflows)

        thread = threading.Thread(target=pump, daemon=True, name="legacy-writer")
        thread.start()
        return _Joined(os.fdopen(read_end, "rb"), thread, failure)

    return open_stream


class _Fixed:
    """A finished digest, as ``Counted`` expects one."""

    def __init__(self, hexdigest: str) -> None:
        self._hex = hexdigest

    def hexdigest(self) -> str:
        return self._hex


class _Joined(io.BufferedReader):
    """The pipe's read end; at its end, waits for the writer and raises what it raised."""

    def __init__(self, raw: BinaryIO, thread: threading.Thread, failure: list[BaseException]):
        super().__init__(raw)  # type: ignore[arg-type]
        self._thread = thread
        self._failure = failure

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data:
            self._thread.join()
            if self._failure:
                raise self._failure[0]
        return data

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        if not count:
            self._thread.join()
            if self._failure:
                raise self._failure[0]
        return count

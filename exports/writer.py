"""The terminal side of an export: stream, encrypt, sign, image, burn and read back.

Implements ``core.ports.Exporter`` over an open store. The plaintext never touches the disk:
rows stream from SQLCipher through age into the bag; the bag (encrypted payload, manifests,
signature, README) is staged in a private directory inside the spool and removed once it is
in the image.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath

from core.errors import RuleViolation
from core.exports import PayloadSpec, WriteJob, WriteOutcome
from core.ports import OpenStore, Progress
from exports import burn as burner
from exports.bundle import PayloadFile, build_bundle
from exports.iso import write_iso
from exports.verify import verify_path
from storage.export_payload import ChunkReader, hashed, spec_hash, spec_streams
from storage.store import SqlStore

SPOOL_NAME = "spool"
BUFFER = 1 << 20


class StoreExporter:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def default_spool(self) -> PurePath:
        return self._store.path.parent / SPOOL_NAME

    def content_hash(self, spec: PayloadSpec) -> str:
        with self._store.reader():
            return spec_hash(self._store.conn, spec)

    def write(self, job: WriteJob, progress: Progress | None = None) -> WriteOutcome:
        image = Path(job.target.image)
        if image.exists():
            raise RuleViolation("export.out_exists", path=str(image))
        image.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        store = self._store
        with (
            tempfile.TemporaryDirectory(dir=image.parent, prefix=".bag-") as scratch,
            store.reader() as uow,
        ):
            points = uow.audit.checkpoints()
            checkpoint = dataclasses.asdict(points[-1]) if points else {}
            files = [
                PayloadFile(name, _opener(name, stream, digest))
                for name, stream in spec_streams(store.conn, job.export.spec).items()
            ]
            bundle = build_bundle(
                Path(scratch) / job.label,
                files,
                signer=store.sign,
                info=job.info,
                checkpoint=checkpoint,
                recipients=list(job.export.recipients) or None,
            )
            write_iso(bundle.path, image, job.label, progress)
        read_from = image
        if job.target.device is not None:
            device = job.target.device
            try:
                # A file-backed stdio: pseudo-drive is overwriteable and can never be closed;
                # xorriso then reports it appendable, and verification catches any appended
                # session. A real drive's write-once disc must come back closed.
                burner.burn(image, device, progress, require_closed=not device.startswith("stdio:"))
            except burner.BurnFailed as failed:
                raise RuleViolation(f"export.burn_{failed.reason}", detail=failed.detail) from None
            finally:
                image.unlink(missing_ok=True)  # the staging image; the disc is the medium
            read_from = burner.read_path(job.target.device)
        verdict = verify_path(read_from, store.signing_public_key)
        problems = [f"{p.file}: {p.reason}" for p in verdict.problems]
        if verdict.content_hash not in (None, bundle.content_hash):
            problems.append("tagmanifest-sha256.txt: not_what_was_written")
        return WriteOutcome(
            read_path=str(read_from),
            bundle_hash=bundle.content_hash,
            content_hash=digest.hexdigest(),
            verified=not problems,
            problems=tuple(problems),
            passphrase=bundle.passphrase,
            payload_bytes=bundle.payload_bytes,
        )


def _opener(
    name: str, stream: Callable[[], Iterator[bytes]], digest: hashlib._Hash
) -> Callable[[], io.BufferedReader]:
    def open_stream() -> io.BufferedReader:
        return io.BufferedReader(ChunkReader(hashed(name, stream(), digest)), BUFFER)

    return open_stream


def exporter_for(store: OpenStore) -> StoreExporter:
    """The exporter of an open SQLCipher store (the only kind there is outside tests)."""
    if not isinstance(store, SqlStore):
        raise TypeError("exports need an open SQLCipher store")
    return StoreExporter(store)

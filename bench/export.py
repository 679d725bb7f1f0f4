"""Export of every resident and vaccination record to an encrypted, signed ISO: time and memory.

.venv/bin/python -m bench.export --store /path/city.db [--skip-age]

Measures, in one run:
- the whole export (CSV streams → age → bag → manifests → signature → ISO → verify);
- peak RSS of the process (target ≤ 500 MB) and the time (target ≤ 60 s);
- age encryption throughput of pyrage against the ``age`` command on the same CSV stream,
  piped through stdin (no plaintext file is written; the ciphertext goes to /dev/null).

The store is only read; its ISO and bag are written into a temporary directory beside it and
deleted afterwards.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pyrage

from bench.batches import in_use
from bench.common import login, record
from core.clock import SystemClock
from core.services.context import ServiceContext
from core.services.exports import ExportService
from exports.bundle import PayloadFile, build_bundle
from exports.iso import write_iso
from exports.verify import verify_path
from exports.writer import StoreExporter
from storage.database_types import Connection
from storage.export_payload import TABLES, csv_chunks, table_stream


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def age_throughput(conn: Connection, table: str) -> dict[str, float]:
    """MB/s encrypting one table's CSV with pyrage and with the age command."""
    recipient = pyrage.x25519.Identity.generate().to_public()
    total = 0
    start = time.perf_counter()
    with open("/dev/null", "wb") as sink:
        reader = table_stream(conn, table)()
        pyrage.encrypt_io(reader, sink, [recipient])
    pyrage_s = time.perf_counter() - start
    result = {"pyrage_s": round(pyrage_s, 2)}
    if shutil.which("age") is None:
        return result
    start = time.perf_counter()
    with subprocess.Popen(
        ["age", "-r", str(recipient), "-o", "/dev/null"], stdin=subprocess.PIPE
    ) as process:
        assert process.stdin is not None
        for chunk in csv_chunks(conn, table, TABLES[table]):
            total += len(chunk)
            process.stdin.write(chunk)
        process.stdin.close()
    age_s = time.perf_counter() - start
    megabytes = total / 1e6
    result.update(
        megabytes=round(megabytes, 1),
        age_s=round(age_s, 2),
        pyrage_mb_s=round(megabytes / pyrage_s, 1),
        age_mb_s=round(megabytes / age_s, 1),
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--skip-age", action="store_true")
    parser.add_argument(
        "--workflow",
        action="store_true",
        help="the whole terminal workflow instead: export create (hash), approve, write "
        "(hash again, bundle, ISO, read back); the ISO goes to a scratch spool and is deleted",
    )
    parser.add_argument(
        "--passphrase",
        action="store_true",
        help="passphrase mode (age's scrypt costs a few hundred MB once) instead of a recipient",
    )
    args = parser.parse_args(argv)
    if in_use(args.store):
        raise SystemExit("the store is open elsewhere; close it first")
    if args.workflow:
        record("export", workflow(args.store))
        return 0
    _, store = login(args.store, "sup1")
    try:
        with tempfile.TemporaryDirectory(dir=args.store.parent) as scratch, store.reader() as uow:
            points = uow.audit.checkpoints()
            counts = {
                t: store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES
            }
            recipients = [str(pyrage.x25519.Identity.generate().to_public())]
            start = time.perf_counter()
            bundle = build_bundle(
                Path(scratch) / "bag",
                [PayloadFile(f"{t}.csv", table_stream(store.conn, t)) for t in TABLES],
                signer=store.sign,
                info={"External-Identifier": "bench-export"},
                checkpoint=points[-1].__dict__,
                recipients=None if args.passphrase else recipients,
            )
            bundled = time.perf_counter()
            image = write_iso(bundle.path, Path(scratch) / "export.iso", "SESSHU-BENCH")
            written = time.perf_counter()
            verdict = verify_path(image, store.signing_public_key)
            verified = time.perf_counter()
            result = {
                "benchmark": "export_iso",
                "mode": "passphrase" if args.passphrase else "recipient",
                "rows": counts,
                "payload_mib": round(bundle.payload_bytes / 2**20, 1),
                "iso_mib": round(image.stat().st_size / 2**20, 1),
                "bundle_s": round(bundled - start, 1),
                "iso_s": round(written - bundled, 1),
                "verify_s": round(verified - written, 1),
                "total_s": round(verified - start, 1),
                "verified": verdict.ok,
                "peak_rss_mib": peak_rss_mib(),
                "targets": {"total_s": 60, "peak_rss_mib": 500},
            }
            if not args.skip_age:
                result["age_residents"] = age_throughput(store.conn, "residents")
    finally:
        store.close()
    record("export", result)
    return 0


def workflow(path: Path) -> dict[str, object]:
    """create → approve → write through the core services, as ``sesshu export`` runs them."""
    clock = SystemClock()
    operator_session, operator_store = login(path, "op1")
    supervisor_session, supervisor_store = login(path, "sup1")
    operator = ServiceContext(operator_store, operator_session, clock)
    supervisor = ServiceContext(supervisor_store, supervisor_session, clock)
    try:
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            spool = Path(scratch) / "spool"
            with operator_store.transaction() as uow:
                uow.settings.put("export_spool", str(spool))
            start = time.perf_counter()
            export = ExportService(operator, StoreExporter(operator_store)).create("backup")
            created = time.perf_counter()
            ExportService(supervisor, StoreExporter(supervisor_store)).approve(export.id)
            approved = time.perf_counter()
            written = ExportService(operator, StoreExporter(operator_store)).write(
                export.id, "立会人", out="bench.iso"
            )
            done = time.perf_counter()
            with operator_store.transaction() as uow:
                uow.settings.put("export_spool", "")
            return {
                "benchmark": "export_workflow",
                "create_s": round(created - start, 1),
                "approve_s": round(approved - created, 1),
                "write_s": round(done - approved, 1),
                "total_s": round(done - start, 1),
                "verified": written.outcome.verified,
                "payload_mib": round(written.outcome.payload_bytes / 2**20, 1),
                "peak_rss_mib": peak_rss_mib(),
                "child_peak_rss_mib": round(
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
                ),
                "targets": {"total_s": 60, "peak_rss_mib": 500},
            }
    finally:
        operator_store.close()
        supervisor_store.close()


if __name__ == "__main__":
    raise SystemExit(main())

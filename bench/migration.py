"""Migration benchmark: import of residents and vaccination records from open-layout CSV,
against the sqlite3 command-line ``.import`` of the same files into plain SQLite (the lower
bound: no checks, no encryption), then the reconciliation of the same data.

    .venv/bin/python -m bench.migration --residents 1000000 --records 10000000

Everything runs in one go on synthetic data (``exports.migration.synthetic``) in a scratch
directory that is removed afterwards. Needs the ``sqlite3`` command (Debian: apt install
sqlite3). Peak memory is sampled from /proc over the importing process and its children.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import record
from bench.processes import Terminal
from core.catalog import load_default_catalog
from exports.migration.synthetic import write_open_dataset
from tests.conftest import PASSWORD, build_staff_store


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        for task in tasks:
            text = (task / "children").read_text().split()
            found.extend(int(c) for c in text)
    except (FileNotFoundError, ProcessLookupError):
        return found
    return found


class PeakMemory:
    """Samples the resident memory of a process tree: the tree's total and the largest one."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tree_kib = 0
        self.single_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = [self.pid]
            for pid in pids:
                pids.extend(c for c in _children(pid) if c not in pids)
            sizes = [_rss_kib(p) for p in pids]
            self.tree_kib = max(self.tree_kib, sum(sizes))
            self.single_kib = max(self.single_kib, max(sizes, default=0))
            self._stop.wait(0.1)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {
            "peak_rss_tree_mib": round(self.tree_kib / 1024, 1),
            "peak_rss_process_mib": round(self.single_kib / 1024, 1),
        }


def timed_sesshu(terminal: Terminal, *args: str) -> tuple[Any, float, dict[str, float]]:
    from bench.processes import SESSHU, sandbox_env

    command = [SESSHU, "--store", str(terminal.store), *args, "--as", "mig1", "--password-stdin"]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=sandbox_env(terminal.root),
    )
    memory = PeakMemory(process.pid)
    out, err = process.communicate((PASSWORD + "\n").encode())
    seconds = time.perf_counter() - started
    peaks = memory.stop()
    if process.returncode not in (0, 1) or not out.strip():
        raise RuntimeError(err.decode()[-2000:])
    return json.loads(out), seconds, peaks


def sqlite_import(work: Path, residents: Path, records: Path) -> float:
    """The sqlite3 CLI's .import of the same CSV into a plain database (header → columns)."""
    target = work / "plain.db"
    script = f".mode csv\n.import {residents} residents\n.import {records} vaccinations\n"
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(target)], input=script.encode(), check=True)
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=None, help="scratch directory")
    options = parser.parse_args(argv)
    if shutil.which("sqlite3") is None:
        raise SystemExit("the sqlite3 command is needed (apt install sqlite3)")
    work = Path(tempfile.mkdtemp(prefix="sesshu-bench-migration-", dir=options.work))
    try:
        source = work / "source"
        source.mkdir()
        codes = [v.code for v in load_default_catalog().vaccines]
        started = time.perf_counter()
        counts = write_open_dataset(
            source, options.residents, options.records, seed=1, vaccines=codes
        )
        generated = time.perf_counter() - started
        rows = options.residents + options.records
        size_mib = sum(p.stat().st_size for p in source.iterdir()) / 2**20
        print(f"generated {counts} ({size_mib:.0f} MiB) in {generated:.1f} s", flush=True)

        baseline = sqlite_import(work, source / "residents.csv", source / "vaccinations.csv")
        print(f"sqlite3 .import: {baseline:.1f} s", flush=True)

        terminal = Terminal(work, build_staff_store(work / "sesshu.db", "BENCH-MIG"), PASSWORD)
        report, seconds, peaks = timed_sesshu(terminal, "migrate", "import", str(source))
        print(f"sesshu migrate import: {seconds:.1f} s {report['status']} {peaks}", flush=True)
        check, check_seconds, check_peaks = timed_sesshu(
            terminal, "migrate", "reconcile", "--source", str(source)
        )
        print(f"sesshu migrate reconcile: {check_seconds:.1f} s equal={check['equal']}")
        store_mib = terminal.store.stat().st_size / 2**20
        result = {
            "bench": "migration",
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "residents": options.residents,
            "records": options.records,
            "csv_mib": round(size_mib, 1),
            "import": {
                "seconds": round(seconds, 1),
                "rows_per_second": round(rows / seconds),
                "status": report["status"],
                "loaded": report["loaded"],
                "errors": report["errors"],
                **peaks,
            },
            "sqlite3_cli_import": {
                "seconds": round(baseline, 1),
                "rows_per_second": round(rows / baseline),
            },
            "ratio_sesshu_to_sqlite3_cli": round(seconds / baseline, 2),
            "reconcile": {
                "seconds": round(check_seconds, 1),
                "equal": check["equal"],
                **check_peaks,
            },
            "store_mib": round(store_mib, 1),
            "targets": {"import_rows_per_second": 100_000, "peak_rss_mib": 500, "reconcile_s": 60},
        }
        record("migration", result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

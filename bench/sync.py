"""Sync over loopback mutual TLS: initial pull of the registry and push of the outbox.

.venv/bin/python -m bench.sync [--residents 1000000] [--push 100000] [--backend sqlite postgres]

For each central backend, in one run:
- the central system is initialised and loaded with a synthetic registry feed (setup, timed);
- a new terminal enrolls and runs ``sesshu sync run``: the initial pull of every resident and
  the master data (target ≤ 2 min for 1,000,000 residents);
- ``push`` verified vaccination records are written into the terminal's store (the outbox
  triggers queue one entry each) and pushed (target ≤ 30 s for 100,000 entries);
- ``sesshu sync compare`` checks that both sides hold the same counts and hash totals.

Everything is synthetic and lives in a temporary directory that is deleted afterwards; the
PostgreSQL backend uses its own schema in database ``test`` and drops it.
"""

from __future__ import annotations

import argparse
import resource
import secrets
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import record
from bench.processes import Central, Terminal, queue_records
from storage.demo.registry_feed import write_registry_feed
from tests.conftest import PASSWORD, build_staff_store

POSTGRES = "postgresql://127.0.0.1:5432/test"


def children_peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def timed_run(terminal: Terminal) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    done = terminal.json("sync", "run", user="op1")
    return time.perf_counter() - start, done


def one_backend(work: Path, backend: str, feed: Path, residents: int, push: int) -> dict[str, Any]:
    schema = f"bench_{secrets.token_hex(4)}"
    db = f"{POSTGRES}?schema={schema}" if backend == "postgres" else ""
    root = work / backend
    central = Central(
        root / "central", db or f"sqlite:///{root / 'central' / 'conf' / 'central.db'}"
    )
    central.root.mkdir(parents=True)
    central.init()
    start = time.perf_counter()
    central.cli("registry", "import", str(feed))
    import_s = time.perf_counter() - start
    central.start()
    try:
        terminal_root = root / "terminal"
        terminal_root.mkdir()
        store = build_staff_store(terminal_root / "sesshu.db", terminal="BENCH-1")
        terminal = Terminal(terminal_root, store, PASSWORD)
        terminal.enroll(central)
        pull_wall, pulled = timed_run(terminal)
        queue_s = queue_records(store, PASSWORD, push)
        push_wall, pushed = timed_run(terminal)
        start = time.perf_counter()
        compared = terminal.json("sync", "compare", user="op1", check=False)
        compare_s = time.perf_counter() - start
    finally:
        central.stop()
        if backend == "postgres":
            _drop_schema(schema)
    return {
        "benchmark": "sync",
        "backend": backend,
        "residents": residents,
        "registry_import_s": round(import_s, 1),
        "initial_pull_s": round(pull_wall, 1),
        "initial_pull": pulled,
        "queue_records_s": round(queue_s, 1),
        "push_entries": push,
        "push_run_s": round(push_wall, 1),
        "push_run": pushed,
        "push_per_s": round(push / pushed["push_seconds"]) if pushed.get("push_seconds") else None,
        "compare_s": round(compare_s, 1),
        "compare_equal": compared.get("equal"),
        "terminal_peak_rss_mib": children_peak_rss_mib(),
    }


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--push", type=int, default=100_000)
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--work", type=Path, default=None, help="scratch directory (default: tmp)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sesshu-bench-sync-", dir=args.work))
    try:
        feed = work / "registry.jsonl"
        start = time.perf_counter()
        lines = write_registry_feed(feed, args.residents, 20261206, date(2026, 12, 1))
        print(f"feed: {lines} lines in {time.perf_counter() - start:.1f} s", flush=True)
        for backend in args.backend:
            result = one_backend(work, backend, feed, args.residents, args.push)
            record("sync", result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

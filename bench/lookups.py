"""Lookup latency in core, encrypted vs plain SQLite in the same run, and opening a person.

    .venv/bin/python -m bench.lookups --store /path/city.db [--queries 200]

Each timing is one ``LookupService`` call as the TUI and CLI make it: permission check,
query, audit event and commit. The plain twin is a temporary unencrypted copy of the same
synthetic store, deleted afterwards.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import context, login, percentiles, plain_twin, record, timed
from core.audit import Action, AuditEvent
from core.search import SearchCriteria
from core.services.lookup import LookupService
from storage.store import SqlStore

KINDS = ("atena", "kana_prefix", "birth", "name_birth")


def sample_queries(store: SqlStore, count: int, seed: int) -> dict[str, list[SearchCriteria]]:
    rng = random.Random(seed)
    total = store.conn.execute("SELECT max(id) FROM residents").fetchone()[0]
    ids = [rng.randint(1, total) for _ in range(count)]
    rows = [
        store.conn.execute(
            "SELECT atena, kana, name, birth FROM residents WHERE id = ?", (i,)
        ).fetchone()
        for i in ids
    ]
    return {
        "atena": [SearchCriteria(atena=r[0]) for r in rows],
        "kana_prefix": [SearchCriteria(kana=r[1][: rng.randint(2, 4)]) for r in rows],
        "birth": [SearchCriteria(birth=r[3]) for r in rows],
        "name_birth": [SearchCriteria(name=r[2].split("\u3000")[0], birth=r[3][:4]) for r in rows],
    }


def measure(service: LookupService, queries: list[SearchCriteria]) -> list[float]:
    for criteria in queries[:10]:
        service.search(criteria)
    samples = []
    for criteria in queries:
        samples.append(timed(partial(service.search, criteria)))
    return samples


def person_with_records(store: SqlStore, wanted: int = 60) -> tuple[str, int]:
    """A resident with ``wanted`` vaccination rows; the most-vaccinated one is topped up.

    The synthetic city tops out near 35 rows a person, so the benchmark adds synthetic
    influenza rows (audited as a demo build step) until one person has ``wanted``.
    """
    atena, count = store.conn.execute(
        "SELECT atena, count(*) AS n FROM vaccinations GROUP BY atena ORDER BY n DESC LIMIT 1"
    ).fetchone()
    if count < wanted:
        rows = [
            (atena, "FLU", 1, f"{1960 + i}-11-01", f"BENCH{i:03d}", "bench", "-")
            for i in range(wanted - count)
        ]
        with store.transaction() as uow:
            store.conn.executemany(
                "INSERT INTO vaccinations (atena, vaccine, dose, date, lot, status, source, "
                "created_at) VALUES (?, ?, ?, ?, ?, 'verified', ?, ?)",
                rows,
            )
            uow.audit.append(
                AuditEvent(
                    Action.DEMO_BUILT.value,
                    None,
                    f"resident:{atena}",
                    {"step": "bench_records", "records": len(rows)},
                )
            )
        count = wanted
    return str(atena), int(count)


def open_times(service: LookupService, atena: str, repeat: int) -> list[float]:
    service.open(atena)
    return [timed(lambda: service.open(atena)) for _ in range(repeat)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    session, encrypted = login(args.store, "op1")
    residents = encrypted.conn.execute("SELECT count(*) FROM residents").fetchone()[0]
    records = encrypted.conn.execute("SELECT count(*) FROM vaccinations").fetchone()[0]
    queries = sample_queries(encrypted, args.queries, args.seed)
    atena, rows = person_with_records(encrypted)
    with tempfile.TemporaryDirectory(dir=args.store.parent) as scratch:
        plain = plain_twin(encrypted, Path(scratch) / "plain.db")
        services: dict[str, Callable[[], LookupService]] = {
            "encrypted": lambda: LookupService(context(encrypted, session)),
            "plain": lambda: LookupService(context(plain, session)),
        }
        result: dict[str, object] = {
            "benchmark": "lookups",
            "residents": residents,
            "records": records,
        }
        for kind in KINDS:
            entry: dict[str, object] = {}
            for label, make in services.items():
                entry[label] = percentiles(measure(make(), queries[kind]))
            enc, pla = entry["encrypted"], entry["plain"]
            entry["ratio_p50"] = round(enc["p50_ms"] / pla["p50_ms"], 2)  # type: ignore[index]
            entry["ratio_p95"] = round(enc["p95_ms"] / pla["p95_ms"], 2)  # type: ignore[index]
            result[kind] = entry
        result["open_person"] = {
            "vaccination_rows": rows,
            "encrypted": percentiles(open_times(services["encrypted"](), atena, 50)),
            "plain": percentiles(open_times(services["plain"](), atena, 50)),
        }
        plain.close()
    encrypted.close()
    record("lookups", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared pieces for benchmarks: percentiles, opening a store, a plain-SQLite twin."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlcipher3

from core.clock import SystemClock
from core.services.auth import AuthService
from core.services.context import ServiceContext, Session
from storage import search_keys
from storage.database import SESSION_PRAGMAS
from storage.demo_store import DEMO_PASSWORD
from storage.keyfile import KeyFile
from storage.store import SqlStore
from storage.vault import Vault

RESULTS = Path(__file__).with_name("results")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
    }


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def login(path: Path, user: str) -> tuple[Session, SqlStore]:
    clock = SystemClock()
    session, store = AuthService(Vault(path, clock), clock).login(user, DEMO_PASSWORD)
    if not isinstance(store, SqlStore):
        raise TypeError(type(store))
    return session, store


def plain_twin(store: SqlStore, target: Path) -> SqlStore:
    """An unencrypted copy with the same schema, opened the way sesshu opens its stores.

    For benchmarks on synthetic data only: it is deleted by the caller when done.
    """
    if not target.exists():
        store.conn.execute(f"ATTACH DATABASE '{target}' AS plain KEY ''")
        store.conn.execute("SELECT sqlcipher_export('plain')")
        store.conn.execute("DETACH DATABASE plain")
    conn = sqlcipher3.connect(str(target), isolation_level=None, check_same_thread=False)
    for name, value in SESSION_PRAGMAS:
        conn.execute(f"PRAGMA {name} = {value}")
    conn.execute("PRAGMA journal_mode = WAL")
    search_keys.register(conn)
    return SqlStore(target, conn, KeyFile(store.path), b"", "plain", store.clock)


def context(store: SqlStore, session: Session) -> ServiceContext:
    return ServiceContext(store, session, store.clock)


def record(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"{name}.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(result, ensure_ascii=False) + "\n")
    print(json.dumps(result, ensure_ascii=False, indent=1))

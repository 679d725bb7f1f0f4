"""Sync with real processes on loopback: kills, replays, out-of-order deliveries, two terminals.

Each test ends by counting and hash-comparing both sides (``sesshu sync compare``): nothing is
lost and nothing is duplicated.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.processes import Central, Terminal, open_store, queue_records
from core.sync import AckStatus
from storage.demo.registry_feed import write_registry_feed
from sync.client import central_for
from tests.central.conftest import postgres_url_or_skip
from tests.conftest import PASSWORD, build_staff_store

pytestmark = pytest.mark.slow

RESIDENTS = 3000
BIG_RESIDENTS = 25_000


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("feed") / "registry.jsonl"
    write_registry_feed(path, RESIDENTS, 20261206, date(2026, 12, 1))
    return path


@pytest.fixture(scope="module")
def big_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More residents than one pull page, so a pull can be cut between pages."""
    path = tmp_path_factory.mktemp("feed") / "registry.jsonl"
    write_registry_feed(path, BIG_RESIDENTS, 20261207, date(2026, 12, 1))
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def running_central(root: Path, backend: str, feed: Path) -> Iterator[Central]:
    root.mkdir()
    schema = ""
    if backend == "postgresql":
        base = postgres_url_or_skip()
        schema = f"sync_e2e_{os.getpid()}_{secrets.token_hex(4)}"
        db = f"{base}?schema={schema}"
    else:
        db = f"sqlite:///{root / 'conf' / 'central.db'}"
    server = Central(root, db)
    try:
        server.init()
        server.cli("registry", "import", str(feed))
        server.start()
        yield server
    finally:
        server.stop()
        if schema:
            with psycopg.connect(postgres_url_or_skip(), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def central(backend: str, tmp_path: Path, feed: Path) -> Iterator[Central]:
    with running_central(tmp_path / "central", backend, feed) as server:
        yield server


def new_terminal(tmp_path: Path, name: str, central: Central) -> Terminal:
    root = tmp_path / name
    root.mkdir()
    terminal = Terminal(root, build_staff_store(root / "sesshu.db", terminal=name), PASSWORD)
    terminal.enroll(central)
    return terminal


def run(terminal: Terminal, user: str = "op1") -> dict[str, Any]:
    return dict(terminal.json("sync", "run", user=user))


def live_status(terminal: Terminal) -> dict[str, Any]:
    return dict(terminal.json("sync", "status", user="op1"))


def assert_converged(
    terminal: Terminal, records: int | None = None, residents: int = RESIDENTS
) -> dict[str, Any]:
    done = terminal.cli("sync", "compare", "--json", user="op1", check=False)
    report = json.loads(done.stdout)
    tables = {t["table"]: t for t in report["tables"]}
    assert report["equal"], [t for t in report["tables"] if not t["equal"]]
    assert done.returncode == 0
    assert tables["residents"]["central_count"] == residents
    if records is not None:
        assert tables["records"]["local_count"] == records
        assert tables["records"]["central_count"] == records
    return tables


PENDING_RECORDS = "SELECT count(*) FROM outbox WHERE kind = 'record' AND status = 'pending'"
CURSOR = "SELECT COALESCE(CAST(value AS INTEGER), 0) FROM sync_state WHERE key = 'cursor'"


def pending_records(terminal: Terminal) -> int:
    """Record entries not yet acknowledged (audit checkpoints come and go all the time)."""
    store = open_store(terminal.store, "op1", PASSWORD)
    try:
        return int(store.conn.execute(PENDING_RECORDS).fetchone()[0])
    finally:
        store.close()


def between(low: int, high: int) -> Callable[[int], bool]:
    return lambda value: low < value < high


def wait_for(
    terminal: Terminal,
    query: str,
    wanted: Callable[[int], bool],
    process: subprocess.Popen[bytes],
) -> int | None:
    """Watch the terminal's store (committed state, as another session sees it) until
    ``query`` gives a wanted value; None if the process ended first."""
    store = open_store(terminal.store, "aud1", PASSWORD)
    try:
        while process.poll() is None:
            row = store.conn.execute(query).fetchone()
            value = int(row[0]) if row else 0
            if wanted(value):
                return value
            time.sleep(0.005)
        return None
    finally:
        store.close()


def test_a_central_killed_mid_push_loses_and_duplicates_nothing(
    tmp_path: Path, central: Central
) -> None:
    terminal = new_terminal(tmp_path, "T-KILL", central)
    run(terminal)
    total = 30_000
    queue_records(terminal.store, PASSWORD, total)
    interrupted: list[int] = []
    for _ in range(3):
        process = terminal.spawn("sync", "run", user="op1")
        # Kill the central as soon as the first batch is acknowledged, so the rest is cut.
        seen = wait_for(terminal, PENDING_RECORDS, between(0, total), process)
        central.kill()
        assert process.wait(timeout=120) != 0
        central.start()
        if seen is None:
            break
        interrupted.append(pending_records(terminal))
        total = interrupted[-1]
    assert interrupted, "no push was cut midway"
    assert interrupted == sorted(interrupted, reverse=True)
    run(terminal)
    assert pending_records(terminal) == 0
    assert_converged(terminal, records=30_000)


def test_a_terminal_killed_mid_pull_resumes_without_gaps(
    tmp_path: Path, backend: str, big_feed: Path
) -> None:
    with running_central(tmp_path / "central", backend, big_feed) as central:
        terminal = new_terminal(tmp_path, "T-PULL", central)
        process = terminal.spawn("sync", "run", user="op1")
        cursor = wait_for(terminal, CURSOR, lambda n: n > 0, process)
        process.kill()
        process.wait(timeout=60)
        assert cursor is not None, "the pull ended before it could be cut"
        resumed_from = live_status(terminal)["cursor"]
        assert 0 < resumed_from < BIG_RESIDENTS
        run(terminal)
        tables = assert_converged(terminal, residents=BIG_RESIDENTS)
        assert tables["residents"]["local_count"] == BIG_RESIDENTS


def test_duplicated_and_reordered_deliveries_converge(tmp_path: Path, central: Central) -> None:
    terminal = new_terminal(tmp_path, "T-DUP", central)
    run(terminal)
    queue_records(terminal.store, PASSWORD, 400)
    store = open_store(terminal.store, "op1", PASSWORD)
    try:
        with store.reader() as uow:
            entries = uow.sync.pending(1000)
            name, _ = uow.sync.identity()
        http = central_for(store)
        assert http is not None
        with http:
            early, late = entries[:200], entries[200:]
            assert http.push(name, late).acks == ()  # arrives first: waits for the rest
            first = http.push(name, entries)
            assert {a.status for a in first.acks} == {AckStatus.APPLIED}
            again = http.push(name, entries)  # the answer was lost: the terminal sends again
            assert {a.status for a in again.acks} == {AckStatus.DUPLICATE}
            assert len(early) == 200
    finally:
        store.close()
    outcome = run(terminal)  # the acks never reached the store: everything is resent once more
    assert outcome["pushed"] >= len(entries)
    assert pending_records(terminal) == 0
    assert_converged(terminal, records=400)


def corrected(terminal: Terminal, uid: str, lot: str, by: str) -> None:
    """A confirmed correction of one record, written as the change service writes it."""
    store = open_store(terminal.store, "op1", PASSWORD)
    try:
        with store.transaction():
            own, _, local_id = uid.partition(":")
            where, key = ("uid = ?", uid)
            if store.store_id == own:
                where, key = ("id = ?", local_id)
            store.conn.execute(
                f"UPDATE vaccinations SET lot = ?, verified_by = ?, version = version + 1 "
                f"WHERE {where}",
                (lot, by, key),
            )
    finally:
        store.close()


def record_uid(terminal: Terminal) -> tuple[str, str]:
    store = open_store(terminal.store, "op1", PASSWORD)
    try:
        row = store.conn.execute(
            "SELECT COALESCE(uid, ? || ':' || id), lot FROM vaccinations ORDER BY id LIMIT 1",
            (store.store_id,),
        ).fetchone()
    finally:
        store.close()
    return str(row[0]), str(row[1])


@pytest.mark.parametrize(
    ("backend", "keep"), [("sqlite", "local"), ("postgresql", "central")], indirect=["backend"]
)
def test_two_terminals_changing_one_record_end_in_one_conflict_then_agree(
    tmp_path: Path, central: Central, keep: str
) -> None:
    a = new_terminal(tmp_path, "T-A", central)
    b = new_terminal(tmp_path, "T-B", central)
    run(a)
    queue_records(a.store, PASSWORD, 1)
    run(a)
    run(b)
    uid, _ = record_uid(b)
    assert record_uid(a)[0] == uid
    corrected(a, uid, "LOT-FROM-A", "ver1")
    corrected(b, uid, "LOT-FROM-B", "ver1")
    corrected(b, uid, "LOT-FROM-B2", "ver1")
    assert run(a)["conflicts"] == 0
    assert run(b)["conflicts"] >= 1
    open_conflicts = b.json("sync", "conflicts", user="sup1")
    items = open_conflicts["conflicts"] if isinstance(open_conflicts, dict) else open_conflicts
    assert len(items) == 1
    refused = b.cli(
        "sync",
        "decide",
        str(items[0]["id"]),
        "--keep",
        keep,
        "--reason",
        "x",
        user="ver1",
        check=False,
    )
    assert refused.returncode == 1
    b.cli(
        "sync",
        "decide",
        str(items[0]["id"]),
        "--keep",
        keep,
        "--reason",
        "紙の予診票で確認",
        user="sup1",
    )
    run(b)
    run(a)
    run(b)
    winner = "LOT-FROM-A" if keep == "central" else "LOT-FROM-B2"
    assert record_uid(a)[1] == winner
    assert record_uid(b)[1] == winner
    for terminal in (a, b):
        assert_converged(terminal, records=1)
    assert b.json("sync", "conflicts", user="sup1") in ([], {"conflicts": []})


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_revoked_terminal_is_refused(tmp_path: Path, central: Central) -> None:
    terminal = new_terminal(tmp_path, "T-REV", central)
    run(terminal)
    central.cli("revoke", "--terminal", "T-REV")
    refused = terminal.cli("sync", "run", "--json", user="op1", check=False)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.strip()
    assert live_status(terminal)["errors"] >= 1

"""Demo history counts as already synced: it never fills the outbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from core.clock import JST, FixedClock
from storage.demo_store import DEMO_PASSWORD, build_demo_store
from storage.store import SqlStore
from storage.vault import Vault


def test_demo_residents_and_records_are_not_queued(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 24, 10, tzinfo=JST))
    summary = build_demo_store(tmp_path / "demo.db", residents=40, seed=7, clock=clock)
    assert summary.records > 0
    store = Vault(tmp_path / "demo.db", clock).open_as("adm1", DEMO_PASSWORD)
    assert isinstance(store, SqlStore)
    try:
        queued = store.conn.execute(
            "SELECT count(*) FROM outbox o JOIN vaccinations v ON o.key = ? || ':' || v.id "
            "WHERE v.source = 'demo'",
            (store.store_id,),
        ).fetchone()[0]
        synced = store.conn.execute(
            "SELECT count(*) FROM vaccinations WHERE source = 'demo' AND synced_version = version"
        ).fetchone()[0]
    finally:
        store.close()
    assert queued == 0
    assert synced == summary.records

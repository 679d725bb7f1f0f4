"""Shared helpers for the sync tests: the outbox as rows, a service on a fake central."""

from __future__ import annotations

import json
from typing import Any

from core.services.sync import SyncService
from storage.store import SqlStore
from tests.conftest import Sessions
from tests.sync.fake_central import FakeCentral


def outbox(store: SqlStore, since: int = 0) -> list[dict[str, Any]]:
    cursor = store.conn.execute(
        "SELECT seq, uuid, kind, key, op, base_version, version, data, status FROM outbox "
        "WHERE seq > ? ORDER BY seq",
        (since,),
    )
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows


def last_seq(store: SqlStore) -> int:
    return int(store.conn.execute("SELECT COALESCE(max(seq), 0) FROM outbox").fetchone()[0])


def service(sessions: Sessions, user: str, central: FakeCentral | None) -> SyncService:
    return SyncService(sessions.login(user).ctx, central)

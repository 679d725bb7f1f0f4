"""A demo slip batch: pass 1 keyed by op1, waiting for op2 to key pass 2 and ver1 to reconcile."""

from __future__ import annotations

import random
from datetime import timedelta

from core.clock import Clock
from core.japanese.wareki import format_wareki
from core.services.auth import AuthService
from core.services.batches import BatchService
from core.services.context import ServiceContext
from storage.store import SqlStore
from storage.vault import Vault

SLIPS = 12
KEYER = "op1"


def add_demo_batch(vault: Vault, clock: Clock, password: str, seed: int) -> int | None:
    """Register an influenza batch and key its first pass; None if the city is too small."""
    auth = AuthService(vault, clock)
    session, store = auth.login(KEYER, password)
    if not isinstance(store, SqlStore):
        raise TypeError(type(store))
    ctx = ServiceContext(store, session, clock)
    try:
        today = clock.now().date()
        elders = [
            row[0]
            for row in store.conn.execute(
                "SELECT atena FROM residents WHERE birth <= ? AND status = 'resident' "
                "ORDER BY id LIMIT 200",
                (today.replace(year=today.year - 66).isoformat(),),
            )
        ]
        physician = store.conn.execute(
            "SELECT institution, code FROM physicians ORDER BY code LIMIT 1"
        ).fetchone()
        if len(elders) < SLIPS or physician is None:
            return None
        rng = random.Random(seed)
        service = BatchService(ctx)
        received = today - timedelta(days=3)
        batch = service.create("医師会 インフルエンザ（デモ）", received.isoformat(), SLIPS, "FLU")
        season_start = today.replace(month=10, day=1) if today.month >= 10 else None
        first = season_start or today - timedelta(days=30)
        span = max(0, (received - first).days)
        slips = [
            {
                "slip": number,
                "atena": atena,
                "vaccine": "FLU",
                "dose": 1,
                "date": format_wareki(first + timedelta(days=rng.randint(0, span)), "short"),
                "lot": f"HA{rng.randint(100, 999)}",
                "maker": "BIKEN",
                "institution": physician[0],
                "physician": physician[1],
            }
            for number, atena in enumerate(rng.sample(elders, SLIPS), start=1)
        ]
        service.key_many(batch.id, 1, slips)
        return batch.id
    finally:
        auth.logout(ctx, reason="demo")
        store.close()

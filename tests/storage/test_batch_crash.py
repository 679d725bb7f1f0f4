"""A process killed in the middle of a batch commit leaves the batch wholly uncommitted."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from core.services.audit import chain_verdict
from tests.conftest import PASSWORD, Sessions
from tests.people import CHILD, open_store
from tests.services.batching import key_both, new_batch, service, slip
from tests.subprocess_env import sandbox_env

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from core.clock import SystemClock
    from core.services.auth import AuthService
    from core.services.batches import BatchService
    from core.services.context import ServiceContext
    from storage import batches
    from storage.vault import Vault

    store_path, batch, password = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    added = 0
    original = batches.SqlRecords.add

    def add_then_die(self, record):
        global added
        added += 1
        if added == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, record)

    batches.SqlRecords.add = add_then_die
    clock = SystemClock()
    session, store = AuthService(Vault(store_path, clock), clock).login("ver1", password)
    BatchService(ServiceContext(store, session, clock)).commit(batch)
    """
)


def pcv_records(path: Path) -> int:
    store = open_store(path)
    try:
        with store.reader() as uow:
            return sum(1 for r in uow.residents.vaccinations(CHILD.atena) if r.vaccine == "PCV")
    finally:
        store.close()


def test_kill_during_commit_commits_nothing(
    people: Sessions, people_path: Path, tmp_path: Path
) -> None:
    batch = new_batch(people, 4)
    slips = [slip(n, dose=n, date=f"2019-{6 + n:02d}-20") for n in range(1, 5)]
    key_both(people, batch, slips)
    people.close()
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(people_path), str(batch), PASSWORD],
        env=sandbox_env(tmp_path / "sandbox"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    assert pcv_records(people_path) == 0
    store = open_store(people_path)
    try:
        with store.reader() as uow:
            committed = uow.batches.get(batch)
            assert committed is not None
            assert committed.status.value == "open"
            assert uow.batches.outcomes(batch) == []
        verdict = chain_verdict(store)
        assert verdict.ok, verdict
    finally:
        store.close()
    again = Sessions(people_path)
    try:
        assert service(again, "ver1").commit(batch).committed == 4
    finally:
        again.close()
    assert pcv_records(people_path) == 4

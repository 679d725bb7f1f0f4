"""The audit chain detects any edit, deletion or reordering — even by someone with the key."""

from __future__ import annotations

import pytest

from core.audit import CHECKPOINT_INTERVAL, Action
from core.errors import PermissionDenied, StoreError
from core.services.audit import AuditService
from storage.store import SqlStore
from tests.conftest import Sessions

DROP_TRIGGERS = (
    "DROP TRIGGER audit_no_update",
    "DROP TRIGGER audit_no_delete",
    "DROP TRIGGER audit_contiguous",
)


def tamper(store: SqlStore, *statements: str) -> None:
    """What an attacker holding the data key could do: drop the guards and rewrite rows."""
    with store.transaction():
        for statement in (*DROP_TRIGGERS, *statements):
            store.conn.execute(statement)


def verify(sessions: Sessions) -> tuple[bool, int | None, str | None]:
    verdict = AuditService(sessions.login("aud1").ctx).verify()
    return verdict.ok, verdict.first_bad_seq, verdict.reason


def test_an_untouched_chain_verifies(sessions: Sessions) -> None:
    ok, bad, _ = verify(sessions)
    assert ok
    assert bad is None


def test_ordinary_code_cannot_update_or_delete_audit_rows(sessions: Sessions) -> None:
    store = sessions.login("adm1").store
    with pytest.raises(StoreError), store.transaction():
        store.conn.execute("UPDATE audit SET user = 'x' WHERE seq = 3")
    with pytest.raises(StoreError), store.transaction():
        store.conn.execute("DELETE FROM audit WHERE seq = 3")
    with pytest.raises(StoreError), store.transaction():
        store.conn.execute("DELETE FROM audit_checkpoints")


def test_an_edited_row_is_named(sessions: Sessions) -> None:
    tamper(sessions.login("adm1").store, "UPDATE audit SET user = 'someone' WHERE seq = 4")
    assert verify(sessions) == (False, 4, "audit.bad_hash")


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link(sessions: Sessions) -> None:
    store = sessions.login("adm1").store
    tamper(store, "UPDATE audit SET detail = '{}', hash = 'ab' || substr(hash, 3) WHERE seq = 5")
    ok, bad, _ = verify(sessions)
    assert not ok
    assert bad == 5


def test_a_deleted_row_is_named(sessions: Sessions) -> None:
    tamper(sessions.login("adm1").store, "DELETE FROM audit WHERE seq = 6")
    assert verify(sessions) == (False, 6, "audit.bad_sequence")


def test_reordered_rows_are_named(sessions: Sessions) -> None:
    tamper(
        sessions.login("adm1").store,
        "UPDATE audit SET seq = -1 WHERE seq = 7",
        "UPDATE audit SET seq = 7 WHERE seq = 8",
        "UPDATE audit SET seq = 8 WHERE seq = -1",
    )
    ok, bad, _ = verify(sessions)
    assert not ok
    assert bad == 7


def test_a_deleted_tail_is_detected(sessions: Sessions) -> None:
    store = sessions.login("adm1").store
    last = store.conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
    tamper(store, f"DELETE FROM audit WHERE seq = {last}")
    ok, bad, reason = verify(sessions)
    assert not ok
    assert bad == last
    assert reason in {"audit.missing_tail", "audit.bad_sequence"}


def test_a_forged_checkpoint_signature_is_detected(sessions: Sessions) -> None:
    store = sessions.login("adm1").store
    with store.transaction():
        store.conn.execute("DROP TRIGGER audit_checkpoints_no_update")
        store.conn.execute(
            "UPDATE audit_checkpoints SET signature = '00' || substr(signature, 3) "
            "WHERE seq = (SELECT min(seq) FROM audit_checkpoints)"
        )
    ok, _, reason = verify(sessions)
    assert not ok
    assert reason == "audit.bad_signature"


def test_checkpoints_are_signed_periodically_and_at_logout(sessions: Sessions) -> None:
    opened = sessions.login("adm1")
    with opened.store.transaction() as uow:
        for _ in range(CHECKPOINT_INTERVAL):
            uow.audit.append(opened.ctx.event(Action.USERS_LISTED))
    with opened.store.reader() as uow:
        seqs = [c.seq for c in uow.audit.checkpoints()]
    assert any(s % CHECKPOINT_INTERVAL == 0 for s in seqs)
    opened.auth.logout(opened.ctx)
    with opened.store.reader() as uow:
        head = uow.audit.head()
        assert head is not None
        assert uow.audit.checkpoints()[-1].seq == head[0]


def test_only_auditors_verify(sessions: Sessions) -> None:
    for user in ("adm1", "op1", "sup1"):
        with pytest.raises(PermissionDenied):
            AuditService(sessions.login(user).ctx).verify()

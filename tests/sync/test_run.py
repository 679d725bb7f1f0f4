"""A sync run against an in-memory central: push, pull, holds, cursor, conflicts, totals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.changes import ChangeRequest
from core.errors import InvalidValue, PermissionDenied, RuleViolation, SyncFailed
from core.ports import AuditFilter
from core.services.changes import ChangeService
from core.sync import ChangeKind, Choice, PullPage, TotalsBuilder
from tests.conftest import Sessions
from tests.people import PEOPLE
from tests.sync.conftest import outbox, service
from tests.sync.fake_central import FakeCentral

YAMADA = PEOPLE[0]
COUNTER: dict[str, Any] = {
    "evidence": "counter",
    "id_document": "マイナンバーカード",
    "reason": "本人申出",
}


def resident(atena: str, name: str = "中央　一郎", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "atena": atena,
        "mynumber": None,
        "name": name,
        "kana": "チュウオウ　イチロウ",
        "birth": "1980-04-01",
        "sex": "M",
        "address": "中央町1番",
        "status": "resident",
        "dv_flag": False,
        "no_auto_answer": False,
    }
    data.update(changes)
    return data


def record(uid: str, atena: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uid": uid,
        "atena": atena,
        "vaccine": "FLU",
        "dose": 1,
        "date": "2025-10-20",
        "date_unknown": False,
        "status": "verified",
        "source": "batch:7:1",
        "keyed_by": "op9",
        "verified_by": "ver9",
        "created_at": "2025-10-21T09:00:00.000000+09:00",
    }
    data.update(changes)
    return data


def pending(sessions: Sessions) -> int:
    return len([e for e in outbox(sessions.login("adm1").store) if e["status"] == "pending"])


def test_a_run_pushes_the_whole_outbox_and_a_fresh_checkpoint(people: Sessions) -> None:
    central = FakeCentral()
    queued = pending(people)
    assert queued > 0
    done = service(people, "op1", central).run()
    assert done.pushed == queued + 1  # and the checkpoint of the audit head made by the run
    assert (done.conflicts, done.errors) == (0, 0)
    assert pending(people) == 0
    checkpoint = central.appended["checkpoint"][-1]
    store = people.login("aud1").store
    with store.reader() as uow:
        started = uow.audit.find(AuditFilter(action="sync.started"))[0]
    assert checkpoint["data"]["seq"] == started.seq
    again = service(people, "op1", central).run()
    assert again.pushed == 1  # nothing but the new checkpoint


def test_a_replay_after_a_lost_answer_is_acknowledged_once(people: Sessions) -> None:
    central = FakeCentral()
    store = people.login("adm1").store
    with store.reader() as uow:
        entries = uow.sync.pending(10)
    central.push("T-TEST", entries)  # the answer is lost: the terminal still holds them
    service(people, "op1", central).run()
    assert pending(people) == 0
    assert len(central.seen) == len(central.seen | {e.uuid for e in entries})


def test_a_pull_applies_residents_records_and_masters_without_echo(sessions: Sessions) -> None:
    central = FakeCentral()
    central.publish(
        ChangeKind.INSTITUTION, "1320000001", {"code": "1320000001", "name": "中央病院"}
    )
    central.publish(ChangeKind.PHYSICIAN, "D900", {"code": "D900", "institution": "1320000001",
                                                   "name": "医師　九"})  # fmt: skip
    central.publish(ChangeKind.RESIDENT, "2000000001",
                    resident("2000000001", mynumber="123456789018", dv_flag=True))  # fmt: skip
    central.publish(ChangeKind.RECORD, "other:5", record("other:5", "2000000001"))
    central.publish(
        ChangeKind.RESIDENT,
        "2000000001",
        resident("2000000001", "中央　一朗", mynumber="123456789018"),
    )
    done = service(sessions, "op1", central).run()
    assert (done.pulled, done.held) == (4, 0)
    store = sessions.login("adm1").store
    row = store.conn.execute(
        "SELECT name, dv_flag, version, synced_version, mynumber_hmac FROM residents"
    ).fetchone()
    assert row[:4] == ("中央　一朗", 0, 2, 2)
    assert bytes(row[4]) == store.mynumber_digest("123456789018")
    assert store.conn.execute(
        "SELECT uid, version, synced_version FROM vaccinations"
    ).fetchall() == [("other:5", 1, 1)]
    assert pending(sessions) == 0  # nothing pulled is sent back
    assert store.conn.execute("SELECT name FROM physicians").fetchall() == [("医師　九",)]
    assert service(sessions, "op1", central).status().cursor == 5


def test_a_pulled_page_and_its_cursor_commit_together(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.services.sync.PULL_PAGE_LIMIT", 10)
    central = FakeCentral(fail_pull_after=2)
    for n in range(25):
        central.publish(ChangeKind.RESIDENT, f"30000000{n:02d}", resident(f"30000000{n:02d}"))
    sync = service(sessions, "op1", central)
    with pytest.raises(SyncFailed) as failed:
        sync.run()
    assert failed.value.key == "sync.unreachable"
    status = sync.status()
    assert (status.cursor, status.errors, status.last_error) == (20, 1, "sync.unreachable")
    store = sessions.login("adm1").store
    assert store.conn.execute("SELECT count(*) FROM residents").fetchone()[0] == 20
    central.fail_pull_after = None
    assert sync.run().pulled == 5
    assert store.conn.execute("SELECT count(*) FROM residents").fetchone()[0] == 25
    status = sync.status()
    assert (status.cursor, status.errors, status.last_error) == (25, 0, "")
    assert status.last_sync is not None
    assert not status.stale(status.last_sync)


def test_a_failed_push_is_recorded_and_keeps_the_outbox(people: Sessions) -> None:
    central = FakeCentral(fail_push=True)
    queued = pending(people)
    with pytest.raises(SyncFailed):
        service(people, "op1", central).run()
    assert pending(people) == queued + 1
    status = service(people, "op1", central).status()
    assert (status.errors, status.last_error) == (1, "sync.unreachable")
    with people.login("aud1").store.reader() as uow:
        failed = uow.audit.find(AuditFilter(action="sync.failed"))
    assert json.loads(failed[0].detail) == {"error": "sync.unreachable"}


def test_unacknowledged_entries_hold_a_pulled_change(people: Sessions) -> None:
    store = people.login("adm1").store
    change = ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(kind="resident.correct", atena=YAMADA.atena,
                      values={"address": "桜台二丁目2番2号"}, **COUNTER)
    )  # fmt: skip
    ChangeService(people.login("ver1").ctx).confirm(change.id)
    central_data = resident(YAMADA.atena, "山田　太朗")
    with store.transaction() as uow:
        outcome = uow.sync.apply_page(
            PullPage((_change(ChangeKind.RESIDENT, YAMADA.atena, 5, central_data),), 1, False)
        )
    assert (outcome.applied, outcome.held) == (0, 1)
    name, address = store.conn.execute(
        "SELECT name, address FROM residents WHERE atena = ?", (YAMADA.atena,)
    ).fetchone()
    assert (name, address) == (YAMADA.name, "桜台二丁目2番2号")


def _change(kind: ChangeKind, key: str, version: int, data: dict[str, Any]) -> Any:
    from core.sync import Change

    return Change(1, kind, key, version, data, "CENTRAL")


def test_a_pending_local_change_holds_until_decided(people: Sessions) -> None:
    central = FakeCentral()
    service(people, "op1", central).run()
    ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(kind="resident.correct", atena=YAMADA.atena,
                      values={"address": "桜台三丁目3番3号"}, **COUNTER)
    )  # fmt: skip
    central.publish(ChangeKind.RESIDENT, YAMADA.atena, resident(YAMADA.atena, "山田　太朗"))
    done = service(people, "op1", central).run()
    assert (done.pulled, done.held) == (0, 1)
    store = people.login("adm1").store
    assert store.conn.execute(
        "SELECT name FROM residents WHERE atena = ?", (YAMADA.atena,)
    ).fetchone() == (YAMADA.name,)


def conflicted(people: Sessions, confirmer: str) -> tuple[FakeCentral, int]:
    """YAMADA corrected here (base 1) while the central system moved to version 2."""
    central = FakeCentral()
    central.publish(ChangeKind.RESIDENT, YAMADA.atena, resident(YAMADA.atena, YAMADA.name))
    central.publish(ChangeKind.RESIDENT, YAMADA.atena, resident(YAMADA.atena, "山田　太朗"))
    change = ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(kind="resident.correct", atena=YAMADA.atena,
                      values={"address": "桜台二丁目2番2号"}, **COUNTER)
    )  # fmt: skip
    ChangeService(people.login(confirmer).ctx).confirm(change.id)
    done = service(people, "op1", central).run()
    assert (done.conflicts, done.held) == (1, 1)
    return central, central.opened[0].id


def test_a_conflict_waits_for_a_supervisor_who_keeps_the_central_version(
    people: Sessions,
) -> None:
    central, conflict_id = conflicted(people, "ver1")
    sup = service(people, "sup1", central)
    [open_conflict] = sup.conflicts()
    assert open_conflict.client_user == "ver1"
    with pytest.raises(PermissionDenied):
        service(people, "op1", central).conflicts()
    with pytest.raises(InvalidValue):
        sup.decide(conflict_id, Choice.CENTRAL, "  ")
    decided = sup.decide(conflict_id, Choice.CENTRAL, "中央の記載が正しい")
    assert (decided.status, decided.decided_by, decided.choice) == ("decided", "sup1", "central")
    store = people.login("adm1").store
    assert store.conn.execute(
        "SELECT name, address, version, synced_version FROM residents WHERE atena = ?",
        (YAMADA.atena,),
    ).fetchone() == ("山田　太朗", "中央町1番", 2, 2)
    [entry] = [e for e in outbox(store) if e["kind"] == "decision"]
    assert entry["data"] == {"conflict": conflict_id, "choice": "central", "decided_by": "sup1",
                             "reason": "中央の記載が正しい", "data": None}  # fmt: skip
    with pytest.raises(RuleViolation) as again:
        sup.decide(conflict_id, Choice.LOCAL, "やはり")
    assert again.value.key == "sync.conflict_decided"
    assert sup.conflicts() == []
    done = sup.run()
    assert (done.pushed, done.held) == (2, 0)  # the decision and the checkpoint; held released


def test_keeping_the_local_version_sends_it_with_the_decision(people: Sessions) -> None:
    central, conflict_id = conflicted(people, "ver1")
    service(people, "sup1", central).decide(conflict_id, Choice.LOCAL, "窓口で確認済み")
    store = people.login("adm1").store
    [entry] = [e for e in outbox(store) if e["kind"] == "decision"]
    assert entry["data"]["data"]["address"] == "桜台二丁目2番2号"
    assert entry["data"]["data"]["mynumber"] is None


def test_no_supervisor_decides_over_their_own_change(people: Sessions) -> None:
    central, conflict_id = conflicted(people, "sup1")
    with pytest.raises(RuleViolation) as own:
        service(people, "sup1", central).decide(conflict_id, Choice.LOCAL, "自分で確認")
    assert own.value.key == "sync.conflict_own_change"
    with people.login("aud1").store.reader() as uow:
        denied = uow.audit.find(AuditFilter(user="sup1", action="permission.denied"))
    assert json.loads(denied[0].detail)["reason"] == "sync.conflict_own_change"
    assert [c.status for c in service(people, "sup1", central).conflicts()] == ["open"]


def test_compare_uses_the_central_canonical_totals(sessions: Sessions) -> None:
    central = FakeCentral()
    central.publish(ChangeKind.INSTITUTION, "1320000001", {"code": "1320000001", "name": "中央病院",
                                                           "active": True})  # fmt: skip
    data = resident("2000000001", mynumber="123456789018", dv_flag=True, guardian=None)
    central.publish(ChangeKind.RESIDENT, "2000000001", data)
    central.publish(ChangeKind.RECORD, "other:5", record("other:5", "2000000001", amount="0.5"))
    sync = service(sessions, "op1", central)
    sync.run()
    tables = {c.table: c for c in sync.compare()}
    expected = TotalsBuilder()
    expected.add("residents", "resident", data)
    assert tables["residents"].local == expected.totals["residents"]
    for name in ("residents", "records", "institutions", "physicians", "checkpoints"):
        assert tables[name].equal, name
    assert not tables["vaccines"].equal  # the local catalogue is not known centrally here
    with sessions.login("aud1").store.reader() as uow:
        compared = uow.audit.find(AuditFilter(action="sync.compared"))
    assert "vaccines" in json.loads(compared[0].detail)["differing"]


def test_a_terminal_not_enrolled_cannot_run(sessions: Sessions) -> None:
    with pytest.raises(RuleViolation) as refused:
        service(sessions, "op1", None).run()
    assert refused.value.key == "sync.not_enrolled"
    with pytest.raises(PermissionDenied):
        service(sessions, "aud1", FakeCentral()).run()
    assert not service(sessions, "aud1", None).status().enrolled

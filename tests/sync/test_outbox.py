"""The transactional outbox: every write path adds its entry in the same transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from core.changes import ChangeRequest
from core.clock import JST
from core.errors import StoreError
from core.provision import ProvisionRecord
from core.services.changes import ChangeService
from core.sync import RECORD_FIELDS, RESIDENT_FIELDS
from tests.conftest import Sessions
from tests.people import CHILD, PEOPLE
from tests.services.batching import key_both, new_batch, service, slip
from tests.sync.conftest import last_seq, outbox

YAMADA = PEOPLE[0]
COUNTER: dict[str, Any] = {
    "evidence": "counter",
    "id_document": "マイナンバーカード",
    "reason": "本人申出",
}


def child_record(people: Sessions) -> tuple[int, int]:
    store = people.login("adm1").store
    row = store.conn.execute(
        "SELECT id, version FROM vaccinations WHERE atena = ? AND status = 'verified' "
        "ORDER BY id LIMIT 1",
        (CHILD.atena,),
    ).fetchone()
    return int(row[0]), int(row[1])


def test_a_batch_commit_queues_each_verified_record(people: Sessions) -> None:
    store = people.login("adm1").store
    before = last_seq(store)
    batch = new_batch(people, 2)
    key_both(people, batch, [slip(1), slip(2, dose=2, date="2019-08-20")])
    service(people, "ver1").commit(batch)
    entries = [e for e in outbox(store, before) if e["kind"] == "record"]
    assert [(e["op"], e["base_version"], e["version"]) for e in entries] == [("upsert", 0, 1)] * 2
    data = entries[0]["data"]
    assert tuple(data) == RECORD_FIELDS
    record_id = store.conn.execute(
        "SELECT id FROM vaccinations WHERE source = ?", (f"batch:{batch}:1",)
    ).fetchone()[0]
    assert entries[0]["key"] == data["uid"] == f"{store.store_id}:{record_id}"
    assert (data["atena"], data["vaccine"], data["dose"], data["date_unknown"]) == (
        CHILD.atena,
        "PCV",
        1,
        False,
    )


def test_confirmed_corrections_and_voids_are_queued_with_their_base(people: Sessions) -> None:
    store = people.login("adm1").store
    record, version = child_record(people)
    before = last_seq(store)
    correct = ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(kind="record.correct", atena=CHILD.atena, record=record,
                      values={"lot": "ZZ99"}, **COUNTER)
    )  # fmt: skip
    assert outbox(store, before) == []  # a proposal is not a change yet
    ChangeService(people.login("ver1").ctx).confirm(correct.id)
    void = ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(kind="record.void", atena=CHILD.atena, record=record, **COUNTER)
    )
    ChangeService(people.login("ver1").ctx).confirm(void.id)
    entries = outbox(store, before)
    assert [(e["op"], e["base_version"], e["version"]) for e in entries] == [
        ("correct", version, version + 1),
        ("void", version + 1, version + 2),
    ]
    assert entries[0]["data"]["lot"] == "ZZ99"
    assert entries[1]["data"]["status"] == "voided"


def test_a_registration_is_queued_when_confirmed_and_never_when_rejected(
    people: Sessions,
) -> None:
    store = people.login("adm1").store
    before = last_seq(store)
    values = {"vaccine": "FLU", "dose": "2", "date": "R6.10.15", "lot": "AB12"}
    changes = ChangeService(people.login("op1").ctx)
    first = changes.propose(ChangeRequest(kind="record.add", atena=YAMADA.atena, values=values,
                                          **COUNTER))  # fmt: skip
    ChangeService(people.login("sup1").ctx).reject(first.id, "原本と相違")
    assert outbox(store, before) == []  # pending, then voided: never known centrally
    second = changes.propose(ChangeRequest(kind="record.add", atena=YAMADA.atena, values=values,
                                           **COUNTER))  # fmt: skip
    ChangeService(people.login("ver1").ctx).confirm(second.id)
    [entry] = outbox(store, before)
    assert (entry["op"], entry["base_version"], entry["version"]) == ("upsert", 0, 2)
    assert entry["data"]["verified_by"] == "ver1"


def test_a_resident_correction_never_carries_the_mynumber(people: Sessions) -> None:
    store = people.login("adm1").store
    before = last_seq(store)
    change = ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(kind="resident.correct", atena=YAMADA.atena,
                      values={"address": "桜台二丁目2番2号"}, **COUNTER)
    )  # fmt: skip
    ChangeService(people.login("ver1").ctx).confirm(change.id)
    [entry] = outbox(store, before)
    assert (entry["kind"], entry["key"], entry["op"]) == ("resident", YAMADA.atena, "correct")
    assert (entry["base_version"], entry["version"]) == (1, 2)
    assert tuple(entry["data"]) == RESIDENT_FIELDS
    assert entry["data"]["mynumber"] is None
    assert entry["data"]["address"] == "桜台二丁目2番2号"
    assert entry["data"]["dv_flag"] is False


def test_provision_records_and_checkpoints_are_queued(sessions: Sessions) -> None:
    store = sessions.login("adm1").store
    before = last_seq(store)
    record = ProvisionRecord(0, None, "refused", datetime(2026, 11, 24, 10, tzinfo=JST),
                             "op1", None, None, "某市", "art19_8", ("vaccinations",), 1,
                             "0" * 64, "照会不可", date(2033, 11, 24))  # fmt: skip
    with store.transaction() as uow:
        new_id = uow.provisions.add_record(record)
        checkpoint = uow.audit.checkpoint()
    assert checkpoint is not None
    entries = outbox(store, before)
    assert [(e["kind"], e["key"], e["op"]) for e in entries] == [
        ("provision", f"{store.store_id}:{new_id}", "append"),
        ("checkpoint", f"T-TEST:{checkpoint.seq}", "append"),
    ]
    assert entries[0]["data"]["items"] == "vaccinations"
    assert entries[1]["data"]["signature"] == checkpoint.signature


def test_a_rolled_back_write_leaves_no_entry(people: Sessions) -> None:
    store = people.login("adm1").store
    record, _ = child_record(people)
    before = last_seq(store)

    def correct_then_fail() -> None:
        with store.transaction() as uow:
            uow.changes.update_record(record, {"lot": "R1"}, version=None)
            uow.audit.checkpoint()
            assert len(outbox(store, before)) == 2  # both queued inside the transaction
            store.conn.execute("INSERT INTO meta (key, value) VALUES ('store_id', 'twice')")

    with pytest.raises(StoreError):
        correct_then_fail()
    assert outbox(store, before) == []


def test_entries_never_change_and_are_never_deleted(people: Sessions) -> None:
    store = people.login("adm1").store
    with store.transaction() as uow:
        uow.audit.checkpoint()
    seq = last_seq(store)
    for sql in (
        "UPDATE outbox SET data = '{}' WHERE seq = ?",
        "DELETE FROM outbox WHERE seq = ?",
    ):
        with pytest.raises(StoreError), store.transaction():
            store.conn.execute(sql, (seq,))
    with store.transaction():
        store.conn.execute("UPDATE outbox SET status = 'acked' WHERE seq = ?", (seq,))
    with pytest.raises(StoreError), store.transaction():
        store.conn.execute("UPDATE outbox SET status = 'pending' WHERE seq = ?", (seq,))

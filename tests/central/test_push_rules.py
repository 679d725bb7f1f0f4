"""Push rules on SQLite and PostgreSQL: idempotence, conflicts, decisions, checkpoints."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from central.entities import get_entity
from central.service import CentralService
from core.sync import AckStatus, EntryKind
from tests.central.conftest import Terminal, enroll, record, resident

HASH_A = "a" * 64
HASH_B = "b" * 64


def statuses(result: object) -> list[str]:
    return [ack.status.value for ack in result.acks]  # type: ignore[attr-defined]


def count(service: CentralService, table: str) -> int:
    return int(service.db.scalar(f"SELECT count(*) FROM {table}"))


@pytest.fixture
def t1(service: CentralService) -> Terminal:
    return enroll(service, "T-1")


@pytest.fixture
def t2(service: CentralService) -> Terminal:
    return enroll(service, "T-2")


def seed_resident(service: CentralService, atena: str = "000123") -> None:
    path = service.conf.path / "registry.jsonl"
    line = {"kind": "resident", "key": atena, "data": resident(atena)}
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", "utf-8")
    service.registry_import(path)


def test_a_replayed_batch_is_never_applied_twice(service: CentralService, t1: Terminal) -> None:
    batch = [t1.entry(EntryKind.RECORD, f"R{i}", "upsert", record(f"R{i}")) for i in range(3)]
    assert statuses(service.push("T-1", batch)) == ["applied"] * 3
    changes = count(service, "changes")
    assert statuses(service.push("T-1", batch)) == ["duplicate"] * 3
    assert count(service, "changes") == changes
    assert count(service, "entities") == 3


def test_an_old_replay_after_later_batches_changes_nothing(
    service: CentralService, t1: Terminal
) -> None:
    first = [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))]
    second = [t1.entry(EntryKind.RECORD, "R1", "correct", record("R1", lot="LOT-2"), base=1)]
    service.push("T-1", first)
    service.push("T-1", second)
    assert statuses(service.push("T-1", first + second)) == ["duplicate", "duplicate"]
    stored = get_entity(service.db, "record", "R1")
    assert stored is not None
    assert (stored.version, stored.data["lot"]) == (2, "LOT-2")


def test_a_partly_delivered_batch_applies_only_the_rest(
    service: CentralService, t1: Terminal
) -> None:
    batch = [t1.entry(EntryKind.RECORD, f"R{i}", "upsert", record(f"R{i}")) for i in range(4)]
    service.push("T-1", batch[:2])
    assert statuses(service.push("T-1", batch)) == ["duplicate"] * 2 + ["applied"] * 2
    assert count(service, "changes") == 4


def test_the_same_record_under_another_uuid_is_a_duplicate(
    service: CentralService, t1: Terminal
) -> None:
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    again = service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    assert statuses(again) == ["duplicate"]
    other = service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1", lot="X"))])
    assert statuses(other) == ["conflict"]


def test_a_uuid_of_another_terminal_is_refused(
    service: CentralService, t1: Terminal, t2: Terminal
) -> None:
    entry = t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))
    service.push("T-1", [entry])
    answer = service.push("T-2", [entry])
    assert [(a.status, a.reason) for a in answer.acks] == [(AckStatus.REJECTED, "uuid_taken")]


def test_concurrent_edits_end_in_one_conflict_which_is_decided_local(
    service: CentralService, t1: Terminal, t2: Terminal
) -> None:
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    edit1 = t1.entry(EntryKind.RECORD, "R1", "correct", record("R1", lot="L-A"), base=1)
    edit2 = t2.entry(
        EntryKind.RECORD, "R1", "correct", record("R1", lot="L-B", verified_by="ver2"), base=1
    )
    assert statuses(service.push("T-1", [edit1])) == ["applied"]
    opened = service.push("T-2", [edit2])
    assert statuses(opened) == ["conflict"]
    (conflict,) = opened.conflicts
    assert opened.acks[0].conflict == conflict.id
    assert (conflict.base_version, conflict.server_version) == (1, 2)
    assert conflict.server_data is not None
    assert conflict.server_data["lot"] == "L-A"
    assert conflict.client_data["lot"] == "L-B"
    assert conflict.client_user == "ver2"
    # T-2 keeps editing the same record: folded into the same conflict.
    edit3 = t2.entry(
        EntryKind.RECORD, "R1", "correct", record("R1", lot="L-C", verified_by="ver2"), base=2
    )
    folded = service.push("T-2", [edit3])
    assert folded.acks[0].conflict == conflict.id
    assert folded.conflicts[0].client_data["lot"] == "L-C"
    assert statuses(service.push("T-2", [edit2])) == ["conflict"]  # replay: same answer
    assert len(service.conflicts("T-2")) == 1
    assert service.conflicts("T-1") == []

    own = t2.entry(
        EntryKind.DECISION,
        str(conflict.id),
        "decide",
        {"conflict": conflict.id, "choice": "local", "decided_by": "ver2", "reason": "x"},
    )
    refused = service.push("T-2", [own])
    assert [(a.status, a.reason) for a in refused.acks] == [
        (AckStatus.REJECTED, "conflict_own_change")
    ]
    decision = t2.entry(
        EntryKind.DECISION,
        str(conflict.id),
        "decide",
        {"conflict": conflict.id, "choice": "local", "decided_by": "sup1", "reason": "paper"},
    )
    before = count(service, "changes")
    assert statuses(service.push("T-2", [decision])) == ["applied"]
    stored = get_entity(service.db, "record", "R1")
    assert stored is not None
    assert (stored.version, stored.data["lot"]) == (3, "L-C")
    assert count(service, "changes") == before + 1
    (decided,) = service.conflicts("T-2")
    assert (decided.status, decided.choice, decided.decided_by) == ("decided", "local", "sup1")
    assert statuses(service.push("T-2", [decision])) == ["duplicate"]
    again = t2.entry(
        EntryKind.DECISION,
        str(conflict.id),
        "decide",
        {"conflict": conflict.id, "choice": "central", "decided_by": "sup1", "reason": "y"},
    )
    assert [a.reason for a in service.push("T-2", [again]).acks] == ["conflict_decided"]


def test_a_central_decision_rebroadcasts_the_central_version(
    service: CentralService, t1: Terminal, t2: Terminal
) -> None:
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    service.push(
        "T-1", [t1.entry(EntryKind.RECORD, "R1", "correct", record("R1", lot="L-A"), base=1)]
    )
    opened = service.push(
        "T-2", [t2.entry(EntryKind.RECORD, "R1", "correct", record("R1", lot="L-B"), base=1)]
    )
    conflict = opened.conflicts[0]
    cursor = int(service.db.scalar("SELECT max(seq) FROM changes"))
    decision = t2.entry(
        EntryKind.DECISION,
        str(conflict.id),
        "decide",
        {"conflict": conflict.id, "choice": "central", "decided_by": "sup1", "reason": "ok"},
    )
    assert statuses(service.push("T-2", [decision])) == ["applied"]
    page = service.pull(cursor)
    assert [(c.key, c.version, c.data["lot"]) for c in page.changes] == [("R1", 2, "L-A")]


def test_a_decision_on_another_terminals_conflict_is_refused(
    service: CentralService, t1: Terminal, t2: Terminal
) -> None:
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    opened = service.push(
        "T-2", [t2.entry(EntryKind.RECORD, "R1", "upsert", record("R1", lot="Z"))]
    )
    conflict = opened.conflicts[0]
    decision = t1.entry(
        EntryKind.DECISION,
        str(conflict.id),
        "decide",
        {"conflict": conflict.id, "choice": "local", "decided_by": "sup1", "reason": "r"},
    )
    assert [a.reason for a in service.push("T-1", [decision]).acks] == ["conflict_unknown"]


def test_a_resident_correction_changes_only_correctable_fields(
    service: CentralService, t1: Terminal
) -> None:
    seed_resident(service)
    sent = resident("000123", address="岡崎市羽根町2", mynumber="000000000019", sex="F")
    entry = t1.entry(EntryKind.RESIDENT, "000123", "correct", sent, base=1)
    assert statuses(service.push("T-1", [entry])) == ["applied"]
    stored = get_entity(service.db, "resident", "000123")
    assert stored is not None
    assert stored.version == 2
    assert stored.data["address"] == "岡崎市羽根町2"
    assert (stored.data["mynumber"], stored.data["sex"]) == ("123456789018", "M")


def test_a_correction_of_an_unknown_entity_is_refused(
    service: CentralService, t1: Terminal
) -> None:
    entry = t1.entry(EntryKind.RESIDENT, "999", "correct", resident("999"), base=1)
    assert [a.reason for a in service.push("T-1", [entry]).acks] == ["unknown_entity"]


def test_checkpoints_that_contradict_earlier_ones_are_rejected(
    service: CentralService, t1: Terminal
) -> None:
    assert statuses(service.push("T-1", [t1.checkpoint(256, HASH_A)])) == ["applied"]
    assert statuses(service.push("T-1", [t1.checkpoint(256, HASH_A)])) == ["duplicate"]
    rewritten = service.push("T-1", [t1.checkpoint(256, HASH_B)])
    assert [(a.status, a.reason) for a in rewritten.acks] == [
        (AckStatus.REJECTED, "checkpoint_contradiction")
    ]
    assert statuses(service.push("T-1", [t1.checkpoint(512, HASH_B)])) == ["applied"]
    inserted = service.push("T-1", [t1.checkpoint(300, HASH_A)])
    assert [a.reason for a in inserted.acks] == ["checkpoint_contradiction"]
    alerts = service.db.query("SELECT detail FROM audit WHERE action = 'central.rejected'")
    assert len(alerts) == 2
    assert all("checkpoint_contradiction" in str(row[0]) for row in alerts)


def test_a_checkpoint_with_a_bad_signature_is_rejected(
    service: CentralService, t1: Terminal
) -> None:
    forged = t1.checkpoint(256, HASH_A, key=ed25519.Ed25519PrivateKey.generate())
    assert [a.reason for a in service.push("T-1", [forged]).acks] == ["bad_signature"]
    assert count(service, "checkpoints") == 0


def test_a_checkpoint_signed_with_another_key_than_enrolled_is_rejected(
    service: CentralService, t1: Terminal
) -> None:
    t1.signing = ed25519.Ed25519PrivateKey.generate()
    assert [a.reason for a in service.push("T-1", [t1.checkpoint(1, HASH_A)]).acks] == [
        "unknown_signer"
    ]


def test_provision_records_are_stored_once_and_never_changed(
    service: CentralService, t1: Terminal
) -> None:
    data = {
        "id": "P-1",
        "outcome": "provided",
        "at": "2026-11-20T10:00:00.000000+09:00",
        "requester": "op1",
        "recipient": "R-1",
        "basis": "B-1",
    }
    assert statuses(service.push("T-1", [t1.entry(EntryKind.PROVISION, "P-1", "append", data)]))
    again = service.push("T-1", [t1.entry(EntryKind.PROVISION, "P-1", "append", data)])
    assert statuses(again) == ["duplicate"]
    changed = dict(data, outcome="refused")
    refused = service.push("T-1", [t1.entry(EntryKind.PROVISION, "P-1", "append", changed)])
    assert [a.reason for a in refused.acks] == ["provision_changed"]
    assert service.pull(0).changes == ()


def test_the_push_summary_in_the_audit_trail_has_counts_only(
    service: CentralService, t1: Terminal
) -> None:
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    (detail,) = service.db.query("SELECT detail FROM audit WHERE action = 'central.pushed'")
    assert json.loads(detail[0]) == {"applied": 1}
    assert service.verify_audit().ok


def test_a_batch_delivered_before_the_one_it_follows_waits_for_it(
    service: CentralService, t1: Terminal
) -> None:
    first = [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))]
    service.push("T-1", first)
    second = [t1.entry(EntryKind.RECORD, "R1", "correct", record("R1", lot="LOT-2"), base=1)]
    third = [t1.entry(EntryKind.RECORD, "R1", "correct", record("R1", lot="LOT-3"), base=2)]
    assert service.push("T-1", third).acks == ()
    stored = get_entity(service.db, "record", "R1")
    assert stored is not None
    assert stored.version == 1
    assert statuses(service.push("T-1", second + third)) == ["applied", "applied"]
    stored = get_entity(service.db, "record", "R1")
    assert stored is not None
    assert (stored.version, stored.data["lot"]) == (3, "LOT-3")
    assert count(service, "conflicts") == 0


def test_a_new_entry_reusing_an_old_sequence_number_is_rejected(
    service: CentralService, t1: Terminal
) -> None:
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    stale = replace(t1.entry(EntryKind.RECORD, "R2", "upsert", record("R2")), seq=1)
    result = service.push("T-1", [stale])
    assert [(a.status.value, a.reason) for a in result.acks] == [("rejected", "stale_seq")]
    assert get_entity(service.db, "record", "R2") is None

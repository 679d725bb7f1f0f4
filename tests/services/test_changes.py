"""Four-eyes changes over a real encrypted store: who may decide, what a decision writes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from core.changes import ChangeKind, ChangeRequest, ChangeStatus, PendingChange
from core.clock import JST
from core.errors import (
    NotFound,
    PermissionDenied,
    RuleViolation,
    StoreError,
    ValidationFailed,
    VersionConflict,
)
from core.ports import AuditFilter
from core.search import SearchCriteria
from core.services.changes import ChangeService
from core.services.lookup import LookupService
from tests.conftest import Opened, Sessions
from tests.people import CHILD, PEOPLE

YAMADA = PEOPLE[0]  # 山田 太郎, born 1990-01-01
DV_PERSON = "1000000015"
DECEASED = "1000000017"  # died 2025-12-01
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)
COUNTER = {"evidence": "counter", "id_document": "マイナンバーカード"}


class Desk:
    """The staff at their terminals: one logged-in session per user, reused within a test."""

    def __init__(self, people: Sessions) -> None:
        self.people = people
        self._open: dict[str, Opened] = {}

    def opened(self, user: str) -> Opened:
        if user not in self._open:
            self._open[user] = self.people.login(user)
        return self._open[user]

    def changes(self, user: str) -> ChangeService:
        return ChangeService(self.opened(user).ctx)

    def lookup(self, user: str) -> LookupService:
        return LookupService(self.opened(user).ctx)

    def row(self, sql: str, *params: object) -> dict[str, Any]:
        cursor = self.opened("adm1").store.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        found = cursor.fetchone()
        assert found is not None
        return dict(zip(names, found, strict=True))

    def child_record(self) -> dict[str, Any]:
        """The first of 渡辺 舞's records dated after her birth, every column."""
        return self.row(
            "SELECT * FROM vaccinations WHERE atena = ? AND date > ? ORDER BY id",
            CHILD.atena,
            CHILD.birth.isoformat(),
        )


@pytest.fixture
def desk(people: Sessions) -> Desk:
    return Desk(people)


def request(kind: str, atena: str = CHILD.atena, **fields: Any) -> ChangeRequest:
    spec: dict[str, Any] = {**COUNTER, "reason": "本人申出", **fields}
    return ChangeRequest(kind=kind, atena=atena, **spec)


def issue_keys(error: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {i.key for i in error.value.issues}


def propose_add(desk: Desk, user: str = "op1", **values: str) -> PendingChange:
    fields = {"vaccine": "FLU", "dose": "2", "date": "R6.10.15", "lot": "AB12", **values}
    return desk.changes(user).propose(request("record.add", YAMADA.atena, values=fields))


# --- registration -------------------------------------------------------------------------


def test_a_proposed_record_is_pending_in_the_person_view(desk: Desk) -> None:
    change = propose_add(desk)
    assert change.status is ChangeStatus.PENDING
    assert change.before == {}
    assert change.after == {"vaccine": "FLU", "dose": 2, "date": "2024-10-15", "lot": "AB12"}
    view = desk.lookup("op2").open(YAMADA.atena)
    records = [r for h in view.histories for r in h.records if r.id == change.record]
    assert [(r.status.value, r.lot, str(r.date)) for r in records] == [
        ("pending", "AB12", "2024-10-15")
    ]
    assert [c.id for c in view.pending_changes] == [change.id]
    assert view.pending_on(change.record or 0) == view.pending_changes[0]


def test_confirming_a_registration_verifies_the_record(desk: Desk) -> None:
    change = propose_add(desk)
    done = desk.changes("ver1").confirm(change.id)
    assert (done.status, done.decided_by) == (ChangeStatus.CONFIRMED, "ver1")
    stored = desk.row("SELECT * FROM vaccinations WHERE id = ?", change.record)
    assert (stored["status"], stored["keyed_by"], stored["verified_by"]) == (
        "verified",
        "op1",
        "ver1",
    )
    assert desk.lookup("op1").open(YAMADA.atena).pending_changes == ()


def test_rejecting_a_registration_keeps_it_voided_with_the_reason(desk: Desk) -> None:
    change = propose_add(desk)
    with pytest.raises(ValidationFailed) as refused:
        desk.changes("sup1").reject(change.id, "   ")
    assert issue_keys(refused) == {"change.reason_required"}
    done = desk.changes("sup1").reject(change.id, "原本と相違")
    assert (done.status, done.decision_note) == (ChangeStatus.REJECTED, "原本と相違")
    stored = desk.row("SELECT * FROM vaccinations WHERE id = ?", change.record)
    assert (stored["status"], stored["void_reason"]) == ("voided", "原本と相違")


# --- four eyes ----------------------------------------------------------------------------


def test_the_proposer_can_never_decide_their_own_change(desk: Desk) -> None:
    change = desk.changes("ver1").propose(
        request("record.correct", record=desk.child_record()["id"], values={"lot": "X1"})
    )
    proposer = desk.changes("ver1")
    with pytest.raises(RuleViolation) as own:
        proposer.confirm(change.id)
    assert own.value.key == "change.own_change"
    with pytest.raises(RuleViolation):
        proposer.reject(change.id, "取り下げ")
    assert proposer.show(change.id).status is ChangeStatus.PENDING
    with desk.opened("aud1").store.reader() as uow:
        denied = uow.audit.find(AuditFilter(user="ver1", action="permission.denied"))
    assert [json.loads(d.detail)["reason"] for d in denied] == ["own_change", "own_change"]


def test_only_a_confirming_role_decides(desk: Desk) -> None:
    change = propose_add(desk)
    for user in ("op2", "aud1", "adm1"):
        with pytest.raises(PermissionDenied):
            desk.changes(user).confirm(change.id)
        with pytest.raises(PermissionDenied):
            desk.changes(user).reject(change.id, "理由")
    with pytest.raises(PermissionDenied):
        propose_add(desk, "aud1")
    assert desk.changes("op1").show(change.id).status is ChangeStatus.PENDING


def test_a_decided_change_is_final(desk: Desk) -> None:
    change = propose_add(desk)
    desk.changes("ver1").confirm(change.id)
    with pytest.raises(RuleViolation) as again:
        desk.changes("sup1").reject(change.id, "遅すぎ")
    assert again.value.key == "change.already_decided"
    with pytest.raises(NotFound):
        desk.changes("sup1").confirm(999)


def test_the_database_refuses_a_decision_by_the_proposer(desk: Desk) -> None:
    change = propose_add(desk)
    own = replace(change, status=ChangeStatus.CONFIRMED, decided_by="op1", decided_at=NOW)
    store = desk.opened("adm1").store
    with pytest.raises(StoreError), store.transaction() as uow:
        uow.changes.decide(own)
    with pytest.raises(StoreError), store.transaction():
        store.conn.execute("DELETE FROM pending_changes WHERE id = ?", (change.id,))
    with pytest.raises(StoreError), store.transaction():
        store.conn.execute("UPDATE pending_changes SET reason = 'x' WHERE id = ?", (change.id,))


# --- corrections and deletions --------------------------------------------------------------


def test_confirm_applies_before_and_after_exactly(desk: Desk) -> None:
    original = desk.child_record()
    change = desk.changes("op1").propose(
        request(
            "record.correct",
            record=original["id"],
            values={"lot": "ＬＯＴ９", "date": "令和2年3月4日", "dose": str(original["dose"])},
            evidence="phone",
            id_document=None,
        )
    )
    assert change.before == {"date": original["date"], "lot": original["lot"]}
    assert change.after == {"date": "2020-03-04", "lot": "ＬＯＴ９"}
    assert change.base_version == original["version"]
    desk.changes("ver1").confirm(change.id)
    corrected = desk.child_record()
    expected = {**original, "date": "2020-03-04", "lot": "ＬＯＴ９"}
    expected["version"] = original["version"] + 1
    assert corrected == expected


def test_a_deletion_keeps_the_record_voided_with_the_reason(desk: Desk) -> None:
    original = desk.child_record()
    count = "SELECT count(*) AS n FROM vaccinations"
    before = desk.row(count)["n"]
    change = desk.changes("op1").propose(
        request("record.void", record=original["id"], reason="二重登録")
    )
    assert change.after == {}
    assert change.before["lot"] == original["lot"]
    desk.changes("sup1").confirm(change.id)
    voided = desk.child_record()
    assert (voided["status"], voided["void_reason"]) == ("voided", "二重登録")
    assert {k: v for k, v in voided.items() if k not in ("status", "void_reason", "version")} == {
        k: v for k, v in original.items() if k not in ("status", "void_reason", "version")
    }
    assert desk.row(count)["n"] == before
    view = desk.lookup("op1").open(CHILD.atena)
    assert original["id"] not in {r.id for h in view.histories for r in h.records}


def test_a_correction_is_pending_in_the_person_view_until_confirmed(desk: Desk) -> None:
    original = desk.child_record()
    change = desk.changes("op1").propose(
        request("record.correct", record=original["id"], values={"lot": "NEW1"})
    )
    view = desk.lookup("op2").open(CHILD.atena)
    assert view.pending_on(original["id"]) == change
    shown = {r.id: r.lot for h in view.histories for r in h.records}
    assert shown[original["id"]] == original["lot"]


def test_confirm_refuses_when_the_record_changed_since(desk: Desk) -> None:
    original = desk.child_record()
    change = desk.changes("op1").propose(
        request("record.correct", record=original["id"], values={"lot": "NEW1"})
    )
    store = desk.opened("adm1").store
    with store.transaction():
        store.conn.execute(
            "UPDATE vaccinations SET note = 'sync', version = version + 1 WHERE id = ?",
            (original["id"],),
        )
    with pytest.raises(VersionConflict):
        desk.changes("ver1").confirm(change.id)
    assert desk.child_record()["lot"] == original["lot"]
    assert desk.changes("ver1").show(change.id).status is ChangeStatus.PENDING


def test_a_resident_correction_updates_the_details_and_the_search(desk: Desk) -> None:
    change = desk.changes("op1").propose(
        request(
            "resident.correct",
            YAMADA.atena,
            values={"kana": "やまだ　たろー", "postal": "〒１２３４５６７", "address": "緑町1番"},
        )
    )
    assert change.after == {"kana": "ヤマダ　タロー", "postal": "123-4567", "address": "緑町1番"}
    assert change.before == {"kana": YAMADA.kana, "postal": None, "address": YAMADA.address}
    desk.changes("ver1").confirm(change.id)
    stored = desk.row("SELECT * FROM residents WHERE atena = ?", YAMADA.atena)
    assert (stored["name"], stored["kana"], stored["postal"], stored["address"]) == (
        YAMADA.name,
        "ヤマダ　タロー",
        "123-4567",
        "緑町1番",
    )
    assert stored["version"] == change.base_version + 1  # type: ignore[operator]
    found = desk.lookup("op1").search(SearchCriteria(address="緑町1"))
    assert YAMADA.atena in {r.atena for r in found.residents}


def test_a_resident_correction_conflicts_with_a_newer_version(desk: Desk) -> None:
    change = desk.changes("op1").propose(
        request("resident.correct", YAMADA.atena, values={"name": "山田　多郎"})
    )
    store = desk.opened("adm1").store
    with store.transaction():
        store.conn.execute(
            "UPDATE residents SET version = version + 1 WHERE atena = ?", (YAMADA.atena,)
        )
    with pytest.raises(VersionConflict):
        desk.changes("ver1").confirm(change.id)


def test_a_stale_form_cannot_propose(desk: Desk) -> None:
    with pytest.raises(VersionConflict):
        desk.changes("op1").propose(
            request("resident.correct", YAMADA.atena, values={"name": "山田"}, base_version=7)
        )


def test_one_open_change_per_target(desk: Desk) -> None:
    record = desk.child_record()["id"]
    desk.changes("op1").propose(request("record.correct", record=record, values={"lot": "A"}))
    with pytest.raises(RuleViolation) as twice:
        desk.changes("op2").propose(request("record.void", record=record))
    assert twice.value.key == "change.already_pending"


def test_a_voided_record_cannot_be_changed_again(desk: Desk) -> None:
    record = desk.child_record()["id"]
    change = desk.changes("op1").propose(request("record.void", record=record))
    desk.changes("ver1").confirm(change.id)
    with pytest.raises(RuleViolation) as voided:
        desk.changes("op1").propose(request("record.correct", record=record, values={"lot": "A"}))
    assert voided.value.key == "change.record_voided"


def test_a_record_of_another_person_is_not_found(desk: Desk) -> None:
    record = desk.child_record()["id"]
    with pytest.raises(NotFound):
        desk.changes("op1").propose(request("record.void", YAMADA.atena, record=record))


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        ({"evidence": "counter", "id_document": None}, {"change.id_document_required"}),
        ({"evidence": "phone"}, {"change.id_document_phone"}),
        ({"evidence": "fax", "id_document": None}, {"change.evidence_unknown"}),
        ({"id_document": "学生証"}, {"change.id_document_unknown"}),
        ({"reason": " "}, {"change.reason_required"}),
        ({"values": {"colour": "red"}}, {"change.field_unknown"}),
        ({"values": {"vaccine": "ZZZ"}}, {"change.vaccine_unknown"}),
        ({"values": {"dose": "0"}}, {"change.dose_range"}),
        ({"values": {"dose": "two"}}, {"change.dose_format"}),
        ({"values": {"date": "2099-01-01"}}, {"change.date_future"}),
        ({"values": {"date": "H30.1.1"}}, {"change.date_before_birth"}),
        ({"values": {"date": "H31.5.1"}}, {"date.outside_era"}),
        ({"values": {"date_unknown": "1"}}, {"change.date_with_unknown"}),
        ({"values": {"date": "", "date_unknown": "0"}}, {"change.date_required"}),
        ({"values": {"lot": "x" * 201}}, {"change.too_long"}),
        ({"values": {}}, {"change.values_required"}),
        ({"record": None}, {"change.record_required"}),
    ],
)
def test_a_correction_is_checked(desk: Desk, fields: dict[str, Any], keys: set[str]) -> None:
    spec = {"record": desk.child_record()["id"], "values": {"lot": "NEW"}, **fields}
    with pytest.raises(ValidationFailed) as refused:
        desk.changes("op1").propose(request("record.correct", **spec))
    assert issue_keys(refused) == keys


def test_other_request_checks(desk: Desk) -> None:
    ops = desk.changes("op1")
    record = desk.child_record()["id"]
    lot = desk.child_record()["lot"]
    cases: list[tuple[ChangeRequest, set[str]]] = [
        (request("record.correct", record=record, values={"lot": lot}), {"change.nothing_changed"}),
        (
            request("record.void", record=record, values={"lot": "A"}),
            {"change.values_not_allowed"},
        ),
        (
            request(
                "record.add",
                record=record,
                values={"vaccine": "FLU", "dose": "1", "date_unknown": "はい"},
            ),
            {"change.record_not_allowed"},
        ),
        (
            request("record.add", values={"lot": "A"}),
            {"change.value_required", "change.date_required"},
        ),
        (
            request(
                "record.add", DECEASED, values={"vaccine": "FLU", "dose": "1", "date": "R8.1.5"}
            ),
            {"change.date_after_death"},
        ),
        (
            request("resident.correct", YAMADA.atena, values={"kana": "山田"}),
            {"change.kana_format"},
        ),
        (
            request("resident.correct", YAMADA.atena, values={"name": " "}),
            {"change.value_required"},
        ),
        (
            request("resident.correct", YAMADA.atena, values={"postal": "12-34"}),
            {"change.postal_format"},
        ),
        (request("resident.correct", YAMADA.atena, values={"dose": "1"}), {"change.field_unknown"}),
    ]
    for wrong, keys in cases:
        with pytest.raises(ValidationFailed) as refused:
            ops.propose(wrong)
        assert issue_keys(refused) == keys, wrong
    with pytest.raises(ValidationFailed):
        ops.propose(request("record.move", values={"lot": "A"}))


def test_a_name_keeps_its_exact_characters(desk: Desk) -> None:
    change = desk.changes("op1").propose(
        request("resident.correct", YAMADA.atena, values={"name": "山﨑　太郎"})
    )
    assert change.after == {"name": "山﨑　太郎"}


# --- protected persons (支援措置) --------------------------------------------------------------


def test_a_protected_address_needs_a_supervisor(desk: Desk) -> None:
    address = {"address": "新住所1番"}
    with pytest.raises(PermissionDenied):
        desk.changes("op1").propose(request("resident.correct", DV_PERSON, values=address))
    change = desk.changes("sup1").propose(
        request("resident.correct", DV_PERSON, values={**address, "kana": "ヒトク　ホゴコ"})
    )
    listed = {c.id: c for c in desk.changes("ver1").list()}
    assert listed[change.id].withheld == ("address",)
    assert listed[change.id].after == {"kana": "ヒトク　ホゴコ", "address": None}
    assert "秘密町" not in repr(listed[change.id])
    view = desk.lookup("sup1").open(DV_PERSON)
    assert view.pending_changes[0].withheld == ("address",)
    with pytest.raises(PermissionDenied):
        desk.changes("ver1").confirm(change.id)
    assert desk.changes("sup1").show(change.id).after["address"] == "新住所1番"


# --- the audit trail ----------------------------------------------------------------------------


def test_every_step_is_audited(desk: Desk) -> None:
    added = propose_add(desk)
    desk.changes("ver1").confirm(added.id)
    record = desk.child_record()["id"]
    voided = desk.changes("op2").propose(request("record.void", record=record))
    desk.changes("sup1").reject(voided.id, "原本確認済み")
    with desk.opened("aud1").store.reader() as uow:
        trail = [
            (r.user, r.action, r.target, json.loads(r.detail))
            for r in uow.audit.find(AuditFilter(action="change."))
        ]
    steps = sorted((user, action, detail["change"]) for user, action, _, detail in trail)
    assert steps == [
        ("op1", "change.proposed", added.id),
        ("op2", "change.proposed", voided.id),
        ("sup1", "change.rejected", voided.id),
        ("ver1", "change.confirmed", added.id),
    ]
    details = {(a, d["change"]): (t, d) for _, a, t, d in trail}
    target, proposed = details[("change.proposed", added.id)]
    assert target == f"resident:{YAMADA.atena}"
    assert proposed["kind"] == ChangeKind.RECORD_ADD.value
    assert proposed["evidence"] == "counter"
    assert proposed["id_document"] == "mynumber_card"
    assert proposed["digest"] == added.digest()
    assert "AB12" not in json.dumps(proposed)
    assert details[("change.rejected", voided.id)][1]["reason"] == "原本確認済み"

"""The dual-entry workflow over a real store: keying rules, blindness, reconciliation, commit."""

from __future__ import annotations

import json

import pytest

from core.errors import NotFound, PermissionDenied, RuleViolation, ValidationFailed
from core.ports import AuditFilter
from core.services.terminal import change_setting
from tests.conftest import Sessions
from tests.people import CHILD, PEOPLE
from tests.services.batching import ELDER, flu, key_both, new_batch, service, slip


def fields_of(failed: pytest.ExceptionInfo[ValidationFailed]) -> set[str]:
    return {i.field for i in failed.value.issues}


def actions(people: Sessions, prefix: str) -> list[str]:
    with people.login("aud1").store.reader() as uow:
        return [r.action for r in uow.audit.find(AuditFilter(action=prefix, limit=1000))]


def test_create_reports_every_problem_at_once(people: Sessions) -> None:
    batches = service(people, "op1")
    with pytest.raises(ValidationFailed) as failed:
        batches.create("  ", "平成31年5月1日", "0")
    assert fields_of(failed) == {"source", "received", "count"}
    with pytest.raises(ValidationFailed) as failed:
        batches.create("医師会", "2099-01-01", 3, expected_vaccine="NOPE")
    assert fields_of(failed) == {"received", "vaccine"}
    batch = batches.create("医師会 11月分", "R8.11.20", "３", expected_vaccine="pcv")
    assert (batch.control_count, batch.expected_vaccine, batch.received.isoformat()) == (
        3,
        "PCV",
        "2026-11-20",
    )


def test_roles_without_keying_are_refused(people: Sessions) -> None:
    with pytest.raises(PermissionDenied):
        service(people, "aud1").create("医師会", "2026-11-01", 1)
    batch = new_batch(people)
    with pytest.raises(PermissionDenied):
        service(people, "sup1").key(batch, 1, slip(1))


def test_same_user_can_never_key_both_passes(people: Sessions) -> None:
    batch = new_batch(people)
    service(people, "op1").key(batch, 1, slip(1))
    with pytest.raises(RuleViolation) as refused:
        service(people, "op1").key(batch, 2, slip(1))
    assert refused.value.key == "batch.same_keyer"
    service(people, "op2").key(batch, 2, slip(2))
    with pytest.raises(RuleViolation):
        service(people, "op2").key_many(batch, 1, [slip(3)])
    assert "batch.refused" in actions(people, "batch.refused")


def test_field_checks_happen_before_saving(people: Sessions) -> None:
    batches = service(people, "op1")
    batch = new_batch(people)
    with pytest.raises(ValidationFailed) as failed:
        batches.key(batch, 1, slip(1, atena="1999999999"))
    assert fields_of(failed) == {"atena"}
    with pytest.raises(ValidationFailed) as failed:
        batches.key(batch, 1, slip(1, date="2099-01-01", dose=9))
    assert fields_of(failed) == {"date", "dose"}
    with pytest.raises(ValidationFailed) as failed:
        batches.key(batch, 1, slip(1, date="2019-04-01"))  # CHILD was born 2019-05-01
    assert [i.key for i in failed.value.issues] == ["slip.date_before_birth"]
    with pytest.raises(ValidationFailed) as failed:
        batches.key(batch, 1, slip(1, date=None))
    assert [i.key for i in failed.value.issues] == ["slip.date_required"]
    kept = batches.key(batch, 1, slip(1, date=None, date_unknown="1"))
    assert kept.warnings == []
    warned = batches.key(batch, 1, slip(2, date="R5.4.1", vaccine="MR2", maker="TAKEDA"))
    assert [(w.field, w.key, w.severity) for w in warned.warnings] == [
        ("vaccine", "slip.age_too_young", "warning")
    ]


def test_key_many_keeps_valid_lines_and_reports_the_rest(people: Sessions) -> None:
    batch = new_batch(people, 4)
    report = service(people, "op1").key_many(
        batch,
        1,
        [slip(1), slip(2, dose="x"), slip(3, vaccine="ZZZ", lot="L" * 41), slip(1, dose=2)],
    )
    assert [k.slip for k in report.kept] == ["1"]
    assert [(p.line, p.slip) for p in report.rejected] == [(2, "2"), (3, "3"), (4, "1")]
    assert {i.field for i in report.rejected[1].issues} == {"vaccine", "lot"}
    assert service(people, "op1").progress(batch, 1).keyed == 1


def test_normalisation_finds_no_false_mismatch(people: Sessions) -> None:
    batch = new_batch(people, 1)
    first = slip(
        "007",
        date="R1.7.10",
        dose="01",
        lot="ab-1234",
        venue="ｻｸﾗ会場",
        note="",
        amount="0.50",
        copay=" 1 ",
    )
    second = slip(
        "7",
        date="2019/7/10",
        dose="１",
        lot="ＡＢ－１２３４",
        venue="サクラ会場",
        amount="0.5mL",
        copay="1",
        maker="ファイザー",
        atena="１０００００００１０",
    )
    key_both(people, batch, [first], [second])
    comparison = service(people, "ver1").compare(batch)
    assert comparison.mismatches == ()
    assert comparison.matched == ("7",)


def test_mismatches_are_reported_field_by_field(people: Sessions) -> None:
    batch = new_batch(people, 3)
    key_both(
        people,
        batch,
        [slip(1), slip(2, lot="AB1234"), slip(3)],
        [slip(1), slip(2, lot="AB1243", dose=2, date="2019-09-10"), slip(4)],
    )
    comparison = service(people, "ver1").compare(batch)
    found = {(m.slip, m.field, m.pass1, m.pass2) for m in comparison.mismatches}
    assert found == {
        ("2", "lot", "AB1234", "AB1243"),
        ("2", "dose", "1", "2"),
        ("2", "date", "2019-07-10", "2019-09-10"),
        ("3", "slip", "3", None),
        ("4", "slip", None, "4"),
    }
    assert comparison.matched == ("1",)


def test_second_pass_never_sees_the_first(people: Sessions) -> None:
    batch = new_batch(people, 2)
    service(people, "op1").key(batch, 1, slip(1, lot="SECRET1"))
    second = service(people, "op2")
    kept = second.key(batch, 2, slip(1, lot="OTHER22"))
    assert "SECRET1" not in repr(kept)
    summary = second.summary(batch)
    assert summary.comparison is None
    progress = second.progress(batch, 2)
    assert (progress.keyed, progress.mine) == (1, ["1"])
    assert second.my_entry(batch, 1, "1") is None  # not theirs
    with pytest.raises(PermissionDenied):
        second.compare(batch)  # operators do not reconcile at all
    assert "SECRET1" not in repr(summary)


def test_someone_who_saw_the_comparison_cannot_key(people: Sessions) -> None:
    batch = new_batch(people, 1)
    service(people, "op1").key(batch, 1, slip(1))
    verifier = service(people, "ver1")
    assert verifier.summary(batch).comparison is not None
    with pytest.raises(RuleViolation) as refused:
        verifier.key(batch, 2, slip(1))
    assert refused.value.key == "batch.keyer_saw_comparison"


def test_keyers_cannot_reconcile_under_the_default_policy(people: Sessions) -> None:
    batch = new_batch(people, 1)
    service(people, "op1").key(batch, 1, slip(1, lot="AB1111"))
    service(people, "ver1").key(batch, 2, slip(1, lot="AB2222"))
    with pytest.raises(RuleViolation) as refused:
        service(people, "ver1").resolve(batch, "1", "lot", "AB1111", "紙で確認")
    assert refused.value.key == "batch.reconciler_keyed"
    with pytest.raises(RuleViolation):
        service(people, "ver1").compare(batch)
    change_setting(people.login("adm1").ctx, "reconcile-by-second-keyer", "yes")
    resolved = service(people, "ver1").resolve(batch, "1", "lot", "AB1111", "紙で確認")
    assert resolved.attribution == "pass2"
    assert "terminal.setting_changed" in actions(people, "terminal.setting_changed")


def test_first_keyer_never_reconciles_even_when_allowed(people: Sessions) -> None:
    change_setting(people.login("adm1").ctx, "reconcile-by-second-keyer", "yes")
    batch = new_batch(people, 1)
    service(people, "ver1").key(batch, 1, slip(1, lot="AB1111"))
    service(people, "op2").key(batch, 2, slip(1, lot="AB2222"))
    with pytest.raises(RuleViolation):
        service(people, "ver1").resolve(batch, "1", "lot", "AB2222", "紙で確認")


def test_resolution_attributes_the_error_and_closes_keying(people: Sessions) -> None:
    batch = new_batch(people, 2)
    key_both(
        people,
        batch,
        [slip(1, lot="AB1111"), slip(2, dose=1)],
        [slip(1, lot="AB2222"), slip(2, dose=2)],
    )
    third = service(people, "sup1")
    with pytest.raises(ValidationFailed):
        third.resolve(batch, "1", "lot", "AB3333", "  ")
    assert third.resolve(batch, "1", "lot", "ab3333", "原本はAB3333").attribution == "both"
    assert third.resolve(batch, "2", "dose", "2", "原本は2回目").attribution == "pass1"
    with pytest.raises(NotFound):
        third.resolve(batch, "2", "lot", "AB1234", "不一致なし")
    with pytest.raises(RuleViolation) as closed:
        service(people, "op1").key(batch, 1, slip(5))
    assert closed.value.key == "batch.keying_closed"
    assert service(people, "sup1").compare(batch).open_mismatches == []


def test_commit_moves_verified_slips_in_one_step(people: Sessions) -> None:
    batch = new_batch(people, 2)
    key_both(people, batch, [slip(1), slip(2, dose=2, date="2019-08-20")])
    result = service(people, "ver1").commit(batch)
    assert (result.committed, result.duplicates, result.flagged) == (2, [], {})
    with people.login("op1").store.reader() as uow:
        rows = [
            (r.vaccine, r.dose, r.status.value, r.source)
            for r in uow.residents.vaccinations(CHILD.atena)
            if r.vaccine == "PCV"
        ]
    assert rows == [
        ("PCV", 1, "verified", f"batch:{batch}:1"),
        ("PCV", 2, "verified", f"batch:{batch}:2"),
    ]
    with pytest.raises(RuleViolation):
        service(people, "ver1").commit(batch)
    assert actions(people, "batch.committed") == ["batch.committed"]


def test_commit_refuses_open_mismatches_and_single_pass_slips(people: Sessions) -> None:
    batch = new_batch(people, 2)
    key_both(people, batch, [slip(1), slip(2)], [slip(1, lot="AB9999")])
    with pytest.raises(RuleViolation) as refused:
        service(people, "ver1").commit(batch)
    assert (refused.value.key, refused.value.params["count"]) == ("batch.unreconciled", 2)
    with pytest.raises(ValidationFailed):
        service(people, "ver1").resolve(batch, "2", "slip", "keep", "紙なし")
    service(people, "ver1").resolve(batch, "2", "slip", "drop", "紙に伝票2はない")
    service(people, "ver1").resolve(batch, "1", "lot", "AB1234", "紙で確認")
    with pytest.raises(RuleViolation) as refused:
        service(people, "ver1").commit(batch)
    assert refused.value.key == "batch.count_mismatch"


def test_count_override_needs_a_supervisor_and_a_reason(people: Sessions) -> None:
    batch = new_batch(people, 3)
    key_both(people, batch, [slip(1), slip(2, dose=2, date="2019-08-20")])
    with pytest.raises(PermissionDenied):
        service(people, "ver1").commit(batch, override_reason="1枚は書き損じ")
    with pytest.raises(RuleViolation):
        service(people, "sup1").commit(batch, override_reason="   ")
    assert service(people, "sup1").commit(batch, override_reason="1枚は書き損じ").committed == 2
    with people.login("aud1").store.reader() as uow:
        assert uow.batches.get(batch).override_reason == "1枚は書き損じ"  # type: ignore[union-attr]


def test_duplicates_wait_for_a_supervisor(people: Sessions) -> None:
    first = new_batch(people, 1)
    key_both(people, first, [flu(1, "2025-10-15")])
    service(people, "ver1").commit(first)
    second = new_batch(people, 3)
    key_both(
        people,
        second,
        [flu(1, "2025-10-15", lot="XY0001"), flu(2, "2024-10-20"), flu(3, "2024-10-20")],
    )
    result = service(people, "ver1").commit(second)
    assert result.committed == 1
    assert [(d.slip, d.reason) for d in result.duplicates] == [
        ("1", "same_dose"),
        ("3", "in_batch"),
    ]
    with pytest.raises(PermissionDenied):
        service(people, "ver1").decide_duplicate(second, "1", True, "確認済み")
    supervisor = service(people, "sup1")
    supervisor.decide_duplicate(second, "1", False, "同じ接種の再提出")
    accepted = supervisor.decide_duplicate(second, "3", True, "別日の接種と確認")
    assert accepted.record is not None
    with pytest.raises(NotFound):
        supervisor.decide_duplicate(second, "1", True, "二度目")
    with people.login("op1").store.reader() as uow:
        flus = [r for r in uow.residents.vaccinations(ELDER.atena) if r.vaccine == "FLU"]
    assert len(flus) == 3


def test_dose_order_and_interval_are_flagged(people: Sessions) -> None:
    batch = new_batch(people, 2)
    key_both(
        people,
        batch,
        [slip(1, dose=2, date="2019-08-01"), slip(2, dose=3, date="2019-08-10")],
    )
    result = service(people, "ver1").commit(batch)
    assert result.flagged == {"1": ["dose_order"], "2": ["interval"]}


def test_keying_statistics_come_from_the_audit_free_tables(people: Sessions) -> None:
    batch = new_batch(people, 1)
    key_both(people, batch, [slip(1, lot="AB1111")], [slip(1, lot="AB2222")])
    service(people, "sup1").resolve(batch, "1", "lot", "AB1111", "紙で確認")
    stats = {s.user: s for s in service(people, "sup1").keyer_stats()}
    assert stats["op1"].errors == 0
    assert stats["op2"].errors == 1
    assert stats["op2"].fields == 8
    assert stats["op2"].errors_per_thousand == 125.0


def test_every_step_is_audited_with_the_batch_as_target(people: Sessions) -> None:
    batch = new_batch(people, 1)
    key_both(people, batch, [slip(1, lot="AB1111")], [slip(1, lot="AB2222")])
    service(people, "sup1").resolve(batch, "1", "lot", "AB1111", "紙で確認")
    service(people, "sup1").commit(batch)
    with people.login("aud1").store.reader() as uow:
        trail = uow.audit.find(AuditFilter(target=f"batch:{batch}", limit=100))
    seen = [(r.user, r.action) for r in trail]
    for step in (
        ("op1", "batch.created"),
        ("op1", "batch.slips_keyed"),
        ("op2", "batch.slips_keyed"),
        ("sup1", "batch.slip_resolved"),
        ("sup1", "batch.committed"),
    ):
        assert step in seen
    keyed = next(r for r in trail if r.action == "batch.slips_keyed")
    assert json.loads(keyed.detail)["atenas"] == [CHILD.atena]
    assert PEOPLE[9].name not in "".join(r.detail for r in trail)

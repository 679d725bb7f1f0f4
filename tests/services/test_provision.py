"""Provision cases: sign-off, second check, execution, records and the ledger, over a real store."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pyrage
import pytest

from core.errors import InvalidValue, PermissionDenied, RuleViolation, ValidationFailed
from core.exports import MediaStatus
from core.provision import CaseStatus, Stratum, allocate, born_between, parse_strata
from core.roles import Role
from core.services.exports import MediaService
from core.services.provision import CaseRequest, ProvisionService
from core.services.users import NewAccount, UserAdmin
from exports.verify import open_bundle
from exports.writer import StoreExporter
from tests.conftest import PASSWORD, Sessions

DV, MOVED, DECEASED = "1000000015", "1000000016", "1000000017"
LISTED = ["1000000001", "1000000002", "1000000009", DV, MOVED, DECEASED]
WITNESS = "立会　次郎"


def service(people: Sessions, user: str) -> ProvisionService:
    opened = people.login(user)
    return ProvisionService(opened.ctx, StoreExporter(opened.store))


def recipient(people: Sessions, age_keys: list[str] | None = None) -> int:
    return (
        service(people, "sup1")
        .add_recipient("東京都福祉保健局", "prefecture", code="130001", age_recipients=age_keys)
        .id
    )


def request(people: Sessions, **changes: object) -> CaseRequest:
    base: dict[str, object] = {
        "recipient": recipient(people),
        "basis": "survey-sample",
        "purpose": "抗体保有調査の対象者名簿",
        "items": "name,birth,sex,address",
        "atena": list(LISTED),
        "retention_deadline": date.today() + timedelta(days=90),
    }
    base.update(changes)
    return CaseRequest(**base)  # type: ignore[arg-type]


def ready_case(people: Sessions, **changes: object) -> int:
    """Drafted by op1, flags decided, approved by sup1, checked by ver1."""
    ops = service(people, "op1")
    case = ops.create(request(people, **changes)).case.id
    ops.decide_person(case, DV, "removed")
    ops.decide_person(case, MOVED, "removed")
    ops.decide_person(case, DECEASED, "removed")
    service(people, "sup1").approve(case, "会議答申第12号に基づき承認")
    service(people, "ver1").check(case, "内容・提供先とも確認")
    return case


def add_user(people: Sessions, name: str, *roles: Role, mynumber: bool = False) -> None:
    admin = people.login("adm1")
    UserAdmin(admin.ctx, admin.vault).add(
        NewAccount(name, frozenset(roles), mynumber_access=mynumber), PASSWORD
    )
    with admin.store.transaction() as uow:
        account = uow.users.get(name)
        assert account is not None
        uow.users.update(replace(account, must_change_password=False))


def actions(people: Sessions) -> list[str]:
    conn = people.login("sup1").store.conn
    return [row[0] for row in conn.execute("SELECT action FROM audit ORDER BY seq")]


def test_recipient_codes_and_keys_are_validated(people: Sessions) -> None:
    sup = service(people, "sup1")
    with pytest.raises(ValidationFailed) as bad:
        sup.add_recipient("某県", "prefecture", code="130002", age_recipients=["age1nope"])
    assert {i.field for i in bad.value.issues} == {"code", "age_recipient"}
    with pytest.raises(InvalidValue):
        sup.add_recipient("某県", "planet")
    with pytest.raises(PermissionDenied):
        service(people, "op1").add_recipient("委託業者", "contractor")
    key = str(pyrage.x25519.Identity.generate().to_public())
    added = sup.add_recipient("委託業者", "contractor", age_recipients=[key])
    assert added.code is None
    assert added.age_recipients == (key,)


def test_self_approval_and_approval_by_a_non_supervisor_are_refused(people: Sessions) -> None:
    add_user(people, "opsup", Role.OPERATOR, Role.SUPERVISOR)
    case = service(people, "opsup").create(request(people, atena=["1000000001"])).case.id
    with pytest.raises(RuleViolation, match="provision.self_approval"):
        service(people, "opsup").approve(case)
    with pytest.raises(PermissionDenied):
        service(people, "op2").approve(case)
    with pytest.raises(PermissionDenied):
        service(people, "ver1").approve(case)
    assert "provision.refused" in actions(people)
    assert service(people, "sup1").approve(case).status is CaseStatus.APPROVED
    with pytest.raises(RuleViolation, match="provision.approver_checks"):
        service(people, "sup1").check(case)  # the second check is someone else's


def test_the_mynumber_only_under_a_basis_that_allows_it(people: Sessions) -> None:
    ops = service(people, "op1")
    with pytest.raises(InvalidValue, match="provision.mynumber_not_allowed"):
        ops.create(request(people, items="name,mynumber"))
    allowed = ops.create(
        request(people, basis="municipal-history", items="atena,name,mynumber", atena=[LISTED[0]])
    )
    assert "mynumber" in allowed.case.items


def test_flagged_persons_block_approval_until_confirmed_or_removed(
    people: Sessions, tmp_path: Path
) -> None:
    ops = service(people, "op1")
    case = ops.create(request(people)).case.id
    preview = ops.preview(case)
    assert {p.atena for p in preview.open_flags} == {DV, MOVED, DECEASED}
    assert preview.flags == {"dv": 1, "moved_out": 1, "deceased": 1, "no_auto_answer": 1}
    with pytest.raises(RuleViolation, match="provision.flags_open"):
        service(people, "sup1").approve(case)
    ops.decide_person(case, DV, "removed")
    ops.decide_person(case, MOVED, "confirmed")
    ops.decide_person(case, DECEASED, "removed")
    with pytest.raises(RuleViolation, match="provision.not_flagged"):
        ops.decide_person(case, "1000000001", "removed")
    service(people, "sup1").approve(case)
    service(people, "ver1").check(case)
    executed = ops.execute(case, WITNESS, out="dv.iso")
    assert executed.written.passphrase is not None
    out = tmp_path / "opened"
    open_bundle(Path(executed.written.outcome.read_path), out, identity=None,
                passphrase=executed.written.passphrase)  # fmt: skip
    rows = list(csv.reader(io.StringIO((out / "persons.csv").read_text(encoding="utf-8"))))
    assert rows[0] == ["name", "birth", "sex", "postal", "address"]
    names = {r[0] for r in rows[1:]}
    assert "秘匿　保護" not in names  # the DV-flagged person was removed
    assert "転出　太一" in names  # confirmed explicitly
    assert len(rows) == 1 + 4


def test_execution_needs_approval_check_and_an_unchanged_case(people: Sessions) -> None:
    ops = service(people, "op1")
    case = ops.create(request(people, atena=["1000000001", "1000000002"])).case.id
    with pytest.raises(RuleViolation, match="provision.not_approved"):
        ops.execute(case, WITNESS, out="a.iso")
    service(people, "sup1").approve(case)
    with pytest.raises(RuleViolation, match="provision.not_checked"):
        ops.execute(case, WITNESS, out="a.iso")
    service(people, "op2").check(case)
    ops.update(case, purpose="目的を変更")  # any change voids the approval
    with pytest.raises(RuleViolation, match="provision.not_approved"):
        ops.execute(case, WITNESS, out="a.iso")
    service(people, "sup1").approve(case)
    service(people, "op2").check(case)
    with pytest.raises(RuleViolation, match="provision.checker_executes"):
        service(people, "op2").execute(case, WITNESS, out="a.iso")
    store = people.login("adm1").store
    with store.transaction():  # the data itself changes after approval
        store.conn.execute("UPDATE residents SET address = '新住所' WHERE atena = '1000000002'")
    with pytest.raises(RuleViolation, match="provision.changed_after_approval"):
        ops.execute(case, WITNESS, out="a.iso")
    records = service(people, "aud1").records()
    assert [r.outcome for r in records] == ["refused"] * 5
    assert records[-1].reason == "provision.changed_after_approval"
    with people.login("sup1").store.reader() as uow:
        assert uow.media.find() == []


def test_a_rejection_is_recorded(people: Sessions) -> None:
    case = service(people, "op1").create(request(people, atena=["1000000001"])).case.id
    service(people, "sup1").reject(case, "目的が不明確")
    (record,) = service(people, "aud1").records()
    assert record.outcome == "rejected"
    assert record.reason == "目的が不明確"
    with pytest.raises(RuleViolation):
        service(people, "sup1").approve(case)


def test_record_ledger_and_audit_are_complete_to_closing(people: Sessions) -> None:
    key = pyrage.x25519.Identity.generate()
    case = ready_case(people, recipient=recipient(people, [str(key.to_public())]))
    ops = service(people, "op1")
    executed = ops.execute(case, WITNESS, out="case.iso")
    assert executed.written.passphrase is None  # encrypted to the recipient's key
    assert executed.written.medium.case == case
    with pytest.raises(RuleViolation, match="provision.stages_missing"):
        ops.close(case)
    ops.handover(case, external=False, to="保健予防課　運搬係")
    with pytest.raises(ValidationFailed):
        ops.handover(case, external=True, to="委託業者　受取")  # no 受取サイン reference
    ops.handover(case, external=True, to="委託業者　受取", signature="受領書-7", tracking="TRK-1")
    medium = MediaService(people.login("op1").ctx).show(executed.written.medium.id).medium
    assert medium.status is MediaStatus.HANDED_OVER
    ops.erasure(case, date.today(), "消去報告書-2026-3")
    closed = ops.close(case)
    assert closed.status is CaseStatus.CLOSED
    assert MediaService(people.login("op1").ctx).listing(open_only=True) == []
    (record,) = service(people, "aud1").records(since=date.today())
    assert record.outcome == "provided"
    assert (record.requester, record.approver, record.executor) == ("op1", "sup1", "op1")
    assert record.items == ("name", "birth", "sex", "address")
    assert record.persons == 3
    assert record.recipient.startswith("東京都福祉保健局")
    assert record.keep_until.year == record.at.year + 7
    stages = [s.stage.value for s in ops.preview(case).stages]
    assert stages == [
        "extraction",
        "media_written",
        "internal_handover",
        "external_handover",
        "transport",
        "erasure_reported",
    ]
    logged = actions(people)
    for action in (
        "provision.created",
        "provision.person_decided",
        "provision.approved",
        "provision.checked",
        "export.created",
        "media.written",
        "provision.executed",
        "provision.stage",
        "provision.closed",
        "provision.records_read",
    ):
        assert action in logged
    store = people.login("aud1").store
    with pytest.raises(Exception), store.transaction():  # noqa: B017, PT011
        store.conn.execute("DELETE FROM provision_records")


def test_overdue_cases_appear_until_the_erasure_report(people: Sessions) -> None:
    case = ready_case(people, retention_deadline=date.today() - timedelta(days=1))
    ops = service(people, "op1")
    ops.execute(case, WITNESS, out="late.iso")
    assert [c.id for c in service(people, "sup1").overdue()] == [case]
    ops.handover(case, external=True, to="受取人", signature="R-1")
    ops.erasure(case, date.today(), "ER-1")
    assert service(people, "sup1").overdue() == []


def test_mover_in_inquiry_needs_number_and_former_code(people: Sessions) -> None:
    from tests.people import MYNUMBERS

    store = people.login("adm1").store
    with store.transaction():
        store.conn.execute("UPDATE residents SET former_code = '131016' WHERE atena = '1000000009'")
    number = MYNUMBERS["1000000009"]
    clerk = service(people, "op1")  # 番号利用事務従事者
    assert clerk.inquiry(number, "131016") == "1000000009"
    assert clerk.inquiry(number, "132012") is None  # a wrong (valid) code finds nobody
    with pytest.raises(InvalidValue):
        clerk.inquiry(number, "131017")  # check digit
    with pytest.raises(PermissionDenied):
        service(people, "op2").inquiry(number, "131016")  # no 個人番号 access
    dump = "\n".join(
        str(row) for row in people.login("sup1").store.conn.execute("SELECT * FROM audit")
    )
    assert number not in dump


# --- the stratified sample, on a synthetic population ---------------------------------------

STRATA = """sex,age_from,age_to,share
M,0,19,0.10
F,0,19,0.10
M,20,49,0.15
F,20,49,0.15
M,50,120,0.25
F,50,120,0.25
"""


def add_population(people: Sessions, count: int) -> None:
    rng = random.Random(7)
    store = people.login("adm1").store
    today = date.today()
    rows = []
    for index in range(count):
        birth = today - timedelta(days=rng.randrange(1, 95 * 365))
        rows.append(
            (f"2{index:09d}", f"試験　{index}", "シケン", birth.isoformat(), rng.choice("MF"))
        )
    with store.transaction():
        store.conn.executemany(
            "INSERT INTO residents (atena, name, kana, birth, sex, address, status, updated_at) "
            "VALUES (?, ?, ?, ?, ?, '桜台', 'resident', 'test')",
            rows,
        )


def sample_case(people: Sessions, size: int, seed: str) -> tuple[int, list[str]]:
    created = service(people, "op1").create(
        request(people, atena=None, sample=size, strata=parse_strata(STRATA), seed=seed)
    )
    with people.login("sup1").store.reader() as uow:
        persons = [p.atena for p in uow.provisions.persons(created.case.id)]
    return created.case.id, persons


def test_the_sample_is_reproducible_and_respects_the_strata(people: Sessions) -> None:
    add_population(people, 3000)
    _, first = sample_case(people, 500, "R4-抗体-42")
    _, again = sample_case(people, 500, "R4-抗体-42")
    _, other = sample_case(people, 500, "another-seed")
    assert first == again
    assert first != other
    assert len(first) == 500
    strata = parse_strata(STRATA)
    wanted = allocate(500, strata)
    store = people.login("sup1").store
    got: Counter[int] = Counter()
    for atena in first:
        birth, sex = store.conn.execute(
            "SELECT birth, sex FROM residents WHERE atena = ?", (atena,)
        ).fetchone()
        got[_stratum(strata, date.fromisoformat(birth), sex)] += 1
    assert [got[i] for i in range(len(strata))] == wanted
    assert all(abs(w - 500 * s.share) <= 1 for w, s in zip(wanted, strata, strict=True))


def _stratum(strata: tuple[Stratum, ...], birth: date, sex: str) -> int:
    for index, stratum in enumerate(strata):
        low, high = born_between(stratum, date.today())
        if low <= birth <= high and stratum.sex in (sex, "*"):
            return index
    raise AssertionError(birth)


def test_a_short_stratum_is_named(people: Sessions) -> None:
    add_population(people, 100)
    with pytest.raises(InvalidValue, match="provision.stratum_short"):
        sample_case(people, 5000, "x")


def test_the_5000_person_survey_case_end_to_end(people: Sessions, tmp_path: Path) -> None:
    """research/seed_002_part1.md §1: 5,000 residents by sex × age, 4 basic items, on CD."""
    add_population(people, 12000)
    created = service(people, "op1").create(
        request(
            people,
            atena=None,
            sample=5000,
            strata=parse_strata(STRATA),
            seed="令和4年度-感染症流行予測調査",
            staff=("op1", "op2"),
            supervisor="sup1",
            approval_ref="個人情報保護審議会 答申第3号 (2022-07-20)",
        )
    )
    assert created.persons == 5000
    case = created.case.id
    ops = service(people, "op1")
    flagged = ops.preview(case).open_flags
    for person in flagged:  # e.g. the DV-protected resident, if drawn
        ops.decide_person(case, person.atena, "removed")
    service(people, "sup1").approve(case, "答申の条件どおり")
    service(people, "op2").check(case, "件数・項目・提供先を確認")
    executed = service(people, "op1").execute(case, WITNESS, out="抗体調査-オリジナルCD.iso")
    assert executed.written.outcome.verified
    out = tmp_path / "contractor"
    open_bundle(Path(executed.written.outcome.read_path), out, identity=None,
                passphrase=executed.written.passphrase)  # fmt: skip
    rows = list(csv.reader(io.StringIO((out / "persons.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 1 + 5000 - len(flagged)
    assert rows[0] == ["name", "birth", "sex", "postal", "address"]
    (record,) = service(people, "aud1").records()
    assert record.persons == 5000 - len(flagged)
    assert record.content_hash == ops.preview(case).fingerprint

"""Lookups over a real encrypted store: every criterion, the caps, and the audit."""

from __future__ import annotations

import json
from datetime import date

import pytest

from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.japanese.wareki import age_at_fiscal_year_end, age_on
from core.ports import AuditFilter
from core.search import SearchCriteria
from core.services.lookup import LookupService
from tests.conftest import Sessions
from tests.people import CHILD, MYNUMBERS, PEOPLE


def find(people: Sessions, user: str = "op1", **criteria: object) -> list[str]:
    service = LookupService(people.login(user).ctx)
    result = service.search(SearchCriteria(**criteria))  # type: ignore[arg-type]
    return sorted(r.atena for r in result.residents)


def atenas(*names: str) -> list[str]:
    return sorted(p.atena for p in PEOPLE if p.name in names)


def test_atena_exact(people: Sessions) -> None:
    assert find(people, atena="1000000003") == ["1000000003"]
    assert find(people, atena="１０００００００03") == ["1000000003"]
    assert find(people, atena="100000000") == []


def test_mynumber_for_authorised_staff_only(people: Sessions) -> None:
    number = MYNUMBERS["1000000007"]
    assert find(people, "op1", mynumber=number) == ["1000000007"]
    assert find(people, "sup1", mynumber=f"{number[:4]} {number[4:8]} {number[8:]}") == [
        "1000000007"
    ]
    with pytest.raises(PermissionDenied):
        find(people, "op2", mynumber=number)
    auditor = people.login("aud1")
    with auditor.store.reader() as uow:
        denied = uow.audit.find(AuditFilter(user="op2", action="permission.denied"))
    assert json.loads(denied[0].detail)["permission"] == "mynumber.use"
    assert denied[0].target == "residents:mynumber"


def test_mynumber_check_digit_is_validated_first(people: Sessions) -> None:
    with pytest.raises(ValidationFailed):
        find(people, "op2", mynumber="123456789012")


def test_no_index_holds_the_plain_mynumber(people: Sessions) -> None:
    store = people.login("adm1").store
    indexed = " ".join(
        sql
        for (sql,) in store.conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    )
    assert "mynumber_hmac" in indexed
    assert "(mynumber)" not in indexed.replace(" ", "")


@pytest.mark.parametrize("typed", ["ﾔﾏﾀﾞ", "やまだ", "ヤマダ", "ヤ マ ダ", "ﾔﾏﾀﾞ　ﾀﾛｳ"])
def test_kana_prefix_in_any_width_or_script(people: Sessions, typed: str) -> None:
    expected = ["1000000001"] if "ﾀﾛｳ" in typed else ["1000000001", "1000000002"]
    assert find(people, kana=typed) == expected


def test_long_vowel_variants_and_loose_mode(people: Sessions) -> None:
    assert find(people, kana="オ-ノ") == ["1000000014"]
    assert find(people, kana="サワダ　チジミ") == ["1000000012"]
    assert find(people, kana="サワダ　チジミ", loose=True) == ["1000000011", "1000000012"]
    assert find(people, kana="ヤマサキ", loose=True) == ["1000000005", "1000000006"]
    assert find(people, kana="ビオラ", loose=True) == ["1000000019", "1000000020"]
    assert find(people, kana="ビオラ") == ["1000000020"]


def test_kanji_partial_with_and_without_variants(people: Sessions) -> None:
    assert find(people, name="高橋") == ["1000000004"]
    assert find(people, name="高橋", variants=True) == ["1000000003", "1000000004"]
    assert find(people, name="山崎", variants=True) == ["1000000005", "1000000006"]
    assert find(people, name="斎藤", variants=True) == ["1000000007", "1000000008"]
    assert find(people, name="渡辺", variants=True) == ["1000000009", "1000000010"]
    assert find(people, name="浜", variants=True) == ["1000000018"]
    assert find(people, name="田") == atenas(
        "山田　太郎", "山田　花子", "澤田　ちぢみ", "沢田　ちじみ", "濵田　浜"
    )


def test_names_with_markup_characters_are_found_and_returned_literally(
    people: Sessions,
) -> None:
    service = LookupService(people.login("op1").ctx)
    result = service.search(SearchCriteria(name="O'Brien [red]"))
    assert [r.name for r in result.residents] == ["O'Brien [red]Jr;[/]"]
    assert service.search(SearchCriteria(name="';")).residents == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("平成2年1月1日", ["1000000001"]),
        ("H2.1.1", ["1000000001"]),
        ("4020101", ["1000000001"]),
        ("19900101", ["1000000001"]),
        ("平成元年1月8日", ["1000000002"]),
        ("2000", ["1000000007", "1000000008"]),
        ("2000-04", ["1000000007", "1000000008"]),
        ("令和元年", ["1000000010"]),
    ],
)
def test_birth_in_every_form(people: Sessions, typed: str, expected: list[str]) -> None:
    assert find(people, birth=typed) == expected


def test_address_sex_status_and_combinations(people: Sessions) -> None:
    assert find(people, address="2丁目3") == ["1000000014"]
    assert find(people, address="桜台3丁目") == ["1000000013"]
    assert find(people, name="山田", sex="F") == ["1000000002"]
    assert find(people, status="転出") == ["1000000016"]
    assert find(people, status="deceased") == ["1000000017"]
    assert find(people, name="山", birth="1990") == ["1000000001"]
    assert find(people, kana="サイトウ", birth="2000-04-02") == ["1000000008"]


@pytest.mark.parametrize(
    ("name", "birth", "expected"),
    [
        ("山田太郎", "H2", ["1000000001"]),  # across the space between surname and given name
        ("山田　太郎", "1990-01", ["1000000001"]),
        ("田", "1989", ["1000000002"]),
        ("山崎", "1956", ["1000000006"]),  # 山﨑 (1955) is a different character
        ("山崎", "1955", []),
        ("ｵﾌﾞﾗｲｴﾝ", "1975", []),  # kana is not the kanji name
        ("O'Brien", "S50", ["1000000013"]),
    ],
)
def test_name_with_birth_reads_the_birth_index(
    people: Sessions, name: str, birth: str, expected: list[str]
) -> None:
    assert find(people, name=name, birth=birth) == expected
    assert find(people, name=name, birth=birth, variants=True) == sorted(
        set(expected) | ({"1000000005"} if name == "山崎" and birth == "1955" else set())
    )


def test_a_name_only_query_is_capped_with_a_hint(people: Sessions) -> None:
    service = LookupService(people.login("op1").ctx)
    result = service.search(SearchCriteria(name="田", limit=2))
    assert len(result.residents) == 2
    assert result.truncated
    assert result.narrow_hint
    assert not service.search(SearchCriteria(name="山田")).truncated


def test_a_protected_address_is_withheld_in_results(people: Sessions) -> None:
    service = LookupService(people.login("op1").ctx)
    (hit,) = service.search(SearchCriteria(atena="1000000015")).residents
    assert hit.address is None
    assert service.open("1000000015").address is None


def test_administrators_and_auditors_cannot_look_up(people: Sessions) -> None:
    for user in ("adm1", "aud1"):
        with pytest.raises(PermissionDenied):
            find(people, user, name="山")


def test_every_search_and_open_is_audited_with_its_target(people: Sessions) -> None:
    service = LookupService(people.login("op1").ctx)
    service.search(SearchCriteria(kana="ヤマダ", birth="H2"))
    service.open("1000000001")
    auditor = people.login("aud1")
    with auditor.store.reader() as uow:
        searched = uow.audit.find(AuditFilter(user="op1", action="resident.searched"))[0]
        opened = uow.audit.find(AuditFilter(user="op1", action="resident.opened"))[0]
    detail = json.loads(searched.detail)
    assert detail["query"]["kana"] == "ヤマダ"
    assert detail["query"]["birth"] == ["1990-01-01", "1990-12-31"]
    assert detail["atenas"] == ["1000000001"]
    assert searched.target == "resident:1000000001"
    assert searched.terminal == "T-TEST"
    assert opened.target == "resident:1000000001"


def test_the_audit_never_records_the_mynumber(people: Sessions) -> None:
    number = MYNUMBERS["1000000007"]
    service = LookupService(people.login("op1").ctx)
    service.search(SearchCriteria(mynumber=number))
    service.reveal_mynumber("1000000007")
    store = people.login("aud1").store
    details = " ".join(d for (d,) in store.conn.execute("SELECT detail FROM audit"))
    assert number not in details


def test_person_view(people: Sessions) -> None:
    view = LookupService(people.login("op1").ctx).open("1000000001")
    today = view.as_of
    assert view.birth_wareki == "平成2年1月1日"
    assert view.age == age_on(date(1990, 1, 1), today)
    assert view.fiscal_year_end_age == age_at_fiscal_year_end(date(1990, 1, 1), today)
    assert view.mynumber_masked == "●●●● ●●●● ●●●●"
    (flu,) = view.histories
    assert flu.pending == 1


def test_a_deceased_persons_age_stops(people: Sessions) -> None:
    view = LookupService(people.login("op1").ctx).open("1000000017")
    assert view.age == 95
    assert view.resident.no_auto_answer


def test_sixty_records_grouped_by_vaccine(people: Sessions) -> None:
    view = LookupService(people.login("op1").ctx).open(CHILD.atena)
    assert [h.vaccine for h in view.histories] == ["HIB", "FLU"]
    assert sum(len(h.records) for h in view.histories) == 60
    doses = [r.dose or 0 for r in view.histories[0].records]
    assert doses == sorted(doses)
    assert view.histories[0].records[0].institution_name == "さくら小児科"


def test_mynumber_reveal_is_audited_and_refused_without_access(people: Sessions) -> None:
    assert (
        LookupService(people.login("op1").ctx).reveal_mynumber("1000000003")
        == MYNUMBERS["1000000003"]
    )
    with pytest.raises(PermissionDenied):
        LookupService(people.login("op2").ctx).reveal_mynumber("1000000003")
    with people.login("aud1").store.reader() as uow:
        assert uow.audit.find(AuditFilter(action="mynumber.revealed", user="op1"))
        assert uow.audit.find(AuditFilter(action="permission.denied", user="op2"))


def test_only_a_supervisor_reveals_a_protected_address(people: Sessions) -> None:
    with pytest.raises(PermissionDenied):
        LookupService(people.login("op1").ctx).reveal_address("1000000015", "inquiry")
    shown = LookupService(people.login("sup1").ctx).reveal_address("1000000015", "court order")
    assert shown == "秘密町9番9号"
    with people.login("aud1").store.reader() as uow:
        (event,) = uow.audit.find(AuditFilter(action="dv_address.revealed"))
    assert event.user == "sup1"
    assert json.loads(event.detail) == {"reason": "court order"}


def test_opening_an_unknown_person(people: Sessions) -> None:
    with pytest.raises(NotFound):
        LookupService(people.login("op1").ctx).open("999")


def test_keys_stay_current_when_a_resident_changes(people: Sessions) -> None:
    store = people.login("adm1").store
    with store.transaction():
        store.conn.execute(
            "UPDATE residents SET name = '新姓　太郎', kana = 'シンセイ　タロウ' "
            "WHERE atena = '1000000001'"
        )
    assert find(people, name="新姓") == ["1000000001"]
    assert find(people, kana="シンセイ") == ["1000000001"]
    assert "1000000001" not in find(people, kana="ヤマダ")

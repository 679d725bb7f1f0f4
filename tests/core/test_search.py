"""Search criteria: every accepted form, and bad input named with the accepted forms."""

from __future__ import annotations

from datetime import date

import pytest

from core.errors import ValidationFailed
from core.residents import Sex, Status
from core.search import SearchCriteria, address_key, plan


def keys(criteria: SearchCriteria) -> set[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        plan(criteria)
    return {(i.field, i.key) for i in caught.value.issues}


@pytest.mark.parametrize(
    ("typed", "start", "end"),
    [
        ("平成2年1月1日", date(1990, 1, 1), date(1990, 1, 1)),
        ("平成元年1月8日", date(1989, 1, 8), date(1989, 1, 8)),
        ("H2.1.1", date(1990, 1, 1), date(1990, 1, 1)),
        ("h02/01/01", date(1990, 1, 1), date(1990, 1, 1)),
        ("Ｈ２．１．１", date(1990, 1, 1), date(1990, 1, 1)),
        ("4020101", date(1990, 1, 1), date(1990, 1, 1)),
        ("1990-01-01", date(1990, 1, 1), date(1990, 1, 1)),
        ("1990/1/1", date(1990, 1, 1), date(1990, 1, 1)),
        ("19900101", date(1990, 1, 1), date(1990, 1, 1)),
        ("1990", date(1990, 1, 1), date(1990, 12, 31)),
        ("1990-01", date(1990, 1, 1), date(1990, 1, 31)),
        ("平成2年", date(1990, 1, 1), date(1990, 12, 31)),
        ("平成元年", date(1989, 1, 8), date(1989, 12, 31)),
        ("H2.2", date(1990, 2, 1), date(1990, 2, 28)),
    ],
)
def test_birth_in_every_form(typed: str, start: date, end: date) -> None:
    query = plan(SearchCriteria(birth=typed))
    assert query.birth is not None
    assert (query.birth.start, query.birth.end) == (start, end)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (SearchCriteria(birth="平成31年5月1日"), ("birth", "date.outside_era")),
        (SearchCriteria(birth="2月30日"), ("birth", "date.query_unrecognised")),
        (SearchCriteria(mynumber="1234567890123"), ("mynumber", "mynumber.length")),
        (SearchCriteria(mynumber="123456789012"), ("mynumber", "mynumber.check_digit")),
        (SearchCriteria(kana="山田"), ("kana", "search.kana_only")),
        (SearchCriteria(atena="A-12"), ("atena", "resident.atena_format")),
        (SearchCriteria(sex="X"), ("sex", "resident.sex_unknown")),
        (SearchCriteria(status="gone"), ("status", "resident.status_unknown")),
        (SearchCriteria(), ("", "search.empty")),
        (SearchCriteria(name="山", limit=0), ("limit", "search.limit")),
    ],
)
def test_bad_input_names_field_and_rule(
    criteria: SearchCriteria, expected: tuple[str, str]
) -> None:
    assert expected in keys(criteria)


def test_every_problem_is_reported_at_once() -> None:
    found = keys(SearchCriteria(birth="平成31年5月1日", mynumber="123", sex="?"))
    assert {f for f, _ in found} == {"birth", "mynumber", "sex"}


def test_kana_forms_give_the_same_key() -> None:
    forms = ["ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ", "やまだたろう", "ヤマダタロウ"]
    assert len({plan(SearchCriteria(kana=f)).kana_prefix for f in forms}) == 1


def test_names_with_markup_characters_are_plain_text() -> None:
    assert plan(SearchCriteria(name="[red]O'Brien;")).name == "[red]O'Brien;"


def test_other_fields_normalise() -> None:
    query = plan(SearchCriteria(atena="１０００", sex="女", status="転出", address="３丁目 ４"))
    assert query.atena == "1000"
    assert query.sex is Sex.FEMALE
    assert query.status is Status.MOVED_OUT
    assert query.address == "3丁目4"
    assert address_key("桜台３丁目") == "桜台3丁目"


def test_name_only_queries_are_recognised_as_broad() -> None:
    assert plan(SearchCriteria(name="山")).name_only
    assert plan(SearchCriteria(kana="ヤ")).name_only
    assert not plan(SearchCriteria(name="山", birth="1990")).name_only

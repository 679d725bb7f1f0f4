"""The person view's rules: legal age, 年度末年齢, the masked number, the protected address."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from core.person import person_view, summarise
from core.residents import Resident, Sex, Status

BASE = Resident(
    atena="1",
    mynumber="123456789018",
    name="山田　太郎",
    kana="ヤマダ　タロウ",
    birth=date(2000, 4, 1),
    sex=Sex.MALE,
    postal=None,
    address="桜台1",
    household=None,
    relation=None,
    status=Status.RESIDENT,
    status_date=None,
    status_reason=None,
    dv_flag=False,
    no_auto_answer=False,
    guardian=None,
)


def resident(**changes: object) -> Resident:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def test_age_increases_the_day_before_the_birthday() -> None:
    born_april_first = resident()
    assert person_view(born_april_first, [], date(2027, 3, 30)).age == 26
    assert person_view(born_april_first, [], date(2027, 3, 31)).age == 27


def test_fiscal_year_end_age() -> None:
    view = person_view(resident(birth=date(2000, 4, 2)), [], date(2026, 11, 24))
    assert view.age == 26
    assert view.fiscal_year_end_age == 26
    view = person_view(resident(birth=date(2000, 4, 1)), [], date(2026, 11, 24))
    assert view.fiscal_year_end_age == 27


def test_a_deceased_persons_age_is_at_death() -> None:
    dead = resident(status=Status.DECEASED, status_date=date(2010, 5, 1))
    assert person_view(dead, [], date(2026, 11, 24)).age == 10


def test_the_number_is_masked_and_a_protected_address_withheld() -> None:
    view = person_view(resident(dv_flag=True), [], date(2026, 11, 24))
    assert "8" not in view.mynumber_masked
    assert view.address is None
    assert summarise(resident(dv_flag=True)).address is None
    revealed = person_view(resident(dv_flag=True), [], date(2026, 11, 24), revealed_address="x")
    assert revealed.address == "x"

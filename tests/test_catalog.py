"""The default vaccine catalogue and the rule helpers data entry uses."""

from __future__ import annotations

from datetime import date

import pytest

from core.catalog import (
    AgeLimit,
    Catalog,
    CatalogInvalid,
    Interval,
    Vaccine,
    age_window,
    cohort_ok,
    dose_in_range,
    interval_reference,
    load_default_catalog,
    min_interval_ok,
    parse_catalog,
    routine_on,
)
from core.catalog.ages import add_months, day_becoming, fiscal_year_end_age

EXPECTED_CODES = {
    "HIB",
    "PCV",
    "HEPB",
    "ROTA1",
    "ROTA5",
    "DPTIPVHIB",
    "DPTIPV",
    "DPT",
    "DT",
    "IPV",
    "OPV",
    "BCG",
    "MR1",
    "MR2",
    "VAR",
    "JE1",
    "JE2",
    "HPV2",
    "HPV4",
    "HPV9",
    "FLU",
    "PNEU",
    "COVID",
    "HZL",
    "HZR",
}

MINIMAL = """
schema = 1
[maker]
BIKEN = {{ name_ja = "阪大微研", name_en = "BIKEN" }}
[[vaccine]]
code = "VAR"
name_ja = "水痘"
name_en = "Varicella"
category = "A"
routine_from = 2014-10-01
min_age = "12m"
max_age = "36m"
doses = [{{ label = "1回目" }}, {{ label = "2回目", min_interval = "3m" }}]
products = [{{ maker = "BIKEN", name = "ビケン", lot = "VZ###" }}]
{extra}
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_default_catalog()


def vaccine(catalog: Catalog, code: str) -> Vaccine:
    found = catalog.get(code)
    assert found is not None
    return found


def test_default_catalog_has_the_routine_vaccines(catalog: Catalog) -> None:
    assert set(catalog.codes()) >= EXPECTED_CODES
    assert len(set(catalog.codes())) == len(catalog)
    assert load_default_catalog() is catalog


def test_every_vaccine_is_complete(catalog: Catalog) -> None:
    for entry in catalog.vaccines:
        assert entry.code.isascii()
        assert entry.code.isupper()
        assert entry.name_ja
        assert entry.name_en
        assert entry.category in ("A", "B", "T")
        assert entry.doses
        assert [d.number for d in entry.doses] == list(range(1, entry.dose_count + 1))
        assert entry.products
        for product in entry.products:
            assert catalog.maker(product.maker) is not None
            assert product.lot_pattern
        if entry.recurring:
            assert entry.season is not None
            assert entry.dose_count == 1


def test_categories(catalog: Catalog) -> None:
    assert vaccine(catalog, "HIB").category == "A"
    assert vaccine(catalog, "FLU").category == "B"
    assert vaccine(catalog, "FLU").recurring
    assert vaccine(catalog, "COVID").recurring
    assert vaccine(catalog, "ROTA1").dose_count == 2
    assert vaccine(catalog, "ROTA5").dose_count == 3
    assert vaccine(catalog, "DPTIPVHIB").dose_count == 4
    assert catalog.get("NOPE") is None
    assert "MR1" in catalog


def test_dose_range(catalog: Catalog) -> None:
    hib = vaccine(catalog, "HIB")
    assert dose_in_range(hib, 1)
    assert dose_in_range(hib, 4)
    assert not dose_in_range(hib, 0)
    assert not dose_in_range(hib, 5)
    assert dose_in_range(vaccine(catalog, "FLU"), 1)
    assert not dose_in_range(vaccine(catalog, "FLU"), 2)


def test_month_window_boundaries(catalog: Catalog) -> None:
    hib = vaccine(catalog, "HIB")
    birth = date(2023, 4, 1)
    assert age_window(hib, birth, date(2023, 5, 31)) == "too_young"
    assert age_window(hib, birth, date(2023, 6, 1)) == "ok"
    assert age_window(hib, birth, date(2028, 3, 31)) == "ok"
    assert age_window(hib, birth, date(2028, 4, 1)) == "too_old"


def test_month_end_births_use_the_first_of_the_next_month() -> None:
    assert add_months(date(2023, 12, 31), 2) == date(2024, 3, 1)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 3, 1)
    assert add_months(date(2024, 3, 1), 1) == date(2024, 4, 1)
    assert add_months(date(2020, 2, 29), 12) == date(2021, 3, 1)
    assert AgeLimit.parse("2m").reached_on(date(2023, 12, 31)) == date(2024, 3, 1)


def test_day_windows_for_rotavirus(catalog: Catalog) -> None:
    rota = vaccine(catalog, "ROTA1")
    birth = date(2024, 1, 1)
    assert age_window(rota, birth, date(2024, 2, 11)) == "too_young"
    assert age_window(rota, birth, date(2024, 2, 12)) == "ok"
    assert age_window(rota, birth, date(2024, 6, 17)) == "ok"
    assert age_window(rota, birth, date(2024, 6, 18)) == "too_old"


def test_mr2_is_the_year_before_school(catalog: Catalog) -> None:
    mr2 = vaccine(catalog, "MR2")
    april_first = date(2018, 4, 1)
    assert age_window(mr2, april_first, date(2023, 3, 31)) == "too_young"
    assert age_window(mr2, april_first, date(2023, 4, 1)) == "ok"
    assert age_window(mr2, april_first, date(2024, 3, 31)) == "ok"
    assert age_window(mr2, april_first, date(2024, 4, 1)) == "too_old"
    april_second = date(2018, 4, 2)
    assert age_window(mr2, april_second, date(2024, 3, 31)) == "too_young"
    assert age_window(mr2, april_second, date(2025, 3, 31)) == "ok"


def test_hpv_runs_from_sixth_grade_to_first_year_of_high_school(catalog: Catalog) -> None:
    hpv = vaccine(catalog, "HPV9")
    birth = date(2012, 6, 15)
    assert age_window(hpv, birth, date(2024, 3, 31)) == "too_young"
    assert age_window(hpv, birth, date(2024, 4, 1)) == "ok"
    assert age_window(hpv, birth, date(2029, 3, 31)) == "ok"
    assert age_window(hpv, birth, date(2029, 4, 1)) == "too_old"
    assert cohort_ok(hpv, birth, "F")
    assert not cohort_ok(hpv, birth, "M")


def test_open_ended_window(catalog: Catalog) -> None:
    flu = vaccine(catalog, "FLU")
    birth = date(1950, 10, 2)
    assert age_window(flu, birth, date(2015, 10, 1)) == "too_young"
    assert age_window(flu, birth, date(2015, 10, 2)) == "ok"
    assert age_window(flu, birth, date(2049, 1, 1)) == "ok"
    assert flu.season is not None
    assert flu.season.season_of(date(2025, 1, 15)) == 2024
    assert flu.season.season_of(date(2025, 10, 1)) == 2025
    assert flu.season.season_of(date(2025, 6, 1)) is None


def test_legal_age_and_fiscal_year_age() -> None:
    assert day_becoming(date(2000, 4, 1), 20) == date(2020, 3, 31)
    assert fiscal_year_end_age(date(2000, 4, 1), 2019) == 20
    assert fiscal_year_end_age(date(2000, 4, 2), 2019) == 19


def test_interval_in_days_counts_clear_days(catalog: Catalog) -> None:
    hib = vaccine(catalog, "HIB")
    first = date(2024, 4, 1)
    assert not min_interval_ok(hib, 2, first, date(2024, 4, 28))
    assert min_interval_ok(hib, 2, first, date(2024, 4, 29))
    assert Interval.parse("27d").earliest_after(first) == date(2024, 4, 29)


def test_interval_in_months_and_from_an_earlier_dose(catalog: Catalog) -> None:
    dptipv = vaccine(catalog, "DPTIPV")
    assert not min_interval_ok(dptipv, 4, date(2024, 8, 31), date(2025, 2, 28))
    assert min_interval_ok(dptipv, 4, date(2024, 8, 31), date(2025, 3, 1))
    hepb = vaccine(catalog, "HEPB")
    assert interval_reference(hepb, 3) == 1
    assert interval_reference(hepb, 2) == 1
    assert interval_reference(hepb, 1) is None
    assert not min_interval_ok(hepb, 3, date(2024, 6, 1), date(2024, 10, 18))
    assert min_interval_ok(hepb, 3, date(2024, 6, 1), date(2024, 10, 19))
    assert min_interval_ok(hepb, 1, date(2024, 6, 1), date(2024, 6, 2))
    with pytest.raises(ValueError, match="HEPB has no dose 4"):
        min_interval_ok(hepb, 4, date(2024, 6, 1), date(2024, 12, 1))


def test_routine_period_and_products(catalog: Catalog) -> None:
    opv = vaccine(catalog, "OPV")
    assert routine_on(opv, date(2012, 8, 31))
    assert not routine_on(opv, date(2012, 9, 1))
    pcv = vaccine(catalog, "PCV")
    names = [p.name for p in pcv.products if p.available_on(date(2025, 1, 1))]
    assert "プレベナー13" not in names
    assert "プレベナー20" in names


def test_minimal_catalogue_parses() -> None:
    parsed = parse_catalog(MINIMAL.format(extra=""))
    assert parsed.codes() == ("VAR",)
    entry = parsed.get("VAR")
    assert entry is not None
    assert entry.doses[1].min_interval == Interval(3, "m")


def test_unknown_field_is_named() -> None:
    text = MINIMAL.format(extra="colour = 'red'")
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(text)
    assert "vaccine VAR: colour: unknown field" in str(caught.value)


def test_missing_field_and_bad_age_are_all_reported() -> None:
    text = MINIMAL.format(extra="").replace('name_en = "Varicella"\n', "")
    text = text.replace('max_age = "36m"', 'max_age = "36q"')
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(text)
    problems = {(p.entry, p.field) for p in caught.value.problems}
    assert ("vaccine VAR", "name_en") in problems
    assert ("vaccine VAR", "max_age") in problems
    assert "36q" in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "entry", "field"),
    [
        ("[[vaccine.x]]", "vaccine VAR", "x"),
        ("", "vaccine VAR dose 2", "interval_from"),
    ],
)
def test_nested_problems_name_their_place(extra: str, entry: str, field: str) -> None:
    text = MINIMAL.format(extra=extra)
    if not extra:
        text = text.replace('min_interval = "3m"', 'min_interval = "3m", interval_from = 2')
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(text)
    assert (entry, field) in {(p.entry, p.field) for p in caught.value.problems}


def test_unknown_maker_duplicate_code_and_bad_toml() -> None:
    text = MINIMAL.format(extra="").replace('maker = "BIKEN", name', 'maker = "ACME", name')
    with pytest.raises(CatalogInvalid, match="unknown maker 'ACME'"):
        parse_catalog(text)
    base = MINIMAL.format(extra="")
    doubled = base + base[base.index("[[vaccine]]") :]
    with pytest.raises(CatalogInvalid, match="vaccine VAR: code: duplicate code"):
        parse_catalog(doubled)
    with pytest.raises(CatalogInvalid, match="not valid TOML"):
        parse_catalog("schema = ")

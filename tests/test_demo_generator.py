"""The synthetic city generator: determinism, valid numbers, realistic shares, rule-abiding
histories."""

from __future__ import annotations

import datetime
import re
from collections import Counter, defaultdict
from itertools import islice

import pytest

from core.catalog import (
    Catalog,
    Vaccine,
    age_window,
    cohort_ok,
    dose_in_range,
    interval_reference,
    load_default_catalog,
    min_interval_ok,
    routine_on,
)
from core.catalog.ages import add_months
from core.identifiers import is_valid_mynumber
from storage.demo import (
    SyntheticResident,
    SyntheticVaccination,
    generate_city,
    generate_institutions,
    variant_surnames,
)
from storage.demo.records import vaccination_factory

TODAY = datetime.date(2025, 6, 1)
SEED = 20250601
CITY_SIZE = 20_000
KANA = re.compile(r"[ァ-ヶー]+\u3000[ァ-ヶー]+")
NAME = re.compile(r"\S+\u3000\S+")


@pytest.fixture(scope="module")
def city() -> list[SyntheticResident]:
    return list(generate_city(CITY_SIZE, SEED, TODAY))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_default_catalog()


def share(city: list[SyntheticResident], count: int) -> float:
    return count / len(city)


def test_same_arguments_give_the_same_city() -> None:
    first = list(generate_city(1500, 7, TODAY))
    second = list(generate_city(1500, 7, TODAY))
    assert first == second
    assert generate_institutions(7) == generate_institutions(7)


def test_different_seeds_give_different_cities() -> None:
    one = [(r.atena, r.name, r.birth) for r in generate_city(200, 1, TODAY)]
    two = [(r.atena, r.name, r.birth) for r in generate_city(200, 2, TODAY)]
    assert one != two


def test_count_is_exact_and_the_result_streams() -> None:
    stream = generate_city(10, 3, TODAY)
    assert iter(stream) is stream
    assert len(list(stream)) == 10
    assert list(generate_city(0, 3, TODAY)) == []
    assert len(list(islice(generate_city(5000, 3, TODAY), 3))) == 3
    with pytest.raises(ValueError, match="negative"):
        generate_city(-1, 3, TODAY)


def test_numbers_are_unique_and_valid(city: list[SyntheticResident]) -> None:
    assert len({r.atena for r in city}) == len(city)
    assert len({r.mynumber for r in city}) == len(city)
    for resident in city:
        assert re.fullmatch(r"\d{10}", resident.atena)
        assert re.fullmatch(r"\d{10}", resident.household)
        assert is_valid_mynumber(resident.mynumber)


def test_names_kana_and_addresses(city: list[SyntheticResident]) -> None:
    for resident in city:
        assert NAME.fullmatch(resident.name), resident.name
        assert KANA.fullmatch(resident.kana), resident.kana
        assert re.fullmatch(r"999-\d{4}", resident.postal)
        assert resident.address
        assert resident.sex in ("M", "F")
        assert resident.status in ("resident", "moved_out", "deceased")
        assert (resident.status == "resident") == (resident.status_date is None)


def test_households_share_surname_address_and_number(city: list[SyntheticResident]) -> None:
    households: dict[str, list[SyntheticResident]] = defaultdict(list)
    for resident in city:
        households[resident.household].append(resident)
    assert 1.8 < len(city) / len(households) < 2.6
    for members in households.values():
        assert len({m.name.split("\u3000")[0] for m in members}) == 1
        assert len({m.address for m in members}) == 1
        assert [m.relation for m in members].count("世帯主") == 1


def test_minors_have_a_guardian_in_their_household(city: list[SyntheticResident]) -> None:
    by_atena = {r.atena: r for r in city}
    minors = [r for r in city if add_months(r.birth, 12 * 18) > TODAY]
    assert 0.1 < share(city, len(minors)) < 0.2
    for child in minors:
        assert child.guardian is not None
        guardian = by_atena[child.guardian]
        assert guardian.household == child.household
        assert add_months(guardian.birth, 12 * 18) <= child.birth
    for adult in city:
        if add_months(adult.birth, 12 * 18) <= TODAY:
            assert adult.guardian is None


def test_ages_follow_the_population_pyramid(city: list[SyntheticResident]) -> None:
    def ages(low: int, high: int) -> float:
        count = sum(
            1
            for r in city
            if add_months(r.birth, 12 * low) <= TODAY < add_months(r.birth, 12 * high)
        )
        return share(city, count)

    assert ages(0, 101) == pytest.approx(1.0, abs=0.005)
    assert ages(45, 75) > 0.35
    assert ages(0, 15) < 0.15
    assert ages(65, 101) > 0.25
    assert ages(95, 101) > 0


def test_proportions(city: list[SyntheticResident]) -> None:
    statuses = Counter(r.status for r in city)
    assert 0.02 < share(city, statuses["moved_out"]) < 0.045
    assert 0.01 < share(city, statuses["deceased"]) < 0.03
    assert 0.001 < share(city, sum(r.dv_flag for r in city)) < 0.006
    assert 0.0005 < share(city, sum(r.no_auto_answer for r in city)) < 0.005
    variants = variant_surnames()
    carrying = sum(r.name.split("\u3000")[0] in variants for r in city)
    assert 0.01 < share(city, carrying) < 0.05
    deceased_ages = [
        (r.status_date - r.birth).days / 365.25
        for r in city
        if r.status == "deceased" and r.status_date is not None
    ]
    assert sum(age >= 65 for age in deceased_ages) / len(deceased_ages) > 0.8


def test_variant_kanji_are_distinct_code_points() -> None:
    variants = variant_surnames()
    assert {"髙橋", "山\ufa11", "齋藤", "渡邊", "澤田", "濵田"} <= variants
    assert "高橋" not in variants


def test_average_records_per_resident(city: list[SyntheticResident]) -> None:
    average = sum(len(r.vaccinations) for r in city) / len(city)
    assert 8.5 < average < 11.5


def test_no_record_outside_the_resident_s_life(city: list[SyntheticResident]) -> None:
    for resident in city:
        end = resident.status_date or TODAY
        for record in resident.vaccinations:
            assert resident.birth <= record.date <= TODAY
            assert record.date <= end


def test_records_follow_the_catalogue(city: list[SyntheticResident], catalog: Catalog) -> None:
    institutions = {i.code: {c for c, _ in i.physicians} for i in generate_institutions(SEED)}
    for resident in city:
        doses: dict[str, dict[int, datetime.date]] = defaultdict(dict)
        for record in resident.vaccinations:
            vaccine = catalog.get(record.vaccine)
            assert vaccine is not None
            assert dose_in_range(vaccine, record.dose)
            assert age_window(vaccine, resident.birth, record.date) == "ok", record
            assert routine_on(vaccine, record.date), record
            assert cohort_ok(vaccine, resident.birth, resident.sex), record
            assert any(
                p.maker == record.maker and p.available_on(record.date) for p in vaccine.products
            )
            assert record.physician in institutions[record.institution]
            if not vaccine.recurring:
                assert record.dose not in doses[record.vaccine]
                doses[record.vaccine][record.dose] = record.date
        for code, dates in doses.items():
            check_series(catalog.get(code), dates)


def check_series(vaccine: Vaccine | None, dates: dict[int, datetime.date]) -> None:
    assert vaccine is not None
    for dose, day in dates.items():
        reference = interval_reference(vaccine, dose)
        if reference is not None:
            assert reference in dates, (vaccine.code, dose)
            assert min_interval_ok(vaccine, dose, dates[reference], day), (vaccine.code, dose)


def test_the_catalogue_s_era_vaccines_appear(city: list[SyntheticResident]) -> None:
    codes = Counter(v.vaccine for r in city for v in r.vaccinations)
    for code in ("HIB", "PCV", "DPTIPV", "DPTIPVHIB", "BCG", "MR1", "MR2", "JE1", "FLU"):
        assert codes[code] > 0, code
    assert codes["COVIDT"] > codes["COVID"] > 0
    five_in_one = [r for r in city if any(v.vaccine == "DPTIPVHIB" for v in r.vaccinations)]
    assert all(r.birth >= datetime.date(2024, 1, 1) for r in five_in_one)
    girls_only = {r.sex for r in city for v in r.vaccinations if v.vaccine.startswith("HPV")}
    assert girls_only == {"F"}


def test_institutions() -> None:
    institutions = generate_institutions(SEED)
    codes = [i.code for i in institutions]
    assert len(set(codes)) == len(codes) > 50
    physicians = [code for i in institutions for code, _ in i.physicians]
    assert len(set(physicians)) == len(physicians)
    for institution in institutions:
        assert re.fullmatch(r"99\d{8}", institution.code)
        assert institution.name
        assert institution.physicians
        for code, name in institution.physicians:
            assert re.fullmatch(r"\d{6}", code)
            assert NAME.fullmatch(name)


def test_fast_factory_matches_the_dataclass() -> None:
    make = vaccination_factory()
    args = ("HIB", 1, TODAY, "S1234", "SANOFI", "9910100017", "100001")
    made = make(*args)
    assert made == SyntheticVaccination(*args)
    assert type(made) is SyntheticVaccination
    assert hash(made) == hash(SyntheticVaccination(*args))
    assert SyntheticVaccination.__match_args__ == (
        "vaccine",
        "dose",
        "date",
        "lot",
        "maker",
        "institution",
        "physician",
    )
    assert not hasattr(SyntheticVaccination, "__post_init__")

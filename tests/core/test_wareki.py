from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidValue
from core.japanese.wareki import (
    ERAS,
    DateRange,
    age_at_fiscal_year_end,
    age_on,
    era_of,
    fiscal_year,
    fiscal_year_end,
    format_seireki,
    format_wareki,
    from_era_code,
    parse_date,
    parse_date_query,
    to_era_code,
)

H2_1_1 = date(1990, 1, 1)
dates = st.dates(min_value=date(1868, 1, 25), max_value=date(2099, 12, 31))


def full_width(text: str) -> str:
    """ASCII letters, digits and punctuation as their full-width forms (Ｈ２．１．１)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("平成2年1月1日", H2_1_1),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("H2.1.1", H2_1_1),
        ("H2/1/1", H2_1_1),
        ("h02.01.01", H2_1_1),
        ("H02-01-01", H2_1_1),
        ("Ｈ２．１．１", H2_1_1),
        ("Ｈ２／１／１", H2_1_1),
        ("平成２年１月１日", H2_1_1),
        (" 平成 2年 1月 1日 ", H2_1_1),
        ("平成\u30002年\u30001月\u30001日", H2_1_1),
        ("H 2 . 1 . 1", H2_1_1),
        ("H2 1 1", H2_1_1),
        ("平2.1.1", H2_1_1),
        ("平成2.1.1", H2_1_1),
        ("H2年1月1日", H2_1_1),
        ("平成2年1月1", H2_1_1),
        ("㍻2年1月1日", H2_1_1),
        ("H元.1.8", date(1989, 1, 8)),
        ("4020101", H2_1_1),
        ("４０２０１０１", H2_1_1),
        ("1990-01-01", H2_1_1),
        ("1990/1/1", H2_1_1),
        ("1990.1.1", H2_1_1),
        ("1990 1 1", H2_1_1),
        ("1990年1月1日", H2_1_1),
        ("西暦1990年1月1日", H2_1_1),
        ("19900101", H2_1_1),
        ("１９９０－０１－０１", H2_1_1),
        ("1990ー01ー01", H2_1_1),
        ("M1.1.25", date(1868, 1, 25)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("大正元年7月30日", date(1912, 7, 30)),
        ("T15.12.24", date(1926, 12, 24)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("S64.1.7", date(1989, 1, 7)),
        ("3640107", date(1989, 1, 7)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R1.5.1", date(2019, 5, 1)),
        ("5010501", date(2019, 5, 1)),
        ("令2.2.29", date(2020, 2, 29)),
        ("2000-02-29", date(2000, 2, 29)),
    ],
)
def test_accepted_forms(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "date.empty"),
        ("   ", "date.empty"),
        ("\u3000", "date.empty"),
        ("平成2年2月30日", "date.impossible"),
        ("H2.2.30", "date.impossible"),
        ("1990-13-01", "date.impossible"),
        ("1990-00-10", "date.impossible"),
        ("1990-01-00", "date.impossible"),
        ("19900230", "date.impossible"),
        ("2001-02-29", "date.impossible"),
        ("4020230", "date.impossible"),
        ("平成31年5月1日", "date.outside_era"),
        ("H31.5.1", "date.outside_era"),
        ("4310501", "date.outside_era"),
        ("平成元年1月7日", "date.outside_era"),
        ("平成0年1月1日", "date.outside_era"),
        ("H0.1.1", "date.outside_era"),
        ("昭和64年1月8日", "date.outside_era"),
        ("明治元年1月24日", "date.outside_era"),
        ("大正元年7月29日", "date.outside_era"),
        ("令和元年4月30日", "date.before_era"),
        ("R0.12.31", "date.before_era"),
        ("1868-01-24", "date.before_meiji"),
        ("0000-01-01", "date.before_meiji"),
        ("H2", "date.incomplete"),
        ("平成2年1月", "date.incomplete"),
        ("1990", "date.incomplete"),
        ("199001", "date.incomplete"),
        ("H2.1/1", "date.unrecognised"),
        ("X2.1.1", "date.unrecognised"),
        ("1990-1-1-1", "date.unrecognised"),
        ("19900", "date.unrecognised"),
        ("6020101", "date.unrecognised"),
        ("900101", "date.incomplete"),
        ("平成二年一月一日", "date.unrecognised"),
        ("yesterday", "date.unrecognised"),
        ("1" * 200, "date.unrecognised"),
    ],
)
def test_rejected_forms(text: str, key: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_date(text, "birth")
    assert caught.value.key == key
    assert caught.value.issues[0].field == "birth"


def test_errors_never_carry_the_typed_value() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_date("平成31年5月1日")
    assert "31" not in str(caught.value)
    assert "31" not in repr(caught.value)
    assert caught.value.params == {
        "era": "平成",
        "start": "1989-01-08",
        "start_wareki": "平成元年1月8日",
        "end": "2019-04-30",
        "end_wareki": "平成31年4月30日",
        "field": "date",
    }


def test_before_era_and_before_meiji_name_the_first_day() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_date("R1.4.30")
    assert caught.value.params["start_wareki"] == "令和元年5月1日"
    with pytest.raises(InvalidValue) as caught:
        parse_date("1800-01-01")
    assert caught.value.params["start"] == "1868-01-25"


def test_eras_follow_each_other_without_gaps() -> None:
    for previous, following in zip(ERAS, ERAS[1:], strict=False):
        assert previous.end == following.start - timedelta(days=1)
    assert ERAS[-1].end is None
    assert [era.code for era in ERAS] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("day", "long", "short", "code"),
    [
        (date(1989, 1, 7), "昭和64年1月7日", "S64.1.7", "3640107"),
        (date(1989, 1, 8), "平成元年1月8日", "H1.1.8", "4010108"),
        (date(2019, 4, 30), "平成31年4月30日", "H31.4.30", "4310430"),
        (date(2019, 5, 1), "令和元年5月1日", "R1.5.1", "5010501"),
        (date(1912, 7, 29), "明治45年7月29日", "M45.7.29", "1450729"),
        (date(1912, 7, 30), "大正元年7月30日", "T1.7.30", "2010730"),
        (date(1926, 12, 25), "昭和元年12月25日", "S1.12.25", "3011225"),
        (H2_1_1, "平成2年1月1日", "H2.1.1", "4020101"),
    ],
)
def test_era_boundaries(day: date, long: str, short: str, code: str) -> None:
    assert format_wareki(day) == long
    assert format_wareki(day, "short") == short
    assert to_era_code(day) == code
    assert from_era_code(code) == day


def test_format_seireki() -> None:
    assert format_seireki(H2_1_1) == "1990年1月1日"
    assert format_seireki(date(2024, 12, 31)) == "2024年12月31日"


def test_dates_without_an_era_form_are_refused() -> None:
    with pytest.raises(ValueError, match="first era"):
        format_wareki(date(1868, 1, 24))
    with pytest.raises(ValueError, match="two digits"):
        to_era_code(date(2118, 1, 1))


@pytest.mark.parametrize(
    ("text", "key"),
    [("", "date.empty"), ("402010", "date.era_code"), ("H020101", "date.era_code")],
)
def test_from_era_code_is_strict(text: str, key: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        from_era_code(text)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("1990", date(1990, 1, 1), date(1990, 12, 31)),
        ("平成2年", date(1990, 1, 1), date(1990, 12, 31)),
        ("H2", date(1990, 1, 1), date(1990, 12, 31)),
        ("平成元年", date(1989, 1, 8), date(1989, 12, 31)),
        ("昭和64年", date(1989, 1, 1), date(1989, 1, 7)),
        ("平成31年", date(2019, 1, 1), date(2019, 4, 30)),
        ("令和元年", date(2019, 5, 1), date(2019, 12, 31)),
        ("1990-01", date(1990, 1, 1), date(1990, 1, 31)),
        ("1990/1", date(1990, 1, 1), date(1990, 1, 31)),
        ("199001", date(1990, 1, 1), date(1990, 1, 31)),
        ("1990年1月", date(1990, 1, 1), date(1990, 1, 31)),
        ("平成2年1月", date(1990, 1, 1), date(1990, 1, 31)),
        ("H2.1", date(1990, 1, 1), date(1990, 1, 31)),
        ("H2.2", date(1990, 2, 1), date(1990, 2, 28)),
        ("2000-02", date(2000, 2, 1), date(2000, 2, 29)),
        ("平成元年1月", date(1989, 1, 8), date(1989, 1, 31)),
        ("S64.1", date(1989, 1, 1), date(1989, 1, 7)),
        ("H31.4", date(2019, 4, 1), date(2019, 4, 30)),
        ("R1.5", date(2019, 5, 1), date(2019, 5, 31)),
        ("1868", date(1868, 1, 25), date(1868, 12, 31)),
        ("H2.1.1", H2_1_1, H2_1_1),
        ("19900101", H2_1_1, H2_1_1),
    ],
)
def test_date_queries(text: str, start: date, end: date) -> None:
    assert parse_date_query(text) == DateRange(start, end)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("H31.5", "date.outside_era"),
        ("平成0年", "date.outside_era"),
        ("S65", "date.outside_era"),
        ("1990-13", "date.impossible"),
        ("H2.0", "date.impossible"),
        ("1867", "date.before_meiji"),
        ("令和元年4月", "date.before_era"),
        ("", "date.empty"),
        ("199", "date.query_unrecognised"),
        ("H2.1/1", "date.query_unrecognised"),
    ],
)
def test_rejected_queries(text: str, key: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_date_query(text)
    assert caught.value.key == key
    assert caught.value.issues[0].field == "birth"


def test_date_range_membership_and_order() -> None:
    month = parse_date_query("H2.1")
    assert H2_1_1 in month
    assert date(1990, 2, 1) not in month
    assert "1990-01-01" not in month
    with pytest.raises(ValueError, match="ends before"):
        DateRange(date(2000, 1, 2), date(2000, 1, 1))


@given(dates)
def test_long_wareki_round_trip(day: date) -> None:
    assert parse_date(format_wareki(day)) == day


@given(dates)
def test_short_wareki_round_trip(day: date) -> None:
    assert parse_date(format_wareki(day, "short")) == day


@given(dates)
def test_era_code_round_trip(day: date) -> None:
    code = to_era_code(day)
    assert len(code) == 7
    assert from_era_code(code) == day
    assert parse_date(code) == day


@given(dates)
def test_iso_and_seireki_round_trip(day: date) -> None:
    assert parse_date(day.isoformat()) == day
    assert parse_date(day.strftime("%Y%m%d")) == day
    assert parse_date(format_seireki(day)) == day


@given(dates)
def test_full_width_forms_parse_the_same(day: date) -> None:
    for text in (format_wareki(day), format_wareki(day, "short"), day.isoformat()):
        assert parse_date(full_width(text)) == day


@given(dates)
def test_wareki_names_the_era_containing_the_day(day: date) -> None:
    era = era_of(day)
    assert era.contains(day)
    assert format_wareki(day).startswith(era.name)


@given(dates)
def test_query_of_a_month_contains_the_day(day: date) -> None:
    era = era_of(day)
    month_query = f"{era.letter}{era.year_of(day)}.{day.month}"
    found = parse_date_query(month_query)
    assert day in found
    assert found.start.month == found.end.month == day.month


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(2000, 3, 1), date(2001, 2, 27), 0),
        (date(2000, 3, 1), date(2001, 2, 28), 1),
        (date(2000, 3, 1), date(2001, 3, 1), 1),
        (date(2000, 4, 2), date(2006, 4, 1), 6),
        (date(2000, 4, 2), date(2006, 3, 31), 5),
        (date(2000, 1, 1), date(2000, 12, 30), 0),
        (date(2000, 1, 1), date(2000, 12, 31), 1),
        (date(2000, 1, 1), date(2000, 1, 1), 0),
        (date(2000, 2, 29), date(2001, 2, 27), 0),
        (date(2000, 2, 29), date(2001, 2, 28), 1),
        (date(2000, 2, 29), date(2004, 2, 27), 3),
        (date(2000, 2, 29), date(2004, 2, 28), 4),
        (date(2000, 2, 29), date(2004, 2, 29), 4),
        (date(1959, 4, 1), date(2024, 3, 31), 65),
        (date(1959, 4, 2), date(2024, 3, 31), 64),
    ],
)
def test_age_rises_on_the_day_before_the_birthday(birth: date, on: date, age: int) -> None:
    assert age_on(birth, on) == age


def test_age_before_birth_is_refused() -> None:
    with pytest.raises(ValueError, match="precedes"):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


@given(dates, st.integers(min_value=1, max_value=120))
def test_age_reached_on_the_day_before_each_birthday(birth: date, years: int) -> None:
    try:
        birthday = birth.replace(year=birth.year + years)
    except ValueError:
        birthday = date(birth.year + years, 3, 1)
    day_before = birthday - timedelta(days=1)
    assert age_on(birth, day_before) == years
    assert age_on(birth, day_before - timedelta(days=1)) == years - 1


@pytest.mark.parametrize(
    ("day", "year", "end"),
    [
        (date(2024, 4, 1), 2024, date(2025, 3, 31)),
        (date(2025, 3, 31), 2024, date(2025, 3, 31)),
        (date(2025, 1, 15), 2024, date(2025, 3, 31)),
        (date(2024, 12, 31), 2024, date(2025, 3, 31)),
        (date(2024, 3, 31), 2023, date(2024, 3, 31)),
    ],
)
def test_fiscal_year(day: date, year: int, end: date) -> None:
    assert fiscal_year(day) == year
    assert fiscal_year_end(day) == end


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(2018, 4, 2), date(2024, 10, 1), 6),
        (date(2019, 4, 1), date(2024, 10, 1), 6),
        (date(2019, 4, 2), date(2024, 10, 1), 5),
        (date(2019, 3, 31), date(2025, 3, 31), 6),
        (date(2019, 4, 1), date(2025, 4, 1), 7),
        (date(1959, 4, 1), date(2023, 6, 1), 65),
        (date(1959, 4, 2), date(2023, 6, 1), 64),
        (date(2012, 2, 29), date(2024, 4, 1), 13),
    ],
)
def test_age_at_fiscal_year_end(birth: date, on: date, age: int) -> None:
    assert age_at_fiscal_year_end(birth, on) == age

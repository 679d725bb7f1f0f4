"""The slip normaliser and the comparison: no false mismatches, every real one found."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.batches import SlipEntry, attribute, compare
from core.clock import JST
from core.errors import ValidationFailed
from core.japanese.wareki import format_wareki, to_era_code
from core.masters import MasterEntry, Masters
from core.slips import FIELDS, normalize_field, normalize_slip

MASTERS = Masters(
    vaccines=(MasterEntry("PCV", "小児の肺炎球菌", "Pneumococcal"),),
    makers=(MasterEntry("PFIZER", "ファイザー", "Pfizer"), MasterEntry("MSD", "MSD", "MSD")),
    institutions=(MasterEntry("1310000001", "さくら小児科"),),
    physicians=(MasterEntry("D001", "医師　一", None, "1310000001"),),
)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=JST)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
days = st.dates(min_value=date(1989, 1, 8), max_value=date(2026, 11, 23))


def field(name: str, value: object) -> str | None:
    return normalize_field(name, value, MASTERS)


@given(days)
def test_every_date_form_normalises_to_one_value(day: date) -> None:
    forms = {
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        day.strftime("%Y%m%d"),
        format_wareki(day),
        format_wareki(day, "short"),
        format_wareki(day, "short").lower(),
        format_wareki(day, "short").translate(FULL_WIDTH),
        to_era_code(day),
    }
    assert {field("date", form) for form in forms} == {day.isoformat()}


@given(st.integers(min_value=1, max_value=99), st.integers(min_value=0, max_value=3))
def test_zero_fill_and_width_do_not_matter_for_numbers(number: int, zeros: int) -> None:
    padded = "0" * zeros + str(number)
    assert field("dose", padded) == field("dose", padded.translate(FULL_WIDTH)) == str(number)


@given(st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=12))
def test_lot_width_case_and_dash_variants_agree(lot: str) -> None:
    full = unicodedata.normalize("NFKC", lot)  # ASCII already
    wide = "".join(chr(ord(c) + 0xFEE0) if c != "-" else "－" for c in lot)
    assert field("lot", lot.lower()) == field("lot", wide) == field("lot", full)


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("venue", "ｻｸﾗ会場", "サクラ会場"),
        ("venue", "桜台 会館", "桜台　会館"),
        ("note", "", None),
        ("note", "   ", ""),
        ("amount", "0.50", "0.5mL"),
        ("amount", "０．５", ".5"),
        ("maker", "ファイザー", "pfizer"),
        ("maker", "Ｐｆｉｚｅｒ", "PFIZER"),
        ("physician", "d001", "D001"),
        ("physician", "山田 医師", "山田　医師"),
        ("date_unknown", "", "0"),
        ("date_unknown", "不明", "1"),
        ("vaccine", "pcv", "ＰＣＶ"),
        ("atena", "１０００００００１０", "1000000010"),
    ],
)
def test_same_value_written_two_ways(name: str, a: str | None, b: str | None) -> None:
    assert field(name, a) == field(name, b)


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("lot", "AB1234", "AB1243"),
        ("dose", "1", "2"),
        ("date", "H31.4.30", "R1.5.1"),
        ("atena", "1000000010", "0100000010"),
        ("venue", "サクラ会場", "サグラ会場"),
    ],
)
def test_different_values_stay_different(name: str, a: str, b: str) -> None:
    assert field(name, a) != field(name, b)


def test_bad_values_name_the_field() -> None:
    with pytest.raises(ValidationFailed) as failed:
        normalize_slip(
            {"slip": "1", "dose": "一", "date": "平成31年5月1日", "maker": "ACME", "color": "red"},
            MASTERS,
        )
    assert {i.field for i in failed.value.issues} == {"dose", "date", "maker", "color"}


def entry(pass_no: int, slip: str, **values: str | None) -> SlipEntry:
    full = dict.fromkeys(FIELDS)
    full.update(values)
    return SlipEntry(1, pass_no, slip, full, f"user{pass_no}", NOW)


def test_compare_reports_fields_and_missing_slips() -> None:
    result = compare(
        [entry(1, "1", lot="A"), entry(1, "2", lot="B"), entry(1, "10")],
        [entry(2, "1", lot="A"), entry(2, "2", lot="C"), entry(2, "3")],
        [],
    )
    assert result.matched == ("1",)
    assert [(m.slip, m.field, m.pass1, m.pass2) for m in result.mismatches] == [
        ("2", "lot", "B", "C"),
        ("3", "slip", None, "3"),
        ("10", "slip", "10", None),
    ]
    assert set(result.verified) == {"1"}


def test_attribution_follows_the_paper() -> None:
    assert attribute("A", "A", "B") == "pass2"
    assert attribute("B", "A", "B") == "pass1"
    assert attribute("C", "A", "B") == "both"

"""The legacy-compatible writer: round trips through the readers, and nothing lost silently."""

from __future__ import annotations

import hashlib
import stat
import tomllib
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.migration.layout import FieldSpec, FileSpec, Layout, parse_layout
from core.migration.schema import TABLES
from exports.migration import example_layout
from exports.migration.legacy import Overflow, Unrepresentable, WriteResult, write_file
from exports.migration.readers import RawRecord, read_batches


def load(name: str) -> Layout:
    text = example_layout(name).read_bytes()
    return parse_layout(tomllib.loads(text.decode()), text)


OPEN = load("open_cp932")
LEGACY = load("legacy_a")


def spec_of(layout: Layout, table: str) -> FileSpec:
    return next(spec for spec in layout.files if spec.table == table)


def read_all(path: Path, spec: FileSpec) -> list[RawRecord]:
    return [record for batch in read_batches(path, spec) for record in batch]


def resident(**values: object) -> list[object | None]:
    row: dict[str, object | None] = dict.fromkeys(TABLES["residents"].names)
    row |= {"atena": "1000000001", "name": "山田　太郎", "kana": "ヤマダ　タロウ"}
    row |= {"birth": "1990-01-01", "sex": "M", "status": "resident"}
    row |= values
    return [row[column] for column in spec_of(OPEN, "residents").columns]


def write_residents(
    tmp_path: Path, rows: Sequence[Sequence[object | None]]
) -> tuple[Path, WriteResult]:
    path = tmp_path / "RESIDENTS.DAT"
    return path, write_file(path, spec_of(OPEN, "residents"), OPEN, rows)


def column(records: list[RawRecord], name: str) -> list[str]:
    index = spec_of(OPEN, "residents").columns.index(name)
    return [r.values[index] if r.values is not None else "<broken>" for r in records]


def test_cp932_text_survives_a_round_trip(tmp_path: Path) -> None:
    names = ["髙橋　①", "㈱山﨑商店", "ヤマダ　タロウ", "ｶﾀｶﾅ", "〜～－"]
    rows = [resident(atena=str(i), name=name, address="桜台１丁目") for i, name in enumerate(names)]
    path, result = write_residents(tmp_path, rows)
    records = read_all(path, spec_of(OPEN, "residents"))
    assert column(records, "name") == ["髙橋　①", "㈱山﨑商店", "ヤマダ　タロウ", "ｶﾀｶﾅ", "～～－"]
    assert column(records, "address") == ["桜台１丁目"] * 5
    assert column(records, "birth") == ["4020101"] * 5  # era7
    assert all(not r.problems for r in records)
    assert result.faithful


def test_a_character_cp932_lacks_is_reported_and_written_as_geta(tmp_path: Path) -> None:
    rows = [resident(), resident(name="𠮷田　太郎", address="桜台😀")]
    path, result = write_residents(tmp_path, rows)
    assert result.unrepresentable == (
        Unrepresentable("residents", 2, "name", "𠮷", "U+20BB7"),
        Unrepresentable("residents", 2, "address", "😀", "U+1F600"),
    )
    records = read_all(path, spec_of(OPEN, "residents"))
    assert column(records, "name")[1] == "〓田　太郎"
    assert column(records, "address")[1] == "桜台〓"
    assert not result.faithful


def test_bytes_cp932_leaves_undefined_and_line_breaks_are_unrepresentable(tmp_path: Path) -> None:
    path, result = write_residents(tmp_path, [resident(name="a\uf8f0b", address="1\n2")])
    assert [(u.column, u.codepoint) for u in result.unrepresentable] == [
        ("name", "U+F8F0"),
        ("address", "U+000A"),
    ]
    assert len(read_all(path, spec_of(OPEN, "residents"))) == 1


def test_a_value_too_long_is_reported_and_cut_between_characters(tmp_path: Path) -> None:
    name = "髙" * 19 + "ab" + "﨑"  # 38 + 2 + 2 = 42 bytes for a 40-byte field
    path, result = write_residents(tmp_path, [resident(), resident(name=name)])
    assert result.overflows == (Overflow("residents", 2, "name", 42, 40),)
    records = read_all(path, spec_of(OPEN, "residents"))
    assert column(records, "name")[1] == "髙" * 19 + "ab"
    assert not records[1].problems


def test_a_cut_never_leaves_half_a_character(tmp_path: Path) -> None:
    name = "a" + "髙" * 20  # 41 bytes: the 20th 髙 would need bytes 40 and 41
    path, result = write_residents(tmp_path, [resident(name=name)])
    assert result.overflows[0].value_length == 41
    (record,) = read_all(path, spec_of(OPEN, "residents"))
    assert column([record], "name") == ["a" + "髙" * 19]


def test_a_short_field_full_of_double_byte_characters_overflows_too(tmp_path: Path) -> None:
    spec = spec_of(LEGACY, "vaccinations")
    row = ["1000000001", "BCG", 1, "2020-04-01", "髙" * 11, "病院"]
    result = write_file(tmp_path / spec.path, spec, LEGACY, [row])
    assert result.overflows == (Overflow("vaccinations", 1, "lot", 22, 10),)
    (record,) = read_all(tmp_path / spec.path, spec)
    assert record.values == ("1000000001", "01", "1", "20200401", "髙" * 5, "病院")


def test_the_file_is_written_whole_private_and_hashed(tmp_path: Path) -> None:
    path, result = write_residents(tmp_path, [resident(), resident(atena="2")])
    data = path.read_bytes()
    assert result.rows == 2
    assert result.bytes == len(data) == 2 * (413 + 2)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESIDENTS.DAT"]


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="values for"):
        write_residents(tmp_path, [resident(), ["too", "short"]])
    assert list(tmp_path.iterdir()) == []


def test_codes_and_gaiji_are_written_back_in_legacy_form(tmp_path: Path) -> None:
    spec = spec_of(LEGACY, "residents")
    values: dict[str, object] = {"atena": "1000000001", "name": "𠮷田　花子", "kana": "ﾖｼﾀﾞ ﾊﾅｺ"}
    values |= {"birth": "2019-05-01"}
    values |= {"sex": "F", "status": "deceased", "status_date": "2024-02-29", "dv_flag": 0}
    row = [values.get(c) for c in spec.columns]
    result = write_file(tmp_path / spec.path, spec, LEGACY, [row])
    data = (tmp_path / spec.path).read_bytes()
    assert result.faithful
    assert data[22:28] == b"\xf0\x40" + "田　".encode("cp932")  # 𠮷 as the layout's 外字
    assert data[102:110] == b"5010501" + b"2"  # 令和元年5月1日, sex F → 2
    assert data[218:227] == b"03" + b"5060229"  # deceased → 03, era code of 2024-02-29
    (record,) = read_all(tmp_path / spec.path, spec)
    assert record.values is not None
    assert record.values[spec.columns.index("name")] == "\ue000田　花子"


def test_an_unmapped_code_is_written_as_it_is(tmp_path: Path) -> None:
    spec = spec_of(LEGACY, "vaccinations")
    rows = [
        ["1000000001", "BCG", 1, "2020-04-01", "AB1234", "1310000001"],
        ["1000000001", "NOPE", 2, None, None, None],
    ]
    write_file(tmp_path / spec.path, spec, LEGACY, rows)
    records = read_all(tmp_path / spec.path, spec)
    assert [r.values for r in records] == [
        ("1000000001", "01", "1", "20200401", "AB1234", "1310000001"),
        ("1000000001", "NO", "2", "", "", ""),
    ]


def test_an_unmapped_code_too_long_for_its_field_is_an_overflow(tmp_path: Path) -> None:
    spec = spec_of(LEGACY, "vaccinations")
    result = write_file(tmp_path / spec.path, spec, LEGACY, [["1", "NOPE", 1, None, None, None]])
    assert result.overflows == (Overflow("vaccinations", 1, "vaccine", 4, 2),)


DATE_LAYOUT = """
[[files]]
table = "consents"
path = "DATES.CSV"
format = "csv"
encoding = "cp932"
fields = [
  { column = "atena", header = "宛名" },
  { column = "submitted_on", header = "提出日", date = "wareki" },
  { column = "expires_on", header = "期限", date = "era7" },
  { column = "vaccine", header = "種別" },
  { column = "note", header = "備考" },
]
"""


@pytest.mark.parametrize(
    ("form", "expected"),
    [("wareki", "H2.1.8"), ("era7", "4020108"), ("yyyymmdd", "19900108"), ("iso", "1990-01-08")],
)
def test_dates_take_the_fields_format(tmp_path: Path, form: str, expected: str) -> None:
    text = DATE_LAYOUT.replace('date = "era7"', f'date = "{form}"')
    layout = parse_layout(tomllib.loads(text), text.encode())
    spec = layout.files[0]
    write_file(tmp_path / "DATES.CSV", spec, layout, [["1", "1989-01-08", "1990-01-08", "", None]])
    lines = (tmp_path / "DATES.CSV").read_bytes().decode("cp932").split("\r\n")
    assert lines == ["宛名,提出日,期限,種別,備考", f"1,H1.1.8,{expected},,", ""]


def test_csv_lines_count_physical_lines_and_a_bom_is_written(tmp_path: Path) -> None:
    spec = spec_of(LEGACY, "consents")  # UTF-8 with a BOM
    rows = [
        ["1", "BCG", "2020-04-01", None, "一行目\n二行目"],
        ["2", "BCG", "2020-04-01", None, "\ud800"],  # a lone surrogate cannot be encoded
    ]
    result = write_file(tmp_path / spec.path, spec, LEGACY, rows)
    assert result.unrepresentable == (Unrepresentable("consents", 4, "note", "\ud800", "U+D800"),)
    data = (tmp_path / spec.path).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf\xe5\xae\x9b")  # BOM, then 宛
    records = read_all(tmp_path / spec.path, spec)
    assert [(r.line, r.values) for r in records] == [
        (2, ("1", "01", "20200401", "", "一行目\n二行目")),
        (4, ("2", "01", "20200401", "", "〓")),
    ]


def test_cp932_csv_reports_each_unrepresentable_character(tmp_path: Path) -> None:
    spec = next(s for s in LEGACY.files if s.path == "TSUCHI.CSV")
    rows = [["1", "guide", "BCG", "2023-04-01", f"備考{i}"] for i in range(3)]
    rows[1][4] = "𩸽と𩹉"
    result = write_file(tmp_path / spec.path, spec, LEGACY, rows)
    assert [(u.line, u.character) for u in result.unrepresentable] == [(3, "𩸽"), (3, "𩹉")]
    records = read_all(tmp_path / spec.path, spec)
    assert [r.values for r in records] == [
        ("1", "1", "01", "R5.4.1", "備考0"),
        ("1", "1", "01", "R5.4.1", "〓と〓"),
        ("1", "1", "01", "R5.4.1", "備考2"),
    ]


# What CP932 cannot carry faithfully: six characters it folds onto others (〜 → ～), the
# bytes it leaves undefined (which the codec maps to U+0080 and U+F8F0-U+F8F3), line breaks.
NOT_FAITHFUL = "¢£¬‖−〜\x80\uf8f0\uf8f1\uf8f2\uf8f3\r\n"
CP932_TEXT = st.text(st.characters(codec="cp932", exclude_characters=NOT_FAITHFUL), max_size=40)


NOTE = FileSpec(
    "vaccinations",
    "NOTE.DAT",
    format="fixed",
    encoding="cp932",
    fields=(FieldSpec("note", start=3, length=80),),
    record_length=90,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=CP932_TEXT)
def test_any_cp932_text_survives_a_fixed_width_field(tmp_path: Path, text: str) -> None:
    path = tmp_path / "NOTE.DAT"
    result = write_file(path, NOTE, OPEN, [[text]])
    (record,) = read_all(path, NOTE)
    assert result.faithful
    assert record.values == (text.strip(" \u3000"),)

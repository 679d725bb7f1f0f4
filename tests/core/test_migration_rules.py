"""Migration rules in core: layout files, conversion, cross-row checks and totals."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationFailed
from core.japanese.kana import widen_halfwidth_kana
from core.migration.convert import FileConverter
from core.migration.layout import FieldSpec, FileSpec, Layout, default_layout, parse_layout
from core.migration.model import Lookups, SourceMemory, screen
from core.migration.totals import TableTotals, differences

CODES = {"vaccine": frozenset({"BCG", "MR1", "HIB"})}


@dataclass(frozen=True)
class Problem:
    field: str
    raw: str
    reason: str


@dataclass(frozen=True)
class Record:
    line: int
    values: tuple[str, ...] | None
    problems: tuple[Problem, ...] = ()


def spec(table: str, *columns: str, **dates: str) -> FileSpec:
    fields = tuple(FieldSpec(column=c, date=dates.get(c, "auto")) for c in columns)  # type: ignore[arg-type]
    return FileSpec(table=table, path=f"{table}.csv", fields=fields)


RESIDENT_COLUMNS = ("atena", "mynumber", "name", "kana", "birth", "sex", "status")


def resident(line: int, number: str, **changes: str) -> Record:
    values = {
        "atena": number,
        "mynumber": "123456789018",
        "name": "山田 太郎",
        "kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
        "birth": "2001-02-03",
        "sex": "M",
        "status": "resident",
    } | changes
    return Record(line, tuple(values[c] for c in RESIDENT_COLUMNS))


def test_a_good_resident_is_converted_to_the_stored_form() -> None:
    converter = FileConverter(spec("residents", *RESIDENT_COLUMNS), Layout("t", ()), CODES)
    batch = converter.convert([resident(2, "0000000001", name="ﾃｽﾄ㈱①")])
    assert batch.issues == []
    assert batch.rows == [
        ("0000000001", "123456789018", "テスト㈱①", "ヤマダ タロウ", "2001-02-03", "M", "resident")
    ]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"birth": "2023-02-30"}, "birth", "date"),
        ({"birth": "平成31年5月1日"}, "birth", "date"),
        ({"mynumber": "123456789019"}, "mynumber", "mynumber_check"),
        ({"sex": "X"}, "sex", "code"),
        ({"atena": "12-AB"}, "atena", "atena"),
        ({"kana": "山田"}, "kana", "kana"),
        ({"name": ""}, "name", "required"),
        ({"name": "\ue000田"}, "name", "gaiji"),
    ],
)
def test_each_bad_value_is_reported_with_its_field_raw_value_and_reason(
    change: dict[str, str], field: str, reason: str
) -> None:
    converter = FileConverter(spec("residents", *RESIDENT_COLUMNS), Layout("t", ()), CODES)
    batch = converter.convert([resident(2, "0000000001"), resident(3, "0000000002", **change)])
    assert [r[0] for r in batch.rows] == ["0000000001"]
    assert [(i.line, i.field, i.raw, i.reason) for i in batch.issues] == [
        (3, field, next(iter(change.values())), reason)
    ]


def test_reader_problems_pass_through_and_the_record_is_not_loaded() -> None:
    converter = FileConverter(spec("residents", *RESIDENT_COLUMNS), Layout("t", ()), CODES)
    broken = Record(4, None, (Problem("name", "\\x85\\x40", "encoding"),))
    batch = converter.convert([resident(2, "1"), broken])
    assert batch.records == 2
    assert [(i.line, i.reason, i.raw) for i in batch.issues] == [(4, "encoding", "\\x85\\x40")]


def test_layout_dates_maps_and_gaiji_are_applied() -> None:
    text = """
name = "legacy"
[[files]]
table = "vaccinations"
path = "V.DAT"
format = "fixed"
encoding = "cp932"
record_length = 30
[[files.fields]]
column = "atena"
start = 1
length = 10
[[files.fields]]
column = "vaccine"
start = 11
length = 2
map = "vaccine"
[[files.fields]]
column = "date"
start = 13
length = 7
date = "era7"
[[files.fields]]
column = "lot"
start = 20
length = 10
[maps.vaccine]
"01" = "BCG"
"02" = "MR1"
[gaiji]
"U+E000" = "髙"
"""
    layout = parse_layout(tomllib.loads(text), text.encode())
    converter = FileConverter(layout.files[0], layout, CODES)
    batch = converter.convert(
        [
            Record(1, ("1", "01", "4020101", "ｱ\ue000")),
            Record(2, ("1", "99", "4020101", "")),
            Record(3, ("1", "02", "4310501", "")),
        ]
    )
    assert batch.rows == [("1", "BCG", "1990-01-01", "ア髙")]
    assert [(i.line, i.reason) for i in batch.issues] == [(2, "unmapped_code"), (3, "date")]


def test_a_bad_layout_reports_every_problem_at_once() -> None:
    text = """
[[files]]
table = "nope"
path = "A"
[[files]]
table = "residents"
path = "../etc/passwd"
[[files]]
table = "residents"
path = "R.DAT"
format = "fixed"
record_length = 10
fields = [{column = "atena", start = 5, length = 10}, {column = "colour"}]
[maps.m]
"1" = "A"
"2" = "A"
"""
    with pytest.raises(ValidationFailed) as raised:
        parse_layout(tomllib.loads(text), text.encode())
    keys = sorted({(i.field, i.key) for i in raised.value.issues})
    assert ("files[1].table", "migration.layout.choice") in keys
    assert ("files[2].path", "migration.layout.path") in keys
    assert ("files[3].fields[1]", "migration.layout.span") in keys
    assert ("files[3].fields[2].column", "migration.layout.choice") in keys
    assert ("maps.m", "migration.layout.map_not_reversible") in keys


def test_the_open_layout_names_unknown_header_columns() -> None:
    with pytest.raises(ValidationFailed) as raised:
        default_layout({"residents": ("atena", "colour")})
    assert raised.value.issues[0].params["value"] == "colour"


def converted_vaccinations(*rows: tuple[str, ...]) -> tuple[FileSpec, object]:
    file = spec("vaccinations", "atena", "vaccine", "dose", "date")
    converter = FileConverter(file, Layout("t", ()), CODES)
    return file, converter.convert([Record(i + 2, r) for i, r in enumerate(rows)])


def test_a_load_skips_keys_from_earlier_runs_and_reports_duplicates_and_unknown_atena() -> None:
    file, batch = converted_vaccinations(
        ("1", "BCG", "1", "2020-01-01"),  # already loaded by run 7: skipped
        ("1", "BCG", "2", "2020-02-01"),  # loaded by this run (8) before: duplicate
        ("1", "MR1", "1", "2021-01-01"),  # new
        ("1", "MR1", "1", "2021-01-01"),  # same key again in this batch: duplicate
        ("9", "MR1", "1", "2021-01-01"),  # unknown resident
    )
    lookups = Lookups(
        existing={("1", "BCG", 1, "2020-01-01"): 7, ("1", "BCG", 2, "2020-02-01"): 8},
        residents=frozenset({"1"}),
    )
    result = screen(file, ("atena", "vaccine", "dose", "date"), batch, 8, lookups)  # type: ignore[arg-type]
    assert result.skipped == 1
    assert result.lines == [4]
    assert [(i.line, i.reason) for i in result.issues] == [
        (3, "duplicate_key"),
        (5, "duplicate_key"),
        (6, "unknown_atena"),
    ]


def test_a_dry_run_finds_duplicates_across_batches_in_memory() -> None:
    memory = SourceMemory()
    memory.residents.add("1")
    file, first = converted_vaccinations(("1", "BCG", "1", "2020-01-01"))
    _, second = converted_vaccinations(("1", "BCG", "1", "2020-01-01"), ("1", "BCG", "2", ""))
    key = ("atena", "vaccine", "dose", "date")
    nothing = Lookups({}, frozenset())
    screen(file, key, first, None, nothing, memory, 1)  # type: ignore[arg-type]
    screen(file, key, second, None, nothing, memory, 1)  # type: ignore[arg-type]
    assert [(i.file, i.line, i.reason) for i in memory.duplicates()] == [
        ("vaccinations.csv", 2, "duplicate_key")
    ]


def test_a_second_active_resident_with_the_same_mynumber_is_refused() -> None:
    file = spec("residents", *RESIDENT_COLUMNS)
    converter = FileConverter(file, Layout("t", ()), CODES)
    batch = converter.convert(
        [resident(2, "1"), resident(3, "2"), resident(4, "3", status="deceased")]
    )
    result = screen(file, ("atena",), batch, 1, Lookups({}, frozenset()))
    assert result.lines == [2, 4]
    assert [(i.line, i.reason) for i in result.issues] == [(3, "duplicate_mynumber")]


def test_totals_notice_a_changed_value_and_a_lost_row_but_not_the_order() -> None:
    rows = [("1", "BCG", 1), ("2", "MR1", 2), ("3", None, 3)]
    source, same, changed, short = (TableTotals(("atena", "vaccine", "dose")) for _ in range(4))
    source.add_rows(rows)
    same.add_rows(list(reversed(rows)))
    changed.add_rows([("1", "BCG", 1), ("2", "MR2", 2), ("3", None, 3)])
    short.add_rows(rows[:2])
    assert differences({"t": source}, {"t": same}) == []
    assert [d["field"] for d in differences({"t": source}, {"t": changed})] == ["vaccine"]
    assert {d["field"] for d in differences({"t": source}, {"t": short})} == {
        None,
        "atena",
        "vaccine",
        "dose",
    }
    assert source.fields["dose"].sum == 6


@given(st.text(alphabet=st.characters(min_codepoint=0xFF61, max_codepoint=0xFF9F)))
def test_widened_kana_has_no_half_width_left(text: str) -> None:
    widened = widen_halfwidth_kana(text)
    assert not any("\uff61" <= c <= "\uff9f" for c in widened)

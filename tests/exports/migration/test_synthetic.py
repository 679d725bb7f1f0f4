"""Synthetic datasets: counts, determinism, the open layout, and each planted problem in place."""

from __future__ import annotations

import csv
import hashlib
import tomllib
from datetime import date
from pathlib import Path

import pytest

from core.catalog import load_default_catalog
from core.errors import InvalidValue
from core.identifiers import is_valid_mynumber
from core.japanese.wareki import from_era_code, parse_date
from core.migration.layout import FileSpec, Layout, parse_layout
from core.migration.schema import TABLES
from exports.migration import example_layout
from exports.migration.readers import RawRecord, read_batches
from exports.migration.synthetic import (
    PLANTED,
    halfwidth_kana,
    legacy_layout,
    write_legacy_dataset,
    write_open_dataset,
)

CODES = [v.code for v in load_default_catalog().vaccines]


def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def open_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_all(path: Path, spec: FileSpec) -> list[RawRecord]:
    return [record for batch in read_batches(path, spec) for record in batch]


def test_both_example_layouts_parse() -> None:
    for name in ("legacy_a", "open_cp932.toml"):
        text = example_layout(name).read_bytes()
        layout = parse_layout(tomllib.loads(text.decode()), text)
        assert {spec.table for spec in layout.files} == set(TABLES)
    with pytest.raises(FileNotFoundError):
        example_layout("nothing_like_it")


def test_the_open_layout_as_cp932_holds_every_column() -> None:
    text = example_layout("open_cp932").read_bytes()
    layout = parse_layout(tomllib.loads(text.decode()), text)
    assert {spec.table: spec.columns for spec in layout.files} == {
        name: table.names for name, table in TABLES.items()
    }


def test_legacy_vaccine_codes_map_onto_the_catalogue() -> None:
    layout = legacy_layout()
    assert 10 <= len(layout.maps["vaccine"]) <= 12
    assert set(layout.maps["vaccine"].values()) <= set(CODES)


# --- the open layout ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def open_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("open")
    counts = write_open_dataset(out, 300, 2000, seed=7, vaccines=CODES, notices=50, consents=20)
    return out, counts


def test_open_dataset_counts_match_the_files(open_dataset: tuple[Path, dict[str, int]]) -> None:
    out, counts = open_dataset
    assert counts == {
        "residents.csv": 300,
        "vaccinations.csv": 2000,
        "notices.csv": 50,
        "consents.csv": 20,
    }
    for name, count in counts.items():
        with (out / name).open(encoding="utf-8", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        assert header == list(TABLES[name.removesuffix(".csv")].names)
        assert len(rows) == count
        assert {len(row) for row in rows} == {len(header)}


def test_open_residents_look_like_a_register(open_dataset: tuple[Path, dict[str, int]]) -> None:
    out, _ = open_dataset
    residents = open_rows(out / "residents.csv")
    atenas = [r["atena"] for r in residents]
    assert atenas == sorted(set(atenas))
    assert all(len(a) == 10 and a.isdigit() for a in atenas)
    numbers = [r["mynumber"] for r in residents if r["mynumber"]]
    assert all(is_valid_mynumber(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert 0.8 < len(numbers) / len(residents) < 0.97
    assert {r["sex"] for r in residents} == {"M", "F"}
    statuses = [r["status"] for r in residents]
    assert statuses.count("resident") > 0.85 * len(statuses)
    assert all(date.fromisoformat(r["birth"]) < date(2025, 4, 1) for r in residents)
    assert all("\u3000" in r["name"] and "\u3000" in r["kana"] for r in residents)


def test_open_records_belong_to_residents_in_order(
    open_dataset: tuple[Path, dict[str, int]],
) -> None:
    out, _ = open_dataset
    births = {r["atena"]: date.fromisoformat(r["birth"]) for r in open_rows(out / "residents.csv")}
    records = open_rows(out / "vaccinations.csv")
    assert [r["record_key"] for r in records] == [f"L{i:010d}" for i in range(1, 2001)]
    assert [r["atena"] for r in records] == sorted(r["atena"] for r in records)
    assert {r["vaccine"] for r in records} <= set(CODES)
    for r in records:
        assert births[r["atena"]] < date.fromisoformat(r["date"]) <= date(2025, 3, 31)
    keys = [(r["atena"], r["vaccine"], r["dose"], r["date"]) for r in records]
    assert len(set(keys)) == len(keys)
    for name in ("notices.csv", "consents.csv"):
        assert {r["atena"] for r in open_rows(out / name)} <= set(births)


def test_a_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    runs = []
    for run, seed in (("a", 3), ("b", 3), ("c", 4)):
        (tmp_path / run).mkdir()
        write_open_dataset(tmp_path / run, 40, 90, seed=seed, vaccines=["BCG", "FLU"], notices=5)
        runs.append(digests(tmp_path / run))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


# --- the legacy layout -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def legacy_dataset(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, int], dict[str, tuple[str, int]]]:
    out = tmp_path_factory.mktemp("legacy")
    counts, planted = write_legacy_dataset(out, 400, 1500, seed=5, errors=True)
    return out, counts, planted


def records_of(out: Path, layout: Layout, path: str) -> tuple[FileSpec, list[RawRecord]]:
    spec = next(s for s in layout.files if s.path == path)
    return spec, read_all(out / path, spec)


def test_legacy_counts_match_the_files(
    legacy_dataset: tuple[Path, dict[str, int], dict[str, tuple[str, int]]],
) -> None:
    out, counts, _ = legacy_dataset
    assert counts == {"JUMIN.DAT": 400, "SESSHU.DAT": 1500, "TSUCHI.CSV": 200, "DOUI.CSV": 100}
    layout = legacy_layout()
    for path, count in counts.items():
        assert len(records_of(out, layout, path)[1]) == count


def test_each_planted_problem_is_where_reported_and_the_only_one(
    legacy_dataset: tuple[Path, dict[str, int], dict[str, tuple[str, int]]],
) -> None:
    out, _, planted = legacy_dataset
    assert set(planted) == set(PLANTED)
    layout = legacy_layout()
    jumin_spec, jumin = records_of(out, layout, "JUMIN.DAT")
    sesshu_spec, sesshu = records_of(out, layout, "SESSHU.DAT")

    def values(records: list[RawRecord], spec: FileSpec, name: str) -> dict[int, str]:
        index = spec.columns.index(name)
        return {r.line: r.values[index] for r in records if r.values is not None}

    broken = [(r.line, [(p.field, p.reason) for p in r.problems]) for r in jumin if r.problems]
    assert broken == [(planted["encoding"][1], [("name", "encoding")])]
    assert jumin[planted["encoding"][1] - 1].problems[0].raw.startswith("\\x85\\x40")

    atenas = values(jumin, jumin_spec, "atena")
    line = planted["duplicate_key"][1]
    assert atenas[line] == atenas[line - 1]
    assert len(set(atenas.values())) == len(atenas) - 1

    numbers = values(jumin, jumin_spec, "mynumber")
    wrong = [n for n, number in numbers.items() if number and not is_valid_mynumber(number)]
    assert wrong == [planted["mynumber_check"][1]]
    assert len(numbers[wrong[0]]) == 12

    assert not any(r.problems for r in sesshu)
    known = set(atenas.values())
    unknown = [n for n, atena in values(sesshu, sesshu_spec, "atena").items() if atena not in known]
    assert unknown == [planted["unknown_atena"][1]]
    codes = values(sesshu, sesshu_spec, "vaccine")
    unmapped = [n for n, code in codes.items() if code not in layout.maps["vaccine"]]
    assert unmapped == [planted["unmapped_code"][1]]

    def impossible(text: str) -> bool:
        try:
            parse_date(text)
        except InvalidValue:
            return True
        return False

    dates = values(sesshu, sesshu_spec, "date")
    assert [n for n, text in dates.items() if impossible(text)] == [planted["date"][1]]
    assert {file for file, _ in planted.values()} == {"JUMIN.DAT", "SESSHU.DAT"}


def test_legacy_residents_are_in_legacy_form(
    legacy_dataset: tuple[Path, dict[str, int], dict[str, tuple[str, int]]],
) -> None:
    out, _, _ = legacy_dataset
    layout = legacy_layout()
    spec, records = records_of(out, layout, "JUMIN.DAT")
    rows = [dict(zip(spec.columns, r.values, strict=True)) for r in records if r.values]
    assert all(all("\uff61" <= c <= "\uff9f" or c == " " for c in r["kana"]) for r in rows)
    assert {r["sex"] for r in rows} == {"1", "2"}
    assert {r["status"] for r in rows} <= {"01", "02", "03"}
    assert all(from_era_code(r["birth"]) < date(2025, 4, 1) for r in rows)
    text = "".join(r["name"] + r["address"] for r in rows)
    assert "㈱" in text
    assert any(c in text for c in "①②③④⑤⑥⑦⑧⑨")
    assert any(c in text for c in "髙﨑")


def test_legacy_notices_and_consents_read_in_their_encodings(
    legacy_dataset: tuple[Path, dict[str, int], dict[str, tuple[str, int]]],
) -> None:
    out, _, _ = legacy_dataset
    layout = legacy_layout()
    assert (out / "TSUCHI.CSV").read_bytes().startswith("宛名番号".encode("cp932"))
    assert (out / "DOUI.CSV").read_bytes().startswith(b"\xef\xbb\xbf")
    spec, notices = records_of(out, layout, "TSUCHI.CSV")
    sent = [r.values[spec.columns.index("sent_on")] for r in notices if r.values]
    assert any("年" in s for s in sent)
    assert any("." in s for s in sent)
    assert all(parse_date(s) for s in sent)
    assert all(not r.problems for r in notices + records_of(out, layout, "DOUI.CSV")[1])


def test_without_errors_nothing_is_planted(tmp_path: Path) -> None:
    counts, planted = write_legacy_dataset(tmp_path, 30, 60, seed=2)
    assert planted == {}
    assert counts["SESSHU.DAT"] == 60
    layout = legacy_layout()
    assert not any(r.problems for r in records_of(tmp_path, layout, "JUMIN.DAT")[1])


def test_halfwidth_kana_splits_voiced_marks() -> None:
    assert halfwidth_kana("ヤマダ　タロウ") == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert halfwidth_kana("パーティー・ヴァイオリン") == "ﾊﾟｰﾃｨｰ･ｳﾞｧｲｵﾘﾝ"

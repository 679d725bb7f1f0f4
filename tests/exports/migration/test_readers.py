"""Reading legacy files into raw records: encodings, bad bytes, CSV quirks, fixed widths."""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from core.migration.layout import Encoding, FieldSpec, FileSpec, LineEnd
from exports.migration import readers
from exports.migration.readers import RawProblem, RawRecord, detect_encoding, read_batches


def csv_spec(
    *columns: str, encoding: Encoding = "auto", headers: dict[str, str] | None = None
) -> FileSpec:
    headers = headers or {}
    fields = tuple(FieldSpec(column=c, header=headers.get(c)) for c in columns)
    return FileSpec("residents", "x.csv", encoding=encoding, fields=fields)


def fixed_spec(*spans: tuple[str, int, int], length: int, line_end: LineEnd = "crlf") -> FileSpec:
    fields = tuple(FieldSpec(column=c, start=s, length=n) for c, s, n in spans)
    return FileSpec(
        "residents",
        "x.dat",
        format="fixed",
        encoding="cp932",
        fields=fields,
        record_length=length,
        line_end=line_end,
    )


JAPANESE_HEADINGS = {"atena": "宛名番号", "name": "氏名", "kana": "カナ"}
MESSY = csv_spec("atena", "name", "kana", headers=JAPANESE_HEADINGS)


def read_all(
    path: Path,
    spec: FileSpec,
    *,
    skip: int = 0,
    batch_size: int = 10_000,
    opener: Callable[[Path], BinaryIO] | None = None,
) -> list[RawRecord]:
    batches = read_batches(path, spec, skip=skip, batch_size=batch_size, opener=opener)
    return [record for batch in batches for record in batch]


def write(tmp_path: Path, data: bytes, name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- encodings ---------------------------------------------------------------------------------


def test_detect_encoding_by_bom_then_utf8_then_cp932() -> None:
    assert detect_encoding(b"\xef\xbb\xbfatena\r\n") == "utf-8-sig"
    assert detect_encoding("宛名番号\r\n".encode()) == "utf-8"
    assert detect_encoding(b"atena,name\r\n") == "utf-8"
    assert detect_encoding("宛名番号,ﾔﾏﾀﾞ\r\n".encode("cp932")) == "cp932"


def test_detect_encoding_allows_a_utf8_character_cut_at_the_end_of_the_head() -> None:
    head = "あ".encode() * 10 + "い".encode()[:2]
    assert detect_encoding(head) == "utf-8"
    assert detect_encoding(head + b"x") == "cp932"  # a cut character not at the end is bad


def test_utf8_csv_is_read_with_cells_stripped_and_empty_kept(tmp_path: Path) -> None:
    text = "atena,name,kana\r\n1000000001, 山田　太郎　,\r\n1000000002,\u3000鈴木　花子,スズキ\r\n"
    records = read_all(write(tmp_path, text.encode()), csv_spec("name", "atena", "kana"))
    assert records == [
        RawRecord(2, ("山田　太郎", "1000000001", "")),
        RawRecord(3, ("鈴木　花子", "1000000002", "スズキ")),
    ]


def test_a_bom_is_not_part_of_the_first_heading(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + "atena,name\n1,山田\n".encode())
    assert read_all(path, csv_spec("atena", "name")) == [RawRecord(2, ("1", "山田"))]


def test_cp932_is_detected_and_special_characters_decode_as_they_are(tmp_path: Path) -> None:
    text = "宛名番号,氏名,カナ\r\n1,髙橋　﨑子,ﾀｶﾊｼ ｻｷｺ\r\n2,㈱さくら①,\ue000\r\n"
    records = read_all(write(tmp_path, text.encode("cp932")), MESSY)
    assert [r.values for r in records] == [
        ("1", "髙橋　﨑子", "ﾀｶﾊｼ ｻｷｺ"),  # half-width kana are left for the converter
        ("2", "㈱さくら①", "\ue000"),  # NEC specials decode; 外字 stays a private-use character
    ]


def test_a_bad_cp932_byte_is_reported_in_hex_for_the_field_holding_it(tmp_path: Path) -> None:
    data = (
        "宛名番号,氏名\r\n".encode("cp932")
        + b"1,\x85\x40\x93\x63\r\n"  # 0x85 0x40 is undefined; 0x93 0x63 is 田
        + b"2,\x8e\x52\xa0\r\n"  # 山 then 0xA0, which the codec maps to U+F8F0
        + "3,山田\r\n".encode("cp932")
    )
    spec = csv_spec("atena", "name", headers={"atena": "宛名番号", "name": "氏名"})
    records = read_all(write(tmp_path, data), spec)
    assert records == [
        RawRecord(2, None, (RawProblem("name", "\\x85\\x40田", "encoding"),)),
        RawRecord(3, None, (RawProblem("name", "山\\xa0", "encoding"),)),
        RawRecord(4, ("3", "山田")),
    ]


def test_a_file_declared_utf8_reports_cp932_bytes_instead_of_replacing_them(tmp_path: Path) -> None:
    data = b"atena,name\n1," + "ﾔﾏﾀﾞ".encode("cp932") + b"\n"
    (record,) = read_all(write(tmp_path, data), csv_spec("atena", "name", encoding="utf-8"))
    assert record.values is None
    assert record.problems == (RawProblem("name", "\\xd4\\xcf\\xc0\\xde", "encoding"),)


# --- CSV structure -----------------------------------------------------------------------------


def test_a_quoted_field_may_hold_a_line_break(tmp_path: Path) -> None:
    text = 'atena,note\r\n1,"一行目\r\n二行目"\r\n2,"say ""hi"""\r\n3,plain\r\n'
    records = read_all(write(tmp_path, text.encode()), csv_spec("atena", "note"))
    assert records == [
        RawRecord(2, ("1", "一行目\r\n二行目")),
        RawRecord(4, ("2", 'say "hi"')),
        RawRecord(5, ("3", "plain")),
    ]


def test_a_row_with_the_wrong_number_of_cells_is_reported(tmp_path: Path) -> None:
    text = "atena,name,kana\n1,山田\n2,鈴木,スズキ,extra\n3,佐藤,サトウ\n"
    records = read_all(write(tmp_path, text.encode()), csv_spec("atena", "name"))
    assert records == [
        RawRecord(2, None, (RawProblem("", "1,山田", "columns"),)),
        RawRecord(3, None, (RawProblem("", "2,鈴木,スズキ,extra", "columns"),)),
        RawRecord(4, ("3", "佐藤")),
    ]


def test_blank_lines_are_not_records(tmp_path: Path) -> None:
    text = "atena,name\n\n1,山田\n\n2,鈴木\n\n"
    records = read_all(write(tmp_path, text.encode()), csv_spec("atena", "name"))
    assert records == [RawRecord(3, ("1", "山田")), RawRecord(5, ("2", "鈴木"))]


def test_an_unterminated_quote_costs_one_problem_and_reading_goes_on(tmp_path: Path) -> None:
    """The quoted field runs on until the csv module's field limit, then reading resumes."""
    lines = ["atena,name", '1,"never closed', *(["x,y"] * 40_000), "2,last"]
    records = read_all(write(tmp_path, "\n".join(lines).encode()), csv_spec("atena", "name"))
    assert records[0].line == 2
    assert records[0].values is None
    assert records[0].problems[0].reason == "columns"
    assert records[-1] == RawRecord(len(lines), ("2", "last"))
    assert {r.values for r in records[1:-1]} == {("x", "y")}
    assert [r.line for r in records[1:]] == list(range(records[1].line, len(lines) + 1))


def test_missing_headings_give_one_record_at_line_1_and_nothing_else(tmp_path: Path) -> None:
    text = "宛名番号,カナ\n1,ヤマダ\n"
    spec = csv_spec("atena", "name", "kana", headers={"atena": "宛名番号", "name": "氏名"})
    batches = list(read_batches(write(tmp_path, text.encode()), spec))
    assert batches == [
        [
            RawRecord(
                1,
                None,
                (RawProblem("name", "氏名", "header"), RawProblem("kana", "kana", "header")),
            )
        ]
    ]


def test_an_empty_file_lacks_every_heading(tmp_path: Path) -> None:
    (record,) = read_all(write(tmp_path, b""), csv_spec("atena"))
    assert record == RawRecord(1, None, (RawProblem("atena", "atena", "header"),))


def test_a_dos_end_of_file_mark_is_ignored(tmp_path: Path) -> None:
    records = read_all(write(tmp_path, b"atena,name\r\n1,a\r\n\x1a"), csv_spec("atena", "name"))
    assert records == [RawRecord(2, ("1", "a"))]


# --- fixed width -------------------------------------------------------------------------------

JUMIN = fixed_spec(("atena", 1, 4), ("name", 5, 10), ("kana", 15, 6), length=20)


def jumin(atena: str, name: str, kana: str) -> bytes:
    return atena.encode().ljust(4) + name.encode("cp932").ljust(10) + kana.encode("cp932").ljust(6)


def test_fixed_width_fields_are_byte_slices_decoded_and_stripped(tmp_path: Path) -> None:
    data = jumin("1", "髙橋　①", "ﾀｶﾊｼ") + b"\r\n" + jumin("2", "㈱﨑", "") + b"\r\n"
    records = read_all(write(tmp_path, data, "x.dat"), JUMIN)
    assert records == [RawRecord(1, ("1", "髙橋　①", "ﾀｶﾊｼ")), RawRecord(2, ("2", "㈱﨑", ""))]


def test_a_line_of_the_wrong_length_is_reported_and_the_next_one_read(tmp_path: Path) -> None:
    data = jumin("1", "山田", "ﾔﾏﾀﾞ") + b"\r\n" + "2   短い".encode("cp932") + b"\r\n"
    data += jumin("3", "鈴木", "ｽｽﾞｷ") + b"\r\n"
    records = read_all(write(tmp_path, data, "x.dat"), JUMIN)
    assert records[1] == RawRecord(2, None, (RawProblem("", "2   短い", "record_length"),))
    assert records[2] == RawRecord(3, ("3", "鈴木", "ｽｽﾞｷ"))


def test_a_final_record_without_line_end_and_a_dos_eof_are_accepted(tmp_path: Path) -> None:
    data = jumin("1", "山田", "") + b"\r\n" + jumin("2", "鈴木", "") + b"\x1a"
    records = read_all(write(tmp_path, data, "x.dat"), JUMIN)
    assert [r.values for r in records] == [("1", "山田", ""), ("2", "鈴木", "")]


def test_records_without_line_ends_are_cut_by_length(tmp_path: Path) -> None:
    spec = fixed_spec(("atena", 1, 4), ("name", 5, 10), ("kana", 15, 6), length=20, line_end="none")
    data = jumin("1", "山田", "") + jumin("2", "鈴木", "") + b"3"
    records = read_all(write(tmp_path, data, "x.dat"), spec)
    assert [r.values for r in records[:2]] == [("1", "山田", ""), ("2", "鈴木", "")]
    assert records[2] == RawRecord(3, None, (RawProblem("", "3", "record_length"),))


def test_a_bad_byte_in_a_fixed_field_is_reported_for_that_field(tmp_path: Path) -> None:
    data = b"1   " + b"\x85\x40\x93\x63".ljust(10) + "ﾔﾏﾀﾞ".encode("cp932").ljust(6) + b"\r\n"
    data += b"2   " + b"\xfd".ljust(10) + b"\xa0".ljust(6) + b"\r\n"
    records = read_all(write(tmp_path, data, "x.dat"), JUMIN)
    assert records == [
        RawRecord(1, None, (RawProblem("name", "\\x85\\x40田", "encoding"),)),
        RawRecord(
            2,
            None,
            (RawProblem("name", "\\xfd", "encoding"), RawProblem("kana", "\\xa0", "encoding")),
        ),
    ]


def test_a_field_edge_inside_a_double_byte_character_is_an_encoding_problem(
    tmp_path: Path,
) -> None:
    spec = fixed_spec(("atena", 1, 2), ("name", 3, 4), length=6)
    # "ソ" is 0x83 0x5C: cut after 0x83, the next field would read the 0x5C as a backslash.
    data = b"1" + "ソ".encode("cp932") + b"AB " + b"\r\n"
    (record,) = read_all(write(tmp_path, data, "x.dat"), spec)
    assert record == RawRecord(
        1,
        None,
        (RawProblem("atena", "1\\x83", "encoding"), RawProblem("name", "\\x5cAB", "encoding")),
    )


def test_unmapped_gaps_between_fields_may_hold_anything(tmp_path: Path) -> None:
    spec = fixed_spec(("atena", 1, 2), ("name", 7, 4), length=10)
    data = b"12" + "予備".encode("cp932") + "山田".encode("cp932") + b"\r\n"
    assert read_all(write(tmp_path, data, "x.dat"), spec) == [RawRecord(1, ("12", "山田"))]


# --- batches, resuming, streaming --------------------------------------------------------------


def messy_csv() -> bytes:
    rows = []
    for i in range(1, 41):
        if i % 7 == 0:
            rows.append(f'{i},"複数\n行",ｶﾅ{i}'.encode("cp932"))
        elif i % 11 == 0:
            rows.append(f"{i},短い".encode("cp932"))
        elif i % 13 == 0:
            rows.append(f"{i},".encode("cp932") + b"\x85\x40," + b"x")
        else:
            rows.append(f"{i}, 髙橋　{i} ,ﾀｶﾊｼ".encode("cp932"))
    return "宛名番号,氏名,カナ\r\n".encode("cp932") + b"\r\n".join(rows) + b"\r\n"


def test_batches_hold_at_most_batch_size_records(tmp_path: Path) -> None:
    path = write(tmp_path, messy_csv())
    sizes = [len(batch) for batch in read_batches(path, MESSY, batch_size=15)]
    assert sizes == [15, 15, 10]


@pytest.mark.parametrize("skip", [0, 1, 6, 7, 11, 13, 39, 40, 45])
def test_skip_resumes_after_exactly_that_many_records(tmp_path: Path, skip: int) -> None:
    path = write(tmp_path, messy_csv())
    everything = read_all(path, MESSY)
    assert len(everything) == 40
    assert read_all(path, MESSY, skip=skip, batch_size=4) == everything[skip:]


@pytest.mark.parametrize("skip", [0, 1, 2, 3, 5])
def test_skip_counts_broken_fixed_records_too(tmp_path: Path, skip: int) -> None:
    lines = [
        jumin("1", "山田", ""),
        b"short",
        jumin("3", "\u3000", ""),
        b"\x85\x40",
        jumin("5", "", ""),
    ]
    path = write(tmp_path, b"\r\n".join(lines) + b"\r\n", "x.dat")
    everything = read_all(path, JUMIN)
    assert [r.line for r in everything] == [1, 2, 3, 4, 5]
    assert read_all(path, JUMIN, skip=skip, batch_size=2) == everything[skip:]


def test_tiny_blocks_give_the_same_records_as_one_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Block edges fall inside quoted fields, multi-byte characters and bad bytes alike."""
    path = write(tmp_path, messy_csv())
    whole = read_all(path, MESSY)
    monkeypatch.setattr(readers, "HEAD_BYTES", 7)
    for size in (7, 16, 33):
        monkeypatch.setattr(readers, "_BLOCK_BYTES", size)
        assert read_all(path, MESSY, batch_size=3) == whole
        assert read_all(path, MESSY, skip=9, batch_size=3) == whole[9:]


def test_tiny_blocks_cut_fixed_records_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [jumin(str(i), "髙橋①", "ﾀｶﾊｼ") if i % 3 else b"bad" for i in range(1, 20)]
    path = write(tmp_path, b"\r\n".join(lines) + b"\x1a", "x.dat")
    whole = read_all(path, JUMIN)
    monkeypatch.setattr(readers, "HEAD_BYTES", 5)
    monkeypatch.setattr(readers, "_BLOCK_BYTES", 9)
    assert read_all(path, JUMIN) == whole
    assert len(whole) == 19


def test_the_opener_supplies_the_bytes(tmp_path: Path) -> None:
    opened: list[Path] = []

    def opener(path: Path) -> BinaryIO:
        opened.append(path)
        return io.BytesIO(b"atena\n42\n")

    records = read_all(tmp_path / "absent.csv", csv_spec("atena"), opener=opener)
    assert records == [RawRecord(2, ("42",))]
    assert opened == [tmp_path / "absent.csv"]


def test_records_from_the_fast_path_are_ordinary_frozen_records(tmp_path: Path) -> None:
    (record,) = read_all(write(tmp_path, b"atena,name\n1,a\n"), csv_spec("atena", "name"))
    assert type(record) is RawRecord
    assert copy.deepcopy(record) == record == RawRecord(2, ("1", "a"))
    assert dataclasses.replace(record, line=3) == RawRecord(3, ("1", "a"))
    assert hash(record) == hash(RawRecord(2, ("1", "a")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.line = 3  # type: ignore[misc]

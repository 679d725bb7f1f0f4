from __future__ import annotations

import unicodedata
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.japanese.variants import (
    display_safe,
    fold_variants,
    name_key,
    name_variant_key,
    parse_variant_table,
    variant_pairs,
)

KANJI_SAMPLE = "".join(variant_pairs()) + "".join(variant_pairs().values()) + "山田太郎"
name_text = st.text(alphabet=KANJI_SAMPLE + " \u3000\t\ufe00\U000e0100ＡＢa1ｱ", max_size=12)


@pytest.mark.parametrize(
    ("registered", "keyed"),
    [
        ("髙橋", "高橋"),
        ("山\ufa11", "山崎"),
        ("山嵜", "山崎"),
        ("齋藤", "斎藤"),
        ("齊藤", "斎藤"),
        ("斉藤", "斎藤"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("澤田", "沢田"),
        ("濵田", "浜田"),
        ("濱田", "浜田"),
        ("德川", "徳川"),
        ("𠮷田", "吉田"),
        ("\ufa10本", "塚本"),
        ("\ufa4f介", "祐介"),
        ("\ufa19田", "神田"),
        ("\ufa1b田", "福田"),
        ("\ufa12美", "晴美"),
        ("葛\U000e0100城", "葛城"),
    ],
)
def test_variant_key_matches_registered_and_keyed_forms(registered: str, keyed: str) -> None:
    assert name_variant_key(registered) == name_variant_key(keyed) == keyed
    assert name_key(registered) != name_key(keyed)


def test_plain_key_keeps_compatibility_ideographs() -> None:
    assert name_key("\ufa11") == "\ufa11"
    assert name_key("\ufa10") == "\ufa10"
    assert name_key("\U0002f800") == "\U0002f800"
    assert name_variant_key("\ufa11") == "崎"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("高橋 太郎", "高橋太郎"),
        ("高橋\u3000太郎", "高橋太郎"),
        ("高橋\t太郎 ", "高橋太郎"),
        ("ＡＢＣ　１２", "ABC12"),
        ("ｱｲ", "アイ"),
        ("髙橋", "髙橋"),
    ],
)
def test_plain_key(text: str, expected: str) -> None:
    assert name_key(text) == expected


def test_fold_variants_leaves_other_characters() -> None:
    assert fold_variants("髙橋 [x]; 'o'") == "高橋 [x]; 'o'"
    assert fold_variants("高橋") == "高橋"


def _table_lines() -> list[tuple[str, str]]:
    text = resources.files("core.japanese").joinpath("variants.tsv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [(line.split("\t")[0], line.split("\t")[1]) for line in lines]


def test_table_is_well_formed() -> None:
    lines = _table_lines()
    pairs = variant_pairs()
    assert len(pairs) == len(lines) >= 150
    assert all(len(variant) == 1 and len(canonical) == 1 for variant, canonical in pairs.items())
    assert not set(pairs) & set(pairs.values())
    for variant, canonical in pairs.items():
        assert variant != canonical
        assert unicodedata.normalize("NFKC", canonical) == canonical
        assert fold_variants(unicodedata.normalize("NFKC", variant)) == canonical


def test_compatibility_ideographs_are_written_as_code_points() -> None:
    for variant, _canonical in _table_lines():
        if not variant.startswith("U+"):
            assert unicodedata.normalize("NFC", variant) == variant


@pytest.mark.parametrize(
    "text",
    ["髙\t高\n髙\t崎\n", "髙\n", "髙橋\t高\n", "U+FA11\t崎\t崎\n"],
)
def test_parse_rejects_malformed_tables(text: str) -> None:
    with pytest.raises(ValueError, match="line"):
        parse_variant_table(text)


def test_parse_accepts_comments_and_code_points() -> None:
    assert parse_variant_table("# c\n\nU+FA11\t崎\n髙\tU+9AD8\n") == {"\ufa11": "崎", "髙": "高"}


@given(name_text)
def test_keys_are_idempotent(text: str) -> None:
    assert name_key(name_key(text)) == name_key(text)
    assert name_variant_key(name_variant_key(text)) == name_variant_key(text)
    assert name_variant_key(name_key(text)) == name_variant_key(text)


@given(st.text(max_size=12))
def test_keys_are_idempotent_on_any_text(text: str) -> None:
    assert name_key(name_key(text)) == name_key(text)
    assert name_variant_key(name_variant_key(text)) == name_variant_key(text)


@given(name_text)
def test_variant_key_never_keeps_a_variant(text: str) -> None:
    assert not set(name_variant_key(text)) & set(variant_pairs())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("山\ue001田", "山〈U+E001〉田"),
        ("\uf8ff", "〈U+F8FF〉"),
        ("\U000f0001", "〈U+F0001〉"),
        ("\U0010fffd", "〈U+10FFFD〉"),
        ("\u0378", "〈U+0378〉"),
        ("\ufa11\U00020bb7", "\ufa11\U00020bb7"),
        ("髙橋[bold]太郎", "髙橋[bold]太郎"),
        ("O'Brien; DROP", "O'Brien; DROP"),
        ("[red]", "[red]"),
        ("", ""),
    ],
)
def test_display_safe(text: str, expected: str) -> None:
    assert display_safe(text) == expected


@given(st.text())
def test_display_safe_changes_only_undisplayable_characters(text: str) -> None:
    shown = display_safe(text)
    hidden = {"Co", "Cn", "Cs"}
    if not any(unicodedata.category(c) in hidden for c in text):
        assert shown == text
    else:
        assert "〈U+" in shown

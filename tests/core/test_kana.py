from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.japanese.kana import is_kana_name, kana_key, kana_loose_key, to_katakana

HIRAGANA = "".join(map(chr, range(0x3041, 0x3097))) + "ゝゞ"
KATAKANA = "".join(map(chr, range(0x30A1, 0x30F7))) + "ヽヾ"
HALF_WIDTH = "".join(map(chr, range(0xFF61, 0xFFA0)))
MARKS = "\u3099\u309a\u309b\u309c"
SPACES_AND_DASHES = " \u3000\t-‐―−〜～ー－ｰ・"
LATIN = "aZ09０Ａｚ.é\u0301"
kana_text = st.text(
    alphabet=HIRAGANA + KATAKANA + HALF_WIDTH + MARKS + SPACES_AND_DASHES + LATIN, max_size=20
)
hiragana_text = st.text(alphabet=HIRAGANA, max_size=20)


def _half_width_forms() -> dict[str, str]:
    """Full-width katakana → its half-width spelling (ガ → ｶﾞ) where one exists."""
    forms: dict[str, str] = {}
    for half in HALF_WIDTH[:-2]:
        for spelling in (half, half + "ﾞ", half + "ﾟ"):
            full = unicodedata.normalize("NFKC", spelling)
            if len(full) == 1:
                forms.setdefault(full, spelling)
    return forms


HALF_WIDTH_OF = _half_width_forms()


def hiragana_to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) for c in text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("やまだ たろう", "ヤマダ タロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),
        ("ﾊﾟｳﾞｧ", "パヴァ"),
        ("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ"),
        ("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ", "パピプペポ"),
        ("ｰ･ｯｬ", "ー・ッャ"),
        ("か\u3099", "ガ"),
        ("カ\u3099", "ガ"),
        ("ハ\u309a", "パ"),
        ("ウ\u3099", "ヴ"),
        ("カ゛", "ガ"),
        ("ｱﾞ", "ア゛"),
        ("ヤマダ\u3000タロウ", "ヤマダ\u3000タロウ"),
        ("ゝゞ", "ヽヾ"),
        ("山田 ABC １２", "山田 ABC １２"),
    ],
)
def test_to_katakana(text: str, expected: str) -> None:
    assert to_katakana(text) == expected


@pytest.mark.parametrize(
    "text", ["ﾔﾏﾀﾞ", "ヤマダ", "やまだ", "ヤマ ダ", "ヤマ\u3000ダ", " ﾔ ﾏ ﾀ ﾞ\t"]
)
def test_strict_key_equates_spellings_of_one_name(text: str) -> None:
    assert kana_key(text) == "ヤマダ"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ラーメン", "ラーメン"),
        ("ﾗｰﾒﾝ", "ラーメン"),
        ("ラ-メン", "ラーメン"),
        ("ラ－メン", "ラーメン"),
        ("ラ‐メン", "ラーメン"),
        ("ラ―メン", "ラーメン"),
        ("ラ−メン", "ラーメン"),
        ("ら〜めん", "ラーメン"),
        ("ら～めん", "ラーメン"),
        ("ヒ--", "ヒーー"),
        ("ジョン・スミス", "ジョンスミス"),
        ("ＡＢＣ－１２", "ABC-12"),
        ("ガ", "ガ"),
    ],
)
def test_strict_key_long_vowels_and_latin(text: str, expected: str) -> None:
    assert kana_key(text) == expected


def test_strict_key_keeps_voicing_and_small_kana() -> None:
    assert kana_key("ジ") != kana_key("ヂ")
    assert kana_key("キヤ") != kana_key("キャ")
    assert kana_key("ハ") != kana_key("バ")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("ヂ", "ジ"),
        ("ちぢみ", "チジミ"),
        ("ヅ", "ズ"),
        ("つづき", "ツズキ"),
        ("ヴ", "ブ"),
        ("ヴァイオリン", "バイオリン"),
        ("ヴィ", "ビ"),
        ("ヴェ", "ベ"),
        ("ヴォ", "ボ"),
        ("ｷｬ", "キヤ"),
        ("ァィゥェォ", "アイウエオ"),
        ("ッ", "ツ"),
        ("ャュョ", "ヤユヨ"),
        ("ヮヵヶ", "ワカケ"),
        ("ガ", "カ"),
        ("パ", "ハ"),
        ("バ", "ハ"),
        ("ﾊﾟ", "は"),
        ("サトー", "サト"),
        ("ヤマダ タロウ", "やまた たろう"),
    ],
)
def test_loose_key_folds(left: str, right: str) -> None:
    assert kana_loose_key(left) == kana_loose_key(right)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ヂ", "シ"),
        ("ジ", "シ"),
        ("ヅ", "ス"),
        ("ヴ", "フ"),
        ("ヴァ", "ハ"),
        ("ラーメン", "ラメン"),
    ],
)
def test_loose_key_values(text: str, expected: str) -> None:
    assert kana_loose_key(text) == expected


def test_loose_key_keeps_distinct_sounds_apart() -> None:
    assert kana_loose_key("ヤマダ") != kana_loose_key("ヤマナ")
    assert kana_loose_key("チ") != kana_loose_key("シ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ヤマダ タロウ", True),
        ("やまだ\u3000たろう", True),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", True),
        ("ジョン・スミス", True),
        ("ラーメン", True),
        ("山田", False),
        ("ヤマダ1", False),
        ("YAMADA", False),
        ("", False),
        ("   ", False),
        ("・ー", False),
        ("ヤマダ[太郎]", False),
    ],
)
def test_is_kana_name(text: str, expected: bool) -> None:
    assert is_kana_name(text) is expected


@given(kana_text)
def test_keys_are_stable_under_to_katakana(text: str) -> None:
    assert kana_key(to_katakana(text)) == kana_key(text)
    assert kana_loose_key(to_katakana(text)) == kana_loose_key(text)


@given(kana_text)
def test_keys_are_idempotent(text: str) -> None:
    assert kana_key(kana_key(text)) == kana_key(text)
    assert kana_loose_key(kana_loose_key(text)) == kana_loose_key(text)
    assert kana_loose_key(kana_key(text)) == kana_loose_key(text)


@given(st.text(max_size=20))
def test_keys_are_idempotent_on_any_text(text: str) -> None:
    assert kana_key(kana_key(text)) == kana_key(text)
    assert kana_loose_key(kana_loose_key(text)) == kana_loose_key(text)


@given(kana_text)
def test_to_katakana_is_idempotent(text: str) -> None:
    assert to_katakana(to_katakana(text)) == to_katakana(text)


@given(hiragana_text)
def test_hiragana_and_katakana_give_the_same_keys(text: str) -> None:
    katakana = hiragana_to_katakana(text)
    assert to_katakana(text) == katakana
    assert kana_key(text) == kana_key(katakana)
    assert kana_loose_key(text) == kana_loose_key(katakana)


@given(hiragana_text)
def test_half_width_gives_the_same_keys(text: str) -> None:
    katakana = hiragana_to_katakana(text)
    half_width = "".join(HALF_WIDTH_OF.get(c, c) for c in katakana)
    assert to_katakana(half_width) == katakana
    assert kana_key(half_width) == kana_key(text)
    assert kana_loose_key(half_width) == kana_loose_key(text)


@given(kana_text)
def test_strict_key_has_no_spaces_and_no_dashes_after_kana(text: str) -> None:
    key = kana_key(text)
    assert not any(c.isspace() for c in key)
    assert "・" not in key
    for before, after in zip(key, key[1:], strict=False):
        if "\u30a1" <= before <= "\u30fe":
            assert after != "-"

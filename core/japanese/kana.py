"""カナ (kana) storage form and search keys for name readings.

``to_katakana`` gives the stored form: full-width katakana. ``kana_key`` is the strict search
key (hiragana, half-width and spacing differences ignored); ``kana_loose_key`` also ignores small
kana, voicing marks (濁点・半濁点) and long vowels, like the registry's search "without voicing
marks". Both keys are built with translation tables so that indexing a million names stays fast.
"""

from __future__ import annotations

import re
import unicodedata

_VOICED_MARK = "\u3099"
_SEMI_VOICED_MARK = "\u309a"
_SPACING_VOICED_MARK = "\u309b"
_SPACING_SEMI_VOICED_MARK = "\u309c"
_LONG_VOWEL = "ー"
_MIDDLE_DOT = "・"

_KATAKANA_FIRST, _KATAKANA_LAST = 0x30A1, 0x30FA
_HIRAGANA_TO_KATAKANA: dict[int, int] = {
    code: code + 0x60 for code in (*range(0x3041, 0x3097), 0x309D, 0x309E)
}
_HALFWIDTH_TO_FULLWIDTH: dict[int, str] = {
    code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFF61, 0xFF9E)
} | {0xFF9E: _SPACING_VOICED_MARK, 0xFF9F: _SPACING_SEMI_VOICED_MARK}
_TO_KATAKANA = str.maketrans(_HIRAGANA_TO_KATAKANA | _HALFWIDTH_TO_FULLWIDTH)


def _composed(mark: str) -> dict[str, str]:
    """Katakana + mark → precomposed katakana, for every katakana that has one."""
    pairs: dict[str, str] = {}
    for code in (*range(_KATAKANA_FIRST, _KATAKANA_LAST + 1), 0x30FD):
        composed = unicodedata.normalize("NFC", chr(code) + mark)
        if len(composed) == 1:
            pairs[chr(code)] = composed
    return pairs


_WITH_VOICED = _composed(_VOICED_MARK)
_WITH_SEMI_VOICED = _composed(_SEMI_VOICED_MARK)
_ANY_MARK = re.compile("[\u3099-\u309c]")
_CONVERTIBLE = re.compile("[\u3041-\u309e\uff61-\uff9f]")
_COMPOSABLE = re.compile(
    f"[{''.join(_WITH_VOICED)}][{_VOICED_MARK}{_SPACING_VOICED_MARK}]"
    f"|[{''.join(_WITH_SEMI_VOICED)}][{_SEMI_VOICED_MARK}{_SPACING_SEMI_VOICED_MARK}]"
)


def _compose(match: re.Match[str]) -> str:
    pair = match.group()
    base, mark = pair[0], pair[1]
    table = _WITH_VOICED if mark in (_VOICED_MARK, _SPACING_VOICED_MARK) else _WITH_SEMI_VOICED
    return table[base]


def to_katakana(text: str) -> str:
    """The storage form of a カナ field: hiragana and half-width kana become full-width katakana.

    A voicing mark after a kana is joined to it (ｶﾞ → ガ, か + U+3099 → ガ, ｳﾞ → ヴ); spaces and
    every other character are left as they are.
    """
    if _CONVERTIBLE.search(text) is None:
        return text
    converted = text.translate(_TO_KATAKANA)
    if _ANY_MARK.search(converted) is None:
        return converted
    return _COMPOSABLE.sub(_compose, converted)


_HALFWIDTH = re.compile("[\uff61-\uff9f]")
_WIDEN = str.maketrans(_HALFWIDTH_TO_FULLWIDTH)


def widen_halfwidth_kana(text: str) -> str:
    """Half-width katakana (ｶﾞ, ｱｲ, ｰ, ｡) become full-width (ガ, アイ, ー, 。); nothing else changes.

    For any text of a legacy file: unlike ``to_katakana`` it keeps hiragana as they are.
    """
    if _HALFWIDTH.search(text) is None:
        return text
    converted = text.translate(_WIDEN)
    if _ANY_MARK.search(converted) is None:
        return converted
    return _COMPOSABLE.sub(_compose, converted)


SPACE_CHARACTERS = (
    "\t\n\v\f\r \x1c\x1d\x1e\x1f\x85\xa0\u1680\u180e\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
    + "".join(map(chr, range(0x2000, 0x200B)))
)
_DASH_LIKE = "-‐‑‒–—―−〜~"
_KEY_TABLE = str.maketrans(
    _HIRAGANA_TO_KATAKANA
    | dict.fromkeys(map(ord, SPACE_CHARACTERS + _MIDDLE_DOT))
    | {ord(dash): "-" for dash in _DASH_LIKE}
)
_KEY_TABLE_HIT = re.compile(
    f"[\u3041-\u3096\u309d\u309e{re.escape(SPACE_CHARACTERS + _MIDDLE_DOT + _DASH_LIKE)}]"
)
_DASHES_AFTER_KANA = re.compile("(?<=[\u3099\u309a\u30a1-\u30fa\u30fc-\u30fe])-+")


def _long_vowels(match: re.Match[str]) -> str:
    return _LONG_VOWEL * len(match.group())


def kana_key(text: str) -> str:
    """Strict kana search key: ﾔﾏﾀﾞ, ヤマダ, やまだ and "ヤマ ダ" all give ヤマダ.

    Hiragana and half-width kana become katakana, spaces (any width) and the middle dot ・ are
    dropped, a dash or wave dash after a kana becomes ー, and Latin letters and digits are folded
    to their NFKC forms.
    """
    key = unicodedata.normalize("NFKC", text)
    if " " in key:
        key = unicodedata.normalize("NFKC", key.replace(" ", ""))
    if _KEY_TABLE_HIT.search(key) is None:
        return key
    key = unicodedata.normalize("NFKC", key.translate(_KEY_TABLE))
    if "-" in key:
        key = _DASHES_AFTER_KANA.sub(_long_vowels, key)
    return key


_VU_SYLLABLES = {"ヴァ": "バ", "ヴィ": "ビ", "ヴゥ": "ブ", "ヴェ": "ベ", "ヴォ": "ボ"}
_VU_SYLLABLE = re.compile("|".join(_VU_SYLLABLES))
_SMALL_KANA = dict(zip("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ", strict=True))
_UNVOICED = {
    composed: base
    for table in (_WITH_VOICED, _WITH_SEMI_VOICED)
    for base, composed in table.items()
}
_FOLDED_FIRST = {"ヂ": "シ", "ヅ": "ス", "ヴ": "フ"}
_LOOSE_TABLE = str.maketrans(
    _UNVOICED
    | _SMALL_KANA
    | _FOLDED_FIRST
    | dict.fromkeys((_LONG_VOWEL, _VOICED_MARK, _SEMI_VOICED_MARK), "")
)


def _fold_vu(match: re.Match[str]) -> str:
    return _VU_SYLLABLES[match.group()]


def kana_loose_key(text: str) -> str:
    """Loose kana search key, built on ``kana_key``.

    ヂ/ジ, ヅ/ズ and ヴ/ブ (ヴァ → バ …) are folded, small kana become large, voicing marks are
    stripped (ガ → カ, パ → ハ) and ー is dropped: ヂ and ジ both end as シ.
    """
    key = kana_key(text)
    if "ヴ" in key:
        key = _VU_SYLLABLE.sub(_fold_vu, key)
    return unicodedata.normalize("NFKC", key.translate(_LOOSE_TABLE))


_KANA_NAME = re.compile(f"[\u30a1-\u30fa\u30fc-\u30fe{_MIDDLE_DOT} \u3000]+")
_KANA_LETTER = re.compile("[\u30a1-\u30fa\u30fd\u30fe]")


def is_kana_name(text: str) -> bool:
    """True if, as katakana, ``text`` has only katakana, ー, spaces and ・ (and some katakana)."""
    katakana = to_katakana(text)
    return bool(_KANA_NAME.fullmatch(katakana)) and _KANA_LETTER.search(katakana) is not None

"""異体字 (kanji variants), name search keys and a safe display form for unprintable characters.

Stored names keep their exact characters (髙橋 stays 髙橋). ``name_key`` is the strict key for
partial kanji search; ``name_variant_key`` also folds variants (髙 → 高, 﨑 → 崎) using the table
in ``variants.tsv``. ``display_safe`` shows characters no font can draw as their code point.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

from core.japanese.kana import SPACE_CHARACTERS

_TABLE_FILE = "variants.tsv"
_CODE_POINT_CELL = re.compile(r"U\+([0-9A-Fa-f]{4,6})")

_VARIATION_SELECTORS = (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0))
_SPACE_RUN = re.compile(f"[{re.escape(SPACE_CHARACTERS)}]+")
_COMPATIBILITY_IDEOGRAPH = re.compile("([\uf900-\ufaff\U0002f800-\U0002fa1f])")


def _cell(text: str, line_number: int) -> str:
    """One table cell: a single character, or U+XXXX for characters an editor might normalise."""
    if match := _CODE_POINT_CELL.fullmatch(text):
        return chr(int(match[1], 16))
    if len(text) != 1:
        raise ValueError(f"{_TABLE_FILE} line {line_number}: one character expected")
    return text


def parse_variant_table(text: str) -> dict[str, str]:
    """Parse ``variant<TAB>canonical`` lines (``#`` starts a comment line) into a mapping."""
    pairs: dict[str, str] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        cells = stripped.split("\t")
        if len(cells) != 2:
            raise ValueError(f"{_TABLE_FILE} line {line_number}: two tab-separated cells expected")
        variant, canonical = (_cell(cell.strip(), line_number) for cell in cells)
        if variant in pairs:
            raise ValueError(f"{_TABLE_FILE} line {line_number}: duplicate variant")
        pairs[variant] = canonical
    return pairs


@cache
def variant_pairs() -> dict[str, str]:
    """The shipped table, read once on first use."""
    text = resources.files("core.japanese").joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    return parse_variant_table(text)


@cache
def _fold_table() -> dict[int, str]:
    return str.maketrans(variant_pairs())


@cache
def _variant_key_table() -> dict[int, str | None]:
    table: dict[int, str | None] = dict(_fold_table())
    table.update(dict.fromkeys((*map(ord, SPACE_CHARACTERS), *_VARIATION_SELECTORS)))
    return table


@cache
def _variant_key_hit() -> re.Pattern[str]:
    """Matches any character that ``name_variant_key`` changes after NFKC."""
    folded = re.escape("".join(variant_pairs()) + SPACE_CHARACTERS)
    return re.compile(f"[{folded}\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def fold_variants(text: str) -> str:
    """Replace each 異体字 (kanji variant) in the table by its canonical form."""
    return text.translate(_fold_table())


def _nfkc_keeping_compatibility_ideographs(text: str) -> str:
    """NFKC, except that CJK compatibility ideographs (塚 U+FA10 …) keep their identity."""
    if _COMPATIBILITY_IDEOGRAPH.search(text) is None:
        return unicodedata.normalize("NFKC", text)
    pieces = _COMPATIBILITY_IDEOGRAPH.split(text)
    return "".join(
        piece if index % 2 else unicodedata.normalize("NFKC", piece)
        for index, piece in enumerate(pieces)
    )


def name_key(text: str) -> str:
    """Strict key for partial name search: spaces of any width dropped, full-width Latin and
    half-width kana folded (NFKC), every kanji kept exactly as written (﨑 stays distinct from 崎).
    """
    key = _nfkc_keeping_compatibility_ideographs(text)
    compact = _SPACE_RUN.sub("", key)
    if len(compact) == len(key):
        return key
    return _nfkc_keeping_compatibility_ideographs(compact)


def name_variant_key(text: str) -> str:
    """Variant-insensitive key: like ``name_key``, with 異体字, compatibility ideographs and
    variation selectors folded, so 髙橋, 高橋 and 高 橋 give the same key.
    """
    key = unicodedata.normalize("NFKC", text)
    if _variant_key_hit().search(key) is None:
        return key
    return unicodedata.normalize("NFKC", key.translate(_variant_key_table()))


_UNDISPLAYABLE_CATEGORIES = frozenset({"Co", "Cn", "Cs"})


def _code_fallback(character: str) -> str:
    return f"〈U+{ord(character):04X}〉"


def display_safe(text: str) -> str:
    """Show private-use (外字), unassigned and surrogate code points as 〈U+E001〉.

    Such characters are never replaced silently by a look-alike or dropped; every other
    character is returned unchanged, so markup characters still need escaping by the caller.
    """
    if text.isascii():
        return text
    return "".join(
        _code_fallback(character)
        if unicodedata.category(character) in _UNDISPLAYABLE_CATEGORIES
        else character
        for character in text
    )

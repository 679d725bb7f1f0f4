"""Name and place tables for synthetic residents, read once from the TSV files beside this module.

The files hold common Japanese surnames and given names with their katakana readings and
fictional town names. Nothing in them is a real person's record or a real address.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate

Era = str
"""Generation of a given name: ``K`` katakana names of women born before about 1935, ``S``
born before about 1955, ``M`` until about 1990, ``N`` after."""


@dataclass(frozen=True, slots=True)
class NameTables:
    """Surnames with cumulative weights, and given names by sex and generation."""

    surnames: tuple[tuple[str, str], ...]
    surname_cumulative: tuple[int, ...]
    variant_surnames: frozenset[str]
    given: dict[tuple[str, Era], tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class PlaceTables:
    """Fictional towns (with their number of 丁目, 0 for 大字 areas) and name parts."""

    towns: tuple[tuple[str, int], ...]
    building_prefixes: tuple[str, ...]
    building_suffixes: tuple[str, ...]
    clinic_prefixes: tuple[str, ...]


def _rows(filename: str, columns: int) -> list[list[str]]:
    text = resources.files("storage.demo").joinpath(filename).read_text("utf-8")
    rows: list[list[str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != columns:
            raise ValueError(f"{filename} line {number}: expected {columns} columns")
        rows.append(cells)
    return rows


@cache
def name_tables() -> NameTables:
    surnames = _rows("surnames.tsv", 4)
    given: dict[tuple[str, Era], list[tuple[str, str]]] = {}
    for sex, era, kanji, kana in _rows("given_names.tsv", 4):
        given.setdefault((sex, era), []).append((kanji, kana))
    return NameTables(
        surnames=tuple((kanji, kana) for kanji, kana, _, _ in surnames),
        surname_cumulative=tuple(accumulate(int(weight) for _, _, weight, _ in surnames)),
        variant_surnames=frozenset(kanji for kanji, _, _, standard in surnames if standard),
        given={key: tuple(names) for key, names in given.items()},
    )


@cache
def place_tables() -> PlaceTables:
    rows = _rows("places.tsv", 3)
    return PlaceTables(
        towns=tuple((name, int(extra)) for kind, name, extra in rows if kind == "town"),
        building_prefixes=tuple(name for kind, name, _ in rows if kind == "building_prefix"),
        building_suffixes=tuple(name for kind, name, _ in rows if kind == "building_suffix"),
        clinic_prefixes=tuple(name for kind, name, _ in rows if kind == "clinic_prefix"),
    )


def variant_surnames() -> frozenset[str]:
    """Surnames written with a variant character (異体字 variant kanji), e.g. 髙橋 or 山﨑."""
    return name_tables().variant_surnames

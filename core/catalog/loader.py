"""Reading and checking the vaccine catalogue file.

``parse_catalog`` reads catalogue text (the shipped ``vaccines.toml`` or a city's edited copy) and
either returns a ``Catalog`` or raises ``CatalogInvalid`` listing every problem found, each
naming the vaccine and the field.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import cast

from core.catalog.ages import AgeLimit, AgeSyntaxError, Interval
from core.catalog.model import Catalog, Category, DoseSpec, Maker, Product, Season, Sex, Vaccine
from core.errors import SesshuError

SCHEMA_VERSION = 1
_CODE = re.compile(r"[A-Z][A-Z0-9]{1,11}")
_MONTH_DAY = re.compile(r"(\d{2})-(\d{2})")
_TOP_KEYS = frozenset({"schema", "maker", "vaccine"})
_MAKER_KEYS = frozenset({"name_ja", "name_en"})
_VACCINE_REQUIRED = frozenset(
    {"code", "name_ja", "name_en", "category", "routine_from", "min_age", "doses", "products"}
)
_VACCINE_OPTIONAL = frozenset(
    {"max_age", "routine_until", "recurring", "season", "sex", "born_from", "born_until", "note"}
)
_DOSE_REQUIRED = frozenset({"label"})
_DOSE_OPTIONAL = frozenset({"recommended_age", "min_interval", "interval_from"})
_PRODUCT_REQUIRED = frozenset({"maker", "name", "lot"})
_PRODUCT_OPTIONAL = frozenset({"from", "until"})


@dataclass(frozen=True, slots=True)
class CatalogProblem:
    """One problem in a catalogue file: which entry, which field, what is wrong."""

    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.entry}: {self.field}: {self.message}"


class CatalogInvalid(SesshuError):
    """The catalogue file was rejected. The catalogue holds no personal data, so ``str()``
    names every problem."""

    code = "catalog"

    def __init__(self, problems: Iterable[CatalogProblem]) -> None:
        self.problems: tuple[CatalogProblem, ...] = tuple(problems)
        super().__init__("catalog.invalid", count=len(self.problems))

    def __str__(self) -> str:
        return "invalid vaccine catalogue:\n" + "\n".join(f"  {p}" for p in self.problems)


class _Reader:
    """Reads one table of the file, recording problems instead of stopping at the first."""

    def __init__(self, problems: list[CatalogProblem], entry: str, table: object) -> None:
        self.problems = problems
        self.entry = entry
        self.table: Mapping[str, object] = table if isinstance(table, Mapping) else {}
        if not isinstance(table, Mapping):
            self.fail("", "expected a table")

    def fail(self, name: str, message: str) -> None:
        self.problems.append(CatalogProblem(self.entry, name, message))

    def check_keys(self, required: frozenset[str], optional: frozenset[str]) -> None:
        for name in self.table:
            if name not in required and name not in optional:
                self.fail(name, "unknown field")
        for name in sorted(required - self.table.keys()):
            self.fail(name, "missing field")

    def text(self, name: str, default: str | None = None) -> str:
        value = self.table.get(name, default)
        if isinstance(value, str) and value.strip():
            return value
        if name in self.table:
            self.fail(name, "expected non-empty text")
        return default or ""

    def day(self, name: str) -> date | None:
        value = self.table.get(name)
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        self.fail(name, "expected a date such as 2013-04-01")
        return None

    def age(self, name: str) -> AgeLimit | None:
        value = self.table.get(name)
        try:
            return None if value is None else AgeLimit.parse(_notation(value))
        except AgeSyntaxError as error:
            self.fail(name, str(error))
            return None

    def interval(self, name: str) -> Interval | None:
        value = self.table.get(name)
        try:
            return None if value is None else Interval.parse(_notation(value))
        except AgeSyntaxError as error:
            self.fail(name, str(error))
            return None

    def tables(self, name: str) -> list[object]:
        value = self.table.get(name, [])
        if isinstance(value, list):
            return value
        self.fail(name, "expected an array of tables")
        return []


def _notation(value: object) -> str:
    if isinstance(value, str):
        return value
    raise AgeSyntaxError(f'{value!r} is not text: write it in quotes, e.g. "2m"')


def _read_makers(problems: list[CatalogProblem], raw: object) -> tuple[Maker, ...]:
    if not isinstance(raw, Mapping):
        problems.append(CatalogProblem("maker", "", "expected a table of makers"))
        return ()
    makers: list[Maker] = []
    for code, table in raw.items():
        reader = _Reader(problems, f"maker {code}", table)
        if not _CODE.fullmatch(code):
            reader.fail("code", "expected 2-12 upper-case ASCII letters and digits")
        reader.check_keys(_MAKER_KEYS, frozenset())
        makers.append(Maker(code, reader.text("name_ja"), reader.text("name_en")))
    return tuple(makers)


def _read_dose(parent: _Reader, number: int, raw: object) -> DoseSpec:
    reader = _Reader(parent.problems, f"{parent.entry} dose {number}", raw)
    reader.check_keys(_DOSE_REQUIRED, _DOSE_OPTIONAL)
    interval_from = reader.table.get("interval_from")
    if interval_from is not None and (
        isinstance(interval_from, bool)
        or not isinstance(interval_from, int)
        or not 1 <= interval_from < number
    ):
        reader.fail("interval_from", f"expected an earlier dose number (1 to {number - 1})")
        interval_from = None
    min_interval = reader.interval("min_interval")
    if min_interval is not None and number == 1 and interval_from is None:
        reader.fail("min_interval", "the first dose has no earlier dose to count from")
    return DoseSpec(
        number=number,
        label=reader.text("label"),
        recommended_age=reader.age("recommended_age"),
        min_interval=min_interval,
        interval_from=interval_from,
    )


def _read_product(parent: _Reader, index: int, raw: object, makers: set[str]) -> Product:
    reader = _Reader(parent.problems, f"{parent.entry} product {index}", raw)
    reader.check_keys(_PRODUCT_REQUIRED, _PRODUCT_OPTIONAL)
    maker = reader.text("maker")
    if maker and maker not in makers:
        reader.fail("maker", f"unknown maker {maker!r}: add it under [maker.{maker}]")
    return Product(
        maker=maker,
        name=reader.text("name"),
        lot_pattern=reader.text("lot"),
        available_from=reader.day("from"),
        available_until=reader.day("until"),
    )


def _read_season(reader: _Reader) -> Season | None:
    value = reader.table.get("season")
    if value is None:
        return None
    parts = value.split("..") if isinstance(value, str) else []
    bounds = [_MONTH_DAY.fullmatch(part.strip()) for part in parts]
    if len(bounds) != 2 or None in bounds:
        reader.fail("season", "expected MM-DD..MM-DD such as 10-01..01-31")
        return None
    start, end = (cast("re.Match[str]", b) for b in bounds)
    try:
        for match in (start, end):
            date(2000, int(match[1]), int(match[2]))
    except ValueError:
        reader.fail("season", "not a day of the year")
        return None
    return Season((int(start[1]), int(start[2])), (int(end[1]), int(end[2])))


def _read_vaccine(
    problems: list[CatalogProblem], index: int, raw: object, makers: set[str]
) -> Vaccine:
    code = raw.get("code") if isinstance(raw, Mapping) else None
    reader = _Reader(problems, f"vaccine {code}" if code else f"vaccine #{index}", raw)
    reader.check_keys(_VACCINE_REQUIRED, _VACCINE_OPTIONAL)
    if isinstance(code, str) and not _CODE.fullmatch(code):
        reader.fail("code", "expected 2-12 upper-case ASCII letters and digits")
    category = reader.table.get("category")
    if category not in ("A", "B", "T"):
        reader.fail("category", "expected A, B or T")
    sex = reader.table.get("sex")
    if sex not in (None, "M", "F"):
        reader.fail("sex", "expected M or F")
    recurring = reader.table.get("recurring", False)
    if not isinstance(recurring, bool):
        reader.fail("recurring", "expected true or false")
        recurring = False
    doses = tuple(
        _read_dose(reader, number, table)
        for number, table in enumerate(reader.tables("doses"), start=1)
    )
    if "doses" in reader.table and not doses:
        reader.fail("doses", "expected at least one dose")
    season = _read_season(reader)
    if recurring and season is None:
        reader.fail("season", "a recurring vaccine needs a season")
    if recurring and len(doses) > 1:
        reader.fail("doses", "a recurring vaccine has one dose per season")
    products = tuple(
        _read_product(reader, number, table, makers)
        for number, table in enumerate(reader.tables("products"), start=1)
    )
    min_age, max_age = reader.age("min_age"), reader.age("max_age")
    if (
        min_age
        and max_age
        and max_age.reached_on(date(2000, 4, 2)) <= min_age.reached_on(date(2000, 4, 2))
    ):
        reader.fail("max_age", "must be later than min_age")
    return Vaccine(
        code=reader.text("code"),
        name_ja=reader.text("name_ja"),
        name_en=reader.text("name_en"),
        category=cast("Category", category),
        min_age=min_age or AgeLimit(0, "d"),
        max_age=max_age,
        doses=doses,
        products=products,
        routine_from=reader.day("routine_from") or date.min,
        routine_until=reader.day("routine_until"),
        recurring=recurring,
        season=season,
        sex=cast("Sex | None", sex),
        born_from=reader.day("born_from"),
        born_until=reader.day("born_until"),
        note=reader.text("note", ""),
    )


def parse_catalog(text: str) -> Catalog:
    """Read catalogue TOML text; raise ``CatalogInvalid`` naming every bad entry and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CatalogInvalid([CatalogProblem("file", "", f"not valid TOML: {error}")]) from None
    problems: list[CatalogProblem] = []
    for name in data:
        if name not in _TOP_KEYS:
            problems.append(CatalogProblem("file", name, "unknown top-level key"))
    if data.get("schema") != SCHEMA_VERSION:
        problems.append(CatalogProblem("file", "schema", f"expected schema = {SCHEMA_VERSION}"))
    makers = _read_makers(problems, data.get("maker", {}))
    maker_codes = {maker.code for maker in makers}
    raw_vaccines = data.get("vaccine", [])
    if not isinstance(raw_vaccines, list) or not raw_vaccines:
        problems.append(CatalogProblem("file", "vaccine", "expected [[vaccine]] entries"))
        raw_vaccines = []
    vaccines = tuple(
        _read_vaccine(problems, index, raw, maker_codes)
        for index, raw in enumerate(raw_vaccines, start=1)
    )
    seen: set[str] = set()
    for vaccine in vaccines:
        if vaccine.code in seen:
            problems.append(CatalogProblem(f"vaccine {vaccine.code}", "code", "duplicate code"))
        seen.add(vaccine.code)
    if problems:
        raise CatalogInvalid(problems)
    return Catalog(vaccines=vaccines, makers=makers)


@cache
def load_default_catalog() -> Catalog:
    """The catalogue shipped with sesshu (``core/catalog/vaccines.toml``), read once."""
    text = resources.files("core.catalog").joinpath("vaccines.toml").read_text("utf-8")
    return parse_catalog(text)

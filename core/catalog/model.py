"""The vaccine catalogue (ワクチンマスタ, vaccine master) and the rules data entry checks.

The catalogue is data (``vaccines.toml``), loaded by ``core.catalog.loader``. A vaccine code names
one product family and one stage (期) with its own age window, e.g. ``MR1`` and ``MR2`` for the
first and second stage of measles-rubella, ``JE1`` (three doses: two primary and one booster)
and ``JE2``. A dose number (接種回) counts within that code, starting at 1. Recurring vaccines
(influenza, COVID-19 from 2024) have one dose per season and the dose number is always 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from core.catalog.ages import AgeLimit, Interval

Category = Literal["A", "B", "T"]
"""A類 and B類 routine vaccination (定期接種), or T for temporary vaccination (臨時接種)."""

Sex = Literal["M", "F"]
AgeVerdict = Literal["ok", "too_young", "too_old"]


@dataclass(frozen=True, slots=True)
class Maker:
    """A manufacturer (製造メーカー) as keyed on the slip."""

    code: str
    name_ja: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Product:
    """A product of one maker, the pattern of its lot numbers and when it was in routine use.

    In ``lot_pattern`` ``#`` stands for a digit, ``@`` for an upper-case letter other than I and
    O, and every other character for itself.
    """

    maker: str
    name: str
    lot_pattern: str
    available_from: date | None = None
    available_until: date | None = None

    def available_on(self, day: date) -> bool:
        if self.available_from is not None and day < self.available_from:
            return False
        return self.available_until is None or day <= self.available_until


@dataclass(frozen=True, slots=True)
class DoseSpec:
    """One dose of a series: its label, the recommended age and the minimum interval.

    ``interval_from`` is the dose number the interval counts from: usually the previous dose,
    but e.g. the third hepatitis B dose counts 139 days from the first.
    """

    number: int
    label: str
    recommended_age: AgeLimit | None = None
    min_interval: Interval | None = None
    interval_from: int | None = None


@dataclass(frozen=True, slots=True)
class Season:
    """The months of a recurring vaccination, e.g. 1 October to 31 January, as (month, day)."""

    start: tuple[int, int]
    end: tuple[int, int]

    def season_of(self, day: date) -> int | None:
        """The year the season containing ``day`` started in, or None outside every season."""
        key = (day.month, day.day)
        if self.start <= self.end:
            return day.year if self.start <= key <= self.end else None
        if key >= self.start:
            return day.year
        return day.year - 1 if key <= self.end else None


@dataclass(frozen=True, slots=True)
class Vaccine:
    """One entry of the catalogue: a vaccine code (接種コード) with its routine rules."""

    code: str
    name_ja: str
    name_en: str
    category: Category
    min_age: AgeLimit
    max_age: AgeLimit | None
    doses: tuple[DoseSpec, ...]
    products: tuple[Product, ...]
    routine_from: date
    routine_until: date | None = None
    recurring: bool = False
    season: Season | None = None
    sex: Sex | None = None
    born_from: date | None = None
    born_until: date | None = None
    note: str = ""

    @property
    def dose_count(self) -> int:
        return len(self.doses)

    def dose(self, number: int) -> DoseSpec:
        if not dose_in_range(self, number):
            raise ValueError(f"{self.code} has no dose {number}")
        return self.doses[number - 1]

    def makers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(product.maker for product in self.products))


@dataclass(frozen=True, slots=True)
class Catalog:
    """The vaccines and makers the city uses, in file order."""

    vaccines: tuple[Vaccine, ...]
    makers: tuple[Maker, ...]
    _by_code: dict[str, Vaccine] = field(init=False, repr=False, compare=False)
    _makers_by_code: dict[str, Maker] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {v.code: v for v in self.vaccines})
        object.__setattr__(self, "_makers_by_code", {m.code: m for m in self.makers})

    def get(self, code: str) -> Vaccine | None:
        """The vaccine with this code, or None if the catalogue has no such code."""
        return self._by_code.get(code)

    def maker(self, code: str) -> Maker | None:
        return self._makers_by_code.get(code)

    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self.vaccines)


def dose_in_range(vaccine: Vaccine, dose: int) -> bool:
    """Whether ``dose`` is a dose number (接種回) of ``vaccine``'s series."""
    return 1 <= dose <= len(vaccine.doses)


def age_window(vaccine: Vaccine, birth: date, on: date) -> AgeVerdict:
    """Whether a person born on ``birth`` is of routine age for ``vaccine`` on ``on``.

    The window is ``min_age`` (first day allowed) to ``max_age`` (first day no longer allowed);
    see ``core.catalog.ages`` for how each limit is counted.
    """
    if on < vaccine.min_age.reached_on(birth):
        return "too_young"
    if vaccine.max_age is not None and on >= vaccine.max_age.reached_on(birth):
        return "too_old"
    return "ok"


def min_interval_ok(vaccine: Vaccine, dose: int, previous_date: date, date: date) -> bool:
    """Whether dose ``dose`` on ``date`` keeps the minimum interval after ``previous_date``.

    ``previous_date`` is the date of dose ``interval_from`` (by default the previous dose). A
    dose without an interval rule only has to come after the previous one.
    """
    spec = vaccine.dose(dose)
    if spec.min_interval is None:
        return date > previous_date
    return date >= spec.min_interval.earliest_after(previous_date)


def interval_reference(vaccine: Vaccine, dose: int) -> int | None:
    """The dose number whose date ``min_interval_ok`` expects, or None for a first dose."""
    spec = vaccine.dose(dose)
    if spec.interval_from is not None:
        return spec.interval_from
    return dose - 1 if dose > 1 else None


def routine_on(vaccine: Vaccine, day: date) -> bool:
    """Whether ``day`` falls in the period the vaccine is (or was) given as routine vaccination."""
    if day < vaccine.routine_from:
        return False
    return vaccine.routine_until is None or day <= vaccine.routine_until


def cohort_ok(vaccine: Vaccine, birth: date, sex: str) -> bool:
    """Whether the person's birth date and sex are in the vaccine's target group."""
    if vaccine.sex is not None and sex != vaccine.sex:
        return False
    if vaccine.born_from is not None and birth < vaccine.born_from:
        return False
    return vaccine.born_until is None or birth <= vaccine.born_until

"""Age limits and dose intervals as the vaccination rules count them [ext].

An age limit is written ``<N><unit>`` or ``fy<N>``:

- ``42d``, ``6w``: the day N days (or N weeks) after the day of birth (出生N日後, "N days after
  birth"); ``6w`` is ``42d``.
- ``2m``, ``5y``: the day the person reaches N months or N years of age (生後N月に至った日): the
  same day of the month N months later, or, when that month is too short, the first day of the
  following month (民法第143条, Civil Code art. 143). A child born on 1 April reaches ``2m`` on
  1 June and ``5y`` on their fifth birthday.
- ``fy12``: 1 April of the fiscal year (年度, April to March) in which the person becomes 12.
  Under the Act on Age Calculation (年齢計算ニ関スル法律) a person becomes N at the end of the day
  before the Nth birthday, so a child born on 1 April becomes 12 on 31 March and belongs to the
  earlier school year: the cohorts run from 2 April to 1 April.

A window ``min_age``..``max_age`` is half open: the minimum is the first day allowed and the
maximum is the first day no longer allowed. ``max_age = "5y"`` means "before the fifth
birthday" (生後60月に至るまで) and ``max_age = "fy17"`` means "until 31 March of the fiscal year in
which the person becomes 16".

An interval is ``<N>d`` or ``<N>m`` (or ``<N>y``) between two doses. ``27d`` means 27 clear days
between them (27日以上の間隔), so a dose on 1 April allows the next one from 29 April, four weeks
later on the same weekday; ``6m`` means from the same day six months later.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, cast

AgeUnit = Literal["d", "w", "m", "y", "fy"]
IntervalUnit = Literal["d", "m", "y"]

_AGE_PATTERN = re.compile(r"(?:fy(?P<fy>\d{1,3})|(?P<n>\d{1,4})(?P<unit>[dwmy]))")
_INTERVAL_PATTERN = re.compile(r"(?P<n>\d{1,4})(?P<unit>[dmy])")


class AgeSyntaxError(ValueError):
    """An age limit or interval that does not follow the notation above."""


def add_months(start: date, months: int) -> date:
    """The day a period of ``months`` whole months counted from ``start`` has run (民法第143条)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    if start.day <= 28 or start.day <= _month_length(year, month):
        return date(year, month, start.day)
    return date(year + month // 12, month % 12 + 1, 1)


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def day_becoming(birth: date, years: int) -> date:
    """The day a person born on ``birth`` becomes ``years`` old in law: the eve of the birthday."""
    return add_months(birth, 12 * years) - timedelta(days=1)


def fiscal_year_start(day: date) -> date:
    """1 April of the fiscal year (年度) that contains ``day``."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def fiscal_year_end_age(birth: date, fiscal_year: int) -> int:
    """年度末年齢 (age at 31 March): the age on the last day of fiscal year ``fiscal_year``."""
    end = date(fiscal_year + 1, 3, 31)
    age = end.year - birth.year
    return age if day_becoming(birth, age) <= end else age - 1


@dataclass(frozen=True, slots=True)
class AgeLimit:
    """One end of an age window, or a recommended age, in the notation of this module."""

    amount: int
    unit: AgeUnit

    @classmethod
    def parse(cls, text: str) -> AgeLimit:
        match = _AGE_PATTERN.fullmatch(text.strip())
        if match is None:
            raise AgeSyntaxError(
                f"{text!r} is not an age: write N followed by d, w, m or y, or fyN"
            )
        if match["fy"] is not None:
            return cls(int(match["fy"]), "fy")
        return cls(int(match["n"]), cast("AgeUnit", match["unit"]))

    def reached_on(self, birth: date) -> date:
        """The first day on which a person born on ``birth`` has reached this age."""
        if self.unit == "d":
            return birth + timedelta(days=self.amount)
        if self.unit == "w":
            return birth + timedelta(days=7 * self.amount)
        if self.unit == "m":
            return add_months(birth, self.amount)
        if self.unit == "y":
            return add_months(birth, 12 * self.amount)
        return fiscal_year_start(day_becoming(birth, self.amount))

    def __str__(self) -> str:
        return f"fy{self.amount}" if self.unit == "fy" else f"{self.amount}{self.unit}"


@dataclass(frozen=True, slots=True)
class Interval:
    """The minimum interval between two doses, in the notation of this module."""

    amount: int
    unit: IntervalUnit

    @classmethod
    def parse(cls, text: str) -> Interval:
        match = _INTERVAL_PATTERN.fullmatch(text.strip())
        if match is None:
            raise AgeSyntaxError(f"{text!r} is not an interval: write N followed by d, m or y")
        return cls(int(match["n"]), cast("IntervalUnit", match["unit"]))

    def earliest_after(self, previous: date) -> date:
        """The first day the next dose may be given after a dose on ``previous``."""
        if self.unit == "d":
            return previous + timedelta(days=self.amount + 1)
        months = self.amount if self.unit == "m" else 12 * self.amount
        return add_months(previous, months)

    def upper_bound_days(self) -> int:
        """A number of days never shorter than the interval, for generators working in days."""
        if self.unit == "d":
            return self.amount + 1
        months = self.amount if self.unit == "m" else 12 * self.amount
        return 31 * months + 1

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

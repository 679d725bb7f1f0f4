"""Households (世帯, households) of a synthetic Japanese city.

Head-of-household ages follow the adult part of Japan's population pyramid and the household
types (one person, couple, couple with children, one parent with children, three generations)
follow the head's age, so the city as a whole has many people aged 45 to 75 and fewer children.
Ages are turned into birth dates as day numbers (``date.toordinal()``) for speed.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate

DAYS_PER_YEAR = 365.2425
MAX_AGE = 100

_BAND_WEIGHTS = (
    4.2, 4.8, 5.3, 5.5, 6.2, 6.4, 6.4, 7.1, 8.0, 9.4, 9.4,
    8.1, 7.4, 7.6, 9.2, 7.0, 5.9, 3.9, 1.9, 0.5, 0.1,
)  # fmt: skip
"""Japan's population in millions by five-year age band (0-4 … 95-99, 100+), about 2024."""

_HEAD_MIN_AGE = 20
_HEAD_AGE_FACTOR = {20: 0.72, 30: 0.94, 40: 0.92, 50: 0.94, 60: 0.86, 70: 0.93, 80: 1.0, 90: 0.98}
"""Reweights the pyramid by decade so that, once families are added, people follow it again."""

_TYPES_BY_DECADE = {
    20: (0.70, 0.12, 0.15, 0.03, 0.00),
    30: (0.33, 0.10, 0.47, 0.07, 0.03),
    40: (0.27, 0.10, 0.48, 0.09, 0.06),
    50: (0.27, 0.20, 0.38, 0.07, 0.08),
    60: (0.25, 0.42, 0.23, 0.04, 0.06),
    70: (0.30, 0.50, 0.18, 0.02, 0.00),
    80: (0.47, 0.33, 0.20, 0.00, 0.00),
    90: (0.60, 0.20, 0.20, 0.00, 0.00),
}
"""Probabilities of single, couple, couple with children, one parent, three generations."""

_CHILD_COUNTS = (0.36, 0.81, 0.97, 1.0)
"""Cumulative probabilities of 1, 2, 3 or 4 children."""


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a household before names and numbers are attached."""

    relation: str
    sex: str
    birth: int
    parent: int | None = None
    """Index in the household of the parent, for children (子)."""


def _head_age_table() -> tuple[list[int], list[float]]:
    ages = list(range(_HEAD_MIN_AGE, MAX_AGE + 1))
    weights = [
        _BAND_WEIGHTS[min(age // 5, 20)] * _HEAD_AGE_FACTOR[min(age // 10 * 10, 90)] for age in ages
    ]
    return ages, list(accumulate(weights))


class HouseholdMaker:
    """Draws households; one instance per city so the tables are built once."""

    def __init__(self, rng: random.Random, today: int) -> None:
        self._rng = rng
        self._random = rng.random
        self._today = today
        self._head_ages, self._head_cumulative = _head_age_table()
        self._types = {decade: list(accumulate(p)) for decade, p in _TYPES_BY_DECADE.items()}

    def _birth(self, age: int) -> int:
        return self._today - int((min(age, MAX_AGE) + self._random()) * DAYS_PER_YEAR)

    def _head_age(self) -> int:
        total = self._head_cumulative[-1]
        return self._head_ages[bisect(self._head_cumulative, self._random() * total)]

    def _children(self, mother_age: int) -> list[int]:
        random_ = self._random
        count = bisect(_CHILD_COUNTS, random_()) + 1
        mother_at_birth = 23.0 + 12.0 * random_() * random_() + 4.0 * random_()
        ages: list[int] = []
        for _ in range(count):
            age = int(mother_age - mother_at_birth)
            mother_at_birth += 1.5 + 3.0 * random_()
            if age < 0:
                break
            stays = 1.0 if age < 18 else 0.7 if age < 23 else 0.35 if age < 30 else 0.1
            if random_() < stays:
                ages.append(age)
        return ages

    def household(self) -> list[Member]:
        random_ = self._random
        head_age = self._head_age()
        decade = min(head_age // 10 * 10, 90)
        kind = bisect(self._types[decade], random_() * self._types[decade][-1])
        if kind == 0:
            female = random_() < (0.45 if head_age < 60 else 0.6 if head_age < 80 else 0.75)
            return [Member("世帯主", "F" if female else "M", self._birth(head_age))]
        if kind == 3:
            mother = random_() < 0.85
            members = [Member("世帯主", "F" if mother else "M", self._birth(head_age))]
            kids = self._children(head_age if mother else head_age - 2)
            if not kids:
                kids = [max(0, min(head_age - 25, int(18 * random_())))]
            members += [self._child(age, 0) for age in kids]
            return members
        husband_age = head_age if random_() < 0.92 else head_age + int(4 * random_())
        wife_age = max(_HEAD_MIN_AGE - 2, husband_age - int(6 * random_() - 1))
        husband = Member("世帯主", "M", self._birth(husband_age))
        wife = Member("妻", "F", self._birth(wife_age))
        if random_() < 0.06:
            husband = Member("夫", "M", husband.birth)
            wife = Member("世帯主", "F", wife.birth)
            members = [wife, husband]
            mother_index = 0
        else:
            members = [husband, wife]
            mother_index = 1
        if kind >= 2:
            members += [self._child(age, mother_index) for age in self._children(wife_age)]
        if kind == 4:
            father_age = husband_age + 26 + int(9 * random_())
            if father_age <= MAX_AGE and random_() < 0.6:
                members.append(Member("父", "M", self._birth(father_age)))
            if father_age - 2 <= MAX_AGE and random_() < 0.8:
                members.append(Member("母", "F", self._birth(father_age - 2)))
        return members

    def _child(self, age: int, parent: int) -> Member:
        sex = "M" if self._random() < 0.512 else "F"
        return Member("子", sex, self._birth(age), parent)

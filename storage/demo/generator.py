"""A synthetic city (架空の市, fictional city) for the demo store and benchmarks.

``generate_city(count, seed, today)`` yields residents household by household with their
vaccination histories; the same arguments always give the same residents. Nothing is kept
between residents except small lookup tables, so a million residents stream in constant
memory. Every name, number and address is invented: surnames and given names are common ones,
but addresses are in fictional towns with postal codes 999-xxxx, and 個人番号 are random numbers
that only satisfy the check digit.
"""

from __future__ import annotations

import datetime
import math
import random
from bisect import bisect
from collections.abc import Iterator
from itertools import accumulate

from core.catalog import load_default_catalog
from core.catalog.ages import add_months
from core.identifiers import mynumber_check_digit
from storage.demo.histories import Clinic, HistoryMaker
from storage.demo.institutions import generate_institutions, institution_pools
from storage.demo.population import DAYS_PER_YEAR, HouseholdMaker, Member
from storage.demo.records import SyntheticInstitution, SyntheticResident, SyntheticVaccination
from storage.demo.tables import name_tables, place_tables

__all__ = [
    "SyntheticInstitution",
    "SyntheticResident",
    "SyntheticVaccination",
    "generate_city",
    "generate_institutions",
]

MYNUMBER_SPACE = 10**11
RESIDENT = "resident"
MOVED_OUT = "moved_out"
DECEASED = "deceased"
_SPACE = "\u3000"
_KANJI_DIGITS = "〇一二三四五六七八九"
_STATUS_YEARS = 5
"""Moves and deaths recorded by the city fall in the five years before the generation day."""


def _death_rate(age: float) -> float:
    """Chance that a synthetic resident of this age is recorded as deceased."""
    if age < 65:
        return 0.0004
    if age < 75:
        return 0.015
    if age < 85:
        return 0.07
    return 0.2


def _move_rate(head_age: float) -> float:
    """Chance that a household with a head of this age has moved out (転出, moved out)."""
    return 0.06 if head_age < 40 else 0.026 if head_age < 60 else 0.011


def _era(year: int, sex: str, u: float) -> str:
    """The generation of given names for a birth year and sex (``u`` a uniform draw)."""
    if year < 1945:
        return "K" if year < 1935 and sex == "F" and u < 0.3 else "S"
    if year < 1960:
        return "S" if u < 0.6 else "M"
    if year < 1980:
        return "S" if u < 0.08 else "M"
    if year < 1995:
        return "M" if u < 0.75 else "N"
    if year < 2005:
        return "M" if u < 0.25 else "N"
    return "M" if u < 0.05 else "N"


class _Addresses:
    """Fictional addresses: towns with 丁目 or 大字 areas, buildings for the 方書."""

    def __init__(self, rng: random.Random) -> None:
        places = place_tables()
        self._rng = rng
        self._towns = places.towns
        self._cumulative = list(accumulate(c if c else 2 for _, c in self._towns))
        codes = rng.sample(range(1000, 10000), len(self._towns))
        self._postal = [f"999-{code:04d}" for code in codes]
        self._buildings = [
            tuple(
                self._building(town, places.building_prefixes, places.building_suffixes)
                for _ in range(12)
            )
            for town, _ in self._towns
        ]

    def _building(self, town: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
        rng = self._rng
        suffix = rng.choice(suffixes)
        if rng.random() < 0.3:
            return f"{suffix}{town.removeprefix('大字')}"
        return f"{rng.choice(prefixes)}{suffix}"

    def draw(self) -> tuple[str, str]:
        """A postal code and an address, with a 方書 after a full-width space for some."""
        random_ = self._rng.random
        town_index = bisect(self._cumulative, random_() * self._cumulative[-1])
        town, chome = self._towns[town_index]
        if chome:
            block = f"{_KANJI_DIGITS[1 + int(random_() * chome)]}丁目"
            address = f"{town}{block}{1 + int(random_() * 30)}番{1 + int(random_() * 25)}号"
        else:
            address = f"{town}{1 + int(random_() * 2400)}番地"
            if random_() < 0.3:
                address += str(1 + int(random_() * 12))
        if random_() < 0.38:
            building = self._buildings[town_index][int(random_() * 12)]
            floors = 2 if building.endswith(("荘", "アパート")) else 6
            room = f"{1 + int(random_() * floors)}{1 + int(random_() * 8):02d}"
            address = f"{address}{_SPACE}{building}{room}"
        return self._postal[town_index], address


def _spread_stride(n: int) -> int:
    """A step coprime to ``n`` near n/φ, so that i·step mod n scatters over 0..n-1."""
    if n <= 2:
        return 1
    step = round(n * 0.6180339887)
    while math.gcd(step, n) != 1:
        step += 1
    return step


def _clinic(institution: SyntheticInstitution) -> Clinic:
    return institution.code, tuple(code for code, _ in institution.physicians)


class _City:
    """The state of one ``generate_city`` call: tables, numbering and the random stream."""

    def __init__(self, count: int, seed: int, today: datetime.date) -> None:
        self._count = count
        self._rng = rng = random.Random(seed)
        self._random = rng.random
        self._names = name_tables()
        self._surname_total = self._names.surname_cumulative[-1]
        self._addresses = _Addresses(rng)
        pools = institution_pools(seed)
        self._paediatric = [_clinic(i) for i in pools.paediatric]
        self._clinics = [_clinic(i) for i in (*pools.clinics, *pools.hospitals)]
        self._venues = [_clinic(i) for i in pools.venues]
        self._histories = HistoryMaker(load_default_catalog(), today, seed, rng)
        self._households = HouseholdMaker(rng, today.toordinal())
        self._today = today.toordinal()
        self._status_from = add_months(today, -12 * _STATUS_YEARS).toordinal()
        adult_from = add_months(today, -12 * 18)
        while add_months(adult_from, 12 * 18) <= today:
            adult_from += datetime.timedelta(days=1)
        self._minor_born_from = adult_from.toordinal()
        self._slice = MYNUMBER_SPACE // max(count, 1)
        self._stride = _spread_stride(count)
        self._offset = rng.randrange(max(count, 1))
        self._atena_base = 1_000_000_000 + rng.randrange(10**8)
        self._household_base = 5_000_000_000 + rng.randrange(10**8)
        self._index = 0
        self._household_number = 0

    def residents(self) -> Iterator[SyntheticResident]:
        while self._index < self._count:
            yield from self._household()

    def _numbers(self) -> tuple[str, str]:
        """The next 宛名番号 and 個人番号, both unique within the city."""
        index, random_ = self._index, self._random
        atena = f"{self._atena_base + 3 * index + int(random_() * 3):010d}"
        position = (self._stride * index + self._offset) % max(self._count, 1)
        digits = f"{position * self._slice + int(random_() * self._slice):011d}"
        return atena, digits + str(mynumber_check_digit(digits))

    def _day_between(self, first: int, last: int) -> int:
        return first + int(self._random() * (last - first + 1))

    def _status(
        self, member: Member, position: int, moved_day: int | None, guardians: set[int]
    ) -> tuple[str, int | None]:
        if moved_day is not None:
            return MOVED_OUT, moved_day
        since = max(self._status_from, member.birth)
        age = (self._today - member.birth) / DAYS_PER_YEAR
        if member.relation == "子" and 18 <= age < 36 and self._random() < 0.05:
            return MOVED_OUT, self._day_between(since, self._today)
        if position not in guardians and self._random() < _death_rate(age):
            return DECEASED, self._day_between(since, self._today)
        return RESIDENT, None

    def _household(self) -> Iterator[SyntheticResident]:
        random_, names, histories = self._random, self._names, self._histories
        members = self._households.household()
        self._household_number += 1
        household = f"{self._household_base + 2 * self._household_number:010d}"
        surname_at = bisect(names.surname_cumulative, random_() * self._surname_total)
        surname, surname_kana = names.surnames[surname_at]
        postal, address = self._addresses.draw()
        moved_day = None
        if random_() < _move_rate((self._today - members[0].birth) / DAYS_PER_YEAR):
            youngest = max(m.birth for m in members)
            moved_day = self._day_between(max(self._status_from, youngest), self._today)
        minor_from = self._minor_born_from
        guardians = {m.parent for m in members if m.parent is not None and m.birth >= minor_from}
        clinics = (
            self._paediatric[int(random_() * len(self._paediatric))],
            self._clinics[int(random_() * len(self._clinics))],
            self._venues[int(random_() * len(self._venues))],
        )
        atenas: list[str] = []
        flagged: list[bool] = []
        for position, member in enumerate(members):
            if self._index >= self._count:
                return
            atena, mynumber = self._numbers()
            birth = histories.day(member.birth)
            given = names.given[(member.sex, _era(birth.year, member.sex, random_()))]
            given_name, given_kana = given[int(random_() * len(given))]
            status, status_day = self._status(member, position, moved_day, guardians)
            parent = member.parent if member.birth >= minor_from else None
            dv = random_() < 0.003 or (parent is not None and flagged[parent])
            atenas.append(atena)
            flagged.append(dv)
            yield SyntheticResident(
                atena=atena,
                mynumber=mynumber,
                name=f"{surname}{_SPACE}{given_name}",
                kana=f"{surname_kana}{_SPACE}{given_kana}",
                birth=birth,
                sex=member.sex,
                postal=postal,
                address=address,
                household=household,
                relation=member.relation,
                status=status,
                status_date=None if status_day is None else histories.day(status_day),
                dv_flag=dv,
                no_auto_answer=(dv and random_() < 0.55) or random_() < 0.0004,
                guardian=None if parent is None else atenas[parent],
                vaccinations=histories.history(
                    member.birth,
                    member.sex,
                    self._today if status_day is None else status_day,
                    clinics,
                ),
            )
            self._index += 1


def generate_city(count: int, seed: int, today: datetime.date) -> Iterator[SyntheticResident]:
    """Yield ``count`` synthetic residents of a fictional city as of ``today``.

    Residents come household by household (世帯, household), parents before the children whose
    guardian they are. 宛名番号 (atena) and 個人番号 (My Number) are unique within one call:
    each resident's 個人番号 is drawn from its own slice of the number space, the slices taken
    in a shuffled order, so no set of issued numbers has to be kept.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    return _City(count, seed, today).residents()

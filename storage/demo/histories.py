"""Vaccination histories (接種歴, vaccination history) that follow the catalogue's rules.

Children receive the A類 series of their birth cohort near the recommended ages; older people
receive influenza every season, pneumococcal at 65, COVID-19 and zoster once they became routine;
almost everyone has the 2021-2024 COVID-19 special temporary doses. Every generated dose lies in
its vaccine's age window and routine period, keeps the minimum interval and uses a product that
was on the market that day, so the demo store passes the same checks as keyed slips.

Dates are day numbers (``date.toordinal()``) until the record is built; windows per birth date
are computed exactly once and cached, and intervals use an upper bound in days.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from core.catalog import AgeLimit, Catalog, Vaccine
from core.catalog.ages import add_months
from storage.demo.lots import LOTS_PER_YEAR, LotBook, ProductPicker
from storage.demo.records import SyntheticVaccination, vaccination_factory

Clinic = tuple[str, tuple[str, ...]]
"""An institution code and its physician codes."""

Raw = tuple[int, str, int, int, Clinic]
"""A dose before it becomes a record: day, vaccine code, dose number, product id, clinic."""

Window = tuple[int, int, tuple[int, ...]]
"""First day, first day excluded and recommended day per dose, as day numbers."""


@dataclass(frozen=True, slots=True)
class _Programme:
    """Which cohort receives a vaccine code and how many of them do."""

    codes: tuple[str, ...]
    born_from: date | None
    born_before: date | None
    coverage: float


_CHILD_PROGRAMMES = (
    _Programme(("BCG",), None, None, 0.97),
    _Programme(("HIB",), date(2012, 12, 1), date(2024, 2, 1), 0.95),
    _Programme(("PCV",), date(2012, 12, 1), None, 0.95),
    _Programme(("HEPB",), date(2016, 4, 1), None, 0.95),
    _Programme(("ROTA1", "ROTA5"), date(2020, 8, 1), None, 0.88),
    _Programme(("DPT",), None, date(2012, 8, 1), 0.95),
    _Programme(("OPV",), None, date(2012, 8, 1), 0.93),
    _Programme(("DPTIPV",), date(2012, 8, 1), date(2024, 2, 1), 0.96),
    _Programme(("DPTIPVHIB",), date(2024, 2, 1), None, 0.96),
    _Programme(("MEAS1",), None, date(2005, 4, 2), 0.92),
    _Programme(("RUB1",), None, date(2005, 4, 2), 0.9),
    _Programme(("MR1",), date(2005, 4, 2), None, 0.95),
    _Programme(("MR2",), date(2000, 4, 2), None, 0.92),
    _Programme(("VAR",), date(2013, 10, 1), None, 0.93),
    _Programme(("JE1",), None, None, 0.85),
    _Programme(("JE2",), None, None, 0.7),
    _Programme(("DT",), None, None, 0.8),
)

_NEVER = date.max.toordinal()
_NEXT_DOSE = 0.985
"""Chance that a child who started a series also receives the next dose."""
HISTORY_BORN_FROM = date(1990, 4, 2)
"""Childhood histories are kept for residents born from this day on."""
ADULT_HISTORY_PRESENT = 0.9
"""Share of adults born since ``HISTORY_BORN_FROM`` whose childhood records the city holds."""
FLU_SEASONS = 24
"""Influenza seasons kept, counting back from the generation day (24 reach back to 2001, when
influenza became routine for older people)."""
_JE_PAUSE = (date(2005, 5, 30).toordinal(), date(2010, 3, 31).toordinal())
"""積極的勧奨の差し控え: recommendation of Japanese encephalitis vaccine suspended."""
_HPV_UPTAKE = (
    (date(2013, 6, 14).toordinal(), 0.6),
    (date(2022, 4, 1).toordinal(), 0.02),
    (date.max.toordinal(), 0.35),
)
"""HPV uptake by first-dose day: before the 2013 suspension, during it, after it ended."""
_COVID_SPECIAL = {
    "E": ((0.95, "2021-04-12", 100), (0.99, "", 14), (0.95, "2022-01-10", 100),
          (0.92, "2022-05-25", 100), (0.9, "2022-09-20", 120), (0.85, "2023-05-08", 110),
          (0.85, "2023-09-20", 180)),
    "A": ((0.88, "2021-06-01", 150), (0.98, "", 14), (0.82, "2022-01-20", 150),
          (0.6, "2022-09-20", 150), (0.4, "2023-01-20", 100), (0.6, "2023-09-20", 180)),
    "Y": ((0.78, "2021-07-01", 150), (0.98, "", 14), (0.6, "2022-03-25", 150),
          (0.35, "2022-10-01", 150), (0.3, "2023-09-20", 180)),
    "C": ((0.25, "2022-03-01", 150), (0.95, "", 14), (0.45, "2022-09-06", 150),
          (0.25, "2023-09-20", 180)),
    "I": ((0.03, "2022-10-24", 200), (0.9, "", 14), (0.9, "", 30)),
}  # fmt: skip
"""COVID-19 special temporary doses by age group in 2022 (Elderly, Adult, Youth, Child,
Infant): probability of taking each dose given the previous one, campaign start and length."""


class _Series:
    """One vaccine code prepared for fast generation."""

    def __init__(self, index: int, vaccine: Vaccine, book: LotBook) -> None:
        self.index = index
        self.code = vaccine.code
        self.vaccine = vaccine
        self.picker = ProductPicker(vaccine, book)
        self.paused = _JE_PAUSE if vaccine.code.startswith("JE") else (0, 0)
        self.routine_from = vaccine.routine_from.toordinal()
        until = vaccine.routine_until
        self.routine_end = until.toordinal() + 1 if until else _NEVER
        self.gaps = tuple(
            (
                d.min_interval.upper_bound_days() if d.min_interval else 1,
                (d.interval_from or d.number - 1) - 1,
            )
            for d in vaccine.doses
        )
        self.recommended: tuple[AgeLimit | None, ...] = tuple(
            d.recommended_age for d in vaccine.doses
        )

    def window(self, birth: date) -> Window:
        vaccine = self.vaccine
        low = max(vaccine.min_age.reached_on(birth).toordinal(), self.routine_from)
        high = vaccine.max_age.reached_on(birth).toordinal() if vaccine.max_age else _NEVER
        recommended = tuple(
            age.reached_on(birth).toordinal() if age else 0 for age in self.recommended
        )
        return low, min(high, self.routine_end), recommended


class HistoryMaker:
    """Builds the vaccination history of one resident at a time from the city's random stream.

    A history comes in date order.
    """

    def __init__(self, catalog: Catalog, today: date, seed: int, rng: random.Random) -> None:
        self._random = rng.random
        self._today = today.toordinal()
        self._epoch = date(1900, 1, 1).toordinal()
        self._days = [date.fromordinal(o) for o in range(self._epoch, self._today + 400)]
        self._make = vaccination_factory()
        first_year = min(v.routine_from.year for v in catalog.vaccines)
        self._book = LotBook(seed, first_year, today.year + 1)
        self._series = {
            vaccine.code: _Series(index, vaccine, self._book)
            for index, vaccine in enumerate(catalog.vaccines)
        }
        self._windows: dict[int, Window] = {}
        self._programmes = tuple(
            (
                tuple(self._series[code] for code in p.codes),
                p.born_from.toordinal() if p.born_from else 0,
                p.born_before.toordinal() if p.born_before else _NEVER,
                p.coverage,
            )
            for p in _CHILD_PROGRAMMES
        )
        self._history_from = HISTORY_BORN_FROM.toordinal()
        self._season_days = self._seasons()
        self._covid_plan = {
            group: tuple(
                (p, date.fromisoformat(start).toordinal() if start else 0, span)
                for p, start, span in doses
            )
            for group, doses in _COVID_SPECIAL.items()
        }
        self._age_2022 = date(2022, 1, 1).toordinal()
        self._covid_born_before = date(2023, 9, 1).toordinal()
        self._hpv9_from = self._series["HPV9"].routine_from

    def day(self, ordinal: int) -> date:
        """The date of a day number, from a shared table."""
        return self._days[ordinal - self._epoch]

    def _seasons(self) -> list[tuple[int, ...]]:
        """Per season up to today, 128 typical days from October to January, most in autumn."""
        share = list(accumulate((0.45, 0.38, 0.14, 0.03)))
        year = date.fromordinal(self._today).year
        seasons: list[tuple[int, ...]] = []
        for season in range(year - FLU_SEASONS, year + 1):
            starts = [date(season, m, 1).toordinal() for m in (10, 11, 12)]
            starts.append(date(season + 1, 1, 1).toordinal())
            lengths = (31, 30, 31, 31)
            days: list[int] = []
            for k in range(128):
                u = (k + 0.5) / 128
                month = bisect(share, u)
                before = share[month - 1] if month else 0.0
                fraction = (u - before) / (share[month] - before)
                days.append(starts[month] + int(fraction * lengths[month]))
            if starts[0] <= self._today:
                seasons.append(tuple(days))
        return seasons[-FLU_SEASONS:]

    def _window(self, series: _Series, birth: int) -> Window:
        key = birth * 64 + series.index
        found = self._windows.get(key)
        if found is None:
            found = series.window(self._days[birth - self._epoch])
            self._windows[key] = found
        return found

    def history(
        self, birth: int, sex: str, limit: int, clinics: tuple[Clinic, Clinic, Clinic]
    ) -> tuple[SyntheticVaccination, ...]:
        """The records of one resident born on day ``birth``, none after day ``limit``.

        ``clinics`` are the resident's paediatric clinic, family clinic and COVID-19 venue.
        """
        raw: list[Raw] = []
        if birth >= self._history_from and (
            self._today - birth < 18 * 365 or self._random() < ADULT_HISTORY_PRESENT
        ):
            self._childhood(birth, sex, limit, clinics[0], raw)
        if birth < self._covid_born_before:
            self._covid_special(birth, limit, clinics, raw)
        if self._today - birth >= 55 * 365:
            self._older(birth, limit, clinics[1], raw)
        if not raw:
            return ()
        raw.sort()
        days, epoch, make, random_ = self._days, self._epoch, self._make, self._random
        pools, makers, first_year = self._book.pools, self._book.makers, self._book.first_year
        return tuple(
            [
                make(
                    code,
                    dose,
                    when,
                    pools[product][when.year - first_year][int(random_() * LOTS_PER_YEAR)],
                    makers[product],
                    institution,
                    physicians[int(random_() * len(physicians))],
                )
                for day, code, dose, product, (institution, physicians) in raw
                for when in (days[day - epoch],)
            ]
        )

    def _series_doses(
        self,
        series: _Series,
        birth: int,
        limit: int,
        clinic: Clinic,
        out: list[Raw],
        first_day: int = 0,
    ) -> None:
        random_ = self._random
        low, high, recommended = self._window(series, birth)
        high = min(high, limit + 1)
        pause_from, pause_until = series.paused
        given: list[int] = []
        product = -1
        for index, (gap, gap_from) in enumerate(series.gaps):
            day = recommended[index]
            if index == 0 and first_day:
                day = first_day
            elif day:
                day += int(random_() ** 3 * 120)
            if index:
                if random_() > _NEXT_DOSE:
                    return
                earliest = given[gap_from] + gap
                if day < earliest:
                    day = earliest + int(random_() ** 2 * 45)
            if day < low:
                day = low + int(random_() ** 2 * 60)
            if day >= high or (pause_from <= day <= pause_until and random_() < 0.8):
                return
            product = series.picker.pick(day, random_, product)
            if product < 0:
                return
            given.append(day)
            out.append((day, series.code, index + 1, product, clinic))

    def _childhood(self, birth: int, sex: str, limit: int, clinic: Clinic, out: list[Raw]) -> None:
        random_ = self._random
        for options, born_from, born_before, coverage in self._programmes:
            if born_from <= birth < born_before and random_() < coverage:
                series = options[int(random_() * len(options))]
                self._series_doses(series, birth, limit, clinic, out)
        if sex == "F":
            self._hpv(birth, limit, clinic, out)

    def _hpv(self, birth: int, limit: int, clinic: Clinic, out: list[Raw]) -> None:
        random_ = self._random
        first = self._window(self._series["HPV4"], birth)[2][0] + int(random_() * 300)
        uptake = next(p for before, p in _HPV_UPTAKE if first < before)
        if random_() >= uptake:
            return
        if first >= self._hpv9_from and random_() < 0.85:
            code = "HPV9"
        else:
            code = "HPV2" if random_() < 0.4 else "HPV4"
        self._series_doses(self._series[code], birth, limit, clinic, out, first)

    def _covid_special(
        self,
        birth: int,
        limit: int,
        clinics: tuple[Clinic, Clinic, Clinic],
        out: list[Raw],
    ) -> None:
        random_ = self._random
        series = self._series["COVIDT"]
        low, high, _ = self._window(series, birth)
        high = min(high, limit + 1)
        age = (self._age_2022 - birth) / 365.25
        group = "E" if age >= 65 else "A" if age >= 20 else "Y" if age >= 12 else "C"
        group = group if age >= 5 else "I"
        clinic = clinics[2] if random_() < 0.35 else clinics[1]
        previous = 0
        product = -1
        for index, (p, start, span) in enumerate(self._covid_plan[group]):
            if random_() >= p:
                return
            gap = series.gaps[index][0]
            if start:
                day = max(start + int(random_() * span), low, previous + gap)
            else:
                day = max(previous + gap + 3 + int(random_() * span), low)
            if day >= high:
                return
            product = series.picker.pick(day, random_, product)
            if product < 0:
                return
            out.append((day, "COVIDT", index + 1, product, clinic))
            previous = day

    def _older(self, birth: int, limit: int, clinic: Clinic, out: list[Raw]) -> None:
        random_ = self._random
        sixty_five = add_months(self._days[birth - self._epoch], 12 * 65).toordinal()
        if sixty_five > limit:
            return
        keen = random_()
        flu_rate = 0.92 if keen < 0.55 else 0.5 if keen < 0.75 else 0.08
        covid_rate = 0.35 if keen < 0.55 else 0.06
        flu, covid = self._series["FLU"], self._series["COVID"]
        first_flu = max(sixty_five, flu.routine_from)
        first_covid = max(sixty_five, covid.routine_from)
        for days in self._season_days:
            if random_() < flu_rate:
                day = days[int(random_() * 128)]
                if first_flu <= day <= limit:
                    out.append((day, "FLU", 1, flu.picker.pick(day, random_, -1), clinic))
            if days[0] >= first_covid and random_() < covid_rate:
                day = days[int(random_() * 128)]
                if day <= limit:
                    out.append((day, "COVID", 1, covid.picker.pick(day, random_, -1), clinic))
        pneumo = self._series["PNEU"]
        if random_() < 0.38:
            day = sixty_five + int(random_() * random_() * 360)
            if pneumo.routine_from <= day <= limit:
                out.append((day, "PNEU", 1, pneumo.picker.pick(day, random_, -1), clinic))
        if random_() < 0.18:
            zoster = self._series["HZR" if random_() < 0.6 else "HZL"]
            start = self._window(zoster, birth)[0] + int(random_() * 300)
            self._series_doses(zoster, birth, limit, clinic, out, start)

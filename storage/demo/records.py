"""The rows the synthetic city generator yields: residents, their vaccinations, institutions."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast


@dataclass(frozen=True, slots=True)
class SyntheticVaccination:
    """One vaccination record (接種記録, vaccination record) of a synthetic resident.

    ``vaccine`` and ``maker`` are catalogue codes (``core.catalog``); ``institution`` is the
    10-digit code of a ``SyntheticInstitution`` and ``physician`` one of its physician codes.
    """

    vaccine: str
    dose: int
    date: datetime.date
    lot: str
    maker: str
    institution: str
    physician: str


@dataclass(frozen=True, slots=True)
class SyntheticResident:
    """One synthetic resident (住民, resident) with a vaccination history.

    ``address`` holds the 住所 and, after a full-width space, the 方書 (building and room) when
    there is one. ``guardian`` is the 宛名番号 of a parent in the same household for residents
    under 18 on the generation day.
    """

    atena: str
    mynumber: str
    name: str
    kana: str
    birth: datetime.date
    sex: str
    postal: str
    address: str
    household: str
    relation: str
    status: str
    status_date: datetime.date | None
    dv_flag: bool
    no_auto_answer: bool
    guardian: str | None
    vaccinations: tuple[SyntheticVaccination, ...]


@dataclass(frozen=True, slots=True)
class SyntheticInstitution:
    """A cooperating medical institution (協力医療機関) or vaccination venue (接種会場)."""

    code: str
    name: str
    physicians: tuple[tuple[str, str], ...]


VaccinationFactory = Callable[[str, int, datetime.date, str, str, str, str], SyntheticVaccination]


def vaccination_factory() -> VaccinationFactory:
    """A constructor equal to ``SyntheticVaccination(...)`` that skips the frozen-dataclass
    ``__setattr__`` detour, for the generator's inner loop (about 40 % faster).

    It fills the slots directly, so it is only correct while the class has exactly these
    fields and no ``__post_init__``; ``tests/test_demo_generator.py`` checks that.
    """
    new = object.__new__
    cls = SyntheticVaccination
    setters = [
        cast("Callable[[object, object], None]", getattr(cls, name).__set__)
        for name in ("vaccine", "dose", "date", "lot", "maker", "institution", "physician")
    ]
    set_vaccine, set_dose, set_date, set_lot, set_maker, set_institution, set_physician = setters

    def make(
        vaccine: str,
        dose: int,
        date: datetime.date,
        lot: str,
        maker: str,
        institution: str,
        physician: str,
    ) -> SyntheticVaccination:
        record = new(cls)
        set_vaccine(record, vaccine)
        set_dose(record, dose)
        set_date(record, date)
        set_lot(record, lot)
        set_maker(record, maker)
        set_institution(record, institution)
        set_physician(record, physician)
        return record

    return make

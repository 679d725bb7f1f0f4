"""Synthetic cooperating medical institutions (協力医療機関) and vaccination venues.

Codes have the shape of a 医療機関コード (medical institution code): prefecture ``99`` (no real
prefecture), ``1`` for medical care, a two-digit area, a four-digit serial and a check digit
(a Luhn digit here, for shape only). Physician codes (接種医コード) are six digits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from storage.demo.records import SyntheticInstitution
from storage.demo.tables import name_tables, place_tables

PAEDIATRIC_COUNT = 30
CLINIC_COUNT = 100
HOSPITAL_COUNT = 6
VENUE_COUNT = 5


@dataclass(frozen=True, slots=True)
class InstitutionPools:
    """The institutions by the kind of vaccination they mostly give."""

    paediatric: tuple[SyntheticInstitution, ...]
    clinics: tuple[SyntheticInstitution, ...]
    hospitals: tuple[SyntheticInstitution, ...]
    venues: tuple[SyntheticInstitution, ...]

    def all(self) -> list[SyntheticInstitution]:
        return [*self.paediatric, *self.clinics, *self.hospitals, *self.venues]


def _luhn_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"sesshu-demo-institutions-{seed}")
        self.names = name_tables()
        self.places = place_tables()
        self.serial = 0
        self.physician_serial = 100000 + self.rng.randrange(1000) * 100
        self.used_names: set[str] = set()

    def person(self) -> tuple[str, str]:
        rng = self.rng
        surname = rng.choice(self.names.surnames[:200])[0]
        era = "M" if rng.random() < 0.7 else "N"
        given = rng.choice(self.names.given[("M" if rng.random() < 0.6 else "F", era)])[0]
        return surname, f"{surname}\u3000{given}"

    def code(self) -> str:
        self.serial += 1 + self.rng.randrange(30)
        area = 1 + self.rng.randrange(9)
        body = f"991{area:02d}{self.serial:04d}"
        return body + _luhn_digit(body)

    def institution(self, name: str, physicians: int) -> SyntheticInstitution:
        staff: list[tuple[str, str]] = []
        for _ in range(physicians):
            self.physician_serial += 1 + self.rng.randrange(9)
            staff.append((f"{self.physician_serial:06d}", self.person()[1]))
        return SyntheticInstitution(self.code(), name, tuple(staff))

    def unique(self, make_name: str) -> str:
        name = make_name
        suffix = 2
        while name in self.used_names:
            name = f"{make_name}（第{suffix}）"
            suffix += 1
        self.used_names.add(name)
        return name

    def clinic_name(self, kinds: tuple[str, ...]) -> str:
        rng = self.rng
        kind = rng.choice(kinds)
        roll = rng.random()
        if roll < 0.35:
            prefix = rng.choice(self.places.clinic_prefixes)
        elif roll < 0.65:
            prefix = self.person()[0]
        else:
            prefix = rng.choice(self.places.towns)[0].removeprefix("大字")
        return self.unique(prefix + kind)


def institution_pools(seed: int) -> InstitutionPools:
    """The institutions of the synthetic city for ``seed``, grouped by kind."""
    builder = _Builder(seed)
    rng = builder.rng
    paediatric_kinds = ("小児科クリニック", "こどもクリニック", "小児科医院", "小児科")
    clinic_kinds = ("内科クリニック", "内科医院", "ファミリークリニック", "医院", "診療所", "内科")
    paediatric = tuple(
        builder.institution(builder.clinic_name(paediatric_kinds), 1 + rng.randrange(3))
        for _ in range(PAEDIATRIC_COUNT)
    )
    clinics = tuple(
        builder.institution(builder.clinic_name(clinic_kinds), 1 + rng.randrange(2))
        for _ in range(CLINIC_COUNT)
    )
    hospital_names = ("市立総合病院", "中央病院", "記念病院", "赤十字病院", "医療センター", "病院")
    hospitals = tuple(
        builder.institution(
            builder.unique(rng.choice(builder.places.clinic_prefixes) + kind),
            5 + rng.randrange(8),
        )
        for kind in hospital_names[:HOSPITAL_COUNT]
    )
    venue_names = ("市民体育館", "市役所本庁舎", "保健センター", "文化会館", "市民交流プラザ")
    venues = tuple(
        builder.institution(f"{name}（集団接種会場）", 8 + rng.randrange(8))
        for name in venue_names[:VENUE_COUNT]
    )
    return InstitutionPools(paediatric, clinics, hospitals, venues)


def generate_institutions(seed: int) -> list[SyntheticInstitution]:
    """Every institution the city generated with ``seed`` refers to, in a stable order."""
    return institution_pools(seed).all()

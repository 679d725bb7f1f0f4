"""The person view (個人画面): what a lookup shows about one resident, with the rules applied.

The 個人番号 is always masked here; revealing it is a separate, audited action. A protected
(支援措置) address is withheld unless a supervisor's reveal supplies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from core.changes import PendingChange
from core.identifiers import mask_mynumber
from core.japanese.wareki import age_at_fiscal_year_end, age_on, format_wareki
from core.residents import RecordStatus, Resident, Sex, Status, VaccinationRecord


@dataclass(frozen=True)
class ResidentSummary:
    """One search result row; ``address`` is None for a protected (DV) person."""

    atena: str
    name: str
    kana: str
    birth: date
    sex: Sex
    address: str | None
    status: Status
    dv_flag: bool


def summarise(resident: Resident) -> ResidentSummary:
    return ResidentSummary(
        atena=resident.atena,
        name=resident.name,
        kana=resident.kana,
        birth=resident.birth,
        sex=resident.sex,
        address=None if resident.dv_flag else resident.address,
        status=resident.status,
        dv_flag=resident.dv_flag,
    )


@dataclass(frozen=True)
class VaccineHistory:
    vaccine: str
    vaccine_name: str | None
    records: tuple[VaccinationRecord, ...]

    @property
    def pending(self) -> int:
        return sum(1 for r in self.records if r.status is RecordStatus.PENDING)


@dataclass(frozen=True)
class PersonView:
    resident: Resident
    birth_wareki: str
    age: int
    fiscal_year_end_age: int  # 年度末年齢
    address: str | None  # None when protected and not revealed
    address_protected: bool
    mynumber_masked: str
    has_mynumber: bool
    histories: tuple[VaccineHistory, ...]
    as_of: date
    pending_changes: tuple[PendingChange, ...] = ()  # proposed, awaiting a second person

    def pending_on(self, record_id: int) -> PendingChange | None:
        return next((c for c in self.pending_changes if c.record == record_id), None)


def group_by_vaccine(
    records: Iterable[VaccinationRecord], order: list[str] | None = None
) -> tuple[VaccineHistory, ...]:
    """Records grouped by vaccine (catalogue order, else first seen), each by dose and date."""
    groups: dict[str, list[VaccinationRecord]] = {}
    for record in records:
        groups.setdefault(record.vaccine, []).append(record)
    rank = {code: i for i, code in enumerate(order or [])}
    codes = sorted(groups, key=lambda c: (rank.get(c, len(rank)), c))
    return tuple(
        VaccineHistory(
            code,
            groups[code][0].vaccine_name,
            tuple(sorted(groups[code], key=lambda r: (r.dose or 0, r.date or date.min, r.id))),
        )
        for code in codes
    )


def person_view(
    resident: Resident,
    records: Iterable[VaccinationRecord],
    today: date,
    *,
    revealed_address: str | None = None,
    catalogue_order: list[str] | None = None,
    pending_changes: tuple[PendingChange, ...] = (),
) -> PersonView:
    died = resident.status_date if resident.status is Status.DECEASED else None
    as_of = min(today, died) if died else today
    address = resident.address if not resident.dv_flag else revealed_address
    return PersonView(
        resident=resident,
        birth_wareki=format_wareki(resident.birth),
        age=age_on(resident.birth, max(as_of, resident.birth)),
        fiscal_year_end_age=age_at_fiscal_year_end(resident.birth, max(today, resident.birth)),
        address=address,
        address_protected=resident.dv_flag,
        mynumber_masked=mask_mynumber(resident.mynumber),
        has_mynumber=resident.mynumber is not None,
        histories=group_by_vaccine(records, catalogue_order),
        as_of=today,
        pending_changes=pending_changes,
    )

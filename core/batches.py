"""Slip batches (伝票バッチ) keyed twice blind, compared, reconciled by a third person, committed.

The rules that keep double entry honest live here and in ``core.services.batches``:
the two passes are keyed by different people, the second never sees the first, and mismatches
are settled against the paper by someone who keyed neither pass (research/anchors_mission.md §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from core.catalog import Catalog, Vaccine, interval_reference, min_interval_ok
from core.slips import FIELDS, SlipValues

SLIP_FIELD = "slip"  # the pseudo-field of a slip that only one pass keyed
DROP = "drop"  # the only resolution of such a slip: it is not on paper, or not this batch's
Attribution = Literal["pass1", "pass2", "both", "none"]
Outcome = Literal["committed", "duplicate", "rejected"]


class BatchStatus(StrEnum):
    OPEN = "open"  # keying and reconciliation
    COMMITTED = "committed"  # verified slips are records; held duplicates may remain


@dataclass(frozen=True)
class Batch:
    id: int
    source: str  # 医療機関 or 医師会 monthly return
    received: date
    control_count: int  # slips counted on paper
    expected_vaccine: str | None
    status: BatchStatus
    created_by: str
    created_at: datetime
    committed_by: str | None = None
    committed_at: datetime | None = None
    override_reason: str | None = None
    version: int = 1


@dataclass(frozen=True)
class SlipEntry:
    """One pass's keying of one slip."""

    batch: int
    pass_no: int
    slip: str
    values: SlipValues
    keyed_by: str
    keyed_at: datetime
    duration_ms: int | None = None


@dataclass(frozen=True)
class Resolution:
    """A reconciler's decision on one field, read from the paper."""

    batch: int
    slip: str
    field: str
    value: str | None
    pass1: str | None
    pass2: str | None
    attribution: Attribution  # which pass was wrong
    reason: str
    resolved_by: str
    resolved_at: datetime


@dataclass(frozen=True)
class SlipOutcome:
    batch: int
    slip: str
    outcome: Outcome
    record: int | None = None
    flags: tuple[str, ...] = ()
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class RecordKey:
    """What duplicate and dose-order checks need of an existing record."""

    vaccine: str
    dose: int | None
    date: date | None


@dataclass(frozen=True)
class NewRecord:
    atena: str
    vaccine: str
    dose: int | None
    date: date | None
    date_unknown: bool
    amount: str | None
    maker: str | None
    lot: str | None
    institution: str | None
    physician: str | None
    venue: str | None
    copay: str | None
    note: str | None
    status: str
    source: str
    keyed_by: str | None
    verified_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class Mismatch:
    slip: str
    field: str
    pass1: str | None
    pass2: str | None
    resolution: Resolution | None = None


@dataclass(frozen=True)
class Comparison:
    """Both passes side by side, with the reconciler's decisions applied."""

    matched: tuple[str, ...]  # slips whose two passes agree in every field
    mismatches: tuple[Mismatch, ...]  # resolved ones included, with their resolution
    verified: Mapping[str, SlipValues] = field(default_factory=dict)  # slip → final values
    dropped: tuple[str, ...] = ()

    @property
    def open_mismatches(self) -> list[Mismatch]:
        return [m for m in self.mismatches if m.resolution is None]

    @property
    def slips(self) -> set[str]:
        return set(self.matched) | {m.slip for m in self.mismatches}


def attribute(value: str | None, pass1: str | None, pass2: str | None) -> Attribution:
    """Which pass was wrong, judged by the value read from the paper."""
    if value == pass1 and value == pass2:
        return "none"
    if value == pass1:
        return "pass2"
    if value == pass2:
        return "pass1"
    return "both"


def compare(
    first: Iterable[SlipEntry], second: Iterable[SlipEntry], resolutions: Iterable[Resolution]
) -> Comparison:
    one = {e.slip: e.values for e in first}
    two = {e.slip: e.values for e in second}
    decided = {(r.slip, r.field): r for r in resolutions}
    matched: list[str] = []
    mismatches: list[Mismatch] = []
    verified: dict[str, SlipValues] = {}
    dropped: list[str] = []
    for slip in sorted(one.keys() | two.keys(), key=_slip_order):
        if slip not in one or slip not in two:
            resolution = decided.get((slip, SLIP_FIELD))
            mismatches.append(
                Mismatch(
                    slip,
                    SLIP_FIELD,
                    slip if slip in one else None,
                    slip if slip in two else None,
                    resolution,
                )
            )
            if resolution is not None:
                dropped.append(slip)
            continue
        final = dict(one[slip])
        settled = True
        differing = [f for f in FIELDS if one[slip].get(f) != two[slip].get(f)]
        for name in differing:
            resolution = decided.get((slip, name))
            mismatches.append(
                Mismatch(slip, name, one[slip].get(name), two[slip].get(name), resolution)
            )
            if resolution is None:
                settled = False
            else:
                final[name] = resolution.value
        if not differing:
            matched.append(slip)
        if settled:
            verified[slip] = final
    return Comparison(tuple(matched), tuple(mismatches), verified, tuple(dropped))


def _slip_order(slip: str) -> tuple[int, int, str]:
    return (0, int(slip), "") if slip.isdecimal() else (1, 0, slip)


@dataclass(frozen=True)
class Duplicate:
    slip: str
    atena: str
    reason: Literal["same_dose", "same_date", "in_batch"]


def find_duplicate(
    slip: str,
    values: SlipValues,
    history: Iterable[RecordKey],
    earlier_in_batch: Iterable[SlipValues],
    vaccine: Vaccine | None = None,
) -> Duplicate | None:
    """Same person, vaccine and dose, or same person, vaccine and date, already recorded.

    For a recurring vaccine (one dose per season) the same dose means the same season.
    """
    atena = values["atena"] or ""
    code, day = values["vaccine"], values["date"]
    this = RecordKey(code or "", _int(values["dose"]), date.fromisoformat(day) if day else None)
    for other in earlier_in_batch:
        if other["atena"] == atena and _same(this, record_key(other), vaccine):
            return Duplicate(slip, atena, "in_batch")
    for key in history:
        if key.vaccine != code:
            continue
        if _same_dose(this, key, vaccine):
            return Duplicate(slip, atena, "same_dose")
        if this.date is not None and key.date == this.date:
            return Duplicate(slip, atena, "same_date")
    return None


def record_key(values: SlipValues) -> RecordKey:
    day = values["date"]
    return RecordKey(
        values["vaccine"] or "", _int(values["dose"]), date.fromisoformat(day) if day else None
    )


def _same(a: RecordKey, b: RecordKey, vaccine: Vaccine | None) -> bool:
    return a.vaccine == b.vaccine and (
        _same_dose(a, b, vaccine) or (a.date is not None and a.date == b.date)
    )


def _same_dose(a: RecordKey, b: RecordKey, vaccine: Vaccine | None) -> bool:
    if vaccine is not None and vaccine.recurring and vaccine.season is not None:
        if a.date is None or b.date is None:
            return False
        season = vaccine.season.season_of(a.date)
        return season is not None and season == vaccine.season.season_of(b.date)
    return a.dose is not None and a.dose == b.dose


def dose_flags(values: SlipValues, history: Iterable[RecordKey], catalog: Catalog) -> list[str]:
    """Dose-order and interval problems, flagged for follow-up (the slip is still recorded)."""
    vaccine = catalog.get(values["vaccine"] or "")
    dose = _int(values["dose"])
    if vaccine is None or dose is None or dose > vaccine.dose_count or vaccine.recurring:
        return []
    same = [k for k in history if k.vaccine == vaccine.code]
    flags: list[str] = []
    if dose > 1 and not any(k.dose == dose - 1 for k in same):
        flags.append("dose_order")
    reference = interval_reference(vaccine, dose)
    day = date.fromisoformat(values["date"]) if values["date"] else None
    earlier = [k.date for k in same if k.dose == reference and k.date is not None]
    if (
        reference is not None
        and day is not None
        and earlier
        and not min_interval_ok(vaccine, dose, earlier[0], day)
    ):
        flags.append("interval")
    return flags


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def to_record(
    batch_id: int, slip: str, values: SlipValues, keyed_by: str, verified_by: str, now: datetime
) -> NewRecord:
    return NewRecord(
        atena=values["atena"] or "",
        vaccine=values["vaccine"] or "",
        dose=_int(values["dose"]),
        date=date.fromisoformat(values["date"]) if values["date"] else None,
        date_unknown=bool(values["date_unknown"]),
        amount=values["amount"],
        maker=values["maker"],
        lot=values["lot"],
        institution=values["institution"],
        physician=values["physician"],
        venue=values["venue"],
        copay=values["copay"],
        note=values["note"],
        status="verified",
        source=f"batch:{batch_id}:{slip}",
        keyed_by=keyed_by,
        verified_by=verified_by,
        created_at=now,
    )


@dataclass(frozen=True)
class KeyerStats:
    """Keying statistics of one operator (入力者別の実績)."""

    user: str
    slips: int
    fields: int
    errors: int  # fields the reconciler found wrong in this operator's pass
    seconds: float

    @property
    def errors_per_thousand(self) -> float:
        return round(self.errors * 1000 / self.fields, 2) if self.fields else 0.0

    @property
    def slips_per_hour(self) -> float | None:
        return round(self.slips * 3600 / self.seconds, 1) if self.seconds > 0 else None

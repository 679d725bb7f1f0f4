"""Four-eyes changes (修正の申請と確認) to records and residents, outside batches.

Every registration, correction or deletion of a vaccination record (接種記録) or a resident detail
(住民情報) made outside a batch is first a pending change: before and after values, the evidence
(a counter application, 窓口申請, with the ID document checked; or a phone inquiry, 電話照会), and
a reason. It takes effect only when another person confirms it (seed 002 L1884).

This module holds the vocabulary; ``core.change_rules`` the checks a proposal must pass, and
``core.services.changes`` the reading, writing and auditing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from core.errors import InvalidValue, Issue
from core.residents import RecordStatus, Resident

FieldValue = str | int | bool | None
Values = Mapping[str, FieldValue]

FIELD_PREFIX = "change."  # issue fields are labelled from the catalogue's [field.change] table
MAX_DOSE = 20
MAX_TEXT = 200


class ChangeKind(StrEnum):
    RECORD_ADD = "record.add"  # 接種記録の登録
    RECORD_CORRECT = "record.correct"  # 接種記録の修正
    RECORD_VOID = "record.void"  # 接種記録の削除 (kept, voided with the reason)
    RESIDENT_CORRECT = "resident.correct"  # 住民情報の修正

    @property
    def on_record(self) -> bool:
        return self is not ChangeKind.RESIDENT_CORRECT


class Evidence(StrEnum):
    COUNTER = "counter"  # 窓口申請
    PHONE = "phone"  # 電話照会


class IdDocument(StrEnum):
    """本人確認書類 checked at the counter."""

    MYNUMBER_CARD = "mynumber_card"  # マイナンバーカード
    DRIVERS_LICENSE = "drivers_license"  # 運転免許証
    PASSPORT = "passport"  # パスポート
    HEALTH_INSURANCE = "health_insurance"  # 健康保険証
    OTHER = "other"  # その他


class ChangeStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


RECORD_FIELDS = (
    "vaccine",
    "dose",
    "date",
    "date_unknown",
    "lot",
    "maker",
    "institution",
    "physician",
    "amount",
    "venue",
    "copay",
    "note",
)
RESIDENT_FIELDS = ("name", "kana", "postal", "address")
# Shown only to a supervisor when the resident is under 支援措置 (DV support).
PROTECTED_FIELDS = frozenset({"postal", "address"})


@dataclass(frozen=True)
class ChangeRequest:
    """A change as typed: field values are text in any accepted form (dates in 和暦 too)."""

    kind: str
    atena: str
    values: Mapping[str, str] = field(default_factory=dict)
    record: int | None = None
    evidence: str = ""
    id_document: str | None = None
    reason: str = ""
    base_version: int | None = None  # the version the proposer saw, if a screen read it


@dataclass(frozen=True)
class PendingChange:
    id: int
    kind: ChangeKind
    atena: str  # 宛名番号
    record: int | None
    before: Values
    after: Values
    evidence: Evidence
    id_document: IdDocument | None
    reason: str
    proposed_by: str
    proposed_at: datetime
    status: ChangeStatus
    base_version: int | None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    withheld: tuple[str, ...] = ()  # fields whose values this viewer may not see
    person_name: str | None = None  # 氏名 of the resident, for display
    record_label: str | None = None  # the record's vaccine and dose, for display

    @property
    def fields(self) -> list[str]:
        order = RECORD_FIELDS if self.kind.on_record else RESIDENT_FIELDS
        present = set(self.before) | set(self.after)
        return [f for f in order if f in present]

    def digest(self) -> str:
        """A fingerprint of what changes, for the audit trail (which never holds the values)."""
        body = json.dumps([self.before, self.after], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RecordSnapshot:
    """A vaccination record as a change reads it: every field, its status and version."""

    id: int
    atena: str
    status: RecordStatus
    version: int
    values: Values


def _issue(name: str, key: str, **params: object) -> Issue:
    return Issue(FIELD_PREFIX + name, key, params)


def parse_kind(text: str) -> ChangeKind:
    try:
        return ChangeKind(text.strip().lower())
    except ValueError:
        raise InvalidValue(
            FIELD_PREFIX + "kind", "change.kind_unknown", accepted=", ".join(ChangeKind)
        ) from None


def parse_status(text: str) -> ChangeStatus:
    try:
        return ChangeStatus(text.strip().lower())
    except ValueError:
        raise InvalidValue(
            FIELD_PREFIX + "status", "change.status_unknown", accepted=", ".join(ChangeStatus)
        ) from None


def resident_values(resident: Resident) -> dict[str, FieldValue]:
    return {
        "name": resident.name,
        "kana": resident.kana,
        "postal": resident.postal,
        "address": resident.address,
    }


def withhold(change: PendingChange) -> PendingChange:
    """The change with protected (支援措置) fields blanked, for a viewer who may not see them."""
    hidden = tuple(f for f in change.fields if f in PROTECTED_FIELDS)
    if not hidden:
        return change
    return replace(
        change,
        before={k: (None if k in hidden else v) for k, v in change.before.items()},
        after={k: (None if k in hidden else v) for k, v in change.after.items()},
        withheld=hidden,
    )


def touches_protected(kind: ChangeKind, names: Collection[str]) -> bool:
    return kind is ChangeKind.RESIDENT_CORRECT and bool(PROTECTED_FIELDS & set(names))

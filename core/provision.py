"""Manual information provision (情報提供) cases: recipients, legal bases, cases, the stratified
sample, the hash an approval is bound to, and the ledger (管理簿) stages.

Rules that need no store live here as plain functions; ``core.services.provision`` applies them.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from core.errors import InvalidValue, Issue, ValidationFailed
from core.identifiers import normalize_municipality_code


class RecipientKind(StrEnum):
    PREFECTURE = "prefecture"
    MUNICIPALITY = "municipality"
    MINISTRY = "ministry"
    CONTRACTOR = "contractor"


CODED_KINDS = frozenset({RecipientKind.PREFECTURE, RecipientKind.MUNICIPALITY})
AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")
ITEMS = ("atena", "name", "kana", "birth", "sex", "address", "mynumber", "history")
DELIVERIES = ("media", "list")


class CaseStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTED = "executed"
    CLOSED = "closed"


class FlagDecision(StrEnum):
    OPEN = "open"  # flagged, not yet decided: blocks approval
    CONFIRMED = "confirmed"  # flagged, explicitly kept
    REMOVED = "removed"  # taken out of the case


class Stage(StrEnum):
    EXTRACTION = "extraction"
    MEDIA_WRITTEN = "media_written"
    INTERNAL_HANDOVER = "internal_handover"
    EXTERNAL_HANDOVER = "external_handover"
    TRANSPORT = "transport"
    ERASURE_REPORTED = "erasure_reported"


REQUIRED_STAGES = (
    Stage.EXTRACTION,
    Stage.MEDIA_WRITTEN,
    Stage.INTERNAL_HANDOVER,
    Stage.EXTERNAL_HANDOVER,
    Stage.ERASURE_REPORTED,
)
RECORD_YEARS = 7


@dataclass(frozen=True)
class Recipient:
    id: int
    name: str
    kind: RecipientKind
    code: str | None
    contact: str
    age_recipients: tuple[str, ...]
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class LegalBasis:
    key: str
    title: str
    title_en: str
    items: tuple[str, ...]
    mynumber: bool


@dataclass(frozen=True)
class Stratum:
    sex: str  # "M", "F" or "*" for both
    age_from: int
    age_to: int  # inclusive
    share: float

    @property
    def label(self) -> str:
        return f"{self.sex}:{self.age_from}-{self.age_to}"


@dataclass(frozen=True)
class Selection:
    """How the persons were chosen; recorded so a sample can be drawn again."""

    method: str  # "list" or "sample"
    size: int = 0
    seed: str = ""
    reference_date: str = ""
    strata: tuple[Stratum, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "method": self.method,
                "size": self.size,
                "seed": self.seed,
                "reference_date": self.reference_date,
                "strata": [[s.sex, s.age_from, s.age_to, s.share] for s in self.strata],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Selection:
        data = json.loads(text)
        strata = tuple(Stratum(s[0], int(s[1]), int(s[2]), float(s[3])) for s in data["strata"])
        return cls(data["method"], data["size"], data["seed"], data["reference_date"], strata)


@dataclass(frozen=True)
class CasePerson:
    atena: str
    flags: tuple[str, ...]  # dv, deceased, moved_out, no_auto_answer
    decision: FlagDecision | None  # None: not flagged

    @property
    def included(self) -> bool:
        return self.decision is not FlagDecision.REMOVED


@dataclass(frozen=True)
class Case:
    id: int
    requester: str
    staff: tuple[str, ...]
    supervisor: str
    recipient: int
    basis: str
    purpose: str
    items: tuple[str, ...]
    delivery: str
    retention_deadline: date | None
    approval_ref: str
    selection: Selection
    status: CaseStatus
    created_at: datetime
    approved_hash: str = ""
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str = ""
    checked_by: str | None = None
    checked_at: datetime | None = None
    checked_hash: str = ""
    executed_by: str | None = None
    executed_at: datetime | None = None
    version: int = 1


@dataclass(frozen=True)
class StageEntry:
    case: int
    stage: Stage
    at: datetime
    user: str
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProvisionRecord:
    """番号法第23条 provision record: kept at least seven years; refusals too."""

    id: int
    case: int | None
    outcome: str  # provided, rejected, refused
    at: datetime
    requester: str
    approver: str | None
    executor: str | None
    recipient: str
    basis: str
    items: tuple[str, ...]
    persons: int
    content_hash: str
    reason: str
    keep_until: date


# --- validation -------------------------------------------------------------------------------


def parse_recipient_kind(text: str) -> RecipientKind:
    try:
        return RecipientKind(text.strip().lower())
    except ValueError:
        accepted = ", ".join(k.value for k in RecipientKind)
        raise InvalidValue("kind", "provision.recipient_kind", accepted=accepted) from None


def check_recipient(
    name: str, kind: RecipientKind, code: str | None, age_keys: list[str]
) -> tuple[str, str | None, tuple[str, ...]]:
    issues: list[Issue] = []
    clean_name = name.strip()
    if not clean_name:
        issues.append(Issue("name", "provision.name_required"))
    clean_code: str | None = None
    if code and code.strip():
        try:
            clean_code = normalize_municipality_code(code, "code")
        except ValidationFailed as bad:
            issues.extend(bad.issues)
    elif kind in CODED_KINDS:
        issues.append(Issue("code", "provision.code_required"))
    keys = tuple(k.strip() for k in age_keys if k.strip())
    for key in keys:
        if not AGE_RECIPIENT.match(key):
            issues.append(Issue("age_recipient", "provision.age_key", {"key": key[:12]}))
    if issues:
        raise ValidationFailed(issues)
    return clean_name, clean_code, keys


def parse_items(text: str | list[str]) -> tuple[str, ...]:
    words = text.split(",") if isinstance(text, str) else text
    items = tuple(dict.fromkeys(w.strip().lower() for w in words if w.strip()))
    unknown = [i for i in items if i not in ITEMS]
    if not items or unknown:
        raise InvalidValue("items", "provision.items", accepted=", ".join(ITEMS))
    return items


def check_items(items: tuple[str, ...], basis: LegalBasis) -> None:
    """Only what the basis allows; the 個人番号 only where the basis says so."""
    if "mynumber" in items and not basis.mynumber:
        raise InvalidValue("items", "provision.mynumber_not_allowed", basis=basis.key)
    extra = [i for i in items if i not in basis.items]
    if extra:
        raise InvalidValue(
            "items",
            "provision.items_not_allowed",
            basis=basis.key,
            items=", ".join(extra),
            accepted=", ".join(basis.items),
        )


def parse_strata(text: str) -> tuple[Stratum, ...]:
    """CSV lines ``sex,age_from,age_to,share`` (a header line is allowed; ``#`` comments).

    ``sex`` is M, F or * (both); the shares need not sum to 1 — they are weights.
    """
    strata: list[Stratum] = []
    issues: list[Issue] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.lower().startswith("sex"):
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            sex, low, high, share = parts[0].upper(), int(parts[1]), int(parts[2]), float(parts[3])
            if sex not in ("M", "F", "*") or not 0 <= low <= high or share <= 0:
                raise ValueError
            strata.append(Stratum(sex, low, high, share))
        except (ValueError, IndexError):
            issues.append(Issue("strata", "provision.strata_line", {"line": number}))
    if not strata and not issues:
        issues.append(Issue("strata", "provision.strata_empty"))
    if issues:
        raise ValidationFailed(issues)
    return tuple(strata)


def allocate(size: int, strata: tuple[Stratum, ...]) -> list[int]:
    """Persons per stratum by largest remainder: the counts sum to ``size`` exactly and each
    is within one of its share."""
    total = sum(s.share for s in strata)
    quotas = [size * s.share / total for s in strata]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(strata)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for index in order[: size - sum(counts)]:
        counts[index] += 1
    return counts


def born_between(stratum: Stratum, on: date) -> tuple[date, date]:
    """The birth dates of someone aged ``age_from``..``age_to`` on ``on``."""
    latest = _years_before(on, stratum.age_from)
    earliest = _years_before(on, stratum.age_to + 1)
    return date.fromordinal(earliest.toordinal() + 1), latest


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def draw(frame: list[str], count: int, seed: str, stratum: Stratum) -> list[str]:
    """``count`` persons of a stratum's frame (sorted 宛名番号), reproducible from the seed."""
    if count > len(frame):
        raise InvalidValue(
            "sample",
            "provision.stratum_short",
            stratum=stratum.label,
            wanted=count,
            available=len(frame),
        )
    rng = random.Random(f"{seed}|{stratum.label}")
    return sorted(rng.sample(sorted(frame), count))


def case_fingerprint(
    case: Case,
    recipient: Recipient,
    persons: list[CasePerson],
    data_hash: str,
) -> str:
    """What an approval is bound to: every parameter, each person and decision, and the data."""
    document = {
        "recipient": [recipient.id, recipient.name, recipient.code, list(recipient.age_recipients)],
        "basis": case.basis,
        "purpose": case.purpose,
        "items": list(case.items),
        "delivery": case.delivery,
        "retention_deadline": case.retention_deadline.isoformat()
        if case.retention_deadline
        else None,
        "approval_ref": case.approval_ref,
        "staff": list(case.staff),
        "supervisor": case.supervisor,
        "selection": case.selection.to_json(),
        "persons": [[p.atena, p.decision.value if p.decision else ""] for p in persons],
        "data": data_hash,
    }
    canonical = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def missing_stages(done: set[Stage]) -> list[Stage]:
    return [stage for stage in REQUIRED_STAGES if stage not in done]


def keep_until(at: datetime) -> date:
    return _years_before(at.date(), -RECORD_YEARS)


DEFAULT_BASES = (
    LegalBasis(
        "survey-sample",
        "感染症流行予測調査の対象者名簿（基本4情報）",
        "Survey sample list for the infectious disease surveillance (4 basic items)",
        ("name", "birth", "sex", "address"),
        False,
    ),
    LegalBasis(
        "municipal-history",
        "他市区町村からの予防接種歴の照会（転出入者）",
        "Vaccination history inquiry from another municipality (movers)",
        ("atena", "name", "kana", "birth", "sex", "address", "mynumber", "history"),
        True,
    ),
    LegalBasis(
        "prefecture-inquiry",
        "都道府県からの予防接種記録の照会",
        "Inquiry from the prefecture about vaccination records",
        ("name", "kana", "birth", "sex", "history"),
        False,
    ),
    LegalBasis(
        "ministry-list",
        "厚生労働省への名簿提供（健康被害救済等）",
        "List for the Ministry of Health, Labour and Welfare (injury relief and similar)",
        ("name", "kana", "birth", "sex", "address", "history"),
        False,
    ),
)

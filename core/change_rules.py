"""The rules a proposed change must pass (修正の申請の点検), as pure functions.

Typed values are parsed into their stored form (dates in any 和暦 or 西暦 form, kana to
full-width katakana, postal codes to 123-4567); every problem is collected and reported at once
as ``ValidationFailed``. Names keep their exact characters (異体字 such as 﨑 are never folded).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date

from core.changes import (
    FIELD_PREFIX,
    MAX_DOSE,
    MAX_TEXT,
    RECORD_FIELDS,
    RESIDENT_FIELDS,
    ChangeKind,
    ChangeRequest,
    Evidence,
    FieldValue,
    IdDocument,
    RecordSnapshot,
    Values,
    parse_kind,
    resident_values,
)
from core.errors import InvalidValue, Issue, ValidationFailed
from core.japanese.kana import is_kana_name, to_katakana
from core.japanese.wareki import parse_date
from core.residents import Resident, Status

_EVIDENCE_WORDS = {
    "counter": Evidence.COUNTER,
    "窓口": Evidence.COUNTER,
    "窓口申請": Evidence.COUNTER,
    "phone": Evidence.PHONE,
    "電話": Evidence.PHONE,
    "電話照会": Evidence.PHONE,
}
_ID_DOCUMENT_WORDS = {
    **{d.value: d for d in IdDocument},
    "マイナンバーカード": IdDocument.MYNUMBER_CARD,
    "個人番号カード": IdDocument.MYNUMBER_CARD,
    "運転免許証": IdDocument.DRIVERS_LICENSE,
    "パスポート": IdDocument.PASSPORT,
    "旅券": IdDocument.PASSPORT,
    "健康保険証": IdDocument.HEALTH_INSURANCE,
    "保険証": IdDocument.HEALTH_INSURANCE,
    "その他": IdDocument.OTHER,
}
_TRUE = frozenset({"1", "true", "yes", "y", "はい", "有"})
_FALSE = frozenset({"0", "false", "no", "n", "いいえ", "無", ""})


@dataclass(frozen=True)
class Proposal:
    """What the rules accepted, ready to be stored."""

    kind: ChangeKind
    before: dict[str, FieldValue]
    after: dict[str, FieldValue]
    evidence: Evidence
    id_document: IdDocument | None
    reason: str
    base_version: int | None


def _issue(field_name: str, key: str, /, **params: object) -> Issue:
    return Issue(FIELD_PREFIX + field_name, key, params)


def _text(raw: str) -> str | None:
    """Trimmed text; the characters themselves are kept exactly (異体字 such as 﨑 stay)."""
    return raw.strip() or None


class _Parser:
    """Turns typed field values into stored ones, collecting every problem."""

    def __init__(self, known_vaccines: Collection[str]) -> None:
        self.known_vaccines = known_vaccines
        self.issues: list[Issue] = []

    def value(self, name: str, raw: str) -> FieldValue:
        try:
            return self._value(name, raw)
        except InvalidValue as error:
            self.issues.extend(
                replace(i, field=FIELD_PREFIX + name) if not i.field.startswith(FIELD_PREFIX) else i
                for i in error.issues
            )
            return None

    def _value(self, name: str, raw: str) -> FieldValue:
        text = _text(raw)
        if text is not None and len(text) > MAX_TEXT:
            raise InvalidValue(name, "change.too_long", maximum=MAX_TEXT)
        if name == "vaccine":
            code = unicodedata.normalize("NFKC", text or "").upper() or None
            if code is not None and code not in self.known_vaccines:
                raise InvalidValue(name, "change.vaccine_unknown", code=code)
            return code
        if name == "dose":
            return _dose(text)
        if name == "date":
            return parse_date(text, FIELD_PREFIX + name).isoformat() if text else None
        if name == "date_unknown":
            flag = unicodedata.normalize("NFKC", text or "").lower()
            if flag not in _TRUE | _FALSE:
                raise InvalidValue(name, "change.flag_format")
            return flag in _TRUE
        if name == "kana":
            kana = to_katakana(text or "")
            if kana and not is_kana_name(kana):
                raise InvalidValue(name, "change.kana_format")
            return kana or None
        if name == "postal":
            return _postal(text)
        return text


def _dose(text: str | None) -> int | None:
    if text is None:
        return None
    digits = unicodedata.normalize("NFKC", text)
    if not digits.isdecimal() or not digits.isascii():
        raise InvalidValue("dose", "change.dose_format")
    dose = int(digits)
    if not 1 <= dose <= MAX_DOSE:
        raise InvalidValue("dose", "change.dose_range", maximum=MAX_DOSE)
    return dose


def _postal(text: str | None) -> str | None:
    if text is None:
        return None
    digits = unicodedata.normalize("NFKC", text).replace("〒", "").replace("-", "").strip()
    if len(digits) != 7 or not digits.isdecimal() or not digits.isascii():
        raise InvalidValue("postal", "change.postal_format")
    return f"{digits[:3]}-{digits[3:]}"


def _header(request: ChangeRequest, issues: list[Issue]) -> tuple[Evidence, IdDocument | None]:
    evidence = _EVIDENCE_WORDS.get(unicodedata.normalize("NFKC", request.evidence).strip().lower())
    document_text = unicodedata.normalize("NFKC", request.id_document or "").strip().lower()
    document = _ID_DOCUMENT_WORDS.get(document_text) if document_text else None
    if evidence is None:
        issues.append(_issue("evidence", "change.evidence_unknown"))
    if document_text and document is None:
        issues.append(_issue("id_document", "change.id_document_unknown"))
    if evidence is Evidence.COUNTER and not document_text:
        issues.append(_issue("id_document", "change.id_document_required"))
    if evidence is Evidence.PHONE and document_text:
        issues.append(_issue("id_document", "change.id_document_phone"))
    if not (request.reason or "").strip():
        issues.append(_issue("reason", "change.reason_required"))
    return evidence or Evidence.COUNTER, document


def check_proposal(
    request: ChangeRequest,
    resident: Resident,
    record: RecordSnapshot | None,
    *,
    known_vaccines: Collection[str],
    today: date,
) -> Proposal:
    """Apply every rule to a request; raise ``ValidationFailed`` listing all the problems.

    ``record`` is the stored record named by ``request.record`` (already checked to belong to
    the resident), or None.
    """
    kind = parse_kind(request.kind)
    issues: list[Issue] = []
    evidence, document = _header(request, issues)
    structural = _structure_issues(kind, request)
    typed, field_issues = _parse_values(kind, request.values, known_vaccines)
    if structural:
        raise ValidationFailed([*issues, *structural, *field_issues])
    failed = {i.field for i in field_issues}
    typed = {k: v for k, v in typed.items() if FIELD_PREFIX + k not in failed}
    if kind.on_record:
        current: dict[str, FieldValue] = (
            dict(record.values) if record else dict.fromkeys(RECORD_FIELDS)
        )
        if record is None:
            current["date_unknown"] = False
        base = record.version if record else 1
    else:
        current, base = resident_values(resident), resident.version
    if kind is ChangeKind.RECORD_ADD:
        before: dict[str, FieldValue] = {}
        after: dict[str, FieldValue] = {k: v for k, v in typed.items() if v not in (None, False)}
    elif kind is ChangeKind.RECORD_VOID:
        before, after = dict(current), {}
    else:
        after = {k: v for k, v in typed.items() if v != current.get(k)}
        before = {k: current.get(k) for k in after}
        if not after and not field_issues:
            issues.append(_issue("values", "change.nothing_changed"))
    whole = _whole_issues(kind, {**current, **typed}, after, resident, today)
    issues += field_issues + [i for i in whole if i.field not in failed]
    if issues:
        raise ValidationFailed(issues)
    return Proposal(kind, before, after, evidence, document, request.reason.strip(), base)


def _structure_issues(kind: ChangeKind, request: ChangeRequest) -> list[Issue]:
    """Whether a record is named and values are given, as the kind requires."""
    issues = []
    if kind in (ChangeKind.RECORD_CORRECT, ChangeKind.RECORD_VOID) and request.record is None:
        issues.append(_issue("record", "change.record_required"))
    if kind in (ChangeKind.RECORD_ADD, ChangeKind.RESIDENT_CORRECT) and request.record is not None:
        issues.append(_issue("record", "change.record_not_allowed"))
    if kind is ChangeKind.RECORD_VOID and request.values:
        issues.append(_issue("values", "change.values_not_allowed"))
    elif kind is not ChangeKind.RECORD_VOID and not request.values:
        issues.append(_issue("values", "change.values_required"))
    return issues


def _parse_values(
    kind: ChangeKind, values: Mapping[str, str], known_vaccines: Collection[str]
) -> tuple[dict[str, FieldValue], list[Issue]]:
    if kind is ChangeKind.RECORD_VOID:
        return {}, []
    allowed = RECORD_FIELDS if kind.on_record else RESIDENT_FIELDS
    parser = _Parser(known_vaccines)
    typed: dict[str, FieldValue] = {}
    for name, raw in values.items():
        if name in allowed:
            typed[name] = parser.value(name, raw)
        else:
            parser.issues.append(
                _issue("values", "change.field_unknown", name=name, accepted=", ".join(allowed))
            )
    return typed, parser.issues


def _whole_issues(
    kind: ChangeKind, merged: Values, after: Values, resident: Resident, today: date
) -> list[Issue]:
    if kind is ChangeKind.RECORD_ADD:
        return record_issues(merged, resident, today)
    if kind is ChangeKind.RECORD_CORRECT:
        # Only what the correction touches: a legacy problem elsewhere is not this change's.
        touched = {FIELD_PREFIX + ("date" if n == "date_unknown" else n) for n in after}
        return [i for i in record_issues(merged, resident, today) if i.field in touched]
    if kind is ChangeKind.RESIDENT_CORRECT:
        return [_issue(n, "change.value_required") for n in ("name", "kana") if not merged[n]]
    return []


def record_issues(values: Values, resident: Resident, today: date) -> list[Issue]:
    """Checks on a whole record: vaccine and dose given, a plausible date or the unknown flag."""
    issues = [_issue(n, "change.value_required") for n in ("vaccine", "dose") if not values[n]]
    day = date.fromisoformat(str(values["date"])) if values["date"] else None
    if day is None and not values["date_unknown"]:
        issues.append(_issue("date", "change.date_required"))
    if day is not None and values["date_unknown"]:
        issues.append(_issue("date", "change.date_with_unknown"))
    if day is not None and day > today:
        issues.append(_issue("date", "change.date_future"))
    if day is not None and day < resident.birth:
        issues.append(_issue("date", "change.date_before_birth"))
    died = resident.status_date if resident.status is Status.DECEASED else None
    if day is not None and died is not None and day > died:
        issues.append(_issue("date", "change.date_after_death"))
    return issues

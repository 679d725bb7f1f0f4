"""One keyed slip (予診票 / 接種済証): its fields, how each is normalised, and the checks.

Normalising first means the comparison of the two blind passes never reports a false mismatch
for the same value written two ways: kana width, 和暦 vs 西暦, zero fill, blank vs empty.
Every value is kept as a canonical string (or None for blank).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from core.catalog import Catalog, age_window, cohort_ok, dose_in_range
from core.errors import InvalidValue, Issue, ValidationFailed
from core.japanese.wareki import parse_date
from core.masters import MasterKind, Masters
from core.residents import Resident, normalize_atena

SlipValues = dict[str, str | None]

FIELDS: tuple[str, ...] = (
    "atena",  # 宛名番号
    "vaccine",  # 接種コード
    "dose",  # 接種回
    "date",  # 接種日
    "date_unknown",  # 接種日不明
    "lot",  # ロット番号
    "maker",  # 製造メーカー
    "institution",  # 接種機関
    "physician",  # 接種医 (code, or the name as written)
    "amount",  # 接種量 (mL)
    "venue",  # 会場
    "copay",  # 自己負担区分
    "note",  # 備考
)
REQUIRED = ("atena", "vaccine", "dose", "institution")
MAX_TEXT = 200
_DASHES = re.compile("[‐‑‒–—―−－ｰー]")
_SPACES = re.compile(r"\s+")
_TRUE = {"1", "true", "yes", "y", "on", "不明", "○", "x"}
_FALSE = {"", "0", "false", "no", "n", "off"}


def _nfkc(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def normalize_slip_no(value: object) -> str:
    """伝票番号: zero fill ignored (007 = 7), width ignored."""
    text = _nfkc(value).upper()
    if not text or len(text) > 20 or not re.fullmatch(r"[0-9A-Z-]+", text):
        raise InvalidValue("slip", "slip.slip_format")
    return str(int(text)) if text.isdecimal() else text


def _atena(value: object) -> str | None:
    text = _nfkc(value)
    return normalize_atena(text) if text else None


def _code(kind: MasterKind) -> Callable[[object, Masters], str | None]:
    def parse(value: object, masters: Masters) -> str | None:
        text = _nfkc(value).upper()
        if not text:
            return None
        if masters.get(kind, text) is not None:
            return text
        named = masters.by_name(kind, text)
        if named is not None:
            return named.code
        raise InvalidValue(kind.value, f"slip.{kind.value}_unknown")

    return parse


def _dose(value: object) -> str | None:
    text = _nfkc(value)
    if not text:
        return None
    if not text.isdecimal() or not 1 <= int(text) <= 99:
        raise InvalidValue("dose", "slip.dose_format")
    return str(int(text))


def _date(value: object) -> str | None:
    text = _nfkc(value)
    return parse_date(text, "date").isoformat() if text else None


def _flag(value: object) -> str | None:
    text = _nfkc(value).lower()
    if text in _FALSE:
        return None
    if text in _TRUE:
        return "1"
    raise InvalidValue("date_unknown", "slip.flag_format")


def _lot(value: object) -> str | None:
    text = _SPACES.sub("", _DASHES.sub("-", _nfkc(value).upper()))
    if len(text) > 40:
        raise InvalidValue("lot", "slip.text_too_long", limit=40)
    return text or None


def _amount(value: object) -> str | None:
    text = _nfkc(value).lower().removesuffix("ml").strip()
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidValue("amount", "slip.amount_format") from None
    if not Decimal("0") < amount <= Decimal("10"):
        raise InvalidValue("amount", "slip.amount_format")
    return format(amount.normalize(), "f")


def _text(field_name: str) -> Callable[[object], str | None]:
    def parse(value: object) -> str | None:
        text = _SPACES.sub(" ", _nfkc(value))
        if len(text) > MAX_TEXT:
            raise InvalidValue(field_name, "slip.text_too_long", limit=MAX_TEXT)
        return text or None

    return parse


def _physician(value: object, masters: Masters) -> str | None:
    """A physician's code from the master, or the name as written (接種医（自由記載）)."""
    text = _text("physician")(value)
    if text is None:
        return None
    if masters.get(MasterKind.PHYSICIAN, text.upper()) is not None:
        return text.upper()
    return text


_PLAIN: dict[str, Callable[[object], str | None]] = {
    "atena": _atena,
    "dose": _dose,
    "date": _date,
    "date_unknown": _flag,
    "lot": _lot,
    "amount": _amount,
    "venue": _text("venue"),
    "copay": _text("copay"),
    "note": _text("note"),
}
_WITH_MASTERS: dict[str, Callable[[object, Masters], str | None]] = {
    "vaccine": _code(MasterKind.VACCINE),
    "maker": _code(MasterKind.MAKER),
    "institution": _code(MasterKind.INSTITUTION),
    "physician": _physician,
}


def normalize_field(field_name: str, value: object, masters: Masters) -> str | None:
    """One field's canonical form; raises InvalidValue naming the field and accepted forms."""
    if field_name in _PLAIN:
        return _PLAIN[field_name](value)
    if field_name in _WITH_MASTERS:
        return _WITH_MASTERS[field_name](value, masters)
    raise InvalidValue("field", "slip.field_unknown", accepted=", ".join(FIELDS))


def normalize_slip(raw: Mapping[str, object], masters: Masters) -> tuple[str, SlipValues]:
    """The slip number and every field's canonical value; all problems reported together."""
    issues: list[Issue] = []
    unknown = sorted(set(raw) - set(FIELDS) - {"slip"})
    if unknown:
        issues.append(Issue(unknown[0], "slip.field_unknown", {"accepted": ", ".join(FIELDS)}))
    slip = ""
    try:
        slip = normalize_slip_no(raw.get("slip"))
    except ValidationFailed as failed:
        issues.extend(failed.issues)
    values: SlipValues = {}
    for name in FIELDS:
        try:
            values[name] = normalize_field(name, raw.get(name), masters)
        except ValidationFailed as failed:
            issues.extend(failed.issues)
            values[name] = None
    if issues:
        raise ValidationFailed(issues)
    return slip, values


@dataclass(frozen=True)
class SlipContext:
    """What the checks need besides the slip: the person, today, the catalogue and masters."""

    resident: Resident | None
    today: date
    catalog: Catalog
    masters: Masters


def slip_issues(values: SlipValues, context: SlipContext) -> list[Issue]:
    """Errors block saving; warnings are shown and the slip may still be saved.

    Only the slip's own values and the registry are consulted, never another pass, so the
    checks cannot reveal what the other operator keyed.
    """
    issues = [Issue(name, "slip.required") for name in REQUIRED if values.get(name) is None]
    if values.get("atena") is not None and context.resident is None:
        issues.append(Issue("atena", "slip.atena_unknown"))
    keyed_date, keyed_dose = values.get("date"), values.get("dose")
    day = date.fromisoformat(keyed_date) if keyed_date else None
    if day is None and not values.get("date_unknown"):
        issues.append(Issue("date", "slip.date_required"))
    if day is not None and values.get("date_unknown"):
        issues.append(Issue("date_unknown", "slip.date_and_unknown"))
    if day is not None and day > context.today:
        issues.append(Issue("date", "slip.date_future"))
    resident = context.resident
    if day is not None and resident is not None and day < resident.birth:
        issues.append(Issue("date", "slip.date_before_birth"))
    vaccine = context.catalog.get(values.get("vaccine") or "")
    dose = int(keyed_dose) if keyed_dose else None
    if vaccine is not None and dose is not None and not dose_in_range(vaccine, dose):
        issues.append(Issue("dose", "slip.dose_range", {"count": vaccine.dose_count}))
    if vaccine is not None and resident is not None and day is not None:
        verdict = age_window(vaccine, resident.birth, day)
        if verdict != "ok":
            issues.append(Issue("vaccine", f"slip.age_{verdict}", severity="warning"))
        if not cohort_ok(vaccine, resident.birth, resident.sex.value):
            issues.append(Issue("vaccine", "slip.cohort", severity="warning"))
    maker = values.get("maker")
    if vaccine is not None and maker is not None and maker not in vaccine.makers():
        issues.append(Issue("maker", "slip.maker_for_vaccine", severity="warning"))
    issues.extend(_physician_issues(values, context.masters))
    return issues


def _physician_issues(values: SlipValues, masters: Masters) -> list[Issue]:
    physician = masters.get(MasterKind.PHYSICIAN, values.get("physician") or "")
    if physician is not None and physician.parent != values.get("institution"):
        return [Issue("physician", "slip.physician_elsewhere", severity="warning")]
    return []


def errors_in(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "error"]


def fields_keyed(values: Mapping[str, str | None]) -> int:
    """How many fields an operator filled in (the denominator of the error rate)."""
    return sum(1 for name in FIELDS if values.get(name) is not None)

"""Resident search (住民検索): criteria as typed, validated and normalised into a query.

Every problem is collected and returned at once, each naming its field and the accepted forms.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from core.errors import InvalidValue, Issue, ValidationFailed
from core.identifiers import normalize_mynumber
from core.japanese.kana import is_kana_name, kana_key, kana_loose_key
from core.japanese.variants import name_key, name_variant_key
from core.japanese.wareki import DateRange, parse_date_query
from core.residents import Sex, Status, normalize_atena, parse_sex, parse_status

DEFAULT_LIMIT = 50
MIN_LIMIT = 1
MAX_LIMIT = 500


@dataclass(frozen=True)
class SearchCriteria:
    """What a user typed; any combination, all optional."""

    atena: str | None = None
    mynumber: str | None = None
    kana: str | None = None
    name: str | None = None
    variants: bool = False
    loose: bool = False
    birth: str | None = None
    address: str | None = None
    sex: str | None = None
    status: str | None = None
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True)
class ResidentQuery:
    """Validated, normalised criteria ready for a repository."""

    atena: str | None = None
    mynumber: str | None = None
    kana_prefix: str | None = None
    kana_loose: bool = False
    name: str | None = None  # normalised name fragment (variant-folded in variant mode)
    name_variants: bool = False
    birth: DateRange | None = None
    address: str | None = None
    sex: Sex | None = None
    status: Status | None = None
    limit: int = DEFAULT_LIMIT
    narrowing: tuple[str, ...] = field(default=())

    @property
    def name_only(self) -> bool:
        """Only a name or kana was given: broad, so the result is capped with a hint."""
        return set(self.narrowing) <= {"name", "kana"}


def address_key(text: str) -> str:
    """Address fragments compare with full-width digits and spaces folded (３番 = 3番)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _present(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


T = TypeVar("T")


class _Issues:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: list[Issue] = []

    def parse(self, parser: Callable[[str], T], raw: str | None) -> T | None:
        text = _present(raw)
        if text is None:
            return None
        try:
            return parser(text)
        except ValidationFailed as error:
            self.found.extend(error.issues)
            return None


def _kana(text: str, *, loose: bool) -> str:
    """Validated on the normalised key, so ｰ, - and ～ typed for ー are accepted."""
    if not is_kana_name(kana_key(text)):
        raise InvalidValue("kana", "search.kana_only")
    return kana_loose_key(text) if loose else kana_key(text)


def plan(criteria: SearchCriteria) -> ResidentQuery:
    """Validate every criterion; raise ``ValidationFailed`` listing all problems."""
    issues = _Issues()
    atena = issues.parse(normalize_atena, criteria.atena)
    mynumber = issues.parse(normalize_mynumber, criteria.mynumber)
    birth = issues.parse(parse_date_query, criteria.birth)
    sex = issues.parse(parse_sex, criteria.sex)
    status = issues.parse(parse_status, criteria.status)
    kana = issues.parse(lambda text: _kana(text, loose=criteria.loose), criteria.kana)
    fold = name_variant_key if criteria.variants else name_key
    name = issues.parse(fold, criteria.name)
    address = issues.parse(address_key, criteria.address)
    if not MIN_LIMIT <= criteria.limit <= MAX_LIMIT:
        issues.found.append(Issue("limit", "search.limit", {"low": MIN_LIMIT, "high": MAX_LIMIT}))
    given = {
        "atena": atena,
        "mynumber": mynumber,
        "birth": birth,
        "sex": sex,
        "status": status,
        "kana": kana,
        "name": name,
        "address": address,
    }
    narrowing = tuple(sorted(k for k, v in given.items() if v))
    if not narrowing and not issues.found:
        issues.found.append(Issue("", "search.empty"))
    if issues.found:
        raise ValidationFailed(issues.found)
    return ResidentQuery(
        atena=atena,
        mynumber=mynumber,
        kana_prefix=kana or None,
        kana_loose=criteria.loose,
        name=name or None,
        name_variants=criteria.variants,
        birth=birth,
        address=address or None,
        sex=sex,
        status=status,
        limit=criteria.limit,
        narrowing=narrowing,
    )

"""和暦 (Japanese era dates), 年度 (fiscal years) and legal ages [ext].

Era boundaries, the 7-digit era code of municipal files and the age rule come from outside the
seeds; they are kept here, in one place, so they are easy to check against the sources.

Era years map to Gregorian years (明治元年 = 1868). Dates before 明治 began (1868-01-25) are
rejected: no resident record needs them and they have no era form to display.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, NamedTuple

from core.errors import InvalidValue

WarekiStyle = Literal["long", "short"]

_MAX_INPUT_LENGTH = 64
_FIRST_YEAR = "元"


@dataclass(frozen=True)
class Era:
    """One 元号 (era name): ``name`` 平成, ``letter`` H, ``code`` 4 (the era-code digit)."""

    name: str
    letter: str
    code: int
    start: date
    end: date | None

    @property
    def abbreviation(self) -> str:
        """The one-kanji short form (平 for 平成)."""
        return self.name[0]

    def year_of(self, day: date) -> int:
        return day.year - self.start.year + 1

    def gregorian_year(self, era_year: int) -> int:
        return self.start.year + era_year - 1

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


ERAS: tuple[Era, ...] = (
    Era("明治", "M", 1, date(1868, 1, 25), date(1912, 7, 29)),
    Era("大正", "T", 2, date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", 3, date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", 4, date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", 5, date(2019, 5, 1), None),
)
EARLIEST_DATE = ERAS[0].start

_ERA_BY_TOKEN: dict[str, Era] = {
    token: era for era in ERAS for token in (era.name, era.abbreviation, era.letter)
}
_ERA_BY_CODE: dict[str, Era] = {str(era.code): era for era in ERAS}


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days, the result of a date query (a day, a month or a year)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("range ends before it starts")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


class _Parts(NamedTuple):
    """A date as typed: era (None for 西暦), year in that era or Gregorian, month, day."""

    era: Era | None
    year: int
    month: int | None
    day: int | None


_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−ー", "-"))
_SPACE_BETWEEN_DIGITS = re.compile(r"(?<=\d)\s+(?=\d)")
_SPACES = re.compile(r"\s+")
_ERA_TOKENS = "|".join(sorted(_ERA_BY_TOKEN, key=len, reverse=True))
_TAIL = (
    r"(?:年(?:(?P<m1>\d{1,2})月(?:(?P<d1>\d{1,2})日?)?)?"
    r"|(?P<sep>[./-])(?P<m2>\d{1,2})(?:(?P=sep)(?P<d2>\d{1,2}))?)?"
)
_ERA_FORM = re.compile(rf"(?P<era>{_ERA_TOKENS})(?P<year>\d{{1,3}}|{_FIRST_YEAR}){_TAIL}")
_WESTERN_FORM = re.compile(rf"(?:西暦)?(?P<year>\d{{4}}){_TAIL}")
_COMPACT_FORM = re.compile(r"(?:西暦)?(?P<year>\d{4})(?P<m1>\d{2})(?P<d1>\d{2})?")
_ERA_CODE_FORM = re.compile(r"(?P<era>[1-5])(?P<year>\d{2})(?P<m1>\d{2})(?P<d1>\d{2})")


def era_of(day: date) -> Era:
    """The era a day belongs to; ``ValueError`` before 明治."""
    for era in reversed(ERAS):
        if day >= era.start:
            return era
    raise ValueError("date precedes the first era")


def _canonical_text(text: str) -> str:
    """Full-width to ASCII, dashes unified, upper case; a space between digits is a separator."""
    folded = unicodedata.normalize("NFKC", text).translate(_DASHES).upper().strip()
    return _SPACES.sub("", _SPACE_BETWEEN_DIGITS.sub("/", folded))


def _optional_int(value: str | None) -> int | None:
    return None if value is None else int(value)


def _parts_from(match: re.Match[str], era: Era | None) -> _Parts:
    groups = match.groupdict()
    year = groups["year"]
    return _Parts(
        era=era,
        year=1 if year == _FIRST_YEAR else int(year),
        month=_optional_int(groups.get("m1") or groups.get("m2")),
        day=_optional_int(groups.get("d1") or groups.get("d2")),
    )


def _parse_parts(text: str, field_name: str, unrecognised_key: str) -> _Parts:
    if not text.strip():
        raise InvalidValue(field_name, "date.empty")
    canonical = _canonical_text(text) if len(text) <= _MAX_INPUT_LENGTH else ""
    if match := _ERA_CODE_FORM.fullmatch(canonical):
        return _parts_from(match, _ERA_BY_CODE[match["era"]])
    if match := _COMPACT_FORM.fullmatch(canonical) or _WESTERN_FORM.fullmatch(canonical):
        return _parts_from(match, None)
    if match := _ERA_FORM.fullmatch(canonical):
        return _parts_from(match, _ERA_BY_TOKEN[match["era"]])
    raise InvalidValue(field_name, unrecognised_key)


def _span(era: Era | None) -> tuple[date, date]:
    if era is None:
        return EARLIEST_DATE, date.max
    return era.start, era.end or date.max


def _outside(era: Era | None, field_name: str) -> InvalidValue:
    """The error for a day outside its era's span (or before 明治 for a Gregorian date)."""
    if era is None:
        return InvalidValue(
            field_name,
            "date.before_meiji",
            start=EARLIEST_DATE.isoformat(),
            start_wareki=format_wareki(EARLIEST_DATE),
        )
    span = {
        "era": era.name,
        "start": era.start.isoformat(),
        "start_wareki": format_wareki(era.start),
    }
    if era.end is None:
        return InvalidValue(field_name, "date.before_era", **span)
    end = {"end": era.end.isoformat(), "end_wareki": format_wareki(era.end)}
    return InvalidValue(field_name, "date.outside_era", **span, **end)


def _gregorian_year(parts: _Parts, field_name: str) -> int:
    year = parts.year if parts.era is None else parts.era.gregorian_year(parts.year)
    if not date.min.year <= year <= date.max.year:
        raise _outside(parts.era, field_name)
    return year


def _checked_month(parts: _Parts, field_name: str) -> int:
    if parts.month is None or not 1 <= parts.month <= 12:
        raise InvalidValue(field_name, "date.impossible")
    return parts.month


def _to_date(parts: _Parts, field_name: str) -> date:
    if parts.month is None or parts.day is None:
        raise InvalidValue(field_name, "date.incomplete")
    year = _gregorian_year(parts, field_name)
    try:
        day = date(year, parts.month, parts.day)
    except ValueError:
        raise InvalidValue(field_name, "date.impossible") from None
    first, last = _span(parts.era)
    if not first <= day <= last:
        raise _outside(parts.era, field_name)
    return day


def _range_of(parts: _Parts, field_name: str) -> DateRange:
    year = _gregorian_year(parts, field_name)
    if parts.month is None:
        start, end = date(year, 1, 1), date(year, 12, 31)
    else:
        month = _checked_month(parts, field_name)
        start = date(year, month, 1)
        end = date(year, month, calendar.monthrange(year, month)[1])
    first, last = _span(parts.era)
    if end < first or start > last:
        raise _outside(parts.era, field_name)
    return DateRange(max(start, first), min(end, last))


def parse_date(text: str, field_name: str = "date") -> date:
    """Parse a full date typed in any accepted form, or raise ``InvalidValue``.

    Accepted: 平成2年1月1日, 平成元年1月8日, 平2.1.1, H2.1.1, H2/1/1, h02-01-01, the 7-digit
    era code 4020101, 1990-01-01, 1990/1/1, 1990年1月1日, 西暦1990年1月1日 and 19900101;
    full-width characters and spaces are accepted too.
    """
    return _to_date(_parse_parts(text, field_name, "date.unrecognised"), field_name)


def parse_date_query(text: str, field_name: str = "birth") -> DateRange:
    """Parse a day, a month (1990-01, 平成2年1月, H2.1) or a year (1990, 平成2年, H2).

    An era month or year is clipped to the era: 平成元年 is 1989-01-08..1989-12-31.
    """
    parts = _parse_parts(text, field_name, "date.query_unrecognised")
    if parts.day is not None:
        day = _to_date(parts, field_name)
        return DateRange(day, day)
    return _range_of(parts, field_name)


def from_era_code(text: str, field_name: str = "date") -> date:
    """Decode the 7-digit era code of legacy municipal files (4020101 = 平成2年1月1日)."""
    if not text.strip():
        raise InvalidValue(field_name, "date.empty")
    match = _ERA_CODE_FORM.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        raise InvalidValue(field_name, "date.era_code")
    return _to_date(_parts_from(match, _ERA_BY_CODE[match["era"]]), field_name)


def to_era_code(day: date) -> str:
    """Encode a day as era digit + YYMMDD; ``ValueError`` before 明治 or after era year 99."""
    era = era_of(day)
    year = era.year_of(day)
    if year > 99:
        raise ValueError("era year does not fit two digits")
    return f"{era.code}{year:02d}{day.month:02d}{day.day:02d}"


def format_wareki(day: date, style: WarekiStyle = "long") -> str:
    """平成2年1月1日 (long, 元年 for the first year) or H2.1.1 (short)."""
    era = era_of(day)
    year = era.year_of(day)
    if style == "short":
        return f"{era.letter}{year}.{day.month}.{day.day}"
    year_text = _FIRST_YEAR if year == 1 else str(year)
    return f"{era.name}{year_text}年{day.month}月{day.day}日"


def format_seireki(day: date) -> str:
    """西暦 (Gregorian) in Japanese form: 1990年1月1日. ISO form is ``day.isoformat()``."""
    return f"{day.year}年{day.month}月{day.day}日"


def age_on(birth: date, on: date) -> int:
    """Age in completed years on the day ``on``, by the legal rule [ext].

    Under the 年齢計算ニ関スル法律 (Act on Counting Age, 1902) age is counted from the day of
    birth, and by Civil Code art. 143 a year of age is completed at the end of the day before
    the birthday. Administration therefore treats the age as reached on the day before the
    birthday: a person born 2000-03-01 is 1 on 2001-02-28, a person born on 29 February is
    a year older on every 28 February, and a child born on 1 April is 6 on 31 March.
    """
    if on < birth:
        raise ValueError("the day precedes the birth")
    following = on + timedelta(days=1)
    before_birthday = (following.month, following.day) < (birth.month, birth.day)
    return following.year - birth.year - int(before_birthday)


def fiscal_year(day: date) -> int:
    """The 年度 (fiscal year, April to March) containing ``day``, named by its April year [ext]."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_end(day: date) -> date:
    """31 March ending the fiscal year that contains ``day``."""
    return date(fiscal_year(day) + 1, 3, 31)


def age_at_fiscal_year_end(birth: date, on: date) -> int:
    """年度末年齢 (age at fiscal-year end): the legal age on the ``fiscal_year_end`` of ``on``."""
    return age_on(birth, fiscal_year_end(on))

"""The tables a migration moves (移行対象), in load order, with each column's kind.

This is the open layout of ``sesshu migrate export`` and the default layout of an import: a
CSV source without a layout file must have these column names as its header. A layout file
(``core.migration.layout``) maps a legacy file's fields onto the same columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a column's text becomes a stored value, and how it is checked."""

    TEXT = "text"
    KANA = "kana"  # stored as full-width katakana
    DATE = "date"  # stored as ISO YYYY-MM-DD
    INT = "int"
    FLAG = "flag"  # 0 or 1
    CODE = "code"  # one of a code list (after the layout's mapping)
    ATENA = "atena"  # 宛名番号
    MYNUMBER = "mynumber"  # 個人番号, check digit verified


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    codes: str | None = None  # the code list a CODE column draws from
    default: str | int | None = None  # what an empty cell stores

    @property
    def numeric(self) -> bool:
        """Summed in the reconciliation report (数値項目の合計)."""
        return self.kind in (Kind.INT, Kind.FLAG)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    # The source key (移行キー): a re-run skips a row whose key is already in the store.
    key: tuple[str, ...]
    # Rows belong to a resident (宛名番号 must exist), except the residents themselves.
    belongs_to_resident: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


def _c(
    name: str,
    kind: Kind = Kind.TEXT,
    *,
    required: bool = False,
    codes: str | None = None,
    default: str | int | None = None,
) -> Column:
    if kind is Kind.FLAG:
        default = 0
    return Column(name, kind, required, codes, default)


RESIDENTS = Table(
    "residents",
    (
        _c("atena", Kind.ATENA, required=True),
        _c("mynumber", Kind.MYNUMBER),
        _c("name", required=True),
        _c("kana", Kind.KANA, required=True),
        _c("alias_name"),
        _c("alias_kana", Kind.KANA),
        _c("birth", Kind.DATE, required=True),
        _c("sex", Kind.CODE, required=True, codes="sex"),
        _c("postal"),
        _c("address"),
        _c("household"),
        _c("relation"),
        _c("status", Kind.CODE, required=True, codes="status"),
        _c("status_date", Kind.DATE),
        _c("status_reason"),
        _c("dv_flag", Kind.FLAG),
        _c("no_auto_answer", Kind.FLAG),
        _c("guardian", Kind.ATENA),
        _c("former_code"),
    ),
    key=("atena",),
    belongs_to_resident=False,
)
VACCINATIONS = Table(
    "vaccinations",
    (
        _c("record_key"),  # the record's identity in the system it came from
        _c("atena", Kind.ATENA, required=True),
        _c("vaccine", Kind.CODE, required=True, codes="vaccine"),
        _c("dose", Kind.INT),
        _c("date", Kind.DATE),
        _c("date_unknown", Kind.FLAG),
        _c("amount"),
        _c("maker"),
        _c("lot"),
        _c("institution"),
        _c("physician"),
        _c("venue"),
        _c("copay"),
        _c("note"),
        _c("status", Kind.CODE, codes="record_status", default="verified"),
        _c("void_reason"),
        _c("keyed_by"),
        _c("verified_by"),
        _c("created_at"),
    ),
    key=("atena", "vaccine", "dose", "date"),
)
NOTICES = Table(
    "notices",
    (
        _c("atena", Kind.ATENA, required=True),
        _c("kind", Kind.CODE, required=True, codes="notice_kind"),  # 案内/接種券/勧奨
        _c("vaccine", Kind.CODE, codes="vaccine"),
        _c("sent_on", Kind.DATE, required=True),
        _c("note"),
    ),
    key=("atena", "kind", "vaccine", "sent_on"),
)
CONSENTS = Table(
    "consents",
    (
        _c("atena", Kind.ATENA, required=True),
        _c("vaccine", Kind.CODE, codes="vaccine"),
        _c("submitted_on", Kind.DATE, required=True),  # 同意書の提出日
        _c("expires_on", Kind.DATE),
        _c("note"),
    ),
    key=("atena", "vaccine", "submitted_on"),
)

TABLES: dict[str, Table] = {t.name: t for t in (RESIDENTS, VACCINATIONS, NOTICES, CONSENTS)}
LOAD_ORDER = tuple(TABLES)

# Fixed code lists; "vaccine" comes from the store's catalogue.
CODE_LISTS: dict[str, tuple[str, ...]] = {
    "sex": ("M", "F"),
    "status": ("resident", "moved_out", "deceased"),
    "record_status": ("verified", "voided"),
    "notice_kind": ("guide", "voucher", "recommendation"),
}


def record_key_wanted(columns: tuple[str, ...]) -> bool:
    """Vaccination rows are matched by their record key when the source carries one."""
    return "record_key" in columns


def source_key(table: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    if table is VACCINATIONS and record_key_wanted(columns):
        return ("record_key",)
    return table.key

"""Residents (住民, 宛名) and their vaccination records, as core sees them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.errors import InvalidValue


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


class Status(StrEnum):
    """住民種別 / status: 住民 (resident), 転出 (moved out), 死亡 (deceased)."""

    RESIDENT = "resident"
    MOVED_OUT = "moved_out"
    DECEASED = "deceased"


class RecordStatus(StrEnum):
    VERIFIED = "verified"
    PENDING = "pending"  # not yet confirmed by a second person
    VOIDED = "voided"


_SEX_WORDS = {
    "m": Sex.MALE,
    "男": Sex.MALE,
    "1": Sex.MALE,
    "f": Sex.FEMALE,
    "女": Sex.FEMALE,
    "2": Sex.FEMALE,
}
_STATUS_WORDS = {
    "resident": Status.RESIDENT,
    "住民": Status.RESIDENT,
    "moved_out": Status.MOVED_OUT,
    "moved-out": Status.MOVED_OUT,
    "転出": Status.MOVED_OUT,
    "deceased": Status.DECEASED,
    "死亡": Status.DECEASED,
}


def parse_sex(text: str, field_name: str = "sex") -> Sex:
    found = _SEX_WORDS.get(unicodedata.normalize("NFKC", text).strip().lower())
    if found is None:
        raise InvalidValue(field_name, "resident.sex_unknown")
    return found


def parse_status(text: str, field_name: str = "status") -> Status:
    found = _STATUS_WORDS.get(unicodedata.normalize("NFKC", text).strip().lower())
    if found is None:
        raise InvalidValue(field_name, "resident.status_unknown")
    return found


def normalize_atena(text: str, field_name: str = "atena") -> str:
    """宛名番号 (city-internal person number): digits only, full-width accepted."""
    digits = unicodedata.normalize("NFKC", text).strip().replace("-", "")
    if not digits.isdecimal() or not digits.isascii() or not 1 <= len(digits) <= 15:
        raise InvalidValue(field_name, "resident.atena_format")
    return digits


@dataclass(frozen=True)
class Resident:
    atena: str  # 宛名番号
    mynumber: str | None  # 個人番号; never shown unless revealed
    name: str  # 氏名 (kanji), exact characters as registered
    kana: str  # 氏名カナ
    birth: date
    sex: Sex
    postal: str | None
    address: str | None
    household: str | None  # 世帯番号
    relation: str | None  # 続柄
    status: Status
    status_date: date | None
    status_reason: str | None
    dv_flag: bool  # 支援措置: the address is protected
    no_auto_answer: bool  # 自動応答不可
    guardian: str | None  # 保護者宛名番号
    version: int = 1


@dataclass(frozen=True)
class VaccinationRecord:
    id: int
    vaccine: str  # 接種コード
    vaccine_name: str | None
    dose: int | None
    date: date | None
    date_unknown: bool  # 接種日不明
    lot: str | None
    maker: str | None
    institution: str | None
    institution_name: str | None
    physician: str | None
    physician_name: str | None
    status: RecordStatus
    source: str

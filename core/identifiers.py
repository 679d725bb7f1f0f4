"""Check-digit rules for the 個人番号 (My Number) and the 全国地方公共団体コード [ext].

Both rules come from outside the seeds (the My Number Act's ordinance and the MIC code table);
they are kept here, in one place, so they are easy to check against the sources.
"""

from __future__ import annotations

import random
import unicodedata

from core.errors import InvalidValue

MYNUMBER_LENGTH = 12
MUNICIPALITY_CODE_LENGTH = 6
_SEPARATORS = str.maketrans("", "", " \u3000-‐−－")


def _digits_only(text: str) -> str:
    """Fold full-width digits to ASCII and drop spaces and hyphens a person might type."""
    return unicodedata.normalize("NFKC", text).translate(_SEPARATORS)


def mynumber_check_digit(first_eleven: str) -> int:
    """個人番号 check digit: P1 is the 11th digit, Qn = n+1 (n ≤ 6) or n−5 (n ≥ 7)."""
    if len(first_eleven) != MYNUMBER_LENGTH - 1 or not first_eleven.isascii():
        raise ValueError("eleven ASCII digits expected")
    total = 0
    for n in range(1, 12):
        p = int(first_eleven[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def normalize_mynumber(text: str, field_name: str = "mynumber") -> str:
    """Return the 12 ASCII digits of a valid 個人番号 or raise ``InvalidValue`` naming the rule."""
    digits = _digits_only(text)
    if not digits.isdecimal() or not digits.isascii():
        raise InvalidValue(field_name, "mynumber.not_digits")
    if len(digits) != MYNUMBER_LENGTH:
        raise InvalidValue(field_name, "mynumber.length", length=len(digits))
    if mynumber_check_digit(digits[:11]) != int(digits[11]):
        raise InvalidValue(field_name, "mynumber.check_digit")
    return digits


def is_valid_mynumber(text: str) -> bool:
    try:
        normalize_mynumber(text)
    except InvalidValue:
        return False
    return True


def mask_mynumber(_number: str | None) -> str:
    """The masked form shown to everyone until an authorised user reveals it."""
    return "●●●● ●●●● ●●●●"


def format_mynumber(number: str) -> str:
    return f"{number[0:4]} {number[4:8]} {number[8:12]}"


def random_mynumber(rng: random.Random) -> str:
    """A synthetic, check-digit-valid 個人番号 for demo and test data."""
    first = f"{rng.randrange(10**11):011d}"
    return first + str(mynumber_check_digit(first))


def municipality_check_digit(first_five: str) -> int:
    """Weights 6,5,4,3,2 over the first five digits; check = (11 − Σ mod 11) mod 10."""
    if len(first_five) != MUNICIPALITY_CODE_LENGTH - 1 or not first_five.isascii():
        raise ValueError("five ASCII digits expected")
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    return (11 - total % 11) % 10


def normalize_municipality_code(text: str, field_name: str = "municipality_code") -> str:
    digits = _digits_only(text)
    if not digits.isdecimal() or not digits.isascii():
        raise InvalidValue(field_name, "municipality.not_digits")
    if len(digits) != MUNICIPALITY_CODE_LENGTH:
        raise InvalidValue(field_name, "municipality.length", length=len(digits))
    if municipality_check_digit(digits[:5]) != int(digits[5]):
        raise InvalidValue(field_name, "municipality.check_digit")
    return digits

"""SQL functions that derive search keys, registered on every connection.

Triggers call them, so whichever path writes a resident (demo, import, sync) keeps the
search keys and the full-text index consistent.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from core.japanese.kana import kana_key, kana_loose_key
from core.japanese.variants import name_key, name_variant_key
from core.search import address_key
from storage.database_types import Connection

# Exactly the characters for which ``str.isalnum()`` is false (checked over every code point
# in tests/storage/test_search_keys.py); a regular expression is several times faster.
_NOT_KEPT = re.compile(r"[\W_]+")


def searchable(text: str) -> str:
    """The characters the FTS tokenizer keeps (letters and digits, 々 and ー included).

    Index and query both drop the rest first, so pairs on both sides are formed alike.
    """
    return _NOT_KEPT.sub("", text)


def indexed_terms(text: str) -> str:
    """'高橋太郎' → '高橋 橋太 太郎 郎': overlapping pairs, then the last character.

    A fragment of two or more characters is then the phrase of its own pairs, and a single
    character is a prefix query (every character starts some term). Pairs keep the posting
    lists short even for the commonest surnames.
    """
    if not text:
        return ""
    return " ".join([text[i : i + 2] for i in range(len(text) - 1)] + [text[-1]])


def query_terms(text: str) -> tuple[str, bool]:
    """The terms for a search fragment, and whether it is a one-character prefix query."""
    if len(text) == 1:
        return text, True
    return " ".join(text[i : i + 2] for i in range(len(text) - 1)), False


# Names, kana and addresses repeat a lot (households share an address, surnames and given
# names recur), so bulk loads (sync, import, demo) compute most keys once. The functions are
# pure; the caches live in the process's memory only, like the rows being written.
CACHE_SIZE = 1 << 16


def _nullable(function: Callable[[str], str]) -> Callable[[str | None], str | None]:
    @functools.lru_cache(maxsize=CACHE_SIZE)
    def apply(value: str | None) -> str | None:
        return None if value is None else function(value)

    return apply


def _terms(function: Callable[[str], str]) -> Callable[[str | None], str]:
    @functools.lru_cache(maxsize=CACHE_SIZE)
    def apply(value: str | None) -> str:
        return "" if value is None else indexed_terms(searchable(function(value)))

    return apply


def name_search_key(text: str) -> str:
    """The name as partial search compares it: ``name_key`` without spaces or punctuation."""
    return searchable(name_key(text))


cached_kana_key = _nullable(kana_key)
cached_kana_loose_key = _nullable(kana_loose_key)

FUNCTIONS: dict[str, Callable[[str | None], str | None]] = {
    "sesshu_name_search": _nullable(name_search_key),
    "sesshu_kana_key": cached_kana_key,
    "sesshu_kana_loose_key": cached_kana_loose_key,
    "sesshu_name_terms": _terms(name_key),
    "sesshu_variant_terms": _terms(name_variant_key),
    "sesshu_address_terms": _terms(address_key),
}


def register(conn: Connection) -> None:
    for name, function in FUNCTIONS.items():
        conn.create_function(name, 1, function, deterministic=True)

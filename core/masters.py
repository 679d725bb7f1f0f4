"""Master data (マスタ) that slips are keyed against: vaccines, makers, institutions, physicians."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class MasterKind(StrEnum):
    VACCINE = "vaccine"
    MAKER = "maker"
    INSTITUTION = "institution"  # 接種機関
    PHYSICIAN = "physician"  # 接種医


@dataclass(frozen=True)
class MasterEntry:
    code: str
    name: str
    name_en: str | None = None
    parent: str | None = None  # the institution a physician works at


def fold(text: str) -> str:
    """Width- and case-insensitive form for type-ahead matching (ｻｸﾗ = サクラ, abc = ABC)."""
    return unicodedata.normalize("NFKC", text).casefold().replace(" ", "").replace("\u3000", "")


@dataclass(frozen=True)
class Masters:
    """A snapshot of every master, loaded once per keying session."""

    vaccines: tuple[MasterEntry, ...]
    makers: tuple[MasterEntry, ...]
    institutions: tuple[MasterEntry, ...]
    physicians: tuple[MasterEntry, ...]
    _index: dict[MasterKind, dict[str, MasterEntry]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {kind: {e.code: e for e in self.entries(kind)} for kind in MasterKind}
        object.__setattr__(self, "_index", index)

    def entries(self, kind: MasterKind) -> tuple[MasterEntry, ...]:
        return {
            MasterKind.VACCINE: self.vaccines,
            MasterKind.MAKER: self.makers,
            MasterKind.INSTITUTION: self.institutions,
            MasterKind.PHYSICIAN: self.physicians,
        }[kind]

    def get(self, kind: MasterKind, code: str) -> MasterEntry | None:
        return self._index[kind].get(code)

    def by_name(self, kind: MasterKind, text: str) -> MasterEntry | None:
        """The one entry whose name (Japanese or English) equals ``text``, folded."""
        wanted = fold(text)
        found = [
            e
            for e in self.entries(kind)
            if fold(e.name) == wanted or (e.name_en is not None and fold(e.name_en) == wanted)
        ]
        return found[0] if len(found) == 1 else None

    def suggest(
        self, kind: MasterKind, text: str, *, parent: str | None = None, limit: int = 8
    ) -> list[MasterEntry]:
        """Type-ahead: codes starting with ``text`` first, then names containing it."""
        wanted = fold(text)
        pool: Iterable[MasterEntry] = self.entries(kind)
        if parent is not None:
            pool = [e for e in pool if e.parent == parent]
        by_code = [e for e in pool if fold(e.code).startswith(wanted)]
        by_name = [
            e
            for e in pool
            if e not in by_code
            and (wanted in fold(e.name) or (e.name_en is not None and wanted in fold(e.name_en)))
        ]
        return (by_code + by_name)[:limit]

"""The residents repository: lookups by 宛名番号, 個人番号 digest, kana, name, birth, address."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from core.residents import RecordStatus, Resident, Sex, Status, VaccinationRecord
from core.search import ResidentQuery
from storage.database_types import Connection
from storage.search_keys import query_terms, searchable

KANA_END = "\U0010ffff"

COLUMNS = (
    "r.atena, r.mynumber, r.name, r.kana, r.birth, r.sex, r.postal, r.address, r.household, "
    "r.relation, r.status, r.status_date, r.status_reason, r.dv_flag, r.no_auto_answer, "
    "r.guardian, r.version"
)


def mynumber_digest(key: bytes, number: str) -> bytes:
    """The keyed hash (HMAC-SHA256) indexed in place of the 個人番号."""
    return hmac.digest(key, number.encode("ascii"), hashlib.sha256)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _resident(row: tuple[Any, ...]) -> Resident:
    return Resident(
        atena=row[0],
        mynumber=row[1],
        name=row[2],
        kana=row[3],
        birth=date.fromisoformat(row[4]),
        sex=Sex(row[5]),
        postal=row[6],
        address=row[7],
        household=row[8],
        relation=row[9],
        status=Status(row[10]),
        status_date=_date(row[11]),
        status_reason=row[12],
        dv_flag=bool(row[13]),
        no_auto_answer=bool(row[14]),
        guardian=row[15],
        version=row[16],
    )


def fts_phrase(column: str, text: str) -> str | None:
    """An FTS5 query for a fragment; None if it has no indexable character."""
    kept = searchable(text)
    if not kept:
        return None
    terms, prefix = query_terms(kept)
    return f'{column} : "{terms}"' + (" *" if prefix else "")


class SqlResidents:
    def __init__(self, conn: Connection, digest: Callable[[str], bytes]) -> None:
        self._conn = conn
        self._digest = digest

    def get(self, atena: str) -> Resident | None:
        row = self._conn.execute(
            f"SELECT {COLUMNS} FROM residents r WHERE r.atena = ?", (atena,)
        ).fetchone()
        return _resident(row) if row else None

    def get_many(self, atenas: Iterable[str]) -> dict[str, Resident]:
        wanted = sorted(set(atenas))
        found: dict[str, Resident] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT {COLUMNS} FROM residents r WHERE r.atena IN ({marks})", chunk
            )
            for row in rows:
                found[row[0]] = _resident(row)
        return found

    def search(self, query: ResidentQuery, limit: int) -> list[Resident]:
        """Residents matching every criterion, at most ``limit`` (no global ordering)."""
        clauses: list[str] = []
        params: list[Any] = []
        text_terms: list[str] = []
        if query.atena:
            clauses.append("r.atena = ?")
            params.append(query.atena)
        if query.mynumber:
            clauses.append("r.mynumber_hmac = ?")
            params.append(self._digest(query.mynumber))
        if query.kana_prefix:
            column = "r.kana_loose_key" if query.kana_loose else "r.kana_key"
            clauses.append(f"{column} >= ? AND {column} < ?")
            params += [query.kana_prefix, query.kana_prefix + KANA_END]
        if query.birth:
            clauses.append("r.birth BETWEEN ? AND ?")
            params += [query.birth.start.isoformat(), query.birth.end.isoformat()]
        if query.sex:
            clauses.append("r.sex = ?")
            params.append(query.sex.value)
        if query.status:
            clauses.append("r.status = ?")
            params.append(query.status.value)
        name = query.name
        if name and query.birth and not query.name_variants and searchable(name):
            # The birth range narrows first; the name is tested on the same index's entries.
            clauses.append("instr(sesshu_name_search(r.name), ?) > 0")
            params.append(searchable(name))
            name = None
        for column, text, fallback in (
            ("variant" if query.name_variants else "name", name, "r.name"),
            ("address", query.address, "r.address"),
        ):
            if not text:
                continue
            phrase = fts_phrase(column, text)
            if phrase is None:
                clauses.append(f"instr({fallback}, ?) > 0")
                params.append(text)
            else:
                text_terms.append(phrase)
        source = "residents r"
        if text_terms and (query.atena or query.mynumber or query.kana_prefix or query.birth):
            # Another index narrows first; the name only filters ids, read from that index.
            clauses.append("+r.id IN (SELECT rowid FROM resident_text WHERE resident_text MATCH ?)")
            params.append(" AND ".join(text_terms))
        elif text_terms:
            # The name (or address) is the narrowest criterion: stream matches, stop at limit.
            source = "resident_text t JOIN residents r ON r.id = t.rowid"
            clauses.insert(0, "resident_text MATCH ?")
            params.insert(0, " AND ".join(text_terms))
        where = " AND ".join(clauses) or "1"
        rows = self._conn.execute(
            f"SELECT {COLUMNS} FROM {source} WHERE {where} LIMIT ?", (*params, limit)
        ).fetchall()
        return [_resident(row) for row in rows]

    def vaccinations(self, atena: str) -> list[VaccinationRecord]:
        rows = self._conn.execute(
            "SELECT v.id, v.vaccine, k.name, v.dose, v.date, v.date_unknown, v.lot, v.maker, "
            "v.institution, i.name, v.physician, p.name, v.status, v.source "
            "FROM vaccinations v "
            "LEFT JOIN vaccines k ON k.code = v.vaccine "
            "LEFT JOIN institutions i ON i.code = v.institution "
            "LEFT JOIN physicians p ON p.code = v.physician "
            "WHERE v.atena = ? AND v.status != 'voided' ORDER BY v.vaccine, v.dose, v.date",
            (atena,),
        ).fetchall()
        return [
            VaccinationRecord(
                id=row[0],
                vaccine=row[1],
                vaccine_name=row[2],
                dose=row[3],
                date=_date(row[4]),
                date_unknown=bool(row[5]),
                lot=row[6],
                maker=row[7],
                institution=row[8],
                institution_name=row[9],
                physician=row[10],
                physician_name=row[11],
                status=RecordStatus(row[12]),
                source=row[13],
            )
            for row in rows
        ]

    def vaccine_order(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT code FROM vaccines ORDER BY rowid")]

"""Lookups (照会): search, open a person, reveal a 個人番号 or a protected address.

Every search and every opened person is audited with user, terminal and target; the query is
kept in the audit detail, inside the encrypted store only. The 個人番号 itself is never written
to the trail: only whether one was used.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.audit import Action, JSONValue
from core.errors import NotFound
from core.person import PersonView, ResidentSummary, person_view, summarise
from core.ports import UnitOfWork
from core.residents import Resident, normalize_atena
from core.roles import Permission
from core.search import ResidentQuery, SearchCriteria, plan
from core.services.changes import pending_for_person
from core.services.context import ServiceContext

AUDITED_RESULTS = 50


@dataclass(frozen=True)
class SearchResult:
    residents: list[ResidentSummary]
    truncated: bool
    query: ResidentQuery

    @property
    def narrow_hint(self) -> bool:
        """Show 'narrow your search' when the cap was reached."""
        return self.truncated


def _query_detail(query: ResidentQuery) -> dict[str, JSONValue]:
    detail: dict[str, JSONValue] = {
        "atena": query.atena,
        "mynumber": query.mynumber is not None,
        "kana": query.kana_prefix,
        "loose": query.kana_loose,
        "name": query.name,
        "variants": query.name_variants,
        "birth": [query.birth.start.isoformat(), query.birth.end.isoformat()]
        if query.birth
        else None,
        "address": query.address,
        "sex": query.sex.value if query.sex else None,
        "status": query.status.value if query.status else None,
    }
    return {k: v for k, v in detail.items() if v not in (None, False)}


class LookupService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def search(self, criteria: SearchCriteria) -> SearchResult:
        self.ctx.require(Permission.RESIDENT_READ, "residents")
        query = plan(criteria)
        if query.mynumber is not None:
            self.ctx.require(Permission.MYNUMBER_USE, "residents:mynumber")
        with self.ctx.store.transaction() as uow:
            found = uow.residents.search(query, query.limit + 1)
            truncated = len(found) > query.limit
            found = found[: query.limit]
            atenas: list[JSONValue] = [r.atena for r in found[:AUDITED_RESULTS]]
            target = f"resident:{found[0].atena}" if len(found) == 1 else "residents"
            self.ctx.record(
                uow,
                Action.RESIDENT_SEARCHED,
                target,
                query=_query_detail(query),
                results=len(found),
                truncated=truncated,
                atenas=atenas,
            )
        found.sort(key=lambda r: (r.kana, r.birth, r.atena))
        return SearchResult([summarise(r) for r in found], truncated, query)

    def open(self, atena: str) -> PersonView:
        """The person view; the 個人番号 masked, a protected address withheld."""
        atena = normalize_atena(atena)
        self.ctx.require(Permission.RESIDENT_READ, f"resident:{atena}")
        with self.ctx.store.transaction() as uow:
            resident = _existing(uow, atena)
            records = uow.residents.vaccinations(atena)
            order = uow.residents.vaccine_order()
            pending = pending_for_person(uow, resident)
            self.ctx.record(uow, Action.RESIDENT_OPENED, f"resident:{atena}")
        return person_view(
            resident,
            records,
            self.ctx.clock.now().date(),
            catalogue_order=order,
            pending_changes=pending,
        )

    def reveal_mynumber(self, atena: str) -> str | None:
        """The 個人番号 in clear, for a 番号利用事務従事者 only; every reveal is audited."""
        self.ctx.require(Permission.MYNUMBER_USE, f"resident:{atena}")
        with self.ctx.store.transaction() as uow:
            resident = _existing(uow, atena)
            self.ctx.record(uow, Action.MYNUMBER_REVEALED, f"resident:{atena}")
        return resident.mynumber

    def reveal_address(self, atena: str, reason: str = "") -> str | None:
        """A 支援措置 (DV) person's address, for a supervisor only; every reveal is audited."""
        self.ctx.require(Permission.DV_ADDRESS_REVEAL, f"resident:{atena}")
        with self.ctx.store.transaction() as uow:
            resident = _existing(uow, atena)
            self.ctx.record(uow, Action.DV_ADDRESS_REVEALED, f"resident:{atena}", reason=reason)
        return resident.address


def _existing(uow: UnitOfWork, atena: str) -> Resident:
    resident = uow.residents.get(atena)
    if resident is None:
        raise NotFound("resident.not_found", atena=atena)
    return resident

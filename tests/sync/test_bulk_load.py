"""The initial pull defers the search index to its last page; a cut pull is indexed at open."""

from __future__ import annotations

from datetime import date

import pytest

from core.search import SearchCriteria
from core.services.lookup import LookupService
from core.sync import Change, ChangeKind, PullPage
from storage import bulk_load
from storage.database_types import Connection
from storage.demo.registry_feed import feed_lines
from tests.conftest import Sessions

RESIDENTS = 6000


@pytest.fixture(scope="module")
def registry() -> list[Change]:
    lines = list(feed_lines(RESIDENTS, 11, date(2026, 12, 1)))
    return [
        Change(seq, ChangeKind(line["kind"]), line["key"], 1, line["data"], "REGISTRY")
        for seq, line in enumerate(lines, start=1)
    ]


def pages(changes: list[Change], size: int) -> list[PullPage]:
    chunks = [changes[i : i + size] for i in range(0, len(changes), size)]
    return [
        PullPage(tuple(chunk), chunk[-1].seq, more=index < len(chunks) - 1)
        for index, chunk in enumerate(chunks)
    ]


def deferred_present(conn: Connection) -> set[str]:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    return names & set(bulk_load.DEFERRED)


def found_by_name(sessions: Sessions, name: str) -> set[str]:
    result = LookupService(sessions.login("op1").ctx).search(SearchCriteria(name=name, limit=500))
    return {r.atena for r in result.residents}


def someone(changes: list[Change]) -> tuple[str, str]:
    resident = next(c for c in changes if c.kind is ChangeKind.RESIDENT)
    return resident.key, str(resident.data["name"]).split("\u3000")[0]


def test_an_initial_pull_builds_the_search_index_once_at_the_end(
    sessions: Sessions, registry: list[Change]
) -> None:
    store = sessions.login("adm1").store
    first, *rest = pages(registry, 4000)
    with store.transaction() as uow:
        uow.sync.apply_page(first)
    assert bulk_load.active(store.conn)
    assert deferred_present(store.conn) == set()
    for page in rest:
        with store.transaction() as uow:
            uow.sync.apply_page(page)
    assert not bulk_load.active(store.conn)
    assert deferred_present(store.conn) == set(bulk_load.DEFERRED)
    atena, surname = someone(registry)
    assert atena in found_by_name(sessions, surname)
    count = store.conn.execute("SELECT count(*) FROM residents").fetchone()[0]
    assert count == RESIDENTS
    assert store.integrity_problems() == []


def test_a_pull_cut_midway_is_indexed_when_the_store_is_next_opened(
    sessions: Sessions, registry: list[Change]
) -> None:
    store = sessions.login("adm1").store
    first = pages(registry, 4000)[0]
    with store.transaction() as uow:
        uow.sync.apply_page(first)
    store.close()  # the process dies here: no later page, no index
    atena, surname = someone(registry)
    assert atena in found_by_name(sessions, surname)  # this login opened the store again
    reopened = sessions.login("adm1").store.conn
    assert deferred_present(reopened) == set(bulk_load.DEFERRED)
    assert not bulk_load.active(reopened)


def test_a_small_or_later_pull_keeps_the_index_row_by_row(
    sessions: Sessions, registry: list[Change]
) -> None:
    store = sessions.login("adm1").store
    small = pages(registry[:3000], 1000)
    with store.transaction() as uow:
        uow.sync.apply_page(small[0])
    assert not bulk_load.active(store.conn)
    big = pages(registry[3000:], 10_000)
    with store.transaction() as uow:
        uow.sync.apply_page(PullPage(big[0].changes, big[0].next_cursor, more=True))
    assert not bulk_load.active(store.conn)  # residents were already there

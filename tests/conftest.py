"""Shared fixtures: stores are built once per session and copied per test (Argon2id is slow
on purpose, so building every store from scratch would dominate the suite's run time)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import pytest

from core.clock import JST, Clock, FixedClock, SystemClock
from core.roles import Role
from core.services.auth import AuthService
from core.services.context import ServiceContext
from core.services.setup import initialise
from core.services.users import NewAccount, UserAdmin
from storage.store import SqlStore
from storage.vault import SqlStoreFactory, Vault

PASSWORD = "correct-horse-42"
STAFF: dict[str, tuple[frozenset[Role], bool]] = {
    "op1": (frozenset({Role.OPERATOR}), True),
    "op2": (frozenset({Role.OPERATOR}), False),
    "ver1": (frozenset({Role.VERIFIER}), False),
    "sup1": (frozenset({Role.SUPERVISOR}), True),
    "aud1": (frozenset({Role.AUDITOR}), False),
    "mig1": (frozenset({Role.MIGRATION}), False),
}
STORE_FILES = ("", ".keyslots")
ACCOUNTS_VALID_FROM = date(2020, 4, 1)


def copy_store(source: Path, target: Path) -> Path:
    for suffix in STORE_FILES:
        shutil.copy2(source.with_name(source.name + suffix), target.with_name(target.name + suffix))
    return target


def build_staff_store(path: Path, terminal: str = "T-TEST") -> Path:
    """A store with adm1 and one account per role, all with PASSWORD and no pending change."""
    clock = SystemClock()
    initialise(
        SqlStoreFactory(path, clock),
        admin="adm1",
        password=PASSWORD,
        terminal=terminal,
        clock=clock,
    )
    vault = Vault(path, clock)
    auth = AuthService(vault, clock)
    session, store = auth.login("adm1", PASSWORD)
    ctx = ServiceContext(store, session, clock)
    admin = UserAdmin(ctx, vault)
    for name, (roles, mynumber) in STAFF.items():
        admin.add(NewAccount(name, roles, mynumber_access=mynumber), PASSWORD)
    with store.transaction() as uow:
        for name in ("adm1", *STAFF):
            account = uow.users.get(name)
            assert account is not None
            # Valid from long before any test clock, so a fixed clock earlier than the day the
            # suite runs still finds every account active.
            uow.users.update(
                replace(account, must_change_password=False, valid_from=ACCOUNTS_VALID_FROM)
            )
    auth.logout(ctx)
    assert isinstance(store, SqlStore)
    store.checkpoint_wal()
    store.close()
    return path


@pytest.fixture(scope="session")
def staff_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_staff_store(tmp_path_factory.mktemp("template") / "sesshu.db")


@pytest.fixture
def store_path(tmp_path: Path, staff_template: Path) -> Path:
    return copy_store(staff_template, tmp_path / "sesshu.db")


@pytest.fixture(scope="session")
def people_template(tmp_path_factory: pytest.TempPathFactory, staff_template: Path) -> Path:
    from tests.people import populate

    path = copy_store(staff_template, tmp_path_factory.mktemp("people") / "sesshu.db")
    populate(path)
    return path


@pytest.fixture
def people_path(tmp_path: Path, people_template: Path) -> Path:
    """A staff store with the tricky residents of ``tests.people``."""
    return copy_store(people_template, tmp_path / "people.db")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=JST))


@dataclass
class Opened:
    ctx: ServiceContext
    vault: Vault
    auth: AuthService
    store: SqlStore


class Sessions:
    """Logs in with PASSWORD; every session opened is closed at teardown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened: list[Opened] = []

    def login(self, user: str, clock: Clock | None = None) -> Opened:
        chosen = clock or SystemClock()
        vault = Vault(self.path, chosen)
        auth = AuthService(vault, chosen)
        session, store = auth.login(user, PASSWORD)
        assert isinstance(store, SqlStore)
        opened = Opened(ServiceContext(store, session, chosen), vault, auth, store)
        self._opened.append(opened)
        return opened

    def close(self) -> None:
        for opened in self._opened:
            opened.store.close()


@pytest.fixture
def sessions(store_path: Path) -> Iterator[Sessions]:
    manager = Sessions(store_path)
    yield manager
    manager.close()


@pytest.fixture
def people(people_path: Path) -> Iterator[Sessions]:
    manager = Sessions(people_path)
    yield manager
    manager.close()

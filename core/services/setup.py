"""Creating a store (初期設定) and maintaining it (integrity check, key rotation)."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from core.accounts import Account, password_issues, username_issues
from core.audit import Action, AuditEvent
from core.clock import Clock
from core.errors import Issue, ValidationFailed
from core.ports import OpenStore, UnitOfWork
from core.roles import Permission, Role
from core.services.context import ServiceContext

_TERMINAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class StoreFactory(Protocol):
    def create(
        self, terminal: str, admin: str, password: str
    ) -> AbstractContextManager[tuple[OpenStore, str]]: ...


@dataclass(frozen=True)
class Initialised:
    terminal: str
    admin: str
    recovery_secret: str


def initialise(
    factory: StoreFactory, *, admin: str, password: str, terminal: str, clock: Clock
) -> Initialised:
    """Create a store with its first administrator; the recovery secret is returned once."""
    admin = admin.strip().lower()
    issues = username_issues(admin) + password_issues(password, username=admin)
    if not _TERMINAL_NAME.match(terminal):
        issues.append(Issue("terminal", "setup.terminal_name"))
    if issues:
        raise ValidationFailed(issues)
    with factory.create(terminal, admin, password) as (store, recovery), store.transaction() as uow:
        uow.audit.append(
            AuditEvent(Action.STORE_INITIALISED.value, admin, "store", {"terminal": terminal})
        )
        add_first_administrator(uow, admin, clock)
        uow.audit.checkpoint()
    return Initialised(terminal, admin, recovery)


def add_first_administrator(uow: UnitOfWork, admin: str, clock: Clock) -> Account:
    now = clock.now()
    account = Account(
        name=admin,
        display_name=admin,
        roles=frozenset({Role.ADMINISTRATOR}),
        mynumber_access=False,
        contractor=False,
        valid_from=now.date(),
        valid_to=None,
        password_changed_at=now,
        must_change_password=False,
        locked=False,
        failed_logins=0,
        created_at=now,
        created_by=admin,
    )
    uow.users.add(account)
    uow.audit.append(
        AuditEvent(
            Action.USER_ADDED.value,
            admin,
            f"user:{admin}",
            {"roles": [Role.ADMINISTRATOR.value], "first_administrator": True},
        )
    )
    return account


class StoreMaintenance:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def check(self) -> list[str]:
        """Run both integrity checks; the result is audited whatever it is."""
        self.ctx.require(Permission.STORE_MAINTAIN, "store")
        problems = self.ctx.store.integrity_problems()
        with self.ctx.store.transaction() as uow:
            self.ctx.record(
                uow, Action.STORE_CHECKED, "store", ok=not problems, problems=len(problems)
            )
        return problems

    def rekey(self) -> None:
        """Rotate the data key; every keyslot (including recovery) is rewrapped."""
        self.ctx.require(Permission.STORE_MAINTAIN, "store")
        self.ctx.store.rekey()
        with self.ctx.store.transaction() as uow:
            self.ctx.record(uow, Action.STORE_REKEYED, "store")
            uow.audit.checkpoint()

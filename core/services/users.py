"""Account administration (利用者管理): add, list, lock, unlock, reset passwords.

Only administrators manage accounts, and an administrator can never read residents' data
(``core.roles``). Every change is audited; the passwords themselves never are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from core.accounts import Account, account_issues, default_valid_to, password_issues
from core.audit import Action
from core.errors import Issue, NotFound, RuleViolation, ValidationFailed
from core.ports import GuardState, KeyVault, UnitOfWork
from core.roles import Permission, Role
from core.services.context import ServiceContext


@dataclass(frozen=True)
class NewAccount:
    name: str
    roles: frozenset[Role]
    display_name: str = ""
    mynumber_access: bool = False
    contractor: bool = False
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class AccountStatus:
    """An account as the administrator sees it, with the lock state from both places."""

    account: Account
    locked: bool
    failures: int


class UserAdmin:
    def __init__(self, ctx: ServiceContext, vault: KeyVault) -> None:
        self.ctx = ctx
        self.vault = vault

    def add(self, spec: NewAccount, initial_password: str) -> Account:
        """Create an account whose password must be changed before first use."""
        name = spec.name.strip().lower()
        self.ctx.require(Permission.USER_MANAGE, f"user:{name}")
        now = self.ctx.clock.now()
        valid_from = spec.valid_from or now.date()
        valid_to = spec.valid_to or default_valid_to(
            spec.roles, contractor=spec.contractor, start=valid_from
        )
        issues = account_issues(
            name,
            spec.roles,
            mynumber_access=spec.mynumber_access,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        issues += password_issues(initial_password, username=name)
        with self.ctx.store.reader() as uow:
            if uow.users.get(name) is not None:
                issues.append(Issue("name", "user.exists", {"name": name}))
        if issues:
            raise ValidationFailed(issues)
        account = Account(
            name=name,
            display_name=spec.display_name.strip() or name,
            roles=spec.roles,
            mynumber_access=spec.mynumber_access,
            contractor=spec.contractor,
            valid_from=valid_from,
            valid_to=valid_to,
            password_changed_at=now,
            must_change_password=True,
            locked=False,
            failed_logins=0,
            created_at=now,
            created_by=self.ctx.user,
        )
        self.ctx.store.keyslots.add(name, initial_password)
        try:
            with self.ctx.store.transaction() as uow:
                uow.users.add(account)
                self.ctx.record(
                    uow,
                    Action.USER_ADDED,
                    f"user:{name}",
                    roles=sorted(r.value for r in spec.roles),
                    mynumber_access=spec.mynumber_access,
                    contractor=spec.contractor,
                    valid_from=valid_from.isoformat(),
                    valid_to=valid_to.isoformat() if valid_to else None,
                )
        except BaseException:
            self.ctx.store.keyslots.remove(name)
            raise
        return account

    def list(self) -> list[AccountStatus]:
        self.ctx.require(Permission.USER_MANAGE, "users")
        with self.ctx.store.transaction() as uow:
            accounts = uow.users.all()
            self.ctx.record(uow, Action.USERS_LISTED, "users", count=len(accounts))
        statuses = []
        for account in accounts:
            guard = self.vault.guard(account.name)
            statuses.append(
                AccountStatus(
                    account,
                    locked=account.locked or guard.locked,
                    failures=max(account.failed_logins, guard.failures),
                )
            )
        return statuses

    def lock(self, name: str, reason: str = "") -> Account:
        name = name.strip().lower()
        self.ctx.require(Permission.USER_MANAGE, f"user:{name}")
        if name == self.ctx.user:
            raise RuleViolation("user.self_lock")
        with self.ctx.store.transaction() as uow:
            account = _existing(uow, name)
            account = uow.users.update(replace(account, locked=True))
            self.ctx.record(uow, Action.ACCOUNT_LOCKED, f"user:{name}", reason=reason, by="admin")
        guard = self.vault.guard(name)
        self.vault.set_guard(name, GuardState(guard.failures, locked=True))
        return account

    def unlock(self, name: str) -> Account:
        """Clear a lock; the store is changed first, so a crash leaves the account locked."""
        name = name.strip().lower()
        self.ctx.require(Permission.USER_MANAGE, f"user:{name}")
        if name == self.ctx.user:
            raise RuleViolation("user.self_unlock")
        with self.ctx.store.transaction() as uow:
            account = _existing(uow, name)
            was_locked = account.locked or self.vault.guard(name).locked
            account = uow.users.update(replace(account, locked=False, failed_logins=0))
            self.ctx.record(uow, Action.ACCOUNT_UNLOCKED, f"user:{name}", was_locked=was_locked)
        self.vault.set_guard(name, GuardState())
        return account

    def reset_password(self, name: str, initial_password: str) -> Account:
        """Give another user a new initial password (e.g. forgotten, or a personnel change)."""
        name = name.strip().lower()
        self.ctx.require(Permission.USER_MANAGE, f"user:{name}")
        if name == self.ctx.user:
            raise RuleViolation("user.self_reset")
        issues = password_issues(initial_password, username=name)
        if issues:
            raise ValidationFailed(issues)
        with self.ctx.store.reader() as uow:
            _existing(uow, name)
        self.ctx.store.keyslots.reset(name, initial_password)
        with self.ctx.store.transaction() as uow:
            account = _existing(uow, name)
            account = uow.users.update(
                replace(
                    account,
                    must_change_password=True,
                    password_changed_at=self.ctx.clock.now(),
                )
            )
            self.ctx.record(uow, Action.PASSWORD_RESET, f"user:{name}")
        return account


def _existing(uow: UnitOfWork, name: str) -> Account:
    account = uow.users.get(name)
    if account is None:
        raise NotFound("user.not_found", name=name)
    return account

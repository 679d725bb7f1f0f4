"""Staff accounts (利用者) and the rules for passwords, validity and lockout.

Rules from the seeds: accounts lock after 5 consecutive failed logins and only an administrator
unlocks them (seed 000 L1478); passwords change every 3 months (seed 001 L199). The minimum
length of 10 and the change-before-first-use rule come from the foundation issue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from core.errors import AccountInactive, AccountLocked, Issue
from core.roles import Permission, Role, permissions_for, role_issues

MIN_PASSWORD_LENGTH = 10
PASSWORD_MAX_AGE = timedelta(days=90)
LOCKOUT_THRESHOLD = 5
DEFAULT_IDLE_LOCK_MINUTES = 10
TIME_LIMITED_DEFAULT = timedelta(days=180)

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


class PasswordState(StrEnum):
    CURRENT = "current"
    INITIAL = "initial"  # set by an administrator; change before first use
    EXPIRED = "expired"


@dataclass(frozen=True)
class Account:
    """One named member of staff; no shared accounts."""

    name: str
    display_name: str
    roles: frozenset[Role]
    mynumber_access: bool  # 番号利用事務従事者
    contractor: bool  # 委託先
    valid_from: date
    valid_to: date | None
    password_changed_at: datetime
    must_change_password: bool
    locked: bool
    failed_logins: int
    created_at: datetime
    created_by: str
    version: int = 1

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_for(self.roles, mynumber_access=self.mynumber_access)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def is_valid_on(self, day: date) -> bool:
        if day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to

    def password_state(self, now: datetime) -> PasswordState:
        if self.must_change_password:
            return PasswordState.INITIAL
        if now - self.password_changed_at >= PASSWORD_MAX_AGE:
            return PasswordState.EXPIRED
        return PasswordState.CURRENT

    def role_label(self) -> str:
        return "+".join(sorted(r.value for r in self.roles))


def check_can_log_in(account: Account, now: datetime) -> None:
    """Raise if the account may not start a session now (lock, validity)."""
    if account.locked:
        raise AccountLocked("auth.locked")
    if not account.is_valid_on(now.date()):
        raise AccountInactive("auth.inactive")


def username_issues(name: str) -> list[Issue]:
    if not _USERNAME.match(name):
        return [Issue("name", "user.name_format")]
    return []


def password_issues(password: str, *, username: str, previous: str | None = None) -> list[Issue]:
    """Problems with a proposed password, as data (the password itself never appears)."""
    issues: list[Issue] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        issues.append(Issue("password", "password.too_short", {"minimum": MIN_PASSWORD_LENGTH}))
    if password.strip() != password or "\n" in password:
        issues.append(Issue("password", "password.whitespace"))
    if username and username.lower() in password.lower():
        issues.append(Issue("password", "password.contains_name"))
    if len(set(password)) < 4:
        issues.append(Issue("password", "password.too_simple"))
    if previous is not None and password == previous:
        issues.append(Issue("password", "password.same_as_old"))
    return issues


def account_issues(
    name: str,
    roles: frozenset[Role],
    *,
    mynumber_access: bool,
    valid_from: date,
    valid_to: date | None,
) -> list[Issue]:
    issues = username_issues(name)
    issues += role_issues(roles, mynumber_access=mynumber_access)
    if valid_to is not None and valid_to < valid_from:
        issues.append(Issue("valid_to", "user.validity_order"))
    return issues


def default_valid_to(roles: frozenset[Role], *, contractor: bool, start: date) -> date | None:
    """Migration and contractor accounts are time-limited; others run until changed."""
    if contractor or Role.MIGRATION in roles:
        return start + TIME_LIMITED_DEFAULT
    return None


def after_failed_login(account: Account, failures: int) -> Account:
    return replace(
        account, failed_logins=failures, locked=account.locked or failures >= LOCKOUT_THRESHOLD
    )

"""Account rules: passwords, validity, expiry, role combinations and the permission table."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from core.accounts import (
    LOCKOUT_THRESHOLD,
    MIN_PASSWORD_LENGTH,
    PASSWORD_MAX_AGE,
    Account,
    PasswordState,
    check_can_log_in,
    default_valid_to,
    password_issues,
)
from core.clock import JST
from core.errors import AccountInactive, AccountLocked
from core.roles import ROLE_PERMISSIONS, Permission, Role, permissions_for, role_issues

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)


def account(**changes: object) -> Account:
    base = Account(
        name="op1",
        display_name="op1",
        roles=frozenset({Role.OPERATOR}),
        mynumber_access=False,
        contractor=False,
        valid_from=date(2026, 1, 1),
        valid_to=None,
        password_changed_at=NOW - timedelta(days=1),
        must_change_password=False,
        locked=False,
        failed_logins=0,
        created_at=NOW,
        created_by="adm1",
    )
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_pinned_rules() -> None:
    assert MIN_PASSWORD_LENGTH == 10
    assert LOCKOUT_THRESHOLD == 5
    assert timedelta(days=90) == PASSWORD_MAX_AGE


@pytest.mark.parametrize(
    ("password", "keys"),
    [
        ("short-1", {"password.too_short"}),
        ("123456789", {"password.too_short"}),
        ("aaaaaaaaaaaa", {"password.too_simple"}),
        (" leading-space-x", {"password.whitespace"}),
        ("my-op1-password", {"password.contains_name"}),
        ("a-good-passphrase", set()),
        ("0123456789", set()),
    ],
)
def test_password_policy(password: str, keys: set[str]) -> None:
    assert {i.key for i in password_issues(password, username="op1")} == keys


def test_new_password_must_differ_from_old() -> None:
    keys = {
        i.key
        for i in password_issues("same-password-1", username="op1", previous="same-password-1")
    }
    assert keys == {"password.same_as_old"}


def test_initial_password_must_change_and_expiry_forces_change() -> None:
    assert account(must_change_password=True).password_state(NOW) is PasswordState.INITIAL
    fresh = account(password_changed_at=NOW - PASSWORD_MAX_AGE + timedelta(seconds=1))
    assert fresh.password_state(NOW) is PasswordState.CURRENT
    stale = account(password_changed_at=NOW - PASSWORD_MAX_AGE)
    assert stale.password_state(NOW) is PasswordState.EXPIRED


def test_validity_dates_bound_login() -> None:
    check_can_log_in(account(valid_to=NOW.date()), NOW)
    with pytest.raises(AccountInactive):
        check_can_log_in(account(valid_to=NOW.date() - timedelta(days=1)), NOW)
    with pytest.raises(AccountInactive):
        check_can_log_in(account(valid_from=NOW.date() + timedelta(days=1)), NOW)
    with pytest.raises(AccountLocked):
        check_can_log_in(account(locked=True), NOW)


def test_time_limited_accounts_get_an_end_date() -> None:
    start = date(2026, 11, 1)
    assert default_valid_to(frozenset({Role.MIGRATION}), contractor=False, start=start) is not None
    assert default_valid_to(frozenset({Role.OPERATOR}), contractor=True, start=start) is not None
    assert default_valid_to(frozenset({Role.OPERATOR}), contractor=False, start=start) is None


def test_administrator_cannot_read_residents_and_auditor_cannot_change() -> None:
    admin = permissions_for({Role.ADMINISTRATOR}, mynumber_access=True)
    assert Permission.RESIDENT_READ not in admin
    assert Permission.MYNUMBER_USE not in admin
    assert Permission.USER_MANAGE in admin
    auditor = ROLE_PERMISSIONS[Role.AUDITOR]
    assert auditor == {Permission.AUDIT_READ, Permission.AUDIT_REVIEW}


def test_mynumber_needs_the_flag() -> None:
    assert Permission.MYNUMBER_USE not in permissions_for({Role.OPERATOR}, mynumber_access=False)
    assert Permission.MYNUMBER_USE in permissions_for({Role.OPERATOR}, mynumber_access=True)


def test_no_role_approves_and_keys_without_being_a_supervisor() -> None:
    approvers = {r for r, p in ROLE_PERMISSIONS.items() if Permission.PROVISION_APPROVE in p}
    assert approvers == {Role.SUPERVISOR}
    assert Permission.PROVISION_APPROVE not in ROLE_PERMISSIONS[Role.OPERATOR]


@pytest.mark.parametrize(
    ("roles", "mynumber", "key"),
    [
        (set(), False, "user.role_required"),
        ({Role.ADMINISTRATOR, Role.OPERATOR}, False, "user.role_admin_with_data"),
        ({Role.AUDITOR, Role.SUPERVISOR}, False, "user.role_auditor_alone"),
        ({Role.ADMINISTRATOR}, True, "user.mynumber_needs_data_role"),
    ],
)
def test_forbidden_role_combinations(roles: set[Role], mynumber: bool, key: str) -> None:
    assert key in {i.key for i in role_issues(roles, mynumber_access=mynumber)}

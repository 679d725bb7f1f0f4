"""Logging in: lockout after five failures, administrator unlock, password rules, audit."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.clock import JST, FixedClock
from core.errors import (
    AccountInactive,
    AccountLocked,
    AuthenticationFailed,
    PasswordChangeRequired,
    PermissionDenied,
    RuleViolation,
    ValidationFailed,
)
from core.ports import AuditFilter, GuardState
from core.roles import Role
from core.services.auth import AuthService
from core.services.context import ServiceContext
from core.services.users import NewAccount, UserAdmin
from storage.vault import Vault
from tests.conftest import PASSWORD, Sessions


def actions(sessions: Sessions, user: str | None = None) -> list[str]:
    admin = sessions.login("aud1")
    with admin.store.reader() as uow:
        records = uow.audit.find(AuditFilter(user=user, limit=10_000))
    return [r.action for r in reversed(records)]


def fail(store_path: Path, user: str, times: int) -> list[type[BaseException]]:
    auth = AuthService(Vault(store_path, _clock()), _clock())
    outcomes: list[type[BaseException]] = []
    for _ in range(times):
        with pytest.raises((AuthenticationFailed, AccountLocked)) as caught:
            auth.login(user, "not-the-password")
        outcomes.append(caught.type)
    return outcomes


def _clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 24, 9, 0, tzinfo=JST))


def test_five_failures_lock_and_each_is_audited(store_path: Path, sessions: Sessions) -> None:
    outcomes = fail(store_path, "op2", 6)
    assert outcomes == [AuthenticationFailed] * 5 + [AccountLocked]
    vault = Vault(store_path, _clock())
    assert vault.guard("op2") == GuardState(failures=5, locked=True)
    with pytest.raises(AccountLocked):
        AuthService(vault, _clock()).login("op2", PASSWORD)
    events = actions(sessions, "op2")
    assert events.count("auth.login_failed") == 5
    assert events.count("account.locked") == 1
    assert events.count("auth.login_refused") == 2


def test_four_failures_then_success_resets_the_count(store_path: Path) -> None:
    fail(store_path, "op2", 4)
    vault = Vault(store_path, _clock())
    _, store = AuthService(vault, _clock()).login("op2", PASSWORD)
    store.close()
    assert vault.guard("op2") == GuardState()
    assert fail(store_path, "op2", 4) == [AuthenticationFailed] * 4


def test_only_an_administrator_unlocks(store_path: Path, sessions: Sessions) -> None:
    fail(store_path, "op2", 5)
    supervisor = sessions.login("sup1")
    with pytest.raises(PermissionDenied):
        UserAdmin(supervisor.ctx, supervisor.vault).unlock("op2")
    admin = sessions.login("adm1")
    UserAdmin(admin.ctx, admin.vault).unlock("op2")
    _, store = AuthService(Vault(store_path, _clock()), _clock()).login("op2", PASSWORD)
    store.close()
    assert "account.unlocked" in actions(sessions)
    assert "permission.denied" in actions(sessions, "sup1")


def test_an_administrator_cannot_unlock_themselves(sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    with pytest.raises(RuleViolation):
        UserAdmin(admin.ctx, admin.vault).unlock("adm1")


def test_unknown_user_fails_like_a_wrong_password(store_path: Path, sessions: Sessions) -> None:
    auth = AuthService(Vault(store_path, _clock()), _clock())
    with pytest.raises(AuthenticationFailed) as unknown:
        auth.login("nobody", PASSWORD)
    with pytest.raises(AuthenticationFailed) as wrong:
        auth.login("op1", "wrong-password")
    assert unknown.value.key == wrong.value.key
    assert "auth.login_failed" in actions(sessions, "nobody")


def test_pending_events_join_the_chain_exactly_once(store_path: Path, sessions: Sessions) -> None:
    fail(store_path, "op2", 2)
    first = actions(sessions, "op2")
    sessions.login("op1")
    assert actions(sessions, "op2") == first
    assert first.count("auth.login_failed") == 2


def test_initial_password_must_be_changed_before_work(sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    UserAdmin(admin.ctx, admin.vault).add(
        NewAccount("op9", frozenset({Role.OPERATOR})), "initial-pass-9"
    )
    auth = AuthService(admin.vault, admin.ctx.clock)
    session, store = auth.login("op9", "initial-pass-9")
    try:
        ctx = ServiceContext(store, session, admin.ctx.clock)
        with pytest.raises(PasswordChangeRequired):
            ctx.require(None)
        with pytest.raises(ValidationFailed):
            auth.change_password(ctx, "initial-pass-9", "short")
        new_session = auth.change_password(ctx, "initial-pass-9", "a-new-passphrase")
        ServiceContext(store, new_session, admin.ctx.clock).require(None)
    finally:
        store.close()
    _, store = auth.login("op9", "a-new-passphrase")
    store.close()
    with pytest.raises(AuthenticationFailed):
        auth.login("op9", "initial-pass-9")


def test_passwords_expire_after_90_days(store_path: Path) -> None:
    later = _clock()
    later.advance(timedelta(days=400))
    auth = AuthService(Vault(store_path, later), later)
    session, store = auth.login("op1", PASSWORD)
    store.close()
    assert session.password_state.value == "expired"


def test_expired_account_validity_refuses_login(sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    UserAdmin(admin.ctx, admin.vault).add(
        NewAccount("mig2", frozenset({Role.MIGRATION})), "initial-pass-9"
    )
    later = _clock()
    later.advance(timedelta(days=400))
    with pytest.raises(AccountInactive):
        AuthService(admin.vault, later).login("mig2", "initial-pass-9")


def test_a_lock_by_the_administrator_ends_a_running_session(sessions: Sessions) -> None:
    operator = sessions.login("op1")
    admin = sessions.login("adm1")
    UserAdmin(admin.ctx, admin.vault).lock("op1", "personnel change")
    with pytest.raises(AccountLocked):
        operator.ctx.require(None)


def test_administrator_cannot_be_given_resident_roles(sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    with pytest.raises(ValidationFailed) as caught:
        UserAdmin(admin.ctx, admin.vault).add(
            NewAccount("x1", frozenset({Role.ADMINISTRATOR, Role.OPERATOR})), "initial-pass-9"
        )
    assert "user.role_admin_with_data" in {i.key for i in caught.value.issues}
    assert not admin.vault.has_slot("x1")


def test_a_failed_add_leaves_no_keyslot(sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    with pytest.raises(ValidationFailed):
        UserAdmin(admin.ctx, admin.vault).add(
            NewAccount("op1", frozenset({Role.OPERATOR})), "initial-pass-9"
        )
    _, store = AuthService(admin.vault, admin.ctx.clock).login("op1", PASSWORD)
    store.close()


def test_non_administrators_cannot_manage_users(sessions: Sessions) -> None:
    for user in ("op1", "sup1", "aud1", "mig1", "ver1"):
        opened = sessions.login(user)
        with pytest.raises(PermissionDenied):
            UserAdmin(opened.ctx, opened.vault).add(
                NewAccount("z1", frozenset({Role.OPERATOR})), "initial-pass-9"
            )

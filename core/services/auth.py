"""Logging in and out, locking, password changes and recovery (認証).

A wrong password cannot open the store, so failed attempts are counted in the vault's guard and
queued as sealed events; they join the audit chain the next time anyone opens the store.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from core.accounts import (
    LOCKOUT_THRESHOLD,
    Account,
    PasswordState,
    check_can_log_in,
    password_issues,
)
from core.audit import Action, AuditEvent
from core.clock import Clock
from core.errors import (
    AccountInactive,
    AccountLocked,
    AuthenticationFailed,
    RuleViolation,
    SesshuError,
    ValidationFailed,
)
from core.ports import GuardState, KeyVault, OpenStore, PendingEvent, UnitOfWork
from core.roles import Role
from core.services.context import ServiceContext, Session


class AuthService:
    def __init__(self, vault: KeyVault, clock: Clock) -> None:
        self.vault = vault
        self.clock = clock

    def login(self, name: str, password: str) -> tuple[Session, OpenStore]:
        """Open the store as ``name``; every outcome is audited."""
        name = name.strip().lower()
        if self.vault.guard(name).locked:
            self._queue(Action.LOGIN_REFUSED, name, reason="locked")
            raise AccountLocked("auth.locked")
        try:
            store = self.vault.open_as(name, password)
        except AuthenticationFailed:
            self._count_failure(name)
            raise
        try:
            session = self._start_session(store, name)
        except BaseException:
            store.close()
            raise
        return session, store

    def password_matches(self, session: Session, password: str) -> bool:
        """Re-check the session user's password (idle unlock); failures count toward the lock."""
        if self.vault.password_matches(session.user, password):
            self.vault.set_guard(session.user, GuardState())
            return True
        self._count_failure(session.user)
        return False

    def _count_failure(self, name: str) -> None:
        if not self.vault.has_slot(name):
            self._queue(Action.LOGIN_FAILED, name, failures=0, known=False)
            return
        guard = self.vault.guard(name)
        failures = guard.failures + 1
        locked = guard.locked or failures >= LOCKOUT_THRESHOLD
        self.vault.set_guard(name, GuardState(failures, locked))
        self._queue(Action.LOGIN_FAILED, name, failures=failures, known=True)
        if locked and not guard.locked:
            self._queue(Action.ACCOUNT_LOCKED, name, failures=failures)

    def _queue(self, action: Action, name: str, **detail: str | int | bool) -> None:
        self.vault.queue_event(
            AuditEvent(action.value, name, f"user:{name}", dict(detail)), self.clock.now()
        )

    def _start_session(self, store: OpenStore, name: str) -> Session:
        now = self.clock.now()
        session_id = uuid.uuid4().hex
        ingested = store.pending_events()
        refusal: SesshuError | None = None
        with store.transaction() as uow:
            ingest_pending(uow, ingested)
            account = uow.users.get(name)
            try:
                if account is None:
                    raise AccountInactive("auth.inactive")
                check_can_log_in(account, now)
            except (AccountLocked, AccountInactive) as error:
                refusal = error
                uow.audit.append(
                    AuditEvent(
                        Action.LOGIN_REFUSED.value, name, f"user:{name}", {"reason": error.code}
                    )
                )
            if account is not None and refusal is None:
                if account.failed_logins:
                    account = uow.users.update(replace(account, failed_logins=0))
                state = account.password_state(now)
                uow.audit.append(
                    AuditEvent(
                        Action.LOGIN.value,
                        name,
                        f"user:{name}",
                        {"session": session_id, "password": state.value},
                    )
                )
        store.discard_pending([p.id for p in ingested])
        if refusal is not None:
            raise refusal
        assert account is not None
        self.vault.set_guard(name, GuardState())
        return Session(session_id, account, store.terminal, now, account.password_state(now))

    def logout(self, ctx: ServiceContext, reason: str = "user") -> None:
        with ctx.store.transaction() as uow:
            ctx.record(
                uow, Action.LOGOUT, f"user:{ctx.user}", session=ctx.session.id, reason=reason
            )
            uow.audit.checkpoint()

    def record_idle_lock(self, ctx: ServiceContext, *, locked: bool) -> None:
        action = Action.SESSION_LOCKED if locked else Action.SESSION_UNLOCKED
        with ctx.store.transaction() as uow:
            ctx.record(uow, action, f"user:{ctx.user}", session=ctx.session.id)

    def change_password(self, ctx: ServiceContext, old: str, new: str) -> Session:
        """Change the session user's own password; the new one must pass the policy."""
        issues = password_issues(new, username=ctx.user, previous=old)
        if issues:
            raise ValidationFailed(issues)
        if not self.vault.password_matches(ctx.user, old):
            self._count_failure(ctx.user)
            raise AuthenticationFailed("auth.failed")
        ctx.store.keyslots.change(ctx.user, old, new)
        now = self.clock.now()
        with ctx.store.transaction() as uow:
            account = _account(uow, ctx.user)
            account = uow.users.update(
                replace(account, password_changed_at=now, must_change_password=False)
            )
            ctx.record(uow, Action.PASSWORD_CHANGED, f"user:{ctx.user}")
        return replace(ctx.session, account=account, password_state=PasswordState.CURRENT)

    def recover(self, secret: str, admin: str, new_password: str) -> None:
        """Use the recovery secret to give an administrator a new initial password."""
        admin = admin.strip().lower()
        issues = password_issues(new_password, username=admin)
        if issues:
            raise ValidationFailed(issues)
        store = self.vault.open_with_recovery(secret)
        try:
            with store.reader() as uow:
                account = uow.users.get(admin)
            if account is None or Role.ADMINISTRATOR not in account.roles:
                raise RuleViolation("recovery.not_admin")
            store.keyslots.reset(admin, new_password)
            with store.transaction() as uow:
                ingest_pending(uow, store.pending_events())
                account = _account(uow, admin)
                uow.users.update(
                    replace(account, locked=False, failed_logins=0, must_change_password=True)
                )
                uow.audit.append(
                    AuditEvent(Action.STORE_RECOVERED.value, None, f"user:{admin}", {})
                )
            self.vault.set_guard(admin, GuardState())
        finally:
            store.close()


def ingest_pending(uow: UnitOfWork, pending: list[PendingEvent]) -> None:
    """Append queued events to the chain and apply the locks they report to the accounts."""
    for item in pending:
        if not uow.audit.mark_ingested(item.id):
            continue
        uow.audit.append(item.event, at=item.at)
        if item.event.action == Action.ACCOUNT_LOCKED.value and item.event.user:
            account = uow.users.get(item.event.user)
            if account is not None and not account.locked:
                uow.users.update(replace(account, locked=True))
        if item.event.action == Action.LOGIN_FAILED.value and item.event.user:
            account = uow.users.get(item.event.user)
            failures = item.event.detail.get("failures")
            if account is not None and isinstance(failures, int):
                uow.users.update(replace(account, failed_logins=failures))


def _account(uow: UnitOfWork, name: str) -> Account:
    account = uow.users.get(name)
    if account is None:
        raise AccountInactive("auth.inactive")
    return account

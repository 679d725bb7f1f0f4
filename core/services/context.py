"""A logged-in session and the context every service works in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.accounts import Account, PasswordState, check_can_log_in
from core.audit import Action, AuditEvent, JSONValue
from core.clock import Clock
from core.errors import AccountInactive, AccountLocked, PasswordChangeRequired, PermissionDenied
from core.ports import OpenStore, UnitOfWork
from core.roles import Permission


@dataclass(frozen=True)
class Session:
    id: str
    account: Account
    terminal: str
    started_at: datetime
    password_state: PasswordState

    @property
    def user(self) -> str:
        return self.account.name

    def can(self, permission: Permission) -> bool:
        return self.account.can(permission)


class ServiceContext:
    """Binds a session to its store and clock; the single place permissions are checked."""

    def __init__(self, store: OpenStore, session: Session, clock: Clock) -> None:
        self.store = store
        self.session = session
        self.clock = clock

    @property
    def user(self) -> str:
        return self.session.user

    def event(
        self, action: Action, target: str | None = None, /, **detail: JSONValue
    ) -> AuditEvent:
        return AuditEvent(action.value, self.user, target, detail)

    def require(self, permission: Permission | None, target: str | None = None) -> Account:
        """Check the account as it is now in the store, then the permission.

        A refusal is itself audited (in its own transaction, so it survives the refusal).
        ``permission=None`` checks only that the session is still good.
        """
        with self.store.reader() as uow:
            account = uow.users.get(self.user)
        now = self.clock.now()
        try:
            if account is None:
                raise AccountInactive("auth.inactive")
            check_can_log_in(account, now)
        except (AccountLocked, AccountInactive):
            self._record_denial(permission, target, reason="account")
            raise
        if self.session.password_state is not PasswordState.CURRENT:
            raise PasswordChangeRequired("auth.password_change_required")
        if permission is not None and not account.can(permission):
            self._record_denial(permission, target, reason="permission")
            raise PermissionDenied("permission.denied", permission_key=f"perm.{permission.value}")
        return account

    def _record_denial(
        self, permission: Permission | None, target: str | None, reason: str
    ) -> None:
        detail: Mapping[str, JSONValue] = {
            "permission": permission.value if permission else None,
            "reason": reason,
        }
        with self.store.transaction() as uow:
            uow.audit.append(AuditEvent(Action.PERMISSION_DENIED.value, self.user, target, detail))

    def record(
        self, uow: UnitOfWork, action: Action, target: str | None = None, /, **detail: JSONValue
    ) -> int:
        return uow.audit.append(self.event(action, target, **detail))

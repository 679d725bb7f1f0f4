"""One exception hierarchy for the whole application.

Every error carries a stable ``code`` (for scripts and tests) and a message ``key`` into the
catalogue (``core/locales``). Parameters are rendered only at the edges; ``str()`` of an error
never contains parameter values, so a traceback cannot leak personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import ClassVar, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One validation problem, returned as data (field, message key, parameters)."""

    field: str
    key: str
    params: Mapping[str, object] = dataclass_field(default_factory=dict)
    severity: Severity = "error"


class SesshuError(Exception):
    """Base of every error the application reports to a user."""

    code: ClassVar[str] = "error"

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params: dict[str, object] = dict(params)

    def __str__(self) -> str:
        return f"{self.code}: {self.key}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"


class ValidationFailed(SesshuError):
    """Input was rejected; ``issues`` lists every problem found, not only the first."""

    code = "invalid"

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        first = self.issues[0] if self.issues else Issue("", "error.invalid")
        super().__init__(first.key, **dict(first.params), field=first.field)


class InvalidValue(ValidationFailed):
    """A single field was rejected."""

    def __init__(self, field_name: str, key: str, **params: object) -> None:
        super().__init__([Issue(field_name, key, params)])


class PermissionDenied(SesshuError):
    code = "denied"


class RuleViolation(SesshuError):
    """A business rule refused the operation (four-eyes, segregation of duties, state)."""

    code = "refused"


class AuthenticationFailed(SesshuError):
    code = "auth_failed"


class AccountLocked(SesshuError):
    code = "account_locked"


class AccountInactive(SesshuError):
    code = "account_inactive"


class PasswordChangeRequired(SesshuError):
    code = "password_change_required"


class NotFound(SesshuError):
    code = "not_found"


class VersionConflict(SesshuError):
    """The row changed since it was read (optimistic concurrency)."""

    code = "version_conflict"


class StoreError(SesshuError):
    """The store is missing, unreadable, corrupted or opened with the wrong key."""

    code = "store"


class AuditChainBroken(SesshuError):
    code = "audit_broken"


class SyncFailed(SesshuError):
    """The central system could not be reached, refused the terminal, or answered malformed."""

    code = "sync_failed"

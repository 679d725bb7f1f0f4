"""Roles, flags and the one permission table every service checks.

Roles follow domain.md §1. A permission is granted by a role; the 個人番号 permissions need the
番号利用事務従事者 flag (``mynumber_access``) on top of a role that reads residents.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from core.errors import Issue


class Role(StrEnum):
    OPERATOR = "operator"  # 入力者
    VERIFIER = "verifier"  # 照合者
    SUPERVISOR = "supervisor"  # 所属長 / 管理責任者
    ADMINISTRATOR = "administrator"  # システム管理者
    AUDITOR = "auditor"  # 監査
    MIGRATION = "migration"  # 移行担当


class Permission(StrEnum):
    RESIDENT_READ = "resident.read"
    MYNUMBER_USE = "mynumber.use"
    DV_ADDRESS_REVEAL = "dv_address.reveal"
    BATCH_KEY = "batch.key"
    BATCH_RECONCILE = "batch.reconcile"
    BATCH_COMMIT = "batch.commit"
    BATCH_OVERRIDE = "batch.override"
    CHANGE_PROPOSE = "change.propose"
    CHANGE_CONFIRM = "change.confirm"
    DUPLICATE_DECIDE = "duplicate.decide"
    PROVISION_REQUEST = "provision.request"
    PROVISION_APPROVE = "provision.approve"
    PROVISION_CHECK = "provision.check"
    RECIPIENT_MANAGE = "recipient.manage"
    EXPORT_CREATE = "export.create"
    EXPORT_APPROVE = "export.approve"
    MEDIA_MANAGE = "media.manage"
    SYNC_RUN = "sync.run"
    CONFLICT_DECIDE = "conflict.decide"
    USER_MANAGE = "user.manage"
    TERMINAL_CONFIGURE = "terminal.configure"
    STORE_MAINTAIN = "store.maintain"
    AUDIT_READ = "audit.read"
    AUDIT_REVIEW = "audit.review"
    MIGRATION_RUN = "migration.run"
    MIGRATION_APPROVE = "migration.approve"


_P = Permission

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(
        {
            _P.RESIDENT_READ,
            _P.BATCH_KEY,
            _P.CHANGE_PROPOSE,
            _P.PROVISION_REQUEST,
            _P.PROVISION_CHECK,
            _P.EXPORT_CREATE,
            _P.MEDIA_MANAGE,
            _P.SYNC_RUN,
        }
    ),
    Role.VERIFIER: frozenset(
        {
            _P.RESIDENT_READ,
            _P.BATCH_KEY,
            _P.BATCH_RECONCILE,
            _P.BATCH_COMMIT,
            _P.CHANGE_PROPOSE,
            _P.CHANGE_CONFIRM,
            _P.PROVISION_CHECK,
            _P.SYNC_RUN,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            _P.RESIDENT_READ,
            _P.DV_ADDRESS_REVEAL,
            _P.BATCH_RECONCILE,
            _P.BATCH_COMMIT,
            _P.BATCH_OVERRIDE,
            _P.CHANGE_PROPOSE,
            _P.CHANGE_CONFIRM,
            _P.DUPLICATE_DECIDE,
            _P.PROVISION_APPROVE,
            _P.PROVISION_CHECK,
            _P.RECIPIENT_MANAGE,
            _P.EXPORT_CREATE,
            _P.EXPORT_APPROVE,
            _P.MEDIA_MANAGE,
            _P.SYNC_RUN,
            _P.CONFLICT_DECIDE,
            _P.MIGRATION_APPROVE,
        }
    ),
    Role.ADMINISTRATOR: frozenset(
        {_P.USER_MANAGE, _P.TERMINAL_CONFIGURE, _P.STORE_MAINTAIN, _P.SYNC_RUN}
    ),
    Role.AUDITOR: frozenset({_P.AUDIT_READ, _P.AUDIT_REVIEW}),
    Role.MIGRATION: frozenset({_P.MIGRATION_RUN, _P.EXPORT_CREATE, _P.MEDIA_MANAGE}),
}

# Permissions that additionally need the 番号利用事務従事者 flag and a role that may hold them.
MYNUMBER_PERMISSIONS = frozenset({Permission.MYNUMBER_USE})
_MYNUMBER_ROLES = frozenset({Role.OPERATOR, Role.VERIFIER, Role.SUPERVISOR, Role.MIGRATION})

# Segregation of duties: an administrator never reads residents' data and an auditor never
# changes data, so neither role can be combined with a role that would let them.
_DATA_ROLES = frozenset({Role.OPERATOR, Role.VERIFIER, Role.SUPERVISOR, Role.MIGRATION})


def permissions_for(roles: Iterable[Role], *, mynumber_access: bool) -> frozenset[Permission]:
    role_set = frozenset(roles)
    granted: set[Permission] = set()
    for role in role_set:
        granted |= ROLE_PERMISSIONS[role]
    if mynumber_access and role_set & _MYNUMBER_ROLES:
        granted |= MYNUMBER_PERMISSIONS
    return frozenset(granted)


def parse_role(text: str) -> Role:
    from core.errors import InvalidValue

    try:
        return Role(text.strip().lower())
    except ValueError:
        raise InvalidValue(
            "role", "user.role_unknown", accepted=", ".join(r.value for r in Role)
        ) from None


def role_issues(roles: Iterable[Role], *, mynumber_access: bool) -> list[Issue]:
    """Problems with a combination of roles and flags, as data."""
    role_set = frozenset(roles)
    issues: list[Issue] = []
    if not role_set:
        issues.append(Issue("role", "user.role_required"))
    if Role.ADMINISTRATOR in role_set and role_set & _DATA_ROLES:
        issues.append(Issue("role", "user.role_admin_with_data"))
    if Role.AUDITOR in role_set and len(role_set) > 1:
        issues.append(Issue("role", "user.role_auditor_alone"))
    if mynumber_access and not role_set & _MYNUMBER_ROLES:
        issues.append(Issue("mynumber_access", "user.mynumber_needs_data_role"))
    return issues

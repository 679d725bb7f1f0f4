"""The main menu's entries: one list, each gated by the permission core checks anyway."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.roles import Permission

if TYPE_CHECKING:
    from textual.screen import Screen

    from core.services.context import Session


def _search() -> Screen[None]:
    from tui.screens.search import SearchScreen

    return SearchScreen()


def _batches() -> Screen[None]:
    from tui.screens.batches import BatchListScreen

    return BatchListScreen()


def _changes() -> Screen[None]:
    from tui.screens.changes import ChangesScreen

    return ChangesScreen()


def _provision() -> Screen[None]:
    from tui.screens.provision import ProvisionCasesScreen

    return ProvisionCasesScreen()


def _dashboard() -> Screen[None]:
    from tui.screens.dashboard import DashboardScreen

    return DashboardScreen()


def _media() -> Screen[None]:
    from tui.screens.media import MediaLedgerScreen

    return MediaLedgerScreen()


def _users() -> Screen[None]:
    from tui.screens.users import UsersScreen

    return UsersScreen()


def _settings() -> Screen[None]:
    from tui.screens.settings import SettingsScreen

    return SettingsScreen()


def _audit() -> Screen[None]:
    from tui.screens.audit import AuditScreen

    return AuditScreen()


def _report() -> Screen[None]:
    from tui.screens.report import ReportScreen

    return ReportScreen()


def _conflicts() -> Screen[None]:
    from tui.screens.conflicts import ConflictsScreen

    return ConflictsScreen()


def _migration() -> Screen[None]:
    from tui.screens.migration import MigrationScreen

    return MigrationScreen()


def _password() -> Screen[None]:
    from tui.screens.password import PasswordScreen

    return PasswordScreen(forced=False)


@dataclass(frozen=True)
class MenuEntry:
    id: str
    label_key: str
    permission: Permission | None
    screen: Callable[[], Screen[None]] | None
    alternatives: tuple[Permission, ...] = ()  # any one of these also opens the entry
    action: str = ""  # an app action run instead of opening a screen

    def allowed(self, session: Session) -> bool:
        if self.permission is None:
            return True
        return any(session.can(p) for p in (self.permission, *self.alternatives))


WORK_ENTRIES: tuple[MenuEntry, ...] = (
    MenuEntry("search", "menu.search", Permission.RESIDENT_READ, _search),
    MenuEntry(
        "batches",
        "batch_screen.menu",
        Permission.BATCH_KEY,
        _batches,
        (Permission.BATCH_RECONCILE,),
    ),
    MenuEntry("changes", "change.menu", Permission.CHANGE_CONFIRM, _changes),
    MenuEntry("dashboard", "dashboard_screen.menu", Permission.PROVISION_APPROVE, _dashboard),
    MenuEntry(
        "provision",
        "provision_screen.menu",
        Permission.PROVISION_REQUEST,
        _provision,
        (Permission.PROVISION_APPROVE, Permission.PROVISION_CHECK),
    ),
    MenuEntry("users", "menu.users", Permission.USER_MANAGE, _users),
    MenuEntry("settings", "menu.settings", Permission.TERMINAL_CONFIGURE, _settings),
    MenuEntry("audit", "menu.audit", Permission.AUDIT_READ, _audit),
    MenuEntry("audit_report", "menu.audit_report", Permission.AUDIT_READ, _report),
    MenuEntry("migration", "migration_screen.menu", Permission.MIGRATION_RUN, _migration),
    MenuEntry(
        "media", "media_screen.menu", Permission.MEDIA_MANAGE, _media, (Permission.AUDIT_READ,)
    ),
    MenuEntry("conflicts", "sync_screen.menu", Permission.CONFLICT_DECIDE, _conflicts),
    MenuEntry("sync_now", "sync_status.menu", Permission.SYNC_RUN, None, action="sync_now"),
)

ACCOUNT_ENTRIES: tuple[MenuEntry, ...] = (MenuEntry("password", "menu.password", None, _password),)


def entries_for(session: Session) -> list[MenuEntry]:
    work = [e for e in WORK_ENTRIES if e.allowed(session)]
    return work + list(ACCOUNT_ENTRIES)


def has_work(session: Session) -> bool:
    return any(e.permission is not None and e.allowed(session) for e in WORK_ENTRIES)

"""The sesshu terminal UI: login, role menus, idle lock, help — over core services.

Build it with ``SesshuApp(store_path, language)``; tests pass a clock, a short idle time and
a sync interval (and may pass a sync service factory).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker

from core.clock import Clock, SystemClock
from core.errors import SesshuError
from core.i18n import Catalogue, Language, catalogue
from core.ports import OpenStore
from core.services.auth import AuthService
from core.services.batches import BatchService
from core.services.context import ServiceContext, Session
from core.services.terminal import idle_lock_seconds
from core.sync import DEFAULT_INTERVAL_SECONDS
from storage.vault import Vault
from tui.base import error_text, localise_bindings
from tui.sync_status import SyncFactory, SyncMonitor, open_sync_service


class SesshuApp(App[None]):
    CSS_PATH = "styles/app.tcss"
    TITLE = "sesshu"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "binding.help", id="help"),
        Binding("ctrl+l", "lock", "binding.lock", id="lock"),
        Binding("ctrl+r", "sync_now", "sync_status.binding", id="sync_now"),
        Binding("ctrl+q", "quit", "binding.quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        store_path: Path,
        language: Language = "ja",
        *,
        clock: Clock | None = None,
        idle_lock_seconds: float | None = None,
        sync_interval_seconds: float | None = None,
        sync_factory: SyncFactory | None = None,
    ) -> None:
        super().__init__()
        self.t: Catalogue = catalogue(language)
        self.clock: Clock = clock or SystemClock()
        self.store_path = store_path
        self.vault = Vault(store_path, self.clock)
        self.auth = AuthService(self.vault, self.clock)
        self.ctx: ServiceContext | None = None
        self._batch_service: BatchService | None = None
        self._idle_override = idle_lock_seconds
        self.idle_seconds = idle_lock_seconds or 600.0
        self.last_input = time.monotonic()
        self.locked = False
        self.is_demo = self.vault.is_demo
        self.title = self.t("app.title")
        self.sync = SyncMonitor(
            self,
            sync_factory or open_sync_service,
            sync_interval_seconds or float(DEFAULT_INTERVAL_SECONDS),
        )
        localise_bindings(self, self.t)

    @property
    def terminal_name(self) -> str:
        return self.vault.terminal

    @property
    def store_label(self) -> str:
        return self.store_path.name

    def on_mount(self) -> None:
        from tui.screens.login import LoginScreen

        self.push_screen(LoginScreen())
        self.set_interval(min(1.0, max(self.idle_seconds / 4, 0.05)), self._check_idle)
        self.sync.start()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self.last_input = time.monotonic()
        await super().on_event(event)

    # --- session lifecycle -------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self.ctx.session if self.ctx else None

    @property
    def batch_service(self) -> BatchService:
        """The batch service of the current session (its masters are loaded once)."""
        if self.ctx is None:
            raise RuntimeError("no session")
        if self._batch_service is None or self._batch_service.ctx is not self.ctx:
            self._batch_service = BatchService(self.ctx)
        return self._batch_service

    def start_session(self, session: Session, store: OpenStore) -> None:
        """A login succeeded: replace any previous session and show the main menu."""
        from tui.screens.menu import MainMenuScreen
        from tui.screens.password import PasswordScreen

        previous = self.ctx
        self.ctx = ServiceContext(store, session, self.clock)
        if previous is not None:
            self._close_session(previous, reason="other_user")
            self.notify(self.t("auth.session_other_user"))
        self.idle_seconds = self._idle_override or idle_lock_seconds(store)
        self.locked = False
        self.last_input = time.monotonic()
        self.sync.session_started()
        self._reset_to(MainMenuScreen())
        if session.password_state.value != "current":
            self.push_screen(PasswordScreen(forced=True))

    def session_changed(self, session: Session) -> None:
        if self.ctx is not None:
            self.ctx = ServiceContext(self.ctx.store, session, self.clock)
            self.refresh_status()

    def end_session(self, reason: str = "user") -> None:
        from tui.screens.login import LoginScreen

        if self.ctx is not None:
            self.sync.session_ended()
            self._close_session(self.ctx, reason)
            self.ctx = None
        self.locked = False
        self._reset_to(LoginScreen())

    def _close_session(self, ctx: ServiceContext, reason: str) -> None:
        try:
            self.auth.logout(ctx, reason=reason)
        finally:
            ctx.store.close()

    def _reset_to(self, screen: Screen[None]) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(screen)

    def refresh_status(self) -> None:
        from tui.widgets import StatusBar

        for bar in self.screen.query(StatusBar):
            bar.show(self.t, self.session, self.terminal_name, self.store_label, demo=self.is_demo)
        self.sync.attach()

    # --- sync with the central system ----------------------------------------------------

    def action_sync_now(self) -> None:
        self.sync.run_now()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sync_now":
            return self.sync.may_run()
        return True

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.sync.worker_changed(event)

    # --- idle lock ---------------------------------------------------------------------

    def _check_idle(self) -> None:
        if self.ctx is None or self.locked:
            return
        if time.monotonic() - self.last_input >= self.idle_seconds:
            self.action_lock(idle=True)

    def action_lock(self, idle: bool = False) -> None:
        from tui.screens.lock import LockScreen

        if self.ctx is None or self.locked:
            return
        self.locked = True
        self.auth.record_idle_lock(self.ctx, locked=True)
        self.push_screen(LockScreen(idle=idle))

    def unlocked(self) -> None:
        if self.ctx is not None:
            self.auth.record_idle_lock(self.ctx, locked=False)
        self.locked = False
        self.last_input = time.monotonic()

    # --- help, palette, errors ---------------------------------------------------------

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The palette offers exactly the bindings the footer and help screen show."""
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.description and active.enabled:
                yield SystemCommand(
                    binding.description,
                    binding.key_display or binding.key,
                    lambda action=binding.action, node=active.node: self.run_action(action, node),
                )

    def report_error(self, error: BaseException | None) -> None:
        self.notify(error_text(self.t, error), severity="error", timeout=8)
        if not isinstance(error, SesshuError) and error is not None:
            self.log.error(type(error).__name__)

    def _fatal_error(self) -> None:
        """An unhandled exception: one line from the catalogue, never a traceback.

        Textual's default prints a traceback with local variables, which could show a
        password or a resident's data; this replaces it.
        """
        kind = type(self._exception).__name__ if self._exception else "?"
        self.bell()
        self._exit_renderables.append(Text(self.t("error.unexpected", kind=kind)))
        self._close_messages_no_wait()

    def on_unmount(self) -> None:
        if self.ctx is not None:
            ctx, self.ctx = self.ctx, None
            self._close_session(ctx, reason="exit")

    async def action_quit(self) -> None:
        if self.ctx is not None:
            self._close_session(self.ctx, reason="exit")
            self.ctx = None
        self.exit()


def run_tui(store: Path, language: Language, *, idle_lock_seconds: float | None = None) -> None:
    try:
        app = SesshuApp(store, language, idle_lock_seconds=idle_lock_seconds)
    except SesshuError as error:
        sys.stderr.write(catalogue(language).error(error) + "\n")
        raise SystemExit(1) from None
    app.run()

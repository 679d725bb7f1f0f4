"""画面ロック: the idle lock. The same user unlocks; another user's login ends the session."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui.base import SesshuModal, error_text, plain


class LockScreen(SesshuModal[None]):
    def __init__(self, *, idle: bool) -> None:
        super().__init__()
        self._idle = idle

    def compose(self) -> ComposeResult:
        t = self.t
        session = self.sesshu.session
        user = session.user if session else ""
        with Vertical(id="lock-box", classes="dialog"):
            yield Static(t("lock.title"), classes="dialog-title")
            if self._idle:
                minutes = max(1, round(self.sesshu.idle_seconds / 60))
                yield Static(t("lock.idle", minutes=minutes))
            yield Static(plain(t("lock.prompt", user=user)))
            yield Static(t("lock.other_user"), classes="hint")
            yield Input(value=user, placeholder=t("login.name"), id="name")
            yield Input(placeholder=t("login.password"), password=True, id="password")
            yield Static("", id="message", classes="message")

    def on_mount(self) -> None:
        self.query_one("#password", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name":
            self.query_one("#password", Input).focus()
            return
        session = self.sesshu.session
        name = self.query_one("#name", Input).value.strip().lower()
        password = self.query_one("#password", Input).value
        if session is None or not name or not password:
            return
        if name == session.user:
            self.background(lambda: self.sesshu.auth.password_matches(session, password), "unlock")
        else:
            self.background(lambda: self.sesshu.auth.login(name, password), "switch")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "unlock":
            if result:
                self.dismiss(None)
                self.sesshu.unlocked()
                return
            session = self.sesshu.session
            if session is not None and self.sesshu.vault.guard(session.user).locked:
                self.sesshu.end_session(reason="locked")
                return
            self._failed(self.t("auth.failed"))
        elif name == "switch":
            session, store = result
            self.sesshu.start_session(session, store)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self._failed(error_text(self.t, error))

    def _failed(self, text: str) -> None:
        password = self.query_one("#password", Input)
        password.value = ""
        self.query_one("#message", Static).update(text)
        password.focus()

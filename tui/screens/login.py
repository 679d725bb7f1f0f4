"""ログイン: the first screen."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Input, Static

from tui.base import SesshuScreen, error_text
from tui.widgets import top_bar


class LoginScreen(SesshuScreen):
    def compose(self) -> ComposeResult:
        t = self.t
        with Vertical(id="login-box", classes="dialog"):
            yield Static(t("login.title"), classes="dialog-title")
            yield Static(t("login.prompt"))
            yield Input(placeholder=t("login.name"), id="name")
            yield Input(placeholder=t("login.password"), password=True, id="password")
            yield Button(t("login.submit"), id="submit", variant="primary")
            yield Static("", id="message", classes="message")
        yield top_bar(self.t, demo=self.sesshu.is_demo)

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#name", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "name":
            self.query_one("#password", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self._submit()

    def _submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not name or not password:
            return
        self._busy(True)
        self.query_one("#message", Static).update(self.t("login.checking"))
        self.background(lambda: self.sesshu.auth.login(name, password), "login")

    def _busy(self, busy: bool) -> None:
        for widget in self.query("Input, Button"):
            widget.disabled = busy

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "login":
            session, store = result
            self.sesshu.start_session(session, store)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self._busy(False)
        password = self.query_one("#password", Input)
        password.value = ""
        self.query_one("#message", Static).update(error_text(self.t, error))
        password.focus()

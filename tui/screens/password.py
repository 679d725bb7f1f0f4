"""パスワード変更: forced at first use and after 90 days, or chosen from the menu."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui.base import SesshuScreen, error_text
from tui.widgets import KeysFooter


class PasswordScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "binding.back", id="back")]

    def __init__(self, *, forced: bool) -> None:
        super().__init__()
        self.forced = forced

    def compose(self) -> ComposeResult:
        t = self.t
        with Vertical(id="password-box", classes="dialog"):
            yield Static(t("password_screen.title"), classes="dialog-title")
            if self.forced:
                yield Static(t("password_screen.required"), classes="warning")
            yield Input(placeholder=t("password_screen.old"), password=True, id="old")
            yield Input(placeholder=t("password_screen.new"), password=True, id="new")
            yield Input(placeholder=t("password_screen.confirm"), password=True, id="confirm")
            yield Static("", id="message", classes="message")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#old", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "back" and self.forced)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        order = ["old", "new", "confirm"]
        position = order.index(event.input.id or "old")
        if position < 2:
            self.query_one(f"#{order[position + 1]}", Input).focus()
            return
        old = self.query_one("#old", Input).value
        new = self.query_one("#new", Input).value
        if new != self.query_one("#confirm", Input).value:
            self._message(self.t("password.mismatch"))
            return
        ctx = self.sesshu.ctx
        if ctx is None:
            return
        self.background(lambda: self.sesshu.auth.change_password(ctx, old, new), "change")

    def worker_succeeded(self, name: str, result: Any) -> None:
        self.sesshu.session_changed(result)
        self.app.notify(self.t("user.password_changed"))
        self.dismiss()

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        for field in ("old", "new", "confirm"):
            self.query_one(f"#{field}", Input).value = ""
        self.query_one("#old", Input).focus()
        self._message(error_text(self.t, error))

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    def action_back(self) -> None:
        self.dismiss()

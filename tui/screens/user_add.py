"""Dialogs for adding a user and setting an initial password; errors show inline."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Checkbox, Input, Static

from core.errors import InvalidValue
from core.roles import parse_role
from core.services.users import NewAccount, UserAdmin
from tui.base import SesshuModal, error_text, plain


class FieldCheckbox(Checkbox, inherit_bindings=False):
    """A checkbox in a form: Space toggles it; Enter moves on, so it is never ticked by accident."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "toggle_button", show=False)]


class AddUserModal(SesshuModal[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel"),
        Binding("enter", "next_field", show=False, id="next_field"),
    ]

    def __init__(self, admin: UserAdmin) -> None:
        super().__init__()
        self._admin = admin

    def compose(self) -> ComposeResult:
        t = self.t
        with Vertical(classes="dialog wide"):
            yield Static(t("users_screen.add_title"), classes="dialog-title")
            yield Input(placeholder=t("users_screen.name"), id="name")
            yield Input(placeholder=t("users_screen.display_name"), id="display")
            yield Input(placeholder=t("users_screen.roles_hint"), id="roles")
            yield FieldCheckbox(t("field.mynumber_access"), id="mynumber")
            yield FieldCheckbox(t("users_screen.contractor_flag"), id="contractor")
            yield Input(placeholder=f"{t('field.valid_to')} (YYYY-MM-DD)", id="valid_to")
            yield Input(placeholder=t("users_screen.initial_password"), password=True, id="pw")
            yield Static("", id="message", classes="message")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def action_next_field(self) -> None:
        self.focus_next()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "pw":
            self.focus_next()
            return
        try:
            spec = self._spec()
        except InvalidValue as error:
            self._message(self.t.error(error))
            return
        password = self.query_one("#pw", Input).value
        self.background(lambda: self._admin.add(spec, password), "add")

    def _spec(self) -> NewAccount:
        value = self.query_one("#valid_to", Input).value.strip()
        try:
            valid_to = date.fromisoformat(value) if value else None
        except ValueError:
            raise InvalidValue("valid_to", "user.date_format") from None
        roles_text = self.query_one("#roles", Input).value
        roles = frozenset(
            parse_role(r) for r in roles_text.replace("、", ",").split(",") if r.strip()
        )
        return NewAccount(
            name=self.query_one("#name", Input).value,
            roles=roles,
            display_name=self.query_one("#display", Input).value,
            mynumber_access=self.query_one("#mynumber", Checkbox).value,
            contractor=self.query_one("#contractor", Checkbox).value,
            valid_to=valid_to,
        )

    def worker_succeeded(self, name: str, result: Any) -> None:
        self.app.notify(self.t("user.added", name=result.name))
        self.dismiss(True)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#pw", Input).value = ""
        self._message(error_text(self.t, error))

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(plain(text))

    def action_cancel(self) -> None:
        self.dismiss(False)


class ResetPasswordModal(SesshuModal[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel")
    ]

    def __init__(self, admin: UserAdmin, name: str) -> None:
        super().__init__()
        self._admin = admin
        self._user = name

    def compose(self) -> ComposeResult:
        t = self.t
        with Vertical(classes="dialog"):
            yield Static(
                plain(t("users_screen.reset_title", name=self._user)), classes="dialog-title"
            )
            yield Input(placeholder=t("users_screen.initial_password"), password=True, id="pw")
            yield Static("", id="message", classes="message")

    def on_mount(self) -> None:
        self.query_one("#pw", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        password = event.value
        self.background(lambda: self._admin.reset_password(self._user, password), "reset")

    def worker_succeeded(self, name: str, result: Any) -> None:
        self.app.notify(self.t("user.reset_done", name=self._user))
        self.dismiss(True)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#pw", Input).value = ""
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))

    def action_cancel(self) -> None:
        self.dismiss(False)

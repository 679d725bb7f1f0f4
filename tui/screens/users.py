"""利用者管理: administrators add, lock, unlock and reset accounts."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from core.services.users import AccountStatus, UserAdmin
from tui.base import SesshuScreen, plain
from tui.screens.confirm import ConfirmModal
from tui.widgets import KeysFooter, top_bar


class UsersScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("a", "add", "binding.add", id="add"),
        Binding("l", "lock_user", "binding.lock_user", id="lock_user"),
        Binding("u", "unlock_user", "binding.unlock_user", id="unlock_user"),
        Binding("r", "reset_password", "binding.reset_password", id="reset_password"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(self.t("users_screen.title"), classes="screen-title")
        yield DataTable(id="users", cursor_type="row", zebra_stripes=True)
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        t = self.t
        table = self.query_one("#users", DataTable)
        for key in ("name", "roles", "flags", "valid", "state"):
            table.add_column(t(f"users_screen.{key}"), key=key)
        self.sesshu.refresh_status()
        self.action_refresh()
        table.focus()

    def _admin(self) -> UserAdmin:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return UserAdmin(ctx, self.sesshu.vault)

    def action_refresh(self) -> None:
        self.background(self._admin().list, "list")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "list":
            self._show(result)
            return
        messages = {"lock": "user.locked_done", "unlock": "user.unlocked_done"}
        self.app.notify(self.t(messages[name], name=result.name))
        self.action_refresh()

    def _show(self, statuses: list[AccountStatus]) -> None:
        t = self.t
        table = self.query_one("#users", DataTable)
        table.clear()
        for status in statuses:
            account = status.account
            flags = [t("users_screen.mynumber_flag")] if account.mynumber_access else []
            flags += [t("users_screen.contractor_flag")] if account.contractor else []
            if account.must_change_password:
                flags.append(t("users_screen.must_change"))
            state = t("users_screen.locked") if status.locked else t("users_screen.active")
            table.add_row(
                plain(f"{account.name} {account.display_name}"),
                plain("・".join(t(f"role.{r.value}") for r in sorted(account.roles))),
                plain(" ".join(flags)),
                plain(f"{account.valid_from}〜{account.valid_to or ''}"),
                plain(state),
                key=account.name,
            )

    def _selected(self) -> str | None:
        table = self.query_one("#users", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def action_add(self) -> None:
        from tui.screens.user_add import AddUserModal

        self.app.push_screen(AddUserModal(self._admin()), lambda _done: self.action_refresh())

    def action_lock_user(self) -> None:
        self._confirmed("users_screen.confirm_lock", "lock")

    def action_unlock_user(self) -> None:
        self._confirmed("users_screen.confirm_unlock", "unlock")

    def _confirmed(self, question_key: str, operation: str) -> None:
        name = self._selected()
        if name is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            admin = self._admin()
            work = (
                (lambda: admin.lock(name)) if operation == "lock" else (lambda: admin.unlock(name))
            )
            self.background(work, operation)

        self.app.push_screen(ConfirmModal(self.t(question_key, name=name)), answered)

    def action_reset_password(self) -> None:
        from tui.screens.user_add import ResetPasswordModal

        name = self._selected()
        if name is not None:
            self.app.push_screen(ResetPasswordModal(self._admin(), name))

    def action_back(self) -> None:
        self.dismiss()

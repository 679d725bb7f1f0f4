"""端末設定: administrators change terminal settings (each change audited)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from core.services.terminal import change_setting, read_settings
from core.terminal import SETTINGS
from tui.base import SesshuModal, SesshuScreen, error_text, plain
from tui.widgets import KeysFooter, top_bar


class SettingsScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(self.t("settings_screen.title"), classes="screen-title")
        yield DataTable(id="settings", cursor_type="row")
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#settings", DataTable)
        table.add_column(self.t("settings_screen.key"), key="key")
        table.add_column(self.t("settings_screen.value"), key="value")
        table.add_column("", key="label")
        self.sesshu.refresh_status()
        self._load()
        table.focus()

    def _load(self) -> None:
        ctx = self.sesshu.ctx
        if ctx is None:
            return
        self.background(lambda: read_settings(ctx.store), "load")

    def worker_succeeded(self, name: str, result: Any) -> None:
        table = self.query_one("#settings", DataTable)
        table.clear()
        for key, value in result.items():
            table.add_row(plain(key), plain(value), plain(self.t(SETTINGS[key].label_key)), key=key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        self.app.push_screen(SettingModal(key), lambda _changed: self._load())

    def action_back(self) -> None:
        self.dismiss()


class SettingModal(SesshuModal[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel")
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self._setting = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(f"{self._setting}: {self.t(SETTINGS[self._setting].label_key)}"))
            yield Input(id="value")
            yield Static("", id="message", classes="message")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        ctx = self.sesshu.ctx
        if ctx is None:
            return
        value = event.value
        self.background(lambda: change_setting(ctx, self._setting, value), "set")

    def worker_succeeded(self, name: str, result: Any) -> None:
        self.app.notify(self.t("setting.changed", name=self._setting, value=result))
        self.dismiss(True)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))

    def action_cancel(self) -> None:
        self.dismiss(False)

"""ヘルプ: every key binding active on the screen below, from the same bindings as the footer,
under the screen's own help text (``HELP_KEY``) if it has one."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.base import SesshuModal, plain


class HelpScreen(SesshuModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "binding.back", id="close"),
        Binding("f1", "close", "help.close", show=False, id="close_f1"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="dialog"):
            yield Static(self.t("help.title"), classes="dialog-title")
            yield Static("", id="screen-help", classes="hint")
            yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        table.add_columns(self.t("help.key"), self.t("help.action"))
        below = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else self.app.screen
        about = self.query_one("#screen-help", Static)
        help_key = getattr(below, "HELP_KEY", "")
        about.display = bool(help_key)
        if help_key:
            about.update(plain(self.t(help_key)))
            self.query_one("#help-box").add_class("wide")
        seen: set[str] = set()
        for key, active in below.active_bindings.items():
            binding: Binding = active.binding
            if active.node not in (below, self.app):
                continue
            if not binding.description or binding.description in seen:
                continue
            seen.add(binding.description)
            display = self.app.get_key_display(binding)
            table.add_row(plain(display), plain(binding.description), key=key)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)

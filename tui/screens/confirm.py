"""A yes/no question with a typed result (No is the default: undo-safe)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.base import SesshuModal, plain


class ConfirmModal(SesshuModal[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "no", "binding.back", id="no")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self._question))
            with Horizontal(classes="buttons"):
                yield Button(self.t("app.no"), id="no", variant="primary")
                yield Button(self.t("app.yes"), id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)

"""Small batch dialogs: register a batch (バッチ登録) and decide a held duplicate (重複の判断)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from core.batches import Batch
from core.masters import MasterKind
from core.services.batches import BatchService
from tui.base import SesshuModal, error_text, plain
from tui.slip_form import MasterSuggester

NEW_FIELDS = ("source", "received", "count", "vaccine")


class NewBatchModal(SesshuModal[Batch | None]):
    """Source, date received (和暦 shorthand accepted), slips counted on paper, expected vaccine."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel"),
        Binding("enter", "enter", show=False, priority=True, id="next_field"),
    ]

    def __init__(self, service: BatchService) -> None:
        super().__init__()
        self._service = service

    def compose(self) -> ComposeResult:
        t = self.t
        suggester = MasterSuggester(
            lambda text: self._service.masters().suggest(MasterKind.VACCINE, text)
        )
        with Vertical(classes="dialog wide"):
            yield Static(t("batch_screen.new_title"), classes="dialog-title")
            yield Input(placeholder=t("batch_screen.new_source"), id="source")
            yield Input(placeholder=t("batch_screen.new_received"), id="received")
            yield Input(placeholder=t("batch_screen.new_count"), id="count")
            yield Input(
                placeholder=t("batch_screen.new_vaccine"), id="vaccine", suggester=suggester
            )
            yield Static("", id="message", classes="message")

    def on_mount(self) -> None:
        self.query_one("#source", Input).focus()

    def action_enter(self) -> None:
        """Enter moves on at once (so fast typing stays in the right field); the last registers."""
        focused = self.focused
        if focused is not None and focused.id == NEW_FIELDS[-1]:
            focused.call_later(self._create)
        else:
            self.focus_next()

    def _create(self) -> None:
        values = [self.query_one(f"#{name}", Input).value for name in NEW_FIELDS]
        service = self._service
        self.background(
            lambda: service.create(values[0], values[1], values[2], values[3] or None), "create"
        )

    def worker_succeeded(self, name: str, result: Any) -> None:
        self.app.notify(self.t("batch_screen.created", batch=result.id))
        self.dismiss(result)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))

    def action_cancel(self) -> None:
        self.dismiss(None)


class DuplicateModal(SesshuModal[bool | None]):
    """Accept a held slip as a record, or reject it; cancelling decides nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        t = self.t
        with Vertical(classes="dialog"):
            yield Static(plain(self._question))
            with Horizontal(classes="buttons"):
                yield Button(t("app.cancel"), id="cancel", variant="primary")
                yield Button(t("batch_summary.accept"), id="accept", variant="warning")
                yield Button(t("batch_summary.reject"), id="reject", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        choice = event.button.id
        self.dismiss(None if choice == "cancel" else choice == "accept")

    def action_cancel(self) -> None:
        self.dismiss(None)

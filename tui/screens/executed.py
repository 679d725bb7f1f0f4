"""実施の結果: the medium written for a provision case, and its passphrase shown this once."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from core.services.provision import Executed
from tui.base import SesshuModal, plain


class ExecutedModal(SesshuModal[None]):
    """The medium written, and a passphrase shown this once: it is never stored anywhere."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "binding.back", id="close"),
    ]

    def __init__(self, executed: Executed) -> None:
        super().__init__()
        self._executed = executed

    def compose(self) -> ComposeResult:
        t = self.t
        written = self._executed.written
        medium = written.medium
        with Vertical(classes="dialog wide", id="executed-box"):
            yield Static(
                t("provision_screen.executed_title", case=self._executed.case.id),
                classes="dialog-title",
            )
            if written.outcome.verified:
                yield Static(
                    plain(
                        t("export.written", label=medium.label, medium=medium.id, path=medium.path)
                    ),
                    id="written",
                )
                yield Static(plain(t("provision_screen.record", record=self._executed.record)))
            else:
                yield Static(
                    plain(
                        t(
                            "export.spoiled",
                            label=medium.label,
                            problems=" ".join(written.outcome.problems),
                        )
                    ),
                    id="written",
                    classes="message",
                )
            passphrase = written.passphrase
            if passphrase is not None:
                yield Static(t("export.passphrase_once"), classes="warning")
                yield Static(plain(passphrase), id="passphrase")
            with Horizontal(classes="buttons"):
                yield Button(t("provision_screen.noted"), id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)

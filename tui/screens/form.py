"""A few labelled lines, then one service call: the dialog stays open with the error inline.

Enter moves to the next line; on the last line (or with Ctrl+S) the form calls ``submit`` with
the values in a thread worker and returns its result. A refusal (a witness who is the writer,
a medium in the wrong state) shows as a message and the typed values stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from tui.base import SesshuModal, error_text, plain

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    value: str = ""
    required: bool = True


class FormModal(SesshuModal[ResultT | None], Generic[ResultT]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel"),
        Binding("ctrl+s", "submit", "binding.submit", id="submit"),
    ]

    def __init__(
        self,
        title: str,
        fields: list[FormField],
        submit: Callable[[dict[str, str]], ResultT],
        *,
        note: str = "",
    ) -> None:
        super().__init__()
        self._title = title
        self._fields = fields
        self._submit = submit
        self._note = note
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(plain(self._title), classes="dialog-title")
            if self._note:
                yield Static(plain(self._note), classes="warning")
            labels = [
                f.label if f.required else self.t("form.optional", label=f.label)
                for f in self._fields
            ]
            width = max(cell_len(label) for label in labels) + 2
            for field, label in zip(self._fields, labels, strict=True):
                with Horizontal(classes="form-row"):
                    text = Static(plain(label), classes="form-label")
                    text.styles.width = width
                    yield text
                    yield Input(value=field.value, id=f"f-{field.key}")
            yield Static(self.t("form.hint"), classes="hint")
            yield Static("", id="message", classes="message")

    def on_mount(self) -> None:
        self.query_one(f"#f-{self._fields[0].key}", Input).focus()

    def values(self) -> dict[str, str]:
        return {f.key: self.query_one(f"#f-{f.key}", Input).value.strip() for f in self._fields}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == f"f-{self._fields[-1].key}":
            self.action_submit()
        else:
            self.focus_next()

    def action_submit(self) -> None:
        if self._busy:
            return
        values = self.values()
        for field in self._fields:
            if field.required and not values[field.key]:
                self._message(self.t("form.required", label=field.label))
                self.query_one(f"#f-{field.key}", Input).focus()
                return
        self._busy = True
        self._message(self.t("form.working"), error=False)
        submit = self._submit
        self.background(lambda: submit(values), "submit")

    def worker_succeeded(self, name: str, result: Any) -> None:
        self.dismiss(result)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self._busy = False
        self._message(error_text(self.t, error))

    def _message(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#message", Static)
        message.set_class(not error, "hint")
        message.update(plain(text))

    def action_cancel(self) -> None:
        if not self._busy:
            self.dismiss(None)

"""修正の申請: propose a registration, correction or deletion; a second person confirms it.

The form starts from the stored values it was given (with their version, so a change made in
the meantime is refused rather than overwritten). Problems show inline, from the catalogue.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Checkbox, Input, Select, Static

from core.change_text import field_label, value_text
from core.changes import (
    PROTECTED_FIELDS,
    ChangeKind,
    ChangeRequest,
    Evidence,
    FieldValue,
    IdDocument,
    RecordSnapshot,
    resident_values,
)
from core.residents import Resident
from core.roles import Permission
from core.services.changes import ChangeService
from tui.base import SesshuModal, error_text, plain
from tui.screens.user_add import FieldCheckbox

RECORD_FORM = ("vaccine", "dose", "date", "lot", "maker", "institution", "physician", "note")
RESIDENT_FORM = ("name", "kana", "postal", "address")


def _typed(value: FieldValue) -> str:
    """A stored value as the form shows it for editing."""
    return "" if value is None else str(value)


class ChangeFormModal(SesshuModal[int | None]):
    """Returns the new change's number, or None if cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel"),
        Binding("ctrl+s", "submit", "change.binding_submit", id="submit_change"),
    ]

    def __init__(
        self,
        service: ChangeService,
        kind: ChangeKind,
        resident: Resident,
        record: RecordSnapshot | None = None,
    ) -> None:
        super().__init__()
        self._service = service
        self.kind = kind
        self.resident = resident
        self.record = record
        self.start: dict[str, str] = {}

    def fields(self) -> tuple[str, ...]:
        if self.kind is ChangeKind.RECORD_VOID:
            return ()
        if self.kind.on_record:
            return RECORD_FORM
        session = self.sesshu.session
        see_protected = session is not None and session.can(Permission.DV_ADDRESS_REVEAL)
        if self.resident.dv_flag and not see_protected:
            return tuple(f for f in RESIDENT_FORM if f not in PROTECTED_FIELDS)
        return RESIDENT_FORM

    def compose(self) -> ComposeResult:
        t = self.t
        stored = dict(self.record.values) if self.record else resident_values(self.resident)
        editing = self.kind in (ChangeKind.RECORD_CORRECT, ChangeKind.RESIDENT_CORRECT)
        with VerticalScroll(classes="dialog wide change-form"):
            yield Static(t(f"change.kind.{self.kind.value}"), classes="dialog-title")
            yield Static(
                plain(f"{self.resident.atena}  {self.resident.name}（{self.resident.kana}）"),
                id="subject",
            )
            if self.kind is ChangeKind.RECORD_VOID and self.record is not None:
                yield Static(self._record_text(), id="voided")
            for name in self.fields():
                self.start[name] = _typed(stored.get(name)) if editing else ""
                with Horizontal(classes="form-row"):
                    yield Static(field_label(t, name), classes="form-label")
                    yield Input(value=self.start[name], id=f"f-{name}")
            if self.kind.on_record and self.kind is not ChangeKind.RECORD_VOID:
                unknown = bool(stored.get("date_unknown")) if editing else False
                yield FieldCheckbox(field_label(t, "date_unknown"), unknown, id="f-date_unknown")
            with Horizontal(classes="form-row choices"):
                yield Select(
                    [(t(f"change.evidence.{e.value}"), e.value) for e in Evidence],
                    value=Evidence.COUNTER.value,
                    allow_blank=False,
                    id="evidence",
                )
                yield Select(
                    [(t(f"change.id_document.{d.value}"), d.value) for d in IdDocument],
                    prompt=field_label(t, "id_document"),
                    id="id_document",
                )
            with Horizontal(classes="form-row"):
                yield Static(field_label(t, "reason"), classes="form-label")
                yield Input(id="reason")
            yield Static(t("change.form_hint"), classes="hint")
            yield Static("", id="message", classes="message")

    def _record_text(self) -> Text:
        assert self.record is not None
        text = Text()
        for name, value in self.record.values.items():
            if value not in (None, False):
                text.append(f"{field_label(self.t, name)}: ", style="bold")
                text.append(value_text(self.t, name, value) + "\n")
        return text

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reason":
            self.action_submit()
        else:
            self.focus_next()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "evidence":
            documents = self.query_one("#id_document", Select)
            documents.disabled = event.value == Evidence.PHONE.value
            if documents.disabled:
                documents.clear()

    def request(self) -> ChangeRequest:
        values: dict[str, str] = {}
        for name in self.fields():
            typed = self.query_one(f"#f-{name}", Input).value
            if typed != self.start.get(name, ""):
                values[name] = typed
        if self.kind.on_record and self.kind is not ChangeKind.RECORD_VOID:
            unknown = self.query_one("#f-date_unknown", Checkbox).value
            stored = bool(self.record.values.get("date_unknown")) if self.record else False
            if unknown != stored:
                values["date_unknown"] = "1" if unknown else "0"
        document = self.query_one("#id_document", Select).value
        version = (
            self.resident.version
            if self.kind is ChangeKind.RESIDENT_CORRECT
            else (self.record.version if self.record else None)
        )
        return ChangeRequest(
            kind=self.kind.value,
            atena=self.resident.atena,
            values=values,
            record=self.record.id if self.record else None,
            evidence=str(self.query_one("#evidence", Select).value),
            id_document=document if isinstance(document, str) else None,
            reason=self.query_one("#reason", Input).value,
            base_version=version,
        )

    def action_submit(self) -> None:
        change_request = self.request()
        self.background(lambda: self._service.propose(change_request), "propose")

    def worker_succeeded(self, name: str, result: Any) -> None:
        self.dismiss(result.id)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))

    def action_cancel(self) -> None:
        self.dismiss(None)

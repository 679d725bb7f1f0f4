"""個人画面: one resident — basic items, flags, masked 個人番号, vaccination history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.change_text import summary_lines
from core.changes import ChangeKind, RecordSnapshot
from core.japanese.wareki import format_wareki
from core.person import PersonView
from core.residents import Resident
from core.roles import Permission
from core.services.changes import ChangeService
from core.services.lookup import LookupService
from tui.base import SesshuScreen
from tui.record_table import Column, RecordTable, Row
from tui.widgets import KeysFooter, top_bar

HISTORY_COLUMNS = (
    ("vaccine", 26),
    ("dose", 3),
    ("date", 24),
    ("lot", 10),
    ("institution", 24),
    ("physician", 14),
    ("state", 12),
)


class PersonScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("f7", "reveal_mynumber", "binding.reveal_mynumber", id="reveal_mynumber"),
        Binding("f6", "reveal_address", "binding.reveal_address", id="reveal_address"),
        Binding("f8", "copy_atena", "binding.copy_atena", id="copy_atena"),
        Binding("a", "propose('record.add')", "change.binding_add", id="propose_add"),
        Binding("e", "propose('record.correct')", "change.binding_correct", id="propose_correct"),
        Binding("d", "propose('record.void')", "change.binding_void", id="propose_void"),
        Binding(
            "r", "propose('resident.correct')", "change.binding_resident", id="propose_resident"
        ),
    ]

    def __init__(self, atena: str) -> None:
        super().__init__()
        self.atena = atena
        self.view: PersonView | None = None
        self.mynumber_shown: str | None = None
        self.address_shown: str | None = None
        self._proposing = ChangeKind.RECORD_ADD

    def compose(self) -> ComposeResult:
        yield Static(self.t("person.title"), classes="screen-title")
        yield Static("", id="basics")
        yield Static("", id="pending", classes="pending-changes")
        yield RecordTable(
            [Column(key, self.t(f"person.col_{key}"), width) for key, width in HISTORY_COLUMNS],
            id="history",
        )
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self._service_call(lambda service: service.open(self.atena), "open")

    def _service_call(self, call: Callable[[LookupService], object], name: str) -> None:
        ctx = self.sesshu.ctx
        if ctx is not None:
            service = LookupService(ctx)
            self.background(lambda: call(service), name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        session = self.sesshu.session
        if action == "reveal_mynumber":
            allowed = session is not None and session.can(Permission.MYNUMBER_USE)
            return True if allowed and self.mynumber_shown is None else None
        if action == "reveal_address":
            protected = self.view is not None and self.view.address_protected
            allowed = session is not None and session.can(Permission.DV_ADDRESS_REVEAL)
            return (
                (True if allowed and self.address_shown is None else None) if protected else False
            )
        if action == "propose":
            return self._may_propose(str(parameters[0]) if parameters else "")
        return True

    def _may_propose(self, kind: str) -> bool | None:
        session = self.sesshu.session
        if self.view is None or session is None or not session.can(Permission.CHANGE_PROPOSE):
            return False
        if kind not in (ChangeKind.RECORD_CORRECT, ChangeKind.RECORD_VOID):
            return True
        record = self._highlighted_record()
        return True if record is not None and self.view.pending_on(record) is None else None

    def _highlighted_record(self) -> int | None:
        key = self.query_one("#history", RecordTable).cursor_key
        return int(key) if key is not None else None

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "open":
            self.view = result
            self._show_history(result)
            self._show_pending(result)
        elif name == "basis":
            self._open_form(*result)
            return
        elif name == "mynumber":
            self.mynumber_shown = result or ""
        elif name == "address":
            self.address_shown = result or ""
        self._show_basics()
        self.refresh_bindings()

    def _show_basics(self) -> None:
        view = self.view
        if view is None:
            return
        t = self.t
        r = view.resident
        text = Text()

        def line(label: str, value: str | Text, style: str = "") -> None:
            text.append(f"{label}: ", style="bold")
            text.append(value if isinstance(value, Text) else Text(value, style=style))
            text.append("\n")

        line(t("person.atena"), r.atena)
        line(t("person.name"), r.name)
        line(t("person.kana"), r.kana)
        line(
            t("person.birth"),
            f"{view.birth_wareki}（{r.birth}） "
            + t("person.age", age=view.age, fy_age=view.fiscal_year_end_age),
        )
        line(t("person.sex"), t(f"sex.{r.sex.value}"))
        if view.address_protected and self.address_shown is None:
            line(t("person.address"), t("lookup.address_protected"), "italic")
        else:
            line(t("person.address"), self.address_shown or view.address or "")
        status = t(f"status.{r.status.value}")
        if r.status_date:
            status += f"（{format_wareki(r.status_date)}）"
        line(t("person.status"), status, "" if r.status.value == "resident" else "bold red")
        flags = [t("person.flag_dv")] if r.dv_flag else []
        flags += [t("person.flag_no_auto")] if r.no_auto_answer else []
        line(t("person.flags"), "・".join(flags) or t("app.none"), "bold yellow" if flags else "")
        shown = self.mynumber_shown
        if shown is not None:
            line(t("person.mynumber"), f"{shown[0:4]} {shown[4:8]} {shown[8:12]}", "bold")
        else:
            line(t("person.mynumber"), view.mynumber_masked if view.has_mynumber else t("app.none"))
        self.query_one("#basics", Static).update(text)

    def _show_history(self, view: PersonView) -> None:
        t = self.t
        rows: list[Row] = []
        for history in view.histories:
            for v in history.records:
                pending = v.status.value == "pending" or view.pending_on(v.id) is not None
                style = "italic yellow" if pending else ""
                date_text = (
                    f"{format_wareki(v.date, 'short')} ({v.date})"
                    if v.date
                    else t("person.date_unknown")
                )
                cells = [
                    history.vaccine_name or history.vaccine,
                    str(v.dose or "-"),
                    date_text,
                    v.lot or "",
                    v.institution_name or v.institution or "",
                    v.physician_name or v.physician or "",
                    self._state(view, v.id, pending),
                ]
                rows.append(Row(str(v.id), cells, style))
        self.query_one("#history", RecordTable).set_rows(rows)

    def _state(self, view: PersonView, record_id: int, pending: bool) -> str:
        change = view.pending_on(record_id)
        if change is not None:
            return self.t(f"change.state.{change.kind.value}", change=change.id)
        return self.t("person.pending") if pending else self.t("person.verified")

    def _show_pending(self, view: PersonView) -> None:
        box = self.query_one("#pending", Static)
        box.display = bool(view.pending_changes)
        text = Text(self.t("change.pending_heading") + "\n", style="bold yellow")
        for change in view.pending_changes:
            text.append("\n".join(summary_lines(self.t, change)) + "\n")
        box.update(text)

    def action_propose(self, kind: str) -> None:
        ctx = self.sesshu.ctx
        if ctx is None:
            return
        service = ChangeService(ctx)
        chosen = ChangeKind(kind)
        record = self._highlighted_record() if chosen.on_record else None
        if chosen is ChangeKind.RECORD_ADD:
            record = None
        self._proposing = chosen
        self.background(lambda: service.basis(self.atena, record), "basis")

    def _open_form(self, resident: Resident, record: RecordSnapshot | None) -> None:
        from tui.screens.change_form import ChangeFormModal

        ctx = self.sesshu.ctx
        if ctx is None:
            return

        def proposed(change_id: int | None) -> None:
            if change_id is not None:
                self.app.notify(self.t("change.proposed", change=change_id))
                self._service_call(lambda service: service.open(self.atena), "open")

        form = ChangeFormModal(ChangeService(ctx), self._proposing, resident, record)
        self.app.push_screen(form, proposed)

    def action_reveal_mynumber(self) -> None:
        self._service_call(lambda service: service.reveal_mynumber(self.atena), "mynumber")

    def action_reveal_address(self) -> None:
        from tui.screens.prompt import PromptModal

        def answered(reason: str | None) -> None:
            if reason:
                self._service_call(
                    lambda service: service.reveal_address(self.atena, reason), "address"
                )

        self.app.push_screen(
            PromptModal(self.t("person.reveal_reason"), self.t("person.reason")), answered
        )

    def action_copy_atena(self) -> None:
        self.app.copy_to_clipboard(self.atena)
        self.app.notify(self.t("search.copied", atena=self.atena))

    def action_back(self) -> None:
        self.dismiss()

"""個人画面: one resident — basic items, flags, masked 個人番号, vaccination history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from core.japanese.wareki import format_wareki
from core.person import PersonView
from core.roles import Permission
from core.services.lookup import LookupService
from tui.base import SesshuScreen
from tui.record_table import Column, RecordTable, Row
from tui.widgets import top_bar

HISTORY_COLUMNS = (
    ("vaccine", 26),
    ("dose", 3),
    ("date", 24),
    ("lot", 10),
    ("institution", 24),
    ("physician", 14),
    ("state", 8),
)


class PersonScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("f7", "reveal_mynumber", "binding.reveal_mynumber", id="reveal_mynumber"),
        Binding("f6", "reveal_address", "binding.reveal_address", id="reveal_address"),
        Binding("f8", "copy_atena", "binding.copy_atena", id="copy_atena"),
    ]

    def __init__(self, atena: str) -> None:
        super().__init__()
        self.atena = atena
        self.view: PersonView | None = None
        self.mynumber_shown: str | None = None
        self.address_shown: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.t("person.title"), classes="screen-title")
        yield Static("", id="basics")
        yield RecordTable(
            [Column(key, self.t(f"person.col_{key}"), width) for key, width in HISTORY_COLUMNS],
            id="history",
        )
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield Footer()

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
        return True

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "open":
            self.view = result
            self._show_history(result)
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
                pending = v.status.value == "pending"
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
                    t("person.pending") if pending else t("person.verified"),
                ]
                rows.append(Row(str(v.id), cells, style))
        self.query_one("#history", RecordTable).set_rows(rows)

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

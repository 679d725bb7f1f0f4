"""住民検索: find residents by any combination of criteria; Enter opens a person."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Select, Static

from core.japanese.wareki import format_wareki
from core.person import ResidentSummary
from core.roles import Permission
from core.search import SearchCriteria
from core.services.lookup import LookupService, SearchResult
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.screens.user_add import FieldCheckbox
from tui.widgets import KeysFooter, top_bar

TEXT_FIELDS = ("atena", "mynumber", "kana", "name", "birth", "address")
COLUMNS = (
    ("atena", 11),
    ("name", 16),
    ("kana", 20),
    ("birth", 22),
    ("sex", 4),
    ("status", 6),
    ("address", 34),
)


class SearchScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("f5", "search", "binding.search", id="search"),
        Binding("f6", "clear", "binding.clear", id="clear"),
        Binding("f8", "copy_atena", "binding.copy_atena", id="copy_atena"),
    ]

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("search.title"), classes="screen-title")
        with Horizontal(classes="form-row"):
            for field in TEXT_FIELDS[:3]:
                yield self._input(field)
        with Horizontal(classes="form-row"):
            for field in TEXT_FIELDS[3:]:
                yield self._input(field)
        with Horizontal(classes="form-row"):
            yield Select([(t("sex.M"), "M"), (t("sex.F"), "F")], prompt=t("search.sex"), id="sex")
            yield Select(
                [(t(f"status.{s}"), s) for s in ("resident", "moved_out", "deceased")],
                prompt=t("search.status"),
                id="status",
            )
            yield FieldCheckbox(t("search.variants"), id="variants")
            yield FieldCheckbox(t("search.loose"), id="loose")
        yield Static("", id="message", classes="message")
        yield RecordTable(
            [Column(key, t(f"search.col_{key}"), width) for key, width in COLUMNS], id="results"
        )
        yield Static("", id="summary", classes="hint")
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def _input(self, field: str) -> Input:
        widget = Input(placeholder=self.t(f"search.{field}"), id=field)
        if field == "mynumber":
            session = self.sesshu.session
            widget.display = bool(session and session.can(Permission.MYNUMBER_USE))
            widget.password = True
        return widget

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#kana", Input).focus()

    def _criteria(self) -> SearchCriteria:
        def text(field: str) -> str | None:
            value = self.query_one(f"#{field}", Input).value
            return value or None

        def choice(field: str) -> str | None:
            value = self.query_one(f"#{field}", Select).value
            return value if isinstance(value, str) else None

        return SearchCriteria(
            atena=text("atena"),
            mynumber=text("mynumber"),
            kana=text("kana"),
            name=text("name"),
            birth=text("birth"),
            address=text("address"),
            sex=choice("sex"),
            status=choice("status"),
            variants=self.query_one("#variants", FieldCheckbox).value,
            loose=self.query_one("#loose", FieldCheckbox).value,
        )

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_search()

    def action_search(self) -> None:
        ctx = self.sesshu.ctx
        if ctx is None:
            return
        criteria = self._criteria()
        self.background(lambda: LookupService(ctx).search(criteria), "search")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "search":
            self.show_results(result)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))

    def show_results(self, result: SearchResult) -> None:
        t = self.t
        self.query_one("#message", Static).update("")
        table = self.query_one("#results", RecordTable)
        table.set_rows([Row(r.atena, self._cells(r)) for r in result.residents])
        summary = t("search.count", count=len(result.residents))
        if result.truncated:
            summary += "  " + t("lookup.narrow", limit=len(result.residents))
        self.query_one("#summary", Static).update(summary)
        if result.residents:
            table.focus()

    def _cells(self, r: ResidentSummary) -> list[Text]:
        t = self.t
        address = (
            Text(t("lookup.address_protected"), style="italic")
            if r.address is None
            else plain(r.address)
        )
        return [
            plain(r.atena),
            plain(r.name),
            plain(r.kana),
            plain(f"{format_wareki(r.birth, 'short')} ({r.birth})"),
            plain(t(f"sex.{r.sex.value}")),
            plain(t(f"status.{r.status.value}")),
            address,
        ]

    def selected_atena(self) -> str | None:
        return self.query_one("#results", RecordTable).cursor_key

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        from tui.screens.person import PersonScreen

        self.app.push_screen(PersonScreen(event.key))

    def action_copy_atena(self) -> None:
        atena = self.selected_atena()
        if atena:
            self.app.copy_to_clipboard(atena)
            self.app.notify(self.t("search.copied", atena=atena))

    def action_clear(self) -> None:
        for field in TEXT_FIELDS:
            self.query_one(f"#{field}", Input).value = ""
        for select in self.query(Select):
            select.clear()
        self.query_one("#results", RecordTable).clear()
        self.query_one("#summary", Static).update("")
        self.query_one("#kana", Input).focus()

    def action_back(self) -> None:
        table = self.query_one("#results", RecordTable)
        if table.has_focus:
            self.query_one("#kana", Input).focus()
        else:
            self.dismiss()

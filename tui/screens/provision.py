"""情報提供の案件一覧: the provision cases; Enter opens one to decide, approve, check or execute.

Cases are created with the CLI (``sesshu provision create``): a list of 宛名番号 or a sample
drawn by strata is a file, not something to type on a form.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.i18n import Catalogue
from core.provision import Case, CaseStatus
from core.services.provision import ProvisionService
from exports.services import provision_service
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.widgets import KeysFooter, top_bar

COLUMNS = (
    ("id", 5),
    ("status", 10),
    ("basis", 20),
    ("purpose", 28),
    ("persons", 7),
    ("deadline", 10),
    ("requester", 10),
)
DONE = frozenset({CaseStatus.REJECTED, CaseStatus.CLOSED})


def case_status(t: Catalogue, case: Case) -> Text:
    style = "dim" if case.status in DONE else ("bold" if case.status is CaseStatus.DRAFT else "")
    return Text(t(f"provision_screen.status.{case.status.value}"), style=style)


class ProvisionCasesScreen(SesshuScreen):
    HELP_KEY: ClassVar[str] = "provision_screen.help_list"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("enter", "open", "provision_screen.bind_open", id="open", priority=True),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.cases: dict[str, Case] = {}
        self.persons: dict[int, int] = {}  # counts seen in a preview on this screen
        self._select: int | None = None

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("provision_screen.title"), classes="screen-title")
        yield RecordTable(
            [Column(key, t(f"provision_screen.col_{key}"), width) for key, width in COLUMNS],
            id="cases",
        )
        yield Static("", id="summary", classes="hint")
        yield Static(t("provision_screen.create_in_cli"), classes="hint")
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#cases", RecordTable).focus()
        self.action_refresh()

    def _service(self) -> ProvisionService:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return provision_service(ctx)

    def selected(self) -> int | None:
        key = self.query_one("#cases", RecordTable).cursor_key
        return int(key) if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            return bool(self.cases)
        return True

    def action_refresh(self) -> None:
        if self.sesshu.ctx is not None:
            self.background(self._service().cases, "list")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "list":
            self._show(result)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))
        self.sesshu.report_error(error)

    def _show(self, cases: list[Case]) -> None:
        t = self.t
        table = self.query_one("#cases", RecordTable)
        keep = self._select if self._select is not None else self.selected()
        self._select = None
        ordered = sorted(cases, key=lambda c: c.id, reverse=True)
        self.cases = {str(c.id): c for c in ordered}
        rows = [
            Row(
                str(c.id),
                [
                    plain(c.id),
                    case_status(t, c),
                    plain(c.basis),
                    plain(c.purpose),
                    plain(self._persons(c)),
                    plain(c.retention_deadline or ""),
                    plain(c.requester),
                ],
            )
            for c in ordered
        ]
        table.set_rows(rows)
        keys = [r.key for r in rows]
        if keep is not None and str(keep) in keys:
            table.cursor = keys.index(str(keep))
        waiting = sum(1 for c in ordered if c.status is CaseStatus.DRAFT)
        summary = t("provision_screen.count", count=len(ordered), drafts=waiting)
        self.query_one("#summary", Static).update(
            plain(summary if rows else t("provision_screen.none"))
        )
        self.refresh_bindings()

    def _persons(self, case: Case) -> str:
        if case.id in self.persons:
            return str(self.persons[case.id])
        return str(case.selection.size) if case.selection.method == "sample" else "-"

    def action_open(self) -> None:
        from tui.screens.provision_case import ProvisionCaseScreen

        case = self.selected()
        if case is None:
            return
        screen = ProvisionCaseScreen(case)

        def closed(_: None) -> None:
            if screen.preview is not None:
                self.persons[case] = screen.preview.included
            self._select = case
            self.action_refresh()

        self.app.push_screen(screen, closed)

    def action_back(self) -> None:
        self.dismiss()

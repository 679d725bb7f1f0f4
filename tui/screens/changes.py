"""修正の確認: pending changes, before and after side by side; Enter confirms, r rejects.

Only a user other than the proposer may decide a change. The bindings are disabled on one's own
change, and the service refuses it anyway, whatever the screen does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.change_text import evidence_text, field_lines, kind_text, when_text
from core.changes import PendingChange
from core.services.changes import ChangeService
from tui.base import SesshuScreen, plain
from tui.record_table import Column, RecordTable, Row
from tui.screens.confirm import ConfirmModal
from tui.screens.prompt import PromptModal
from tui.widgets import KeysFooter, top_bar

COLUMNS = (
    ("id", 5),
    ("kind", 16),
    ("atena", 11),
    ("name", 16),
    ("fields", 24),
    ("proposed_by", 8),
    ("proposed_at", 16),
)


class ChangesScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        # A priority binding, so the footer shows it over the table's own (hidden) Enter.
        Binding(
            "enter", "confirm_change", "change.binding_confirm", id="confirm_change", priority=True
        ),
        Binding("r", "reject_change", "change.binding_reject", id="reject_change"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.changes: dict[str, PendingChange] = {}

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("change.title"), classes="screen-title")
        yield RecordTable(
            [Column(key, t(f"change.col_{key}"), width) for key, width in COLUMNS], id="changes"
        )
        yield Static("", id="detail")
        yield Static("", id="summary", classes="hint")
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        table = self.query_one("#changes", RecordTable)
        self.watch(table, "cursor", self._show_detail, init=False)
        table.focus()
        self.action_refresh()

    def _service(self) -> ChangeService:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return ChangeService(ctx)

    @property
    def selected(self) -> PendingChange | None:
        key = self.query_one("#changes", RecordTable).cursor_key
        return self.changes.get(key) if key is not None else None

    def _own(self, change: PendingChange) -> bool:
        session = self.sesshu.session
        return session is not None and change.proposed_by == session.user

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("confirm_change", "reject_change"):
            change = self.selected
            return None if change is None or self._own(change) else True
        return True

    def action_refresh(self) -> None:
        service = self._service()
        self.background(service.list, "list")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "list":
            self._show(result)
            return
        done: PendingChange = result
        key = "change.confirmed" if name == "confirm" else "change.rejected"
        self.app.notify(self.t(key, change=done.id))
        self.action_refresh()

    def _show(self, changes: list[PendingChange]) -> None:
        t = self.t
        self.changes = {str(c.id): c for c in changes}
        rows = [
            Row(
                str(c.id),
                [
                    str(c.id),
                    kind_text(t, c),
                    c.atena,
                    c.person_name or "",
                    "・".join(line.label for line in field_lines(t, c)),
                    c.proposed_by,
                    when_text(c.proposed_at),
                ],
                "dim" if self._own(c) else "",
            )
            for c in changes
        ]
        self.query_one("#changes", RecordTable).set_rows(rows)
        self.query_one("#summary", Static).update(t("change.count", count=len(changes)))
        self._show_detail()

    def _show_detail(self) -> None:
        change = self.selected
        detail = self.query_one("#detail", Static)
        self.refresh_bindings()
        if change is None:
            detail.update(self.t("change.none"))
            return
        t = self.t
        table = Table(expand=True, show_edge=False)
        table.add_column(t("change.col_field"), ratio=1)
        table.add_column(t("change.col_before"), ratio=2)
        table.add_column(t("change.col_after"), ratio=2, style="bold")
        for line in field_lines(t, change):
            table.add_row(plain(line.label), plain(line.before), plain(line.after))
        heading = Text()
        heading.append(f"#{change.id} {kind_text(t, change)}  ", style="bold")
        heading.append(f"{change.atena} {change.person_name or ''}")
        if change.record is not None:
            label = change.record_label or ""
            heading.append(t("change.on_record", record=change.record, label=label))
        heading.append("\n")
        heading.append(t("change.evidence_line", evidence=evidence_text(t, change)) + "\n")
        heading.append(t("change.reason_line", reason=change.reason) + "\n")
        heading.append(
            t("change.proposed_line", user=change.proposed_by, at=when_text(change.proposed_at))
        )
        if self._own(change):
            heading.append("\n" + t("change.own_hint"), style="bold yellow")
        detail.update(Group(heading, table))

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        change = self.selected
        if change is not None and self._own(change):
            self.app.notify(self.t("change.own_change"), severity="warning")
            return
        self.action_confirm_change()

    def action_confirm_change(self) -> None:
        change = self.selected
        if change is None:
            return
        change_id = change.id

        def answered(yes: bool | None) -> None:
            if yes:
                service = self._service()
                self.background(lambda: service.confirm(change_id), "confirm")

        self.app.push_screen(
            ConfirmModal(self.t("change.confirm_question", change=change_id)), answered
        )

    def action_reject_change(self) -> None:
        change = self.selected
        if change is None:
            return
        change_id = change.id

        def answered(reason: str | None) -> None:
            if reason:
                service = self._service()
                self.background(lambda: service.reject(change_id, reason), "reject")

        self.app.push_screen(
            PromptModal(
                self.t("change.reject_question", change=change_id), self.t("person.reason")
            ),
            answered,
        )

    def action_back(self) -> None:
        self.dismiss()

"""照合: a third person settles each mismatch against the paper slip, with a reason.

For the highlighted mismatch both passes' values stand side by side; a takes pass 1's, b takes
pass 2's, e types the value read from the paper. A slip keyed in only one pass can only be
dropped (x). The service refuses anyone who keyed the batch; its refusal is shown as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.batches import DROP, SLIP_FIELD, Comparison, Mismatch
from core.masters import Masters
from core.services.batches import BatchService
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.slip_form import value_text
from tui.widgets import KeysFooter, top_bar

COLUMNS = (("slip", 8), ("field", 14), ("pass1", 30), ("pass2", 30))


class ReconcileScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("a", "take(1)", "reconcile_screen.bind_take1", id="take1"),
        Binding("b", "take(2)", "reconcile_screen.bind_take2", id="take2"),
        Binding("e", "enter_value", "reconcile_screen.bind_enter", id="enter_value"),
        Binding("x", "drop", "reconcile_screen.bind_drop", id="drop"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self, batch_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.open: list[Mismatch] = []
        self._masters: Masters | None = None
        self._note = ""  # what the last resolution did

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(
            plain(t("reconcile_screen.title", batch=self.batch_id)), classes="screen-title"
        )
        yield Static("", id="mismatch-counts", classes="hint")
        yield RecordTable(
            [Column(k, t(f"reconcile_screen.col_{k}"), w) for k, w in COLUMNS], id="mismatches"
        )
        yield Static("", id="mismatch-detail")
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        table = self.query_one("#mismatches", RecordTable)
        table.focus()
        self.watch(table, "cursor", self._highlighted, init=False)
        self.action_refresh()

    @property
    def service(self) -> BatchService:
        return self.sesshu.batch_service

    def current(self) -> Mismatch | None:
        table = self.query_one("#mismatches", RecordTable)
        return self.open[table.cursor] if self.open and table.cursor < len(self.open) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        mismatch = self.current()
        if action in ("take", "enter_value"):
            return mismatch is not None and mismatch.field != SLIP_FIELD
        if action == "drop":
            return mismatch is not None and mismatch.field == SLIP_FIELD
        return True

    def action_refresh(self) -> None:
        if self.sesshu.ctx is None:
            return
        service, batch = self.service, self.batch_id

        def load() -> tuple[Comparison, Masters]:
            return service.compare(batch), service.masters()

        self.background(load, "compare")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "compare":
            comparison, self._masters = result
            self._show(comparison)
        elif name == "resolve":
            self._note = self.t(
                "reconcile_screen.resolved",
                slip=result.slip,
                field=self.t.field(result.field),
                attribution=self.t(f"reconcile_screen.blame_{result.attribution}"),
            )
            self._message(self._note)
            self.action_refresh()

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self._message(error_text(self.t, error))
        self.sesshu.report_error(error)

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(plain(text))

    def _show(self, comparison: Comparison) -> None:
        t = self.t
        table = self.query_one("#mismatches", RecordTable)
        keep = table.cursor
        self.open = comparison.open_mismatches
        table.set_rows(
            [
                Row(
                    f"{m.slip}/{m.field}",
                    [
                        plain(m.slip),
                        plain(t.field(m.field)),
                        self._value(m, 1),
                        self._value(m, 2),
                    ],
                )
                for m in self.open
            ]
        )
        if self.open:
            table.cursor = min(keep, len(self.open) - 1)
        resolved = len(comparison.mismatches) - len(self.open)
        self.query_one("#mismatch-counts", Static).update(
            plain(
                t(
                    "reconcile_screen.counts",
                    open=len(self.open),
                    resolved=resolved,
                    matched=len(comparison.matched),
                )
            )
        )
        if not self.open:
            self._message(f"{self._note} {t('reconcile_screen.done')}".strip())
        self._highlighted()

    def _value(self, mismatch: Mismatch, pass_no: int) -> Text:
        value = mismatch.pass1 if pass_no == 1 else mismatch.pass2
        if mismatch.field == SLIP_FIELD:
            key = "reconcile_screen.slip_keyed" if value else "reconcile_screen.slip_missing"
            return Text(self.t(key), style="" if value else "bold red")
        if self._masters is None:
            return plain(value)
        return value_text(self.t, self._masters, mismatch.field, value)

    def _highlighted(self, _cursor: int | None = None) -> None:
        """Both passes' values of the highlighted mismatch, side by side."""
        t = self.t
        mismatch = self.current()
        detail = self.query_one("#mismatch-detail", Static)
        self.refresh_bindings()
        if mismatch is None:
            detail.update("")
            return
        grid = Table.grid(padding=(0, 4))
        grid.add_column()
        grid.add_column()
        grid.add_row(
            Text(
                t("reconcile_screen.detail", slip=mismatch.slip, field=t.field(mismatch.field)),
                style="bold",
            ),
            Text(""),
        )
        grid.add_row(
            Text(t("reconcile_screen.col_pass1") + " [a]", style="underline"),
            Text(t("reconcile_screen.col_pass2") + " [b]", style="underline"),
        )
        grid.add_row(self._value(mismatch, 1), self._value(mismatch, 2))
        hint = (
            "reconcile_screen.hint_slip"
            if mismatch.field == SLIP_FIELD
            else "reconcile_screen.hint"
        )
        grid.add_row(Text(t(hint), style="dim"), Text(""))
        detail.update(grid)

    # -- deciding -------------------------------------------------------------------------

    def action_take(self, pass_no: int) -> None:
        mismatch = self.current()
        if mismatch is not None:
            self._resolve(mismatch, mismatch.pass1 if pass_no == 1 else mismatch.pass2)

    def action_enter_value(self) -> None:
        from tui.screens.prompt import PromptModal

        mismatch = self.current()
        if mismatch is None:
            return

        def typed(value: str | None) -> None:
            if value is not None:
                self._resolve(mismatch, value)

        question = self.t("reconcile_screen.paper_value", field=self.t.field(mismatch.field))
        self.app.push_screen(PromptModal(question, self.t("field.value")), typed)

    def action_drop(self) -> None:
        mismatch = self.current()
        if mismatch is not None:
            self._resolve(mismatch, DROP)

    def _resolve(self, mismatch: Mismatch, value: str | None) -> None:
        """Ask for the reason, then settle the field with ``value``."""
        from tui.screens.prompt import PromptModal

        service, batch = self.service, self.batch_id

        def reasoned(reason: str | None) -> None:
            if reason:
                self.background(
                    lambda: service.resolve(batch, mismatch.slip, mismatch.field, value, reason),
                    "resolve",
                )

        question = self.t(
            "reconcile_screen.reason",
            slip=mismatch.slip,
            field=self.t.field(mismatch.field),
            value=self.t("reconcile_screen.blank") if value is None else value,
        )
        self.app.push_screen(PromptModal(question, self.t("field.reason")), reasoned)

    def action_back(self) -> None:
        self.dismiss()

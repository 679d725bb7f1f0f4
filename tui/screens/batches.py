"""バッチ一覧: the slip batches, their status and control counts; key, open or register one."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.batches import Batch, BatchStatus
from core.japanese.wareki import format_wareki
from core.roles import Permission
from core.services.batches import BatchService, PassProgress
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.widgets import KeysFooter, top_bar

COLUMNS = (
    ("id", 5),
    ("source", 26),
    ("received", 30),
    ("count", 8),
    ("vaccine", 8),
    ("status", 12),
    ("created_by", 14),
)


class BatchListScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("enter", "open", "batch_screen.bind_open", id="open", priority=True),
        Binding("n", "new", "batch_screen.bind_new", id="new"),
        Binding("1", "key_pass(1)", "batch_screen.bind_pass1", id="key_pass1"),
        Binding("2", "key_pass(2)", "batch_screen.bind_pass2", id="key_pass2"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._select: int | None = None
        self._empty = False

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("batch_screen.title"), classes="screen-title")
        yield RecordTable(
            [Column(key, t(f"batch_screen.col_{key}"), width) for key, width in COLUMNS],
            id="batches",
        )
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#batches", RecordTable).focus()
        self.action_refresh()

    @property
    def service(self) -> BatchService:
        return self.sesshu.batch_service

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("new", "key_pass"):
            session = self.sesshu.session
            return session is not None and session.can(Permission.BATCH_KEY)
        return True

    def selected(self) -> int | None:
        key = self.query_one("#batches", RecordTable).cursor_key
        return int(key) if key else None

    def action_refresh(self) -> None:
        if self.sesshu.ctx is not None:
            self.background(self.service.batches, "list")

    def action_open(self) -> None:
        from tui.screens.batch_summary import BatchSummaryScreen

        batch = self.selected()
        if batch is not None:
            self.app.push_screen(BatchSummaryScreen(batch), lambda _: self.action_refresh())

    def action_new(self) -> None:
        from tui.screens.batch_dialogs import NewBatchModal

        def created(batch: Batch | None) -> None:
            if batch is not None:
                self._select = batch.id
                self.action_refresh()

        self.app.push_screen(NewBatchModal(self.service), created)

    def action_key_pass(self, pass_no: int) -> None:
        """Open the keying form, once the service agrees this user may key this pass."""
        batch = self.selected()
        if batch is None:
            return
        self._message("")
        service = self.service

        def begin() -> PassProgress:
            progress = service.begin_pass(batch, pass_no)
            service.masters()
            return progress

        self.background(begin, "begin")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "list":
            self._show(result)
        elif name == "begin":
            from tui.screens.keying import KeyingScreen

            self.app.push_screen(
                KeyingScreen(self.service, result), lambda _: self.action_refresh()
            )

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self._message(error_text(self.t, error))
        self.sesshu.report_error(error)

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(plain(text))

    def _show(self, batches: list[Batch]) -> None:
        t = self.t
        table = self.query_one("#batches", RecordTable)
        keep = self._select if self._select is not None else self.selected()
        rows = [
            Row(
                str(b.id),
                [
                    plain(b.id),
                    plain(b.source),
                    plain(f"{format_wareki(b.received)}（{b.received}）"),
                    plain(b.control_count),
                    plain(b.expected_vaccine or ""),
                    Text(
                        t(f"batch_screen.status_{b.status.value}"),
                        style="" if b.status is BatchStatus.OPEN else "dim",
                    ),
                    plain(b.created_by),
                ],
            )
            for b in sorted(batches, key=lambda b: b.id, reverse=True)
        ]
        table.set_rows(rows)
        keys = [r.key for r in rows]
        if keep is not None and str(keep) in keys:
            table.cursor = keys.index(str(keep))
        self._select = None
        if not rows:
            self._message(t("batch_screen.none"))
        elif self._empty:
            self._message("")
        self._empty = not rows
        self.refresh_bindings()

    def action_back(self) -> None:
        self.dismiss()

"""月次点検レポート: the monthly review, and recording that it was done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, Static

from core.audit_report import MonthlyReport
from core.clock import today
from core.services.audit import AuditService
from tui.base import SesshuScreen, plain
from tui.screens.confirm import ConfirmModal
from tui.widgets import KeysFooter, top_bar


class ReportScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("f9", "review", "binding.review", id="review"),
    ]

    def compose(self) -> ComposeResult:
        t = self.t
        first = today(self.sesshu.clock).replace(day=1)
        previous = (first - timedelta(days=1)).strftime("%Y-%m")
        yield Static(t("report_screen.title"), classes="screen-title")
        yield Input(value=previous, placeholder=t("report_screen.month"), id="month")
        yield Static("", id="summary")
        yield DataTable(id="users", cursor_type="row", zebra_stripes=True)
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one("#users", DataTable)
        for key in ("user", "events", "off_hours", "lookups", "busiest", "flag"):
            table.add_column(self.t(f"report_screen.{key}"), key=key)
        self.sesshu.refresh_status()
        self._load()
        self.query_one("#month", Input).focus()

    def _service(self) -> AuditService:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return AuditService(ctx)

    def _month(self) -> str:
        return self.query_one("#month", Input).value.strip()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._load()

    def _load(self) -> None:
        service, month = self._service(), self._month()
        self.background(lambda: service.report(month), "report")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "report":
            self._show(result)
        else:
            self.app.notify(self.t("audit.reviewed", month=result.month))
            self._load()

    def _show(self, report: MonthlyReport) -> None:
        t = self.t
        lines = [
            t("audit.report_title", month=report.month),
            t("audit.report_events", count=report.events),
            t(
                "audit.report_failed_logins",
                count=report.failed_logins,
                locks=report.locks,
                denied=report.denied,
            ),
        ]
        heavy = report.heavy_lookup_users
        lines.append(
            t("audit.report_heavy", users=", ".join(heavy))
            if heavy
            else t("audit.report_heavy_none")
        )
        reviews = ", ".join(f"{who} {at[:16]}" for who, at in report.reviews)
        lines.append(
            t("audit.report_reviewed", reviews=reviews)
            if reviews
            else t("audit.report_not_reviewed")
        )
        self.query_one("#summary", Static).update(plain("\n".join(lines)))
        table = self.query_one("#users", DataTable)
        table.clear()
        for user in report.users:
            table.add_row(
                plain(user.user),
                plain(user.events),
                plain(user.off_hours),
                plain(user.lookups),
                plain(f"{user.busiest_day or ''} {user.busiest_day_lookups or ''}".strip()),
                plain(t("report_screen.heavy") if user.heavy_lookups else ""),
                key=user.user,
            )

    def action_review(self) -> None:
        month = self._month()

        def answered(yes: bool | None) -> None:
            if yes:
                service = self._service()
                self.background(lambda: service.record_review(month), "review")

        self.app.push_screen(
            ConfirmModal(f"{self.t('report_screen.review_done')}: {month}"), answered
        )

    def action_back(self) -> None:
        self.dismiss()

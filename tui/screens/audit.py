"""監査証跡: the auditor browses and filters the trail and verifies the chain."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from core.audit import AuditRecord, ChainVerdict
from core.errors import InvalidValue
from core.ports import AuditFilter
from core.services.audit import AuditService
from tui.base import SesshuScreen, plain
from tui.widgets import KeysFooter, top_bar

FILTERS = ("user", "action", "target", "since", "until")
LIMIT = 500


class AuditScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("f5", "refresh", "binding.filter", id="refresh"),
        Binding("f9", "verify", "binding.verify", id="verify"),
    ]

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("audit_screen.title"), classes="screen-title")
        with Horizontal(id="filters"):
            for name in FILTERS:
                hint = " (YYYY-MM-DD)" if name in ("since", "until") else ""
                yield Input(placeholder=t(f"audit_screen.{name}") + hint, id=f"f-{name}")
        yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
        yield Static("", id="summary", classes="hint")
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        t = self.t
        table = self.query_one("#events", DataTable)
        for key in ("seq", "at", "user", "action", "target", "detail"):
            table.add_column(t(f"audit_screen.{key}"), key=key)
        self.sesshu.refresh_status()
        self.action_refresh()
        self.query_one("#f-user", Input).focus()

    def _service(self) -> AuditService:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return AuditService(ctx)

    def _filter(self) -> AuditFilter:
        values = {name: self.query_one(f"#f-{name}", Input).value.strip() for name in FILTERS}
        return AuditFilter(
            user=values["user"] or None,
            action=values["action"] or None,
            target=values["target"] or None,
            since=_day(values["since"], "since"),
            until=_day(values["until"], "until"),
            limit=LIMIT,
        )

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        try:
            query = self._filter()
        except InvalidValue as error:
            self.app.notify(self.t.error(error), severity="error")
            return
        service = self._service()
        self.background(lambda: service.browse(query), "browse")

    def action_verify(self) -> None:
        self.query_one("#summary", Static).update(self.t("audit_screen.verify_running"))
        self.background(self._service().verify, "verify")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "browse":
            self._show(result)
        elif name == "verify":
            self._verdict(result)

    def _show(self, records: list[AuditRecord]) -> None:
        t = self.t
        table = self.query_one("#events", DataTable)
        table.clear()
        for r in records:
            label = t(f"action.{r.action}")
            table.add_row(
                plain(r.seq),
                plain(r.at[:19].replace("T", " ")),
                plain(r.user or "-"),
                plain(label),
                plain(r.target or ""),
                plain(r.detail),
                key=str(r.seq),
            )
        self.query_one("#summary", Static).update(
            t("audit_screen.shown", count=len(records), limit=LIMIT)
        )

    def _verdict(self, verdict: ChainVerdict) -> None:
        t = self.t
        if verdict.ok:
            text = t("audit.verify_ok", count=verdict.count, checkpoints=verdict.checkpoints)
            self.app.notify(text)
        else:
            reason = t(verdict.reason or "audit.bad_hash")
            text = t("audit.verify_failed", seq=verdict.first_bad_seq, reason=reason)
            self.app.notify(text, severity="error", timeout=15)
        self.query_one("#summary", Static).update(text)

    def action_back(self) -> None:
        self.dismiss()


def _day(text: str, field_name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(field_name, "user.date_format") from None

"""ダッシュボード: what waits for a supervisor — media to destroy, overdue erasure reports,
provision cases and exports to approve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.change_text import when_text
from core.exports import Export, Medium
from core.provision import Case
from core.services.context import ServiceContext
from exports.services import media_service, provision_service
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.screens.media import status_text
from tui.widgets import KeysFooter, top_bar

DISPOSE_COLUMNS = (("label", 16), ("status", 10), ("location", 14), ("created", 16))
OVERDUE_COLUMNS = (("case", 5), ("basis", 20), ("purpose", 28), ("deadline", 10), ("executed", 16))
DRAFT_COLUMNS = (("case", 5), ("basis", 20), ("purpose", 28), ("requester", 10), ("created", 16))
EXPORT_COLUMNS = (("export", 5), ("kind", 12), ("requester", 10), ("created", 16), ("note", 24))


@dataclass(frozen=True)
class Waiting:
    open_media: list[Medium]
    overdue: list[Case]
    drafts: list[Case]
    exports: list[Export]

    @property
    def must_dispose(self) -> list[Medium]:
        return [m for m in self.open_media if m.must_dispose]


def load(ctx: ServiceContext) -> Waiting:
    provisions = provision_service(ctx)
    return Waiting(
        open_media=media_service(ctx).listing(open_only=True),
        overdue=provisions.overdue(),
        drafts=provisions.cases("draft"),
        exports=provisions.exports.listing("pending"),
    )


class DashboardScreen(SesshuScreen):
    HELP_KEY: ClassVar[str] = "dashboard_screen.help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("m", "media", "dashboard_screen.bind_media", id="media"),
        Binding("p", "provision", "dashboard_screen.bind_provision", id="provision"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.waiting: Waiting | None = None

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("dashboard_screen.title"), classes="screen-title")
        yield Static("", id="counts")
        for section, columns in (
            ("dispose", DISPOSE_COLUMNS),
            ("overdue", OVERDUE_COLUMNS),
            ("drafts", DRAFT_COLUMNS),
            ("exports", EXPORT_COLUMNS),
        ):
            yield Static(
                t(f"dashboard_screen.{section}_count", count="-"),
                id=f"{section}-title",
                classes="section-title",
            )
            yield RecordTable(
                [Column(k, t(f"dashboard_screen.col_{k}"), w) for k, w in columns],
                id=section,
            )
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#dispose", RecordTable).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.sesshu.refresh_status()

    def action_refresh(self) -> None:
        ctx = self.sesshu.ctx
        if ctx is not None:
            self.background(lambda: load(ctx), "load")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "load":
            self.waiting = result
            self._show(result)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))
        self.sesshu.report_error(error)

    def _show(self, waiting: Waiting) -> None:
        t = self.t
        counts = t(
            "dashboard_screen.counts",
            open=len(waiting.open_media),
            dispose=len(waiting.must_dispose),
            overdue=len(waiting.overdue),
            drafts=len(waiting.drafts),
            exports=len(waiting.exports),
        )
        self.query_one("#counts", Static).update(plain(counts))
        sections: dict[str, list[Row]] = {
            "dispose": [
                Row(
                    str(m.id),
                    [
                        plain(m.label),
                        status_text(t, m),
                        plain(m.location),
                        plain(when_text(m.created_at)),
                    ],
                )
                for m in waiting.must_dispose
            ],
            "overdue": [
                Row(
                    str(c.id),
                    [
                        plain(c.id),
                        plain(c.basis),
                        plain(c.purpose),
                        plain(c.retention_deadline or ""),
                        plain(when_text(c.executed_at)),
                    ],
                )
                for c in waiting.overdue
            ],
            "drafts": [
                Row(
                    str(c.id),
                    [
                        plain(c.id),
                        plain(c.basis),
                        plain(c.purpose),
                        plain(c.requester),
                        plain(when_text(c.created_at)),
                    ],
                )
                for c in waiting.drafts
            ],
            "exports": [
                Row(
                    str(e.id),
                    [
                        plain(e.id),
                        plain(t(f"dashboard_screen.kind.{e.kind.value}")),
                        plain(e.created_by),
                        plain(when_text(e.created_at)),
                        plain(e.comment),
                    ],
                )
                for e in waiting.exports
            ],
        }
        for section, rows in sections.items():
            self.query_one(f"#{section}", RecordTable).set_rows(rows)
            title = t(f"dashboard_screen.{section}_count", count=len(rows))
            self.query_one(f"#{section}-title", Static).update(plain(title))

    def action_media(self) -> None:
        from tui.screens.media import MediaLedgerScreen

        self.app.push_screen(MediaLedgerScreen(), lambda _: self.action_refresh())

    def action_provision(self) -> None:
        from tui.screens.provision import ProvisionCasesScreen

        self.app.push_screen(ProvisionCasesScreen(), lambda _: self.action_refresh())

    def action_back(self) -> None:
        self.dismiss()

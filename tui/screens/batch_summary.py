"""バッチ状況: counts per pass, the comparison (for a reconciler), outcomes and keyer KPIs.

Whoever may not see the comparison of an open batch (its keyers, and operators who may still key
it) sees only the passes they keyed themselves: no count or keyer of another pass.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.batches import BatchStatus, KeyerStats
from core.errors import RuleViolation
from core.japanese.wareki import format_wareki
from core.masters import Masters
from core.roles import Permission
from core.services.batches import BatchService, BatchSummary, CommitResult
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.widgets import KeysFooter, top_bar

KEYER_COLUMNS = (
    ("user", 12),
    ("slips", 8),
    ("fields", 8),
    ("errors", 8),
    ("per_thousand", 14),
    ("per_hour", 12),
)
HELD_COLUMNS = (("slip", 8), ("atena", 12), ("vaccine", 10), ("dose", 6), ("date", 12))


class BatchSummaryScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("c", "commit", "batch_summary.bind_commit", id="commit"),
        Binding("d", "decide", "batch_summary.bind_decide", id="decide"),
        Binding("r", "reconcile", "batch_summary.bind_reconcile", id="reconcile"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self, batch_id: int) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.summary: BatchSummary | None = None

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(plain(t("batch_summary.title", batch=self.batch_id)), classes="screen-title")
        yield Static("", id="batch-overview")
        yield Static(t("batch_summary.keyers"), classes="section-title")
        yield RecordTable(
            [Column(k, t(f"batch_summary.col_{k}"), w) for k, w in KEYER_COLUMNS], id="keyer-stats"
        )
        yield Static(t("batch_summary.held"), classes="section-title")
        yield RecordTable(
            [Column(k, t.field(k), w) for k, w in HELD_COLUMNS],
            id="held-duplicates",
        )
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#held-duplicates", RecordTable).focus()
        self.action_refresh()

    @property
    def service(self) -> BatchService:
        return self.sesshu.batch_service

    def _can(self, permission: Permission) -> bool:
        session = self.sesshu.session
        return session is not None and session.can(permission)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        summary = self.summary
        is_open = summary is not None and summary.batch.status is BatchStatus.OPEN
        if action == "commit":
            return self._can(Permission.BATCH_COMMIT) and is_open
        if action == "reconcile":
            return self._can(Permission.BATCH_RECONCILE) and is_open
        if action == "decide":
            return self._can(Permission.DUPLICATE_DECIDE) and bool(self._held())
        return True

    def action_refresh(self) -> None:
        if self.sesshu.ctx is None:
            return
        service, batch = self.service, self.batch_id

        def load() -> tuple[BatchSummary, list[KeyerStats], Masters]:
            return service.summary(batch), service.keyer_stats(), service.masters()

        self.background(load, "load")

    # -- showing --------------------------------------------------------------------------

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "load":
            summary, stats, _masters = result
            self.summary = summary
            self._show(summary)
            self._show_keyers(stats)
            self.refresh_bindings()
        elif name == "commit":
            self._committed(result)
        elif name == "decide":
            self._message(self.t(f"batch_summary.decided_{result.outcome}", slip=result.slip))
            self.action_refresh()

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        if (
            name == "commit"
            and isinstance(error, RuleViolation)
            and error.key == "batch.count_mismatch"
            and self._can(Permission.BATCH_OVERRIDE)
        ):
            self._ask_override(error_text(self.t, error))
            return
        self._message(error_text(self.t, error))
        self.sesshu.report_error(error)

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(plain(text))

    def _show(self, summary: BatchSummary) -> None:
        t = self.t
        batch = summary.batch
        user = self.sesshu.session.user if self.sesshu.session else ""
        mine = {p for p in (1, 2) if user in summary.keyers[p]}
        hide = summary.comparison is None  # a keyer sees their own pass only
        text = Text()
        text.append(
            t(
                "batch_summary.batch_line",
                source=batch.source,
                received=f"{format_wareki(batch.received)}（{batch.received}）",
                control=batch.control_count,
                vaccine=batch.expected_vaccine or t("app.none"),
                status=t(f"batch_screen.status_{batch.status.value}"),
            )
            + "\n"
        )
        passes = []
        for pass_no, count in ((1, summary.pass1), (2, summary.pass2)):
            if hide and pass_no not in mine:
                passes.append(t("batch_summary.pass_hidden", pass_no=pass_no))
            else:
                keyers = "・".join(sorted(summary.keyers[pass_no])) or "-"
                passes.append(
                    t("batch_summary.pass_count", pass_no=pass_no, count=count, keyers=keyers)
                )
        text.append(t("batch_summary.passes", passes=" ／ ".join(passes)) + "\n")
        comparison = summary.comparison
        if comparison is None:
            text.append(t("batch_summary.comparison_hidden") + "\n", style="dim")
        else:
            open_count = len(comparison.open_mismatches)
            text.append(
                t(
                    "batch_summary.comparison",
                    matched=len(comparison.matched),
                    mismatched=len(comparison.mismatches),
                    resolved=len(comparison.mismatches) - open_count,
                    open=open_count,
                    verified=len(comparison.verified),
                    dropped=len(comparison.dropped),
                )
                + "\n",
                style="bold yellow" if open_count else "",
            )
        counts = {o: sum(1 for x in summary.outcomes if x.outcome == o) for o in _OUTCOMES}
        text.append(t("batch_summary.outcomes", **counts))
        if batch.override_reason:
            text.append("\n" + t("batch_summary.override", reason=batch.override_reason))
        self.query_one("#batch-overview", Static).update(text)
        self._show_held(summary)

    def _held(self) -> list[str]:
        if self.summary is None:
            return []
        return [o.slip for o in self.summary.outcomes if o.outcome == "duplicate"]

    def _show_held(self, summary: BatchSummary) -> None:
        verified = summary.comparison.verified if summary.comparison else {}
        rows = []
        for slip in self._held():
            values = verified.get(slip, {})
            day = values.get("date")
            rows.append(
                Row(
                    slip,
                    [
                        plain(slip),
                        plain(values.get("atena") or ""),
                        plain(values.get("vaccine") or ""),
                        plain(values.get("dose") or ""),
                        plain(day or ""),
                    ],
                )
            )
        self.query_one("#held-duplicates", RecordTable).set_rows(rows)

    def _show_keyers(self, stats: list[KeyerStats]) -> None:
        t = self.t
        rows = [
            Row(
                s.user,
                [
                    plain(s.user),
                    plain(s.slips),
                    plain(s.fields),
                    plain(s.errors),
                    plain(f"{s.errors_per_thousand:.2f}"),
                    plain(
                        "-"
                        if s.slips_per_hour is None
                        else t("batch_summary.rate", rate=s.slips_per_hour)
                    ),
                ],
            )
            for s in stats
        ]
        self.query_one("#keyer-stats", RecordTable).set_rows(rows)

    # -- actions --------------------------------------------------------------------------

    def action_commit(self) -> None:
        from tui.screens.confirm import ConfirmModal

        summary = self.summary
        if summary is None:
            return
        verified = len(summary.comparison.verified) if summary.comparison else 0
        question = self.t(
            "batch_summary.confirm_commit",
            batch=self.batch_id,
            verified=verified,
            control=summary.batch.control_count,
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._commit(None)

        self.app.push_screen(ConfirmModal(question), answered)

    def _commit(self, override: str | None) -> None:
        service, batch = self.service, self.batch_id
        self.background(lambda: service.commit(batch, override_reason=override), "commit")

    def _ask_override(self, problem: str) -> None:
        from tui.screens.prompt import PromptModal

        def answered(reason: str | None) -> None:
            if reason:
                self._commit(reason)

        question = self.t("batch_summary.override_question", problem=problem)
        self.app.push_screen(PromptModal(question, self.t("field.reason")), answered)

    def _committed(self, result: CommitResult) -> None:
        note = self.t(
            "batch_summary.committed",
            committed=result.committed,
            duplicates=len(result.duplicates),
            flagged=len(result.flagged),
        )
        self.app.notify(note)
        self._message(note)
        self.action_refresh()

    def action_decide(self) -> None:
        from tui.screens.batch_dialogs import DuplicateModal
        from tui.screens.prompt import PromptModal

        slip = self.query_one("#held-duplicates", RecordTable).cursor_key
        if slip is None:
            return
        service, batch = self.service, self.batch_id

        def reasoned(accept: bool, reason: str | None) -> None:
            if reason:
                self.background(
                    lambda: service.decide_duplicate(batch, slip, accept, reason), "decide"
                )

        def chosen(accept: bool | None) -> None:
            if accept is None:
                return
            self.app.push_screen(
                PromptModal(self.t("batch_summary.decide_reason"), self.t("field.reason")),
                lambda reason: reasoned(accept, reason),
            )

        self.app.push_screen(DuplicateModal(self.t("batch_summary.decide", slip=slip)), chosen)

    def action_reconcile(self) -> None:
        from tui.screens.reconcile import ReconcileScreen

        self.app.push_screen(ReconcileScreen(self.batch_id), lambda _: self.action_refresh())

    def action_back(self) -> None:
        self.dismiss()


_OUTCOMES = ("committed", "duplicate", "rejected")

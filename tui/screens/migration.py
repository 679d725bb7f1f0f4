"""データ移行: check (dry run), import and reconcile a legacy dataset, with live progress.

The runs so far are listed on top; below, the source (a directory or one CSV file), an
optional layout file and the dry-run switch. While the dry-run switch is on, nothing can be
imported: the check reads and validates everything and writes only its audit event. The work
runs in a thread worker; it reports each batch to the UI (a bar per file, with the rate and
time left) and its outcome comes back as the worker's result: a summary with the problems
found, or the reconciliation's verdict with the totals that differ.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input, ProgressBar, Static

from core.change_text import when_text
from core.errors import SesshuError, ValidationFailed
from core.i18n import Catalogue
from core.migration.convert import RowIssue
from core.migration.model import FileProgress, Run, RunStatus, Tick
from core.services.migration import LoadReport, MigrationService, Reconciliation
from exports.migration.source import DiskSource, load_layout
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.widgets import KeysFooter, top_bar

Kind = Literal["check", "load", "reconcile"]
RUN_COLUMNS = (
    ("id", 5),
    ("status", 22),
    ("by", 10),
    ("started", 16),
    ("loaded", 9),
    ("source", 60),
)
ISSUE_COLUMNS = (("file", 18), ("line", 8), ("field", 14), ("reason", 30), ("raw", 60))
DIFFERENCE_COLUMNS = (("table", 12), ("item", 14), ("source_value", 50), ("target_value", 50))
ISSUES_LISTED = 1000  # rows in the issues table; the summary counts every one
TICK_INTERVAL = 0.1  # seconds between progress updates sent to the UI
STATUS_STYLE = {
    RunStatus.RUNNING: "bold",
    RunStatus.LOADED_WITH_ERRORS: "yellow",
    RunStatus.APPROVED: "dim",
}


@dataclass(frozen=True)
class Rejected:
    """The source or layout could not be used: which form field, and why."""

    field: str  # "source", "layout" or "identity"
    error: SesshuError


Outcome = LoadReport | Reconciliation | Rejected


class TickPacer:
    """Passes a file's progress on at most every ``interval`` seconds (from the worker thread),
    with the moment each tick was made.

    The first and last tick of each file always pass, so every bar ends where its file did.
    """

    def __init__(
        self,
        send: Callable[[Tick, float], None],
        interval: float = TICK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval = interval
        self._clock = clock
        self._last = float("-inf")
        self._file: str | None = None
        self._pending: tuple[Tick, float] | None = None

    def __call__(self, tick: Tick) -> None:
        if self._pending is not None and self._pending[0].file != tick.file:
            self.flush()
        now = self._clock()
        due = now - self._last >= self._interval or tick.records >= tick.estimated
        if tick.file != self._file or due:
            self._send(tick, now)
            self._file, self._last, self._pending = tick.file, now, None
        else:
            self._pending = (tick, now)

    def flush(self) -> None:
        if self._pending is not None:
            self._send(*self._pending)
            self._pending = None


class Pace:
    """Rate and time left of the file being read; a file's clock starts when the last tick of
    the one before it was made (or when the job started)."""

    def __init__(self, started: float) -> None:
        self._mark = started
        self._since = started
        self._file: str | None = None

    def update(self, tick: Tick, now: float) -> tuple[float, float | None]:
        if tick.file != self._file:
            self._file, self._since = tick.file, self._mark
        self._mark = now
        elapsed = now - self._since
        rate = tick.records / elapsed if elapsed > 0 else 0.0
        left = (tick.estimated - tick.records) / rate if rate > 0 else None
        return rate, left


def pace_text(t: Catalogue, tick: Tick, rate: float, left: float | None) -> str:
    eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left is not None else "—"
    return t(
        "migration_screen.pace",
        file=tick.file,
        records=f"{tick.records:,}",
        estimated=f"{tick.estimated:,}",
        rate=f"{rate:,.0f}",
        eta=eta,
        errors=f"{tick.errors:,}",
    )


def reason_label(t: Catalogue, reason: str) -> str:
    key = f"migration.reason.{reason}"
    return t(key) if t.has(key) else reason


def field_name(t: Catalogue, name: str) -> str:
    return t.field(name) if t.has(f"field.{name}") else name


def total_text(t: Catalogue, value: Any) -> str:
    """One side of a difference: a row count, or a field's totals."""
    if value is None:
        return t("migration_screen.missing_side")
    if isinstance(value, Mapping):
        if set(value) == {"rows"}:
            return f"{value['rows']:,}"
        return " ".join(f"{k}={v}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value)


def rejected_text(t: Catalogue, rejected: Rejected) -> str:
    """Every problem of the rejected field, after the field's name."""
    parts = []
    issues = rejected.error.issues if isinstance(rejected.error, ValidationFailed) else ()
    for issue in issues:
        text = t.issue(replace(issue, field=""))
        parts.append(text if issue.field in ("", rejected.field) else f"{issue.field}: {text}")
    detail = t("error.list_separator").join(parts) or error_text(t, rejected.error)
    return t("error.field", field=t(f"migration_screen.field_{rejected.field}"), message=detail)


def run_job(
    service: MigrationService,
    kind: Kind,
    source: Path,
    layout: Path | None,
    on_tick: TickPacer,
) -> Outcome:
    """The worker's whole job (in a thread): open the source, then check, load or reconcile."""
    try:
        chosen = load_layout(layout) if layout is not None else None
    except SesshuError as error:
        return Rejected("layout", error)
    try:
        reader = DiskSource(source, chosen)
        reader.plan()
    except SesshuError as error:
        issues = error.issues if isinstance(error, ValidationFailed) else ()
        field = "identity" if any(i.field == "identity" for i in issues) else "source"
        return Rejected(field, error)
    if kind == "reconcile":
        return service.reconcile(reader)
    report = service.check(reader, on_tick) if kind == "check" else service.load(reader, on_tick)
    on_tick.flush()
    return report


class MigrationScreen(SesshuScreen):
    HELP_KEY: ClassVar[str] = "migration_screen.help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("f6", "run('check')", "migration_screen.bind_check", id="migration_check"),
        Binding("f7", "run('load')", "migration_screen.bind_import", id="migration_import"),
        Binding(
            "f8", "run('reconcile')", "migration_screen.bind_reconcile", id="migration_reconcile"
        ),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.running: Kind | None = None
        self.outcome: Outcome | None = None
        self._bars: dict[str, ProgressBar] = {}
        self._pace = Pace(time.monotonic())

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("migration_screen.title"), classes="screen-title")
        yield RecordTable(self._columns(RUN_COLUMNS), id="runs")
        with Vertical(id="migration-form"):
            with Horizontal(classes="migration-row"):
                yield Static(t("migration_screen.source_label"), classes="migration-label")
                yield Input(placeholder=t("migration_screen.source_placeholder"), id="source")
            with Horizontal(classes="migration-row"):
                yield Static(t("migration_screen.layout_label"), classes="migration-label")
                yield Input(placeholder=t("migration_screen.layout_placeholder"), id="layout")
            with Horizontal(classes="migration-row"):
                yield Static("", classes="migration-label")
                yield Checkbox(t("migration_screen.dry_run"), value=True, id="dry-run")
        yield Static("", id="message", classes="message")
        yield Vertical(id="migration-bars")
        yield Static("", id="pace", classes="hint")
        yield Static("", id="summary")
        yield RecordTable(self._columns(ISSUE_COLUMNS), id="issues")
        yield RecordTable(self._columns(DIFFERENCE_COLUMNS), id="differences")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def _columns(self, columns: tuple[tuple[str, int], ...]) -> list[Column]:
        return [Column(key, self.t(f"migration_screen.col_{key}"), width) for key, width in columns]

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#differences", RecordTable).display = False
        self.query_one("#source", Input).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.sesshu.refresh_status()

    def _service(self) -> MigrationService:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return MigrationService(ctx)

    @property
    def dry_run(self) -> bool:
        return self.query_one("#dry-run", Checkbox).value

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            if self.running is not None:
                return None
            return None if parameters == ("load",) and self.dry_run else True
        if action == "back":
            return None if self.running is not None else True
        return True

    def on_checkbox_changed(self, _event: Checkbox.Changed) -> None:
        self.refresh_bindings()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in a field runs the dry run: the one action that writes nothing."""
        event.stop()
        if self.running is None:
            self.action_run("check")

    # --- the work ---------------------------------------------------------------------

    def action_refresh(self) -> None:
        service = self._service()
        self.background(service.runs, "runs", group="runs")

    def action_run(self, kind: Kind) -> None:
        if self.running is not None:
            return
        text = self.query_one("#source", Input).value.strip()
        if not text:
            self._message(self._required("source"))
            self.query_one("#source", Input).focus()
            return
        layout_text = self.query_one("#layout", Input).value.strip()
        source = Path(text).expanduser().absolute()
        layout = Path(layout_text).expanduser().absolute() if layout_text else None
        self._start(kind)
        service = self._service()
        pacer = TickPacer(lambda tick, at: self.app.call_from_thread(self._ticked, tick, at))
        self.background(lambda: run_job(service, kind, source, layout, pacer), "job", group="job")

    def _required(self, field: str) -> str:
        return self.t("migration_screen.required", field=self.t(f"migration_screen.field_{field}"))

    def _start(self, kind: Kind) -> None:
        self.running = kind
        self.outcome = None
        self._message("")
        self._pace = Pace(time.monotonic())
        self._bars.clear()
        self.query_one("#migration-bars", Vertical).remove_children()
        self.query_one("#pace", Static).update(self.t(f"migration_screen.running_{kind}"))
        self.query_one("#summary", Static).update("")
        self.query_one("#issues", RecordTable).clear()
        self.query_one("#differences", RecordTable).clear()
        self.refresh_bindings()

    def _ticked(self, tick: Tick, at: float) -> None:
        """A batch was read (called on the UI thread); ``at`` is when, on the monotonic clock."""
        bar = self._bars.get(tick.file)
        if bar is None:
            for done in self._bars.values():  # files are read one after the other
                done.update(total=max(done.progress, 1), progress=max(done.progress, 1))
            bar = ProgressBar(show_eta=False, classes="migration-bar")
            self._bars[tick.file] = bar
            row = Horizontal(
                Static(plain(tick.file), classes="migration-label"), bar, classes="migration-row"
            )
            self.query_one("#migration-bars", Vertical).mount(row)
        bar.update(total=max(tick.estimated, 1), progress=tick.records)
        rate, left = self._pace.update(tick, at)
        self.query_one("#pace", Static).update(plain(pace_text(self.t, tick, rate, left)))

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "runs":
            self._show_runs(result)
        elif name == "job":
            self._finished(result)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        if name == "job":
            self.running = None
            self.query_one("#pace", Static).update("")
            self.refresh_bindings()
        self._message(error_text(self.t, error))
        self.sesshu.report_error(error)

    def _finished(self, outcome: Outcome) -> None:
        kind, self.running = self.running, None
        self.outcome = outcome
        self.refresh_bindings()
        for bar in self._bars.values():
            bar.update(progress=bar.total or 0)
        if isinstance(outcome, Rejected):
            self.query_one("#pace", Static).update("")
            self._message(rejected_text(self.t, outcome))
            self.query_one(f"#{'layout' if outcome.field == 'layout' else 'source'}").focus()
            return
        if isinstance(outcome, Reconciliation):
            self._show_reconciliation(outcome)
        else:
            self._show_report(outcome)
            if kind == "load":
                self.query_one("#dry-run", Checkbox).value = True  # armed again for the next
        self.action_refresh()

    # --- showing ----------------------------------------------------------------------

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(plain(text))

    def _show_runs(self, runs: list[tuple[Run, dict[str, FileProgress]]]) -> None:
        t = self.t
        rows = [
            Row(
                str(run.id),
                [
                    str(run.id),
                    self._status(run),
                    plain(run.started_by),
                    when_text(run.started_at),
                    f"{sum(p.loaded for p in progress.values()):,}",
                    plain(run.source),
                ],
                STATUS_STYLE.get(run.status, ""),
            )
            for run, progress in sorted(runs, key=lambda item: item[0].id, reverse=True)
        ]
        self.query_one("#runs", RecordTable).set_rows(rows)
        if not rows and self.outcome is None and self.running is None:
            self.query_one("#summary", Static).update(t("migration_screen.no_runs"))

    def _status(self, run: Run) -> str:
        label = self.t(f"migration_screen.status_{run.status.value}")
        if run.approved_by:
            return f"{label}（{run.approved_by}）"
        return label

    def _show_report(self, report: LoadReport) -> None:
        t = self.t
        counts = {
            "records": f"{report.records:,}",
            "loaded": f"{report.loaded:,}",
            "skipped": f"{sum(f.skipped for f in report.files):,}",
            "errors": f"{report.issue_count:,}",
            "seconds": f"{report.seconds:.1f}",
        }
        if report.dry_run:
            lines = [t("migration_screen.checked", **counts)]
        else:
            status = t(f"migration_screen.status_{report.status}")
            lines = [t("migration_screen.loaded", run=report.run, status=status, **counts)]
            if report.resumed:
                lines.append(t("migration_screen.resumed", run=report.run))
        lines += [
            t(
                "migration_screen.file_line",
                file=f.file,
                records=f"{f.records:,}",
                loaded=f"{f.loaded:,}",
                skipped=f"{f.skipped:,}",
                errors=f"{f.errors:,}",
            )
            for f in report.files
        ]
        listed = report.issues[:ISSUES_LISTED]
        if not report.issue_count:
            lines.append(t("migration_screen.issues_none"))
        elif len(listed) < report.issue_count:
            lines.append(
                t("migration_screen.issues_more", shown=len(listed), count=report.issue_count)
            )
        self.query_one("#pace", Static).update("")
        self.query_one("#summary", Static).update(plain("\n".join(lines)))
        self.query_one("#differences", RecordTable).display = False
        issues = self.query_one("#issues", RecordTable)
        issues.display = True
        issues.set_rows([self._issue_row(n, issue) for n, issue in enumerate(listed)])

    def _issue_row(self, number: int, issue: RowIssue) -> Row:
        return Row(
            str(number),
            [
                plain(issue.file),
                f"{issue.line:,}",
                plain(field_name(self.t, issue.field)),
                reason_label(self.t, issue.reason),
                plain(issue.raw),
            ],
        )

    def _show_reconciliation(self, result: Reconciliation) -> None:
        t = self.t
        verdict = "migration.reconciled_equal" if result.equal else "migration.reconciled_differs"
        lines = [t(verdict, report=result.report_id)]
        tables: Mapping[str, Any] = result.report.get("tables", {})
        for table, sides in tables.items():
            source, target = sides.get("source"), sides.get("target")
            lines.append(
                t(
                    "migration_screen.table_line",
                    table=self._table(table),
                    source=f"{source['rows']:,}" if source else t("migration_screen.missing_side"),
                    target=f"{target['rows']:,}" if target else t("migration_screen.missing_side"),
                )
            )
        found: list[Mapping[str, Any]] = list(result.report.get("differences", []))
        if found:
            lines.append(t("migration_screen.differences", count=len(found)))
        self.query_one("#pace", Static).update("")
        summary = Text("\n".join(lines), style="" if result.equal else "bold yellow")
        self.query_one("#summary", Static).update(summary)
        self.query_one("#issues", RecordTable).display = False
        shown = self.query_one("#differences", RecordTable)
        shown.display = True
        shown.set_rows(
            [
                Row(
                    str(n),
                    [
                        self._table(str(d.get("table", ""))),
                        plain(d["field"] or t("migration_screen.rows")),
                        plain(total_text(t, d.get("source"))),
                        plain(total_text(t, d.get("target"))),
                    ],
                )
                for n, d in enumerate(found)
            ]
        )

    def _table(self, name: str) -> str:
        key = f"migration_screen.table_{name}"
        return self.t(key) if self.t.has(key) else name

    def action_back(self) -> None:
        self.dismiss()

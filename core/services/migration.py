"""System migration (システム移行): check, load, reconcile, export and approve a whole dataset.

- ``check`` (dry run) reads and validates every file and writes nothing but its audit event.
- ``load`` writes batch by batch; each batch commits with the run's progress, so a killed
  run resumes after the last batch it committed, and rows already present (by source key)
  are skipped, so a re-run never duplicates.
- ``reconcile`` totals the source and the store the same way and keeps the report, signed
  with the terminal key. It is equal only if every count and field total is.
- ``approve`` records the cut-over sign-off: a supervisor who did not run the load, on a run
  loaded without errors whose latest reconciliation came out equal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, Protocol

from core.audit import Action
from core.errors import NotFound, RuleViolation
from core.migration.convert import Converted, RowIssue, Value
from core.migration.layout import FileSpec, Layout
from core.migration.model import (
    ISSUES_KEPT,
    FileProgress,
    Run,
    RunStatus,
    SourceMemory,
    SourcePlan,
    Tick,
    screen,
)
from core.migration.schema import LOAD_ORDER, TABLES, source_key
from core.migration.totals import TableTotals, differences
from core.roles import Permission
from core.services.context import ServiceContext

ISSUES_SHOWN = 100_000  # issues listed in a report; the counts always cover every one
SAMPLE_SIZE = 5
BULK_MIN = 1000

OnTick = Callable[[Tick], None]


class MigrationSource(Protocol):
    """A legacy dataset on disk (implemented in ``exports.migration``)."""

    def plan(self) -> SourcePlan: ...
    def estimate(self, spec: FileSpec) -> int: ...
    def batches(
        self, spec: FileSpec, skip: int, codes: Mapping[str, frozenset[str]]
    ) -> Iterator[Converted]: ...
    def totals(
        self, codes: Mapping[str, frozenset[str]]
    ) -> Callable[[], tuple[dict[str, TableTotals], dict[str, list[tuple[Value, ...]]]]]:
        """Start the source side of a reconciliation; the call returned collects it: totals
        per table, and each table's first rows (for the side-by-side sample)."""
        ...


@dataclass(frozen=True)
class PackageFile:
    name: str
    table: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class PackageWritten:
    out: str
    files: tuple[PackageFile, ...]
    unrepresentable: tuple[Mapping[str, Any], ...] = ()
    overflows: tuple[Mapping[str, Any], ...] = ()
    passphrase: str | None = None  # shown once when no recipient was named; never stored
    bundle_hash: str = ""

    @property
    def complete(self) -> bool:
        """Every character and every value made it into the files as it is."""
        return not self.unrepresentable and not self.overflows

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "complete": self.complete,
            "files": [
                {
                    "name": f.name,
                    "table": f.table,
                    "rows": f.rows,
                    "bytes": f.bytes,
                    "sha256": f.sha256,
                }
                for f in self.files
            ],
            "unrepresentable": [dict(u) for u in self.unrepresentable],
            "overflows": [dict(o) for o in self.overflows],
            "bundle_hash": self.bundle_hash,
            "passphrase": self.passphrase,
        }


TableRows = Callable[[], Iterator[list[tuple[Value, ...]]]]


class MigrationPackage(Protocol):
    """Writes the open layout (or a legacy layout) for the next system (in ``exports``)."""

    def write(
        self,
        out: PurePath,
        tables: Sequence[tuple[str, tuple[str, ...], TableRows]],
        layout: Layout | None,
    ) -> PackageWritten: ...


@dataclass
class LoadReport:
    """A dry run's or a load's outcome. In a dry run ``loaded`` counts what would load."""

    dry_run: bool
    run: int | None
    status: str
    files: list[FileProgress] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    issue_count: int = 0
    resumed: bool = False
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for report in self.files:
            counts[report.table] = counts.get(report.table, 0) + report.loaded
        return {
            "dry_run": self.dry_run,
            "run": self.run,
            "status": self.status,
            "resumed": self.resumed,
            "records": self.records,
            "loaded": self.loaded,
            "skipped": sum(f.skipped for f in self.files),
            "errors": self.issue_count,
            "counts": counts,
            "files": [f.as_dict() for f in self.files],
            "issues": [i.as_dict() for i in self.issues[:ISSUES_SHOWN]],
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.records / self.seconds) if self.seconds else None,
        }


@dataclass(frozen=True)
class Reconciliation:
    report_id: int
    run: int | None
    equal: bool
    report: Mapping[str, Any]
    report_hash: str
    signature: str
    public_key: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": self.report_id,
            "run": self.run,
            "equal": self.equal,
            **self.report,
            "report_hash": self.report_hash,
            "signature": self.signature,
            "public_key": self.public_key,
        }


def _masked(table: str, columns: Sequence[str], row: Sequence[Value] | None) -> Any:
    """A sample row for the report: the 個人番号 never appears in it."""
    if row is None:
        return None
    shown = dict(zip(columns, row, strict=True))
    if shown.get("mynumber") is not None:
        shown["mynumber"] = "************"
    if shown.get("dv_flag"):  # 支援措置: the address is never shown
        for name in ("postal", "address"):
            if shown.get(name) is not None:
                shown[name] = "(DV)"
    return shown


class MigrationService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _codes(self) -> dict[str, frozenset[str]]:
        with self.ctx.store.reader() as uow:
            return {"vaccine": uow.migration.vaccine_codes()}

    # --- dry run ---------------------------------------------------------------------------

    def check(self, source: MigrationSource, on_tick: OnTick | None = None) -> LoadReport:
        """Validate everything and write nothing (but the audit event of the check)."""
        self.ctx.require(Permission.MIGRATION_RUN, "migration")
        started = time.perf_counter()
        plan = source.plan()
        codes = self._codes()
        memory = SourceMemory()
        report = LoadReport(dry_run=True, run=None, status="checked")
        for number, spec in enumerate(_ordered(plan.files), start=1):
            progress = FileProgress(spec.path, spec.table)
            report.files.append(progress)
            key = source_key(TABLES[spec.table], spec.columns)
            key = tuple(k for k in key if k in spec.columns)
            estimated = source.estimate(spec)
            for batch in source.batches(spec, 0, codes):
                with self.ctx.store.reader() as uow:
                    lookups = uow.migration.lookups(spec.table, spec.columns, key, batch.rows)
                result = screen(spec, key, batch, None, lookups, memory, number)
                progress.records += batch.records
                progress.loaded += len(result.rows)
                progress.skipped += result.skipped
                progress.errors += len({i.line for i in result.issues})
                report.issues.extend(result.issues)
                _tick(on_tick, progress, estimated)
        duplicates = memory.duplicates()
        for issue in duplicates:
            for progress in report.files:
                if progress.file == issue.file:
                    progress.loaded -= 1
                    progress.errors += 1
        report.issues.extend(duplicates)
        report.issues.sort(key=lambda i: (i.file, i.line))
        report.issue_count = len(report.issues)
        report.seconds = time.perf_counter() - started
        with self.ctx.store.transaction() as uow:
            self.ctx.record(
                uow,
                Action.MIGRATION_CHECKED,
                "migration",
                source=plan.source,
                identity=plan.identity,
                records=report.records,
                errors=report.issue_count,
            )
        return report

    # --- load ------------------------------------------------------------------------------

    def load(self, source: MigrationSource, on_tick: OnTick | None = None) -> LoadReport:
        """Load the source batch by batch, resuming an unfinished run of the same source."""
        self.ctx.require(Permission.MIGRATION_RUN, "migration")
        started = time.perf_counter()
        plan = source.plan()
        codes = self._codes()
        with self.ctx.store.transaction() as uow:
            run = uow.migration.open_run(plan.identity)
            resumed = run is not None
            if run is None:
                run_id = uow.migration.add_run(
                    Run(
                        id=0,
                        source=plan.source,
                        identity=plan.identity,
                        layout=plan.layout.name,
                        layout_digest=plan.layout.digest,
                        started_by=self.ctx.user,
                        started_at=self.ctx.clock.now(),
                        status=RunStatus.RUNNING,
                    )
                )
            else:
                run_id = run.id
            self.ctx.record(
                uow,
                Action.MIGRATION_STARTED,
                f"migration:{run_id}",
                source=plan.source,
                identity=plan.identity,
                layout=plan.layout.name,
                resumed=resumed,
            )
            done = uow.migration.progress(run_id)
        report = LoadReport(dry_run=False, run=run_id, status=RunStatus.RUNNING, resumed=resumed)
        for spec in _ordered(plan.files):
            before = done.get(spec.path, FileProgress(spec.path, spec.table))
            report.files.append(replace(before))
            if before.done:
                continue
            with self.ctx.store.bulk_durability():
                self._load_file(source, spec, run_id, before, codes, report.files[-1], on_tick)
        status = RunStatus.LOADED
        with self.ctx.store.transaction() as uow:
            report.issue_count = sum(f.errors for f in report.files)
            if report.issue_count:
                status = RunStatus.LOADED_WITH_ERRORS
            uow.migration.finish_run(run_id, status, self.ctx.clock.now())
            report.issues = uow.migration.issues(run_id, ISSUES_SHOWN)
            self.ctx.record(
                uow,
                Action.MIGRATION_LOADED,
                f"migration:{run_id}",
                status=status.value,
                loaded=report.loaded,
                errors=report.issue_count,
            )
        report.status = status.value
        report.seconds = time.perf_counter() - started
        return report

    def _load_file(
        self,
        source: MigrationSource,
        spec: FileSpec,
        run_id: int,
        before: FileProgress,
        codes: Mapping[str, frozenset[str]],
        progress: FileProgress,
        on_tick: OnTick | None,
    ) -> None:
        key = tuple(k for k in source_key(TABLES[spec.table], spec.columns) if k in spec.columns)
        estimated = source.estimate(spec)
        bulk = False
        with self.ctx.store.reader() as uow:
            kept = uow.migration.issue_count(run_id)
            # Loading from the top into a table holding nothing else: a key can then only be
            # present already if this run loaded it, which a uniqueness rule in the store or
            # a 宛名番号 seen in an earlier batch reveals; otherwise every batch is searched.
            fresh = before.records == 0 and not uow.migration.foreign_rows(spec.table, run_id)
        by_constraint = spec.table == "residents" or key == ("record_key",)
        atena_at = spec.columns.index("atena") if "atena" in spec.columns else None
        seen: set[str] = set()
        for batch in source.batches(spec, before.records, codes):
            with self.ctx.store.transaction() as uow:
                if spec.table == "residents" and not bulk and progress.records == 0:
                    bulk = uow.migration.begin_bulk(max(estimated, len(batch.rows)))
                result = None
                if fresh:
                    atenas = (
                        {str(r[atena_at]) for r in batch.rows}
                        if atena_at is not None and not by_constraint
                        else set()
                    )
                    narrow = atenas & seen  # empty where a uniqueness rule does the finding
                    lookups = uow.migration.lookups(
                        spec.table, spec.columns, key, batch.rows, existing_for=narrow
                    )
                    result = screen(spec, key, batch, run_id, lookups)
                    if not uow.migration.insert_unless_conflict(
                        spec.table, spec.columns, result.rows, run_id, self.ctx.clock.now()
                    ):
                        result = None
                    seen |= atenas
                if result is None:
                    lookups = uow.migration.lookups(spec.table, spec.columns, key, batch.rows)
                    result = screen(spec, key, batch, run_id, lookups)
                    uow.migration.insert(
                        spec.table, spec.columns, result.rows, run_id, self.ctx.clock.now()
                    )
                errors = len({i.line for i in result.issues})
                room = max(0, ISSUES_KEPT - kept)
                uow.migration.add_issues(run_id, result.issues[:room])
                kept += min(room, len(result.issues))
                progress.records += batch.records
                progress.loaded += len(result.rows)
                progress.skipped += result.skipped
                progress.errors += errors
                uow.migration.put_progress(run_id, replace(progress, done=False))
                self.ctx.record(
                    uow,
                    Action.MIGRATION_BATCH,
                    f"migration:{run_id}",
                    file=spec.path,
                    records=batch.records,
                    loaded=len(result.rows),
                    skipped=result.skipped,
                    errors=errors,
                )
            _tick(on_tick, progress, estimated)
        with self.ctx.store.transaction() as uow:
            if spec.table == "residents":
                uow.migration.finish_bulk()
            uow.migration.put_progress(run_id, replace(progress, done=True))

    # --- reconciliation --------------------------------------------------------------------

    def reconcile(self, source: MigrationSource) -> Reconciliation:
        """Total the source and the store alike; keep the signed report. Equal or not."""
        self.ctx.require(Permission.MIGRATION_RUN, "migration")
        plan = source.plan()
        codes = self._codes()
        collect = source.totals(codes)  # the source is read meanwhile, in a second process
        tables: dict[str, Any] = {}
        target_totals: dict[str, TableTotals] = {}
        samples: dict[str, list[Any]] = {}
        with self.ctx.store.reader() as uow:
            run = next((r for r in uow.migration.runs() if r.identity == plan.identity), None)
            for spec in plan.files:
                if spec.table not in target_totals:
                    target_totals[spec.table] = uow.migration.totals(spec.table, spec.columns)
            source_totals, firsts = collect()
            not_compared = _filled_at_load(source_totals, target_totals)
            for table, ours in source_totals.items():
                theirs = target_totals[table]
                tables[table] = {"source": ours.as_dict(), "target": theirs.as_dict()}
                key = [k for k in source_key(TABLES[table], ours.columns) if k in ours.columns]
                positions = [ours.columns.index(k) for k in key]
                wanted = [tuple(row[p] for p in positions) for row in firsts.get(table, [])]
                found = uow.migration.find(table, ours.columns, key, wanted)
                samples[table] = [
                    {
                        "key": dict(zip(key, want, strict=True)),
                        "source": _masked(table, ours.columns, row),
                        "target": _masked(table, ours.columns, found.get(want)),
                    }
                    for want, row in zip(wanted, firsts.get(table, []), strict=True)
                ]
            for table in LOAD_ORDER:
                if table not in source_totals and uow.migration.count(table):
                    tables[table] = {
                        "source": None,
                        "target": {"rows": uow.migration.count(table)},
                    }
        found_differences = differences(source_totals, target_totals)
        for table, sides in tables.items():
            if sides["source"] is None:
                found_differences.append(
                    {"table": table, "field": None, "source": None, "target": sides["target"]}
                )
        equal = not found_differences
        document = {
            "source": plan.source,
            "identity": plan.identity,
            "layout": plan.layout.name,
            "made_by": self.ctx.user,
            "made_at": self.ctx.clock.now().isoformat(),
            "equal": equal,
            "tables": tables,
            "differences": found_differences,
            "not_compared": not_compared,
            "sample": samples,
        }
        with self.ctx.store.transaction() as uow:
            report_id, report_hash, signature = uow.migration.add_report(
                run.id if run else None,
                plan.source,
                self.ctx.user,
                self.ctx.clock.now(),
                equal,
                document,
            )
            kept = uow.migration.report(report_id)
            self.ctx.record(
                uow,
                Action.MIGRATION_RECONCILED,
                f"migration:{run.id}" if run else "migration",
                report=report_id,
                equal=equal,
                differences=len(found_differences),
                report_hash=report_hash,
            )
        public_key = kept[4] if kept else ""
        return Reconciliation(
            report_id, run.id if run else None, equal, document, report_hash, signature, public_key
        )

    # --- export ----------------------------------------------------------------------------

    def export(
        self, package: MigrationPackage, out: PurePath, layout: Layout | None = None
    ) -> PackageWritten:
        """Every table in the open layout (or ``layout``) for the next system."""
        self.ctx.require(Permission.MIGRATION_RUN, "migration")
        store = self.ctx.store

        def rows_of(table: str, columns: tuple[str, ...]) -> TableRows:
            def stream() -> Iterator[list[tuple[Value, ...]]]:
                with store.reader() as uow:
                    yield from uow.migration.rows(table, columns)

            return stream

        tables = [
            (name, TABLES[name].names, rows_of(name, TABLES[name].names)) for name in LOAD_ORDER
        ]
        written = package.write(out, tables, layout)
        with self.ctx.store.transaction() as uow:
            self.ctx.record(
                uow,
                Action.MIGRATION_EXPORTED,
                "migration",
                out=written.out,
                layout=layout.name if layout else "open",
                files={f.name: f.rows for f in written.files},
                hashes={f.name: f.sha256 for f in written.files},
                unrepresentable=len(written.unrepresentable),
                overflows=len(written.overflows),
            )
        return written

    # --- cut-over --------------------------------------------------------------------------

    def approve(self, run_id: int, note: str = "") -> Run:
        """The supervisor's cut-over sign-off (移行の承認), recorded with the report it rests on."""
        target = f"migration:{run_id}"
        self.ctx.require(Permission.MIGRATION_APPROVE, target)
        with self.ctx.store.transaction() as uow:
            run = uow.migration.get_run(run_id)
            if run is None:
                raise NotFound("migration.run_not_found", run=run_id)
            if run.started_by == self.ctx.user:
                raise RuleViolation("migration.approve_own_run")
            if run.status is RunStatus.APPROVED:
                raise RuleViolation("migration.already_approved", by=run.approved_by or "")
            if run.status is not RunStatus.LOADED:
                raise RuleViolation("migration.not_loaded_cleanly", status=run.status.value)
            report_id = uow.migration.latest_report(run_id)
            kept = uow.migration.report(report_id) if report_id is not None else None
            if report_id is None or kept is None:
                raise RuleViolation("migration.not_reconciled")
            made_at = json.loads(kept[2]).get("made_at", "")
            if not kept[1]:
                raise RuleViolation("migration.reconciliation_differs", report=report_id)
            if run.finished_at is not None and made_at < run.finished_at.isoformat():
                raise RuleViolation("migration.not_reconciled")
            uow.migration.approve_run(run_id, self.ctx.user, self.ctx.clock.now(), note, report_id)
            self.ctx.record(
                uow, Action.MIGRATION_APPROVED, target, report=report_id, note=note[:500]
            )
            approved = uow.migration.get_run(run_id)
        assert approved is not None
        return approved

    def runs(self) -> list[tuple[Run, dict[str, FileProgress]]]:
        self.ctx.require(Permission.MIGRATION_RUN, "migration")
        with self.ctx.store.reader() as uow:
            return [(run, uow.migration.progress(run.id)) for run in uow.migration.runs()]


# Bookkeeping the load fills in when the source leaves it empty (the time of the load).
FILLED_AT_LOAD = {"vaccinations": "created_at"}


def _filled_at_load(
    source: Mapping[str, TableTotals], target: Mapping[str, TableTotals]
) -> list[str]:
    """Leave out of the comparison a field the load filled in because the source had it
    empty; the report names it."""
    left_out: list[str] = []
    for table, name in FILLED_AT_LOAD.items():
        ours = source.get(table)
        if ours is not None and name in ours.fields and ours.fields[name].empty:
            del ours.fields[name]
            target[table].fields.pop(name, None)
            left_out.append(f"{table}.{name}")
    return left_out


def _ordered(files: Sequence[FileSpec]) -> list[FileSpec]:
    return sorted(files, key=lambda spec: LOAD_ORDER.index(spec.table))


def _tick(on_tick: OnTick | None, progress: FileProgress, estimated: int) -> None:
    if on_tick is not None:
        on_tick(
            Tick(
                progress.file,
                progress.table,
                progress.records,
                max(estimated, progress.records),
                progress.loaded,
                progress.errors,
            )
        )

"""``sesshu migrate``: system migration — check, import, reconcile, export, approve."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.context import Acting, Secrets, acting_as, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.errors import InvalidValue
from core.migration.layout import Layout
from core.migration.model import Tick
from core.services.migration import LoadReport, MigrationService
from exports.migration.package import package_for
from exports.migration.source import DiskSource, load_layout
from exports.verify import OpenFailed, bundle_identity
from storage.store import SqlStore

app = typer.Typer(help="System migration: legacy import, reconciliation, export, cut-over.")

LayoutOption = Annotated[
    Path | None,
    typer.Option("--layout", help="Layout file (TOML) of a legacy source.", dir_okay=False),
]
IdentityOption = Annotated[
    Path | None,
    typer.Option("--identity", help="age identity file that opens a migration package."),
]
PassphraseOption = Annotated[
    bool,
    typer.Option(
        "--passphrase-stdin",
        help="Read the package passphrase from standard input (after the password).",
    ),
]


class ProgressBar:
    """One line on stderr: file, bar, records, rate and ETA (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._started: dict[str, float] = {}
        self._last = 0.0

    def __call__(self, tick: Tick) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        started = self._started.setdefault(tick.file, now)
        if now - self._last < 0.2 and tick.records < tick.estimated:
            return
        self._last = now
        elapsed = max(now - started, 1e-6)
        rate = tick.records / elapsed
        share = min(1.0, tick.records / tick.estimated) if tick.estimated else 1.0
        left = (tick.estimated - tick.records) / rate if rate and share < 1 else 0.0
        filled = int(share * 24)
        bar = "█" * filled + "░" * (24 - filled)
        eta = time.strftime("%H:%M:%S", time.gmtime(left))
        sys.stderr.write(
            f"\r{tick.file[:24]:<24} {bar} {share:4.0%} {tick.records:>11,} "
            f"{rate:>9,.0f}/s ETA {eta} errors {tick.errors:,}\x1b[K"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _layout(path: Path | None) -> Layout | None:
    return load_layout(path) if path is not None else None


def _source(
    path: Path, layout: Path | None, identity: Path | None, passphrase: str | None
) -> DiskSource:
    key: str | None = None
    if DiskSource.is_package(path):
        if identity is None and passphrase is None:
            raise InvalidValue("identity", "migration.source.identity_required")
        try:
            key = bundle_identity(
                path, identity.read_text("utf-8") if identity else None, passphrase
            )
        except OpenFailed as failed:
            raise InvalidValue("source", f"migration.source.{failed.reason}") from None
    return DiskSource(path, _layout(layout), identity=key)


def _acting(user: str, password_stdin: bool, passphrase_stdin: bool) -> tuple[Any, str | None]:
    secrets = Secrets(password_stdin, state().t)
    password = secrets.next("field.password")
    passphrase = secrets.next("field.passphrase") if passphrase_stdin else None
    return acting_as(user, password), passphrase


def _summary(report: LoadReport) -> None:
    t = state().t
    key = "migration.checked" if report.dry_run else "migration.loaded"
    say(t(key, records=report.records, loaded=report.loaded, errors=report.issue_count))
    for issue in report.issues[:50]:
        say(f"  {issue.file}:{issue.line} {issue.field} [{issue.reason}] {issue.raw}")
    if report.issue_count > 50:
        say(t("migration.more_issues", count=report.issue_count - 50))


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="Directory, CSV file or migration package.")],
    acting_user: AsOption,
    layout: LayoutOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate everything and write nothing.")
    ] = False,
    identity: IdentityOption = None,
    passphrase_stdin: PassphraseOption = False,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Check (--dry-run) or load a legacy dataset; a killed load resumes when run again."""
    session_cm, passphrase = _acting(acting_user, password_stdin, passphrase_stdin)
    bar = ProgressBar(sys.stderr.isatty())
    with session_cm as session:
        reader = _source(source, layout, identity, passphrase)
        service = MigrationService(session.ctx)
        report = service.check(reader, bar) if dry_run else service.load(reader, bar)
    bar.done()
    if as_json:
        emit_json(report.as_dict())
    else:
        _summary(report)
    if report.issue_count:
        raise typer.Exit(1)


@app.command("reconcile")
def reconcile(
    source: Annotated[Path, typer.Option("--source", help="What was imported.")],
    acting_user: AsOption,
    layout: LayoutOption = None,
    identity: IdentityOption = None,
    passphrase_stdin: PassphraseOption = False,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Counts, field hash totals and sums, source against store; exit 1 on any difference."""
    session_cm, passphrase = _acting(acting_user, password_stdin, passphrase_stdin)
    with session_cm as session:
        reader = _source(source, layout, identity, passphrase)
        result = MigrationService(session.ctx).reconcile(reader)
    if as_json:
        emit_json(result.as_dict())
    else:
        t = state().t
        say(
            t(
                "migration.reconciled_equal" if result.equal else "migration.reconciled_differs",
                report=result.report_id,
            )
        )
        for difference in result.report["differences"]:
            say(
                f"  {difference['table']} {difference['field'] or 'rows'}: "
                f"{difference['source']} ≠ {difference['target']}"
            )
    if not result.equal:
        raise typer.Exit(1)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="New directory for the package.")],
    acting_user: AsOption,
    layout: LayoutOption = None,
    recipient: Annotated[
        list[str] | None,
        typer.Option("--recipient", help="age public key (age1…) of the receiving system."),
    ] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Every table in the open layout (or --layout), as a signed, encrypted package."""
    if out.exists():
        raise InvalidValue("out", "migration.out_exists", path=str(out))
    session_cm, _ = _acting(acting_user, password_stdin, False)
    with session_cm as session:
        written = _export(session, out, _layout(layout), recipient or [])
    if as_json:
        emit_json(written)
    else:
        t = state().t
        say(t("migration.exported", out=str(out), files=len(written["files"])))
        if written["passphrase"]:
            say(t("migration.passphrase_once", passphrase=written["passphrase"]))
    if not written["complete"]:
        raise typer.Exit(1)


def _export(session: Acting, out: Path, layout: Layout | None, recipients: list[str]) -> Any:
    store = session.ctx.store
    if not isinstance(store, SqlStore):
        raise TypeError("exports need an open SQLCipher store")
    today = session.ctx.clock.now().date().isoformat()
    package = package_for(store, session.ctx.user, today, recipients)
    return MigrationService(session.ctx).export(package, out, layout).as_dict()


@app.command("approve")
def approve(
    run: Annotated[int, typer.Argument(help="The run to sign off.")],
    acting_user: AsOption,
    note: Annotated[str, typer.Option("--note", help="Remarks for the record.")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """The supervisor's cut-over sign-off: a clean load, reconciled equal, by someone else."""
    session_cm, _ = _acting(acting_user, password_stdin, False)
    with session_cm as session:
        approved = MigrationService(session.ctx).approve(run, note)
    if as_json:
        emit_json(
            {
                "run": approved.id,
                "status": approved.status.value,
                "approved_by": approved.approved_by,
                "approved_at": approved.approved_at,
                "reconciliation": approved.reconciliation,
            }
        )
    else:
        say(state().t("migration.approved", run=approved.id, by=approved.approved_by or ""))


@app.command("runs")
def runs(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Every migration run with its progress per file."""
    session_cm, _ = _acting(acting_user, password_stdin, False)
    with session_cm as session:
        found = MigrationService(session.ctx).runs()
    document = [
        {
            "run": run.id,
            "source": run.source,
            "layout": run.layout,
            "status": run.status.value,
            "started_by": run.started_by,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "approved_by": run.approved_by,
            "files": [p.as_dict() for p in progress.values()],
        }
        for run, progress in found
    ]
    if as_json:
        emit_json(document)
        return
    for item in document:
        say(f"{item['run']:>4} {item['status']:<20} {item['started_by']:<10} {item['source']}")


@app.command("sample")
def sample(
    out: Annotated[Path, typer.Option("--out", help="New directory for the synthetic files.")],
    residents: Annotated[int, typer.Option("--residents", min=1)] = 1000,
    records: Annotated[int, typer.Option("--records", min=0)] = 5000,
    legacy: Annotated[
        bool, typer.Option("--legacy", help="CP932 fixed-width files for layouts/legacy_a.toml.")
    ] = False,
    errors: Annotated[
        bool, typer.Option("--errors", help="Plant one problem of each kind (legacy only).")
    ] = False,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Write a SYNTHETIC dataset for tests and demos (no store, no real person)."""
    from core.catalog import load_default_catalog
    from exports.migration import synthetic

    if out.exists() and any(out.iterdir()):
        raise InvalidValue("out", "migration.out_exists", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    planted: dict[str, Any] = {}
    if legacy:
        counts, planted_at = synthetic.write_legacy_dataset(
            out, residents, records, seed=seed, errors=errors
        )
        planted = {k: list(v) for k, v in planted_at.items()}
    else:
        codes = [v.code for v in load_default_catalog().vaccines]
        counts = synthetic.write_open_dataset(out, residents, records, seed=seed, vaccines=codes)
    if as_json:
        emit_json({"out": str(out), "files": counts, "planted": planted})
    else:
        say(state().t("migration.sample_written", out=str(out), files=len(counts)))

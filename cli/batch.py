"""``sesshu batch``: slip batches keyed twice blind, reconciled by a third person, committed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.context import acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.batches import Comparison
from core.errors import Issue
from core.i18n import Catalogue
from core.services.batch_report import render_report
from core.services.batches import BatchService, BatchSummary, LineProblem

app = typer.Typer(help="Slip batches: register, key twice, compare, resolve, commit.")

BatchId = Annotated[int, typer.Argument(help="The batch number.", min=1)]


def _issue_json(t: Catalogue, issue: Issue) -> dict[str, Any]:
    return {
        "field": issue.field,
        "code": issue.key,
        "severity": issue.severity,
        "message": t(issue.key, **dict(issue.params)),
    }


@app.command("create")
def create(
    acting_user: AsOption,
    source: Annotated[str, typer.Option("--source", help="Clinic, or 医師会 monthly return.")],
    received: Annotated[str, typer.Option("--received", help="Date received (R8.11.20 …).")],
    count: Annotated[str, typer.Option("--count", help="Slips counted on paper.")],
    vaccine: Annotated[
        str | None, typer.Option("--vaccine", help="Expected vaccine code (optional).")
    ] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Register a batch of paper slips with its control total."""
    with acting(acting_user, password_stdin) as session:
        batch = BatchService(session.ctx).create(source, received, count, vaccine)
    if as_json:
        emit_json({"batch": batch.id})
    else:
        say(state().t("batch_cli.created", batch=batch.id, count=batch.control_count))


def _read_lines(path: Path) -> tuple[list[tuple[int, dict[str, object]]], list[LineProblem]]:
    parsed: list[tuple[int, dict[str, object]]] = []
    broken: list[LineProblem] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise typer.BadParameter(state().t("batch_cli.not_utf8"), param_hint="--input") from None
    except OSError:
        raise typer.BadParameter(state().t("batch_cli.unreadable"), param_hint="--input") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            item = None
        if not isinstance(item, dict):
            broken.append(LineProblem(number, None, (Issue("", "batch_cli.not_an_object"),)))
            continue
        parsed.append((number, item))
    return parsed, broken


@app.command("key")
def key(
    batch_id: BatchId,
    pass_no: Annotated[int, typer.Option("--pass", help="1 or 2.", min=1, max=2)],
    input_file: Annotated[
        Path, typer.Option("--input", help="JSON lines, one slip per line.", dir_okay=False)
    ],
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Key the slips in a file; valid lines are kept, invalid ones reported by line number.

    Exits 1 when any line was not kept.
    """
    t = state().t
    parsed, broken = _read_lines(input_file)
    with acting(acting_user, password_stdin) as session:
        report = BatchService(session.ctx).key_many(batch_id, pass_no, [p for _, p in parsed])
    numbers = [n for n, _ in parsed]
    rejected = sorted(
        broken + [LineProblem(numbers[p.line - 1], p.slip, p.issues) for p in report.rejected],
        key=lambda p: p.line,
    )
    document = {
        "batch": batch_id,
        "pass": pass_no,
        "kept": len(report.kept),
        "slips": [k.slip for k in report.kept],
        "errors": [
            {"line": p.line, "slip": p.slip, **_issue_json(t, i)}
            for p in rejected
            for i in p.issues
        ],
        "warnings": [
            {"line": numbers[k.line - 1], "slip": k.slip, **_issue_json(t, w)}
            for k in report.kept
            for w in k.warnings
        ],
    }
    if as_json:
        emit_json(document)
    else:
        say(t("batch_cli.keyed", kept=len(report.kept), rejected=len(rejected)))
        for p in rejected:
            for issue in p.issues:
                say(t("batch_cli.line_error", line=p.line, message=t.issue(issue)))
    if rejected:
        raise typer.Exit(1)


def _mismatch_json(comparison: Comparison) -> list[dict[str, Any]]:
    return [
        {
            "slip": m.slip,
            "field": m.field,
            "pass1": m.pass1,
            "pass2": m.pass2,
            "resolved": m.resolution is not None,
            "value": m.resolution.value if m.resolution else None,
        }
        for m in comparison.mismatches
    ]


@app.command("diff")
def diff(
    batch_id: BatchId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Compare the two passes field by field (for a third person; audited)."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        comparison = BatchService(session.ctx).compare(batch_id)
    if as_json:
        emit_json({"matched": len(comparison.matched), "mismatches": _mismatch_json(comparison)})
        return
    say(t("batch_cli.matched", count=len(comparison.matched)))
    for m in comparison.mismatches:
        mark = t("batch_cli.resolved") if m.resolution else ""
        say(
            f"  {m.slip:>6}  {t.field(m.field):<12} 1: {m.pass1 or '-'}  2: {m.pass2 or '-'} {mark}"
        )


@app.command("resolve")
def resolve(
    batch_id: BatchId,
    slip: Annotated[str, typer.Option("--slip", help="Slip number.")],
    field_name: Annotated[str, typer.Option("--field", help="Field name, or slip.")],
    value: Annotated[str, typer.Option("--value", help="The value read from the paper slip.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (what the paper shows).")],
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Settle one mismatched field with the value on paper; the error is attributed."""
    with acting(acting_user, password_stdin) as session:
        resolution = BatchService(session.ctx).resolve(batch_id, slip, field_name, value, reason)
    document = {
        "batch": batch_id,
        "slip": resolution.slip,
        "field": resolution.field,
        "value": resolution.value,
        "attribution": resolution.attribution,
    }
    if as_json:
        emit_json(document)
    else:
        say(state().t(f"batch_cli.attributed_{resolution.attribution}", **document))


@app.command("commit")
def commit(
    batch_id: BatchId,
    acting_user: AsOption,
    override_reason: Annotated[
        str | None,
        typer.Option("--override-reason", help="Supervisor: commit although counts differ."),
    ] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Move every verified slip into the records in one transaction."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        result = BatchService(session.ctx).commit(batch_id, override_reason)
    duplicates = [{"slip": d.slip, "atena": d.atena, "reason": d.reason} for d in result.duplicates]
    if as_json:
        emit_json(
            {"committed": result.committed, "duplicates": duplicates, "flagged": result.flagged}
        )
        return
    say(t("batch_cli.committed", count=result.committed, duplicates=len(duplicates)))
    for d in duplicates:
        say(f"  {d['slip']:>6}  {d['atena']}  {t('batch_cli.duplicate_' + str(d['reason']))}")


@app.command("decide")
def decide(
    batch_id: BatchId,
    slip: Annotated[str, typer.Option("--slip", help="Slip number held as a duplicate.")],
    accept: Annotated[
        bool, typer.Option("--accept/--reject", help="Record it after all, or reject it.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Supervisor: decide a slip held as a possible duplicate."""
    with acting(acting_user, password_stdin) as session:
        outcome = BatchService(session.ctx).decide_duplicate(batch_id, slip, accept, reason)
    if as_json:
        emit_json({"slip": outcome.slip, "outcome": outcome.outcome, "record": outcome.record})
    else:
        say(state().t(f"batch_cli.decided_{outcome.outcome}", slip=outcome.slip))


def summary_json(summary: BatchSummary) -> dict[str, Any]:
    b = summary.batch
    comparison = summary.comparison
    held = [o.slip for o in summary.outcomes if o.outcome == "duplicate"]
    return {
        "batch": b.id,
        "status": b.status.value,
        "source": b.source,
        "received": b.received.isoformat(),
        "count": b.control_count,
        "expected_vaccine": b.expected_vaccine,
        "created_by": b.created_by,
        "pass1": summary.pass1,
        "pass2": summary.pass2,
        "keyers": {str(k): sorted(v) for k, v in summary.keyers.items()},
        "matched": len(comparison.matched) if comparison else None,
        "mismatches": len(comparison.mismatches) if comparison else None,
        "open_mismatches": len(comparison.open_mismatches) if comparison else None,
        "verified": len(comparison.verified) if comparison else None,
        "committed": sum(1 for o in summary.outcomes if o.outcome == "committed"),
        "duplicates_pending": held,
        "rejected": [o.slip for o in summary.outcomes if o.outcome == "rejected"],
        "flagged": {o.slip: list(o.flags) for o in summary.outcomes if o.flags},
        "committed_by": b.committed_by,
        "committed_at": b.committed_at.isoformat() if b.committed_at else None,
        "override_reason": b.override_reason,
    }


@app.command("status")
def status(
    batch_id: BatchId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Where a batch stands. Someone who keyed it sees no comparison while it is open."""
    with acting(acting_user, password_stdin) as session:
        summary = BatchService(session.ctx).summary(batch_id)
    document = summary_json(summary)
    if as_json:
        emit_json(document)
        return
    for name, value in document.items():
        say(f"{name:<18} {value if value is not None else '-'}")


@app.command("list")
def list_batches(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Recent batches."""
    with acting(acting_user, password_stdin) as session:
        batches = BatchService(session.ctx).batches()
    rows = [
        {
            "batch": b.id,
            "status": b.status.value,
            "source": b.source,
            "received": b.received.isoformat(),
            "count": b.control_count,
        }
        for b in batches
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        say(f"{r['batch']:>5}  {r['status']:<10} {r['received']}  {r['count']:>5}  {r['source']}")


@app.command("stats")
def stats(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Keying statistics per operator: fields, errors per 1,000 fields, slips per hour."""
    with acting(acting_user, password_stdin) as session:
        found = BatchService(session.ctx).keyer_stats()
    rows = [
        {
            "user": s.user,
            "slips": s.slips,
            "fields": s.fields,
            "errors": s.errors,
            "errors_per_1000_fields": s.errors_per_thousand,
            "slips_per_hour": s.slips_per_hour,
        }
        for s in found
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        say("  ".join(f"{k}={v}" for k, v in r.items()))


@app.command("report")
def report(
    batch_id: BatchId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
) -> None:
    """A printable batch report (counts and keying statistics; no personal data)."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        service = BatchService(session.ctx)
        text = render_report(t, service.report(batch_id))
    say(text)

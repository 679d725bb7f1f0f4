"""``sesshu change``: four-eyes changes to records and residents outside batches.

``propose`` stores a pending change; ``confirm`` and ``reject`` decide it, and only a user other
than the proposer may (the service refuses otherwise, exactly as in the TUI).
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.change_text import summary_lines
from core.changes import FIELD_PREFIX, ChangeRequest, ChangeStatus, PendingChange, parse_status
from core.clock import timestamp
from core.errors import Issue, ValidationFailed
from core.services.changes import ChangeService

app = typer.Typer(
    help="Four-eyes changes (修正の申請と確認): propose, confirm, reject, list, show.",
    no_args_is_help=True,
)

ChangeId = Annotated[int, typer.Argument(help="The change number.")]


def change_json(change: PendingChange) -> dict[str, object]:
    return {
        "id": change.id,
        "kind": change.kind.value,
        "atena": change.atena,
        "name": change.person_name,
        "record": change.record,
        "status": change.status.value,
        "before": dict(change.before),
        "after": dict(change.after),
        "withheld": list(change.withheld),
        "evidence": change.evidence.value,
        "id_document": change.id_document.value if change.id_document else None,
        "reason": change.reason,
        "proposed_by": change.proposed_by,
        "proposed_at": timestamp(change.proposed_at),
        "decided_by": change.decided_by,
        "decided_at": timestamp(change.decided_at) if change.decided_at else None,
        "decision_note": change.decision_note,
    }


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``field=value`` pairs; a value may be empty (to clear a field) and may contain ``=``."""
    values: dict[str, str] = {}
    issues: list[Issue] = []
    for item in items:
        name, equals, value = item.partition("=")
        name = name.strip()
        if not equals or not name:
            issues.append(Issue(FIELD_PREFIX + "values", "change.set_format", {"item": item}))
        elif name in values:
            issues.append(Issue(FIELD_PREFIX + "values", "change.set_twice", {"name": name}))
        else:
            values[name] = value
    if issues:
        raise ValidationFailed(issues)
    return values


def _decided(change: PendingChange, as_json: bool, message_key: str) -> None:
    if as_json:
        emit_json({"change": change.id, "status": change.status.value})
    else:
        say(state().t(message_key, change=change.id))


@app.command("propose")
def propose(
    acting_user: AsOption,
    kind: Annotated[
        str,
        typer.Option("--kind", help="record.add | record.correct | record.void | resident.correct"),
    ],
    atena: Annotated[str, typer.Option("--atena", help="宛名番号")],
    record: Annotated[
        int | None, typer.Option("--record", help="The record to correct or void.")
    ] = None,
    values: Annotated[
        list[str] | None,
        typer.Option("--set", help="field=value (repeatable); dates in any 和暦 or 西暦 form."),
    ] = None,
    evidence: Annotated[
        str, typer.Option("--evidence", help="counter (窓口申請) | phone (電話照会)")
    ] = "",
    id_document: Annotated[
        str | None,
        typer.Option(
            "--id-document",
            help="Checked at the counter: mynumber_card | drivers_license | passport | "
            "health_insurance | other",
        ),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why the change is made.")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Propose a change; it takes effect when another user confirms it."""
    change_request = ChangeRequest(
        kind=kind,
        atena=atena,
        values=parse_assignments(values or []),
        record=record,
        evidence=evidence,
        id_document=id_document,
        reason=reason,
    )
    with acting(acting_user, password_stdin) as session:
        change = ChangeService(session.ctx).propose(change_request)
    if as_json:
        emit_json({"change": change.id, "status": change.status.value, "record": change.record})
        return
    say(state().t("change.proposed", change=change.id))


@app.command("confirm")
def confirm(
    change_id: ChangeId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Confirm another user's change: it takes effect now."""
    with acting(acting_user, password_stdin) as session:
        change = ChangeService(session.ctx).confirm(change_id)
    _decided(change, as_json, "change.confirmed")


@app.command("reject")
def reject(
    change_id: ChangeId,
    acting_user: AsOption,
    reason: Annotated[str, typer.Option("--reason", help="Why it is rejected (required).")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reject another user's change, with a reason; nothing is applied."""
    with acting(acting_user, password_stdin) as session:
        change = ChangeService(session.ctx).reject(change_id, reason)
    _decided(change, as_json, "change.rejected")


@app.command("list")
def list_changes(
    acting_user: AsOption,
    status: Annotated[
        str, typer.Option("--status", help="pending | confirmed | rejected | all")
    ] = "pending",
    atena: Annotated[str | None, typer.Option("--atena", help="One person's changes.")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """List changes, newest first (audited)."""
    chosen: ChangeStatus | None = None if status.strip().lower() == "all" else parse_status(status)
    with acting(acting_user, password_stdin) as session:
        changes = ChangeService(session.ctx).list(chosen, atena)
    if as_json:
        emit_json({"changes": [change_json(c) for c in changes]})
        return
    t = state().t
    for change in changes:
        for line in summary_lines(t, change):
            say(line)
    if not changes:
        say(t("change.none"))


@app.command("show")
def show(
    change_id: ChangeId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show one change with its before and after values (audited)."""
    with acting(acting_user, password_stdin) as session:
        change = ChangeService(session.ctx).show(change_id)
    if as_json:
        emit_json(change_json(change))
        return
    for line in summary_lines(state().t, change):
        say(line)

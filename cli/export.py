"""``sesshu export``: create, approve or reject, and write exports to write-once media."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.context import acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.clock import timestamp
from core.exports import DEFAULT_LOCATION, Export
from core.services.exports import Written
from exports.services import export_service, provision_service

app = typer.Typer(
    help="Exports to write-once media: create, approve, reject, write, list, show.",
    no_args_is_help=True,
)

ExportId = Annotated[int, typer.Argument(help="The export number.")]
CommentOption = Annotated[str, typer.Option("--comment", help="A comment kept with the decision.")]


def export_json(export: Export) -> dict[str, object]:
    return {
        "export": export.id,
        "kind": export.kind.value,
        "case": export.case,
        "status": export.status.value,
        "content_hash": export.content_hash,
        "tables": list(export.spec.tables),
        "persons": len(export.spec.persons),
        "items": list(export.spec.items),
        "created_by": export.created_by,
        "created_at": timestamp(export.created_at),
        "decided_by": export.decided_by,
        "decided_at": timestamp(export.decided_at) if export.decided_at else None,
        "comment": export.comment,
    }


def written_json(written: Written) -> dict[str, object]:
    medium, outcome = written.medium, written.outcome
    document: dict[str, object] = {
        "media": medium.id,
        "label": medium.label,
        "status": medium.status.value,
        "path": outcome.read_path,
        "verified": outcome.verified,
        "verify": {"ok": outcome.verified, "problems": list(outcome.problems)},
        "bundle_hash": outcome.bundle_hash,
        "content_hash": outcome.content_hash,
    }
    if outcome.passphrase is not None:
        document["passphrase"] = outcome.passphrase
    return document


def say_written(written: Written) -> None:
    t = state().t
    medium, outcome = written.medium, written.outcome
    if outcome.verified:
        say(t("export.written", label=medium.label, medium=medium.id, path=outcome.read_path))
    else:
        say(t("export.spoiled", label=medium.label, problems=", ".join(outcome.problems)))
    if outcome.passphrase is not None:
        say(t("export.passphrase_once"))
        say(outcome.passphrase)


class ProgressLine:
    """A percentage on standard error while a long write runs (only on a terminal)."""

    def __init__(self) -> None:
        self._shown = -1
        self._enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int, /) -> None:
        if not self._enabled or total <= 0:
            return
        percent = min(100, done * 100 // total)
        if percent != self._shown:
            self._shown = percent
            bar = "#" * (percent // 4)
            sys.stderr.write(f"\r[{bar:<25}] {percent:3d}%")
            if percent == 100:
                sys.stderr.write("\n")
            sys.stderr.flush()


@app.command("create")
def create(
    acting_user: AsOption,
    case: Annotated[
        int | None, typer.Option("--case", help="An approved provision case to export.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="backup or migration (the whole store).")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Why this export is made.")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Create an export: of a provision case (carries its approval), or a backup or migration
    package of the whole store (needs a supervisor's approval before it can be written)."""
    t = state().t
    if (case is None) == (kind is None):
        raise typer.BadParameter(t("export.case_or_kind"), param_hint="--case / --kind")
    with acting(acting_user, password_stdin) as session:
        if case is not None:
            export = provision_service(session.ctx).export_for(case)
        else:
            assert kind is not None
            export = export_service(session.ctx).create(kind, note)
    if as_json:
        emit_json(export_json(export))
    else:
        say(t("export.created", export=export.id, status=t(f"export.status.{export.status}")))


@app.command("approve")
def approve(
    export_id: ExportId,
    acting_user: AsOption,
    comment: CommentOption = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Approve an export (a supervisor who did not create it); bound to its content hash."""
    with acting(acting_user, password_stdin) as session:
        export = export_service(session.ctx).approve(export_id, comment)
    if as_json:
        emit_json(export_json(export))
    else:
        say(state().t("export.approved", export=export.id, hash=export.content_hash[:16]))


@app.command("reject")
def reject(
    export_id: ExportId,
    acting_user: AsOption,
    comment: CommentOption = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reject an export (a supervisor who did not create it)."""
    with acting(acting_user, password_stdin) as session:
        export = export_service(session.ctx).reject(export_id, comment)
    if as_json:
        emit_json(export_json(export))
    else:
        say(state().t("export.rejected", export=export.id))


@app.command("write")
def write(
    export_id: ExportId,
    acting_user: AsOption,
    witness: Annotated[str, typer.Option("--witness", help="The person witnessing the write.")],
    device: Annotated[
        str | None, typer.Option("--device", help="The configured burner (terminal setting).")
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="An ISO file name; a bare name lands in the spool directory."),
    ] = None,
    media_type: Annotated[
        str | None, typer.Option("--media-type", help="cd-r, dvd-r or bd-r for a device.")
    ] = None,
    location: Annotated[
        str, typer.Option("--location", help="Where the medium will be kept.")
    ] = DEFAULT_LOCATION,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write an approved export: bundle, sign, encrypt, image or burn, read back and verify.

    The medium is registered in the media ledger whatever happens; it counts as good only
    after verification. A passphrase (when the recipient has no age key) is shown only once.
    """
    with acting(acting_user, password_stdin) as session:
        written = export_service(session.ctx).write(
            export_id,
            witness,
            out=out,
            device=device,
            media_type=media_type,
            location=location,
            progress=ProgressLine(),
        )
    if as_json:
        emit_json(written_json(written))
    else:
        say_written(written)
    if not written.outcome.verified:
        raise typer.Exit(1)


@app.command("list")
def list_exports(
    acting_user: AsOption,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Exports, newest first."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        exports = export_service(session.ctx).listing(status)
    if as_json:
        emit_json([export_json(e) for e in exports])
        return
    for export in exports:
        say(
            f"{export.id:>5}  {export.kind.value:<9}  {t(f'export.status.{export.status}'):<8}  "
            f"{export.created_by:<8}  {export.content_hash[:16]}"
        )


@app.command("show")
def show(
    export_id: ExportId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """One export."""
    with acting(acting_user, password_stdin) as session:
        export = export_service(session.ctx).get(export_id)
    document = export_json(export)
    if as_json:
        emit_json(document)
    else:
        for key, value in document.items():
            say(f"{key}: {value}")

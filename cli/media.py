"""``sesshu media``: verify and open a medium on the receiving side (no store needed)."""

from __future__ import annotations

import sys
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated

import typer

from cli.context import acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.clock import JST, timestamp
from core.exports import DEFAULT_LOCATION, Medium
from exports.services import media_service
from exports.verify import OpenFailed, Verdict, open_bundle, read_signer_file, verify_path

app = typer.Typer(
    help="Write-once media: verify and open (receiving side); the media ledger (媒体管理簿).",
    no_args_is_help=True,
)

MediumArg = Annotated[
    Path, typer.Argument(help="The medium: an ISO image, a device or a bundle directory.")
]


def _verdict_json(verdict: Verdict) -> dict[str, object]:
    return {
        "ok": verdict.ok,
        "files": verdict.files,
        "signer": verdict.signer,
        "content_hash": verdict.content_hash,
        "problems": [{"file": p.file, "reason": p.reason} for p in verdict.problems],
    }


def _checked(path: Path) -> Path:
    if not path.exists():
        raise typer.BadParameter(state().t("media.no_such_medium"), param_hint="PATH")
    return path


@app.command("verify")
def verify(
    medium: MediumArg,
    signer: Annotated[
        Path | None,
        typer.Option(
            "--signer", help="The sending terminal's public key (sesshu terminal pubkey)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the manifests, every hash, the signature and the audit checkpoint.

    Exits 1 and names the bad file when anything fails.
    """
    t = state().t
    expected = read_signer_file(signer) if signer is not None else None
    verdict = verify_path(_checked(medium), expected)
    if as_json:
        emit_json(_verdict_json(verdict))
    elif verdict.ok:
        say(t("media.verified", files=verdict.files, signer=verdict.signer or "-"))
    for problem in verdict.problems:
        reason = t(f"media.reason.{problem.reason}")
        sys.stderr.write(t("media.problem", file=problem.file, reason=reason) + "\n")
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("open")
def open_medium(
    medium: MediumArg,
    out: Annotated[Path, typer.Option("--out", help="Directory to decrypt into.")],
    identity: Annotated[
        Path | None, typer.Option("--identity", help="Your organisation's age identity file.")
    ] = None,
    passphrase_stdin: Annotated[
        bool, typer.Option("--passphrase-stdin", help="Read the passphrase from standard input.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify, then decrypt every payload file into DIR; refuses if verification fails."""
    t = state().t
    if (identity is None) == (not passphrase_stdin):
        raise typer.BadParameter(t("media.identity_or_passphrase"), param_hint="--identity")
    key = identity.read_text(encoding="utf-8") if identity is not None else None
    passphrase = sys.stdin.readline().strip() if passphrase_stdin else None
    try:
        written = open_bundle(
            _checked(medium), out, identity=_identity_line(key), passphrase=passphrase
        )
    except OpenFailed as failed:
        sys.stderr.write(t(f"media.reason.{failed.reason}") + "\n")
        raise typer.Exit(1) from None
    if as_json:
        emit_json({"files": [str(p) for p in written]})
    else:
        say(t("media.opened", count=len(written), out=out))


def _identity_line(text: str | None) -> str | None:
    """The ``AGE-SECRET-KEY-1…`` line of an identity file (comments are skipped)."""
    if text is None:
        return None
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line.strip()
    return ""


# --- the media ledger at the terminal (媒体管理簿) -----------------------------------------

MediumId = Annotated[int, typer.Argument(help="The medium's number in the ledger.")]


def medium_json(medium: Medium) -> dict[str, object]:
    def when(at: datetime | None) -> str | None:
        return timestamp(at) if at else None

    return {
        "media": medium.id,
        "id": medium.id,
        "label": medium.label,
        "type": medium.media_type,
        "export": medium.export,
        "case": medium.case,
        "content_hash": medium.content_hash,
        "created_by": medium.created_by,
        "witness": medium.witness,
        "created_at": when(medium.created_at),
        "verified_at": when(medium.verified_at),
        "verify_result": "good"
        if medium.verified_at and not medium.problems
        else ("failed" if medium.problems else None),
        "problems": list(medium.problems),
        "status": medium.status.value,
        "must_dispose": medium.must_dispose,
        "location": medium.location,
        "holder": medium.holder,
        "handed_at": when(medium.handed_at),
        "returned_at": when(medium.returned_at),
        "disposed_at": when(medium.disposed_at),
        "disposal_method": medium.disposal_method,
        "disposal_witness": medium.disposal_witness,
        "certificate": medium.certificate,
        "path": medium.path,
    }


def _medium_done(medium: Medium, as_json: bool) -> None:
    if as_json:
        emit_json(medium_json(medium))
    else:
        t = state().t
        say(
            t("media.ledger_changed", label=medium.label, status=t(f"media.status.{medium.status}"))
        )


@app.command("list")
def ledger_list(
    acting_user: AsOption,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only media not yet destroyed or erased.")
    ] = False,
    case: Annotated[int | None, typer.Option("--case", help="Only media of this case.")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """The media ledger, newest first."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        media = media_service(session.ctx).listing(open_only=open_only, case=case)
    if as_json:
        emit_json([medium_json(m) for m in media])
        return
    for m in media:
        flag = "  ⚠ " + t("media.must_dispose") if m.must_dispose else ""
        say(f"{m.id:>5}  {m.label:<28}  {t(f'media.status.{m.status}'):<10}  {m.location}{flag}")


@app.command("show")
def ledger_show(
    medium_id: MediumId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """One medium and its history."""
    with acting(acting_user, password_stdin) as session:
        detail = media_service(session.ctx).show(medium_id)
    events = [
        {"at": timestamp(e.at), "user": e.user, "event": e.event, **e.detail} for e in detail.events
    ]
    if as_json:
        emit_json({**medium_json(detail.medium), "events": events})
        return
    for key, value in medium_json(detail.medium).items():
        say(f"{key}: {value}")
    for event in events:
        say(f"  {event['at']}  {event['user']}  {event['event']}")


@app.command("handover")
def ledger_handover(
    medium_id: MediumId,
    acting_user: AsOption,
    to: Annotated[str, typer.Option("--to", help="Who receives the medium.")],
    location: Annotated[str, typer.Option("--location", help="Where it goes.")] = "",
    note: Annotated[str, typer.Option("--note")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Hand a good medium to someone (recorded with the time)."""
    with acting(acting_user, password_stdin) as session:
        medium = media_service(session.ctx).handover(medium_id, to, location, note)
    _medium_done(medium, as_json)


@app.command("return")
def ledger_return(
    medium_id: MediumId,
    acting_user: AsOption,
    location: Annotated[
        str, typer.Option("--location", help="Where it is kept now.")
    ] = DEFAULT_LOCATION,
    note: Annotated[str, typer.Option("--note")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record a medium's return; a returned medium must then be destroyed."""
    with acting(acting_user, password_stdin) as session:
        medium = media_service(session.ctx).return_(medium_id, location, note)
    _medium_done(medium, as_json)


@app.command("move")
def ledger_move(
    medium_id: MediumId,
    acting_user: AsOption,
    location: Annotated[str, typer.Option("--location", help="e.g. 施錠保管庫 B-2.")],
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record where a medium is kept now."""
    with acting(acting_user, password_stdin) as session:
        medium = media_service(session.ctx).move(medium_id, location)
    _medium_done(medium, as_json)


@app.command("dispose")
def ledger_dispose(
    medium_id: MediumId,
    acting_user: AsOption,
    method: Annotated[str, typer.Option("--method", help="e.g. 物理破壊 (shredder).")],
    witness: Annotated[str, typer.Option("--witness", help="The person witnessing it.")],
    certificate: Annotated[
        str, typer.Option("--certificate", help="Reference of the disposal certificate.")
    ] = "",
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default now).")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record a medium's physical destruction, with a witness."""
    at = None
    if on:
        try:
            at = datetime.combine(date.fromisoformat(on), time(12), tzinfo=JST)
        except ValueError:
            raise typer.BadParameter(state().t("date.iso_expected"), param_hint="--date") from None
    with acting(acting_user, password_stdin) as session:
        medium = media_service(session.ctx).dispose(medium_id, method, witness, certificate, at)
    _medium_done(medium, as_json)

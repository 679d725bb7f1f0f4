"""``sesshu recipient``, ``sesshu basis`` and ``sesshu provision``: manual information provision."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.context import Secrets, acting, acting_as, emit_json, say, state
from cli.export import ProgressLine, say_written, written_json
from cli.options import AsOption, JsonOption, StdinOption
from core.clock import timestamp
from core.errors import InvalidValue
from core.provision import DEFAULT_BASES, Case, LegalBasis, Recipient, parse_strata
from core.services.provision import CaseRequest, Preview
from exports.services import provision_service
from storage import public_masters

recipients_app = typer.Typer(
    help="Recipients of provisions (提供先): add, list.", no_args_is_help=True
)
bases_app = typer.Typer(
    help="Legal bases of provision (根拠法令) and their items.", no_args_is_help=True
)
app = typer.Typer(
    help="Manual information provision with supervisor sign-off (情報提供).", no_args_is_help=True
)

CaseId = Annotated[int, typer.Argument(help="The provision case number.")]
CommentOption = Annotated[str, typer.Option("--comment", help="A comment kept with the step.")]


def _date(text: str | None, field_name: str) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(field_name, "date.iso_expected") from None


def recipient_json(recipient: Recipient) -> dict[str, object]:
    return {
        "recipient": recipient.id,
        "id": recipient.id,
        "name": recipient.name,
        "kind": recipient.kind.value,
        "code": recipient.code,
        "contact": recipient.contact,
        "age_recipients": list(recipient.age_recipients),
    }


def basis_json(basis: LegalBasis) -> dict[str, object]:
    return {
        "key": basis.key,
        "title": basis.title,
        "title_en": basis.title_en,
        "items": list(basis.items),
        "mynumber": basis.mynumber,
    }


def case_json(case: Case) -> dict[str, object]:
    return {
        "case": case.id,
        "status": case.status.value,
        "requester": case.requester,
        "staff": list(case.staff),
        "supervisor": case.supervisor,
        "recipient": case.recipient,
        "basis": case.basis,
        "purpose": case.purpose,
        "items": list(case.items),
        "delivery": case.delivery,
        "retention_deadline": case.retention_deadline.isoformat()
        if case.retention_deadline
        else None,
        "approval_ref": case.approval_ref,
        "selection": {
            "method": case.selection.method,
            "size": case.selection.size,
            "seed": case.selection.seed,
            "reference_date": case.selection.reference_date,
        },
        "approved_hash": case.approved_hash or None,
        "decided_by": case.decided_by,
        "checked_by": case.checked_by,
        "executed_by": case.executed_by,
        "created_at": timestamp(case.created_at),
    }


# --- recipient -------------------------------------------------------------------------------


@recipients_app.command("add")
def recipient_add(
    acting_user: AsOption,
    name: Annotated[str, typer.Option("--name", help="The organisation's name.")],
    kind: Annotated[
        str, typer.Option("--kind", help="prefecture, municipality, ministry or contractor.")
    ],
    code: Annotated[
        str | None, typer.Option("--code", help="全国地方公共団体コード (6 digits, check digit).")
    ] = None,
    age_recipient: Annotated[
        list[str] | None,
        typer.Option("--age-recipient", help="An age X25519 public key (age1…); repeatable."),
    ] = None,
    contact: Annotated[str, typer.Option("--contact", help="Contact person and address.")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Register a recipient (supervisors)."""
    with acting(acting_user, password_stdin) as session:
        recipient = provision_service(session.ctx).add_recipient(
            name, kind, code, age_recipient or [], contact
        )
    if as_json:
        emit_json({"recipient": recipient.id})
    else:
        say(state().t("provision.recipient_added", recipient=recipient.id, name=recipient.name))


@recipients_app.command("list")
def recipient_list(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Registered recipients."""
    with acting(acting_user, password_stdin) as session:
        recipients = provision_service(session.ctx).recipients()
    if as_json:
        emit_json([recipient_json(r) for r in recipients])
        return
    for r in recipients:
        keys = len(r.age_recipients)
        say(f"{r.id:>4}  {r.kind.value:<12}  {r.code or '-':<6}  {r.name}  (age keys: {keys})")


# --- basis -----------------------------------------------------------------------------------


@bases_app.command("list")
def basis_list(as_json: JsonOption = False) -> None:
    """The legal bases and the items each allows (no login: they are public)."""
    snapshot = public_masters.read(state().store)
    rows = (snapshot or {}).get("legal_bases")
    if rows:
        bases = [
            LegalBasis(r["key"], r["title"], r["title_en"], tuple(r["items"].split(",")),
                       bool(r["mynumber"]))
            for r in rows
        ]  # fmt: skip
    else:
        bases = list(DEFAULT_BASES)
    if as_json:
        emit_json([basis_json(b) for b in bases])
        return
    english = state().language == "en"
    for b in bases:
        mark = " +個人番号" if b.mynumber else ""
        say(f"{b.key:<20}  {b.title_en if english else b.title}  [{', '.join(b.items)}]{mark}")


@bases_app.command("set")
def basis_set(
    acting_user: AsOption,
    key: Annotated[str, typer.Option("--key", help="A short key, e.g. survey-sample.")],
    title: Annotated[str, typer.Option("--title", help="The title (Japanese).")],
    items: Annotated[str, typer.Option("--items", help="Comma-separated items it allows.")],
    title_en: Annotated[str, typer.Option("--title-en", help="The title in English.")] = "",
    mynumber: Annotated[
        bool, typer.Option("--mynumber/--no-mynumber", help="Whether it allows the 個人番号.")
    ] = False,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add or change a legal basis (supervisors)."""
    basis = LegalBasis(key, title, title_en or title, tuple(items.split(",")), mynumber)
    with acting(acting_user, password_stdin) as session:
        stored = provision_service(session.ctx).put_basis(basis)
    if as_json:
        emit_json(basis_json(stored))
    else:
        say(state().t("provision.basis_set", basis=stored.key))


# --- provision -------------------------------------------------------------------------------


@app.command("create")
def create(
    acting_user: AsOption,
    recipient: Annotated[int, typer.Option("--recipient", help="The recipient's number.")],
    basis: Annotated[str, typer.Option("--basis", help="The legal basis key (sesshu basis list).")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the recipient uses it for.")],
    items: Annotated[
        str, typer.Option("--items", help="Comma-separated: name,kana,birth,sex,address,…")
    ],
    atena_file: Annotated[
        Path | None, typer.Option("--atena-file", help="A file of 宛名番号, one per line.")
    ] = None,
    sample: Annotated[
        int | None, typer.Option("--sample", help="Draw a stratified random sample of N.")
    ] = None,
    strata: Annotated[
        Path | None,
        typer.Option("--strata", help="CSV: sex,age_from,age_to,share (sex M, F or *)."),
    ] = None,
    seed: Annotated[str, typer.Option("--seed", help="The seed the sample is drawn with.")] = "",
    staff: Annotated[
        list[str] | None, typer.Option("--staff", help="Named staff (repeatable).")
    ] = None,
    supervisor: Annotated[
        str, typer.Option("--supervisor", help="The responsible supervisor.")
    ] = "",
    delivery: Annotated[str, typer.Option("--delivery", help="media or list.")] = "media",
    deadline: Annotated[
        str | None, typer.Option("--deadline", help="Recipient's retention deadline YYYY-MM-DD.")
    ] = None,
    approval_ref: Annotated[
        str, typer.Option("--approval-ref", help="e.g. council report number and date.")
    ] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Draft a provision case: recipient, basis, items and the persons (a list or a sample)."""
    t = state().t
    if (atena_file is None) == (sample is None):
        raise typer.BadParameter(t("provision.persons_source"), param_hint="--atena-file/--sample")
    if sample is not None and strata is None:
        raise typer.BadParameter(t("provision.sample_needs"), param_hint="--strata")
    request = CaseRequest(
        recipient=recipient,
        basis=basis,
        purpose=purpose,
        items=items,
        atena=atena_file.read_text(encoding="utf-8").splitlines() if atena_file else None,
        sample=sample,
        strata=parse_strata(strata.read_text(encoding="utf-8")) if strata else (),
        seed=seed,
        staff=tuple(staff or ()),
        supervisor=supervisor,
        delivery=delivery,
        retention_deadline=_date(deadline, "deadline"),
        approval_ref=approval_ref,
    )
    with acting(acting_user, password_stdin) as session:
        created = provision_service(session.ctx).create(request)
    if as_json:
        emit_json(
            {
                "case": created.case.id,
                "persons": created.persons,
                "content_hash": created.content_hash,
            }
        )
    else:
        say(t("provision.created", case=created.case.id, persons=created.persons))


def preview_json(preview: Preview) -> dict[str, object]:
    return {
        **case_json(preview.case),
        "recipient_name": preview.recipient.name,
        "basis_title": preview.basis.title,
        "persons": preview.included,
        "total": preview.total,
        "removed": preview.removed,
        "flags": preview.flags,
        "open_flags": [{"atena": p.atena, "flags": list(p.flags)} for p in preview.open_flags],
        "sample_rows": [
            {"atena": r[0], "name": r[1], "kana": r[2], "birth": r[3], "sex": r[4]}
            for r in preview.rows
        ],
        "content_hash": preview.fingerprint,
        "approval_valid": preview.approval_valid,
        "stages": [
            {"stage": s.stage.value, "at": timestamp(s.at), "user": s.user, **s.detail}
            for s in preview.stages
        ],
    }


@app.command("preview")
def preview(
    case_id: CaseId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Counts, sample rows and the flagged persons still to confirm or remove."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        shown = provision_service(session.ctx).preview(case_id)
    if as_json:
        emit_json(preview_json(shown))
        return
    say(t("provision.preview_head", case=case_id, status=shown.case.status.value,
          recipient=shown.recipient.name, basis=shown.basis.title))  # fmt: skip
    say(t("provision.preview_counts", included=shown.included, removed=shown.removed))
    for flag, count in sorted(shown.flags.items()):
        say(f"  {t(f'provision.flag.{flag}')}: {count}")
    for person in shown.open_flags:
        flags = ", ".join(t(f"provision.flag.{f}") for f in person.flags)
        say(t("provision.open_flag", atena=person.atena, flags=flags))
    for row in shown.rows:
        say("  " + "  ".join(row))
    say(f"content_hash: {shown.fingerprint}")


@app.command("person")
def person(
    case_id: CaseId,
    acting_user: AsOption,
    atena: Annotated[str, typer.Option("--atena", help="The flagged person's 宛名番号.")],
    decision: Annotated[str, typer.Option("--decision", help="confirmed or removed.")],
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Confirm or remove a flagged person (voids an approval already given)."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).decide_person(case_id, atena, decision)
    if as_json:
        emit_json(case_json(case))
    else:
        say(state().t("provision.person_decided", atena=atena, decision=decision))


@app.command("update")
def update(
    case_id: CaseId,
    acting_user: AsOption,
    purpose: Annotated[str | None, typer.Option("--purpose")] = None,
    items: Annotated[str | None, typer.Option("--items")] = None,
    deadline: Annotated[str | None, typer.Option("--deadline")] = None,
    approval_ref: Annotated[str | None, typer.Option("--approval-ref")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Change a case (voids an approval already given)."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).update(
            case_id,
            purpose=purpose,
            items=items,
            retention_deadline=_date(deadline, "deadline"),
            approval_ref=approval_ref,
        )
    if as_json:
        emit_json(case_json(case))
    else:
        say(state().t("provision.updated", case=case.id))


def _decision(case: Case, as_json: bool, key: str) -> None:
    if as_json:
        emit_json(case_json(case))
    else:
        say(state().t(key, case=case.id))


@app.command("approve")
def approve(
    case_id: CaseId,
    acting_user: AsOption,
    comment: CommentOption = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Approve exactly what leaves (a supervisor other than the requester)."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).approve(case_id, comment)
    _decision(case, as_json, "provision.approved")


@app.command("reject")
def reject(
    case_id: CaseId,
    acting_user: AsOption,
    comment: CommentOption = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reject the case (recorded as a provision record)."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).reject(case_id, comment)
    _decision(case, as_json, "provision.rejected")


@app.command("check")
def check(
    case_id: CaseId,
    acting_user: AsOption,
    comment: CommentOption = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """The second check of content and recipient (by someone who will not execute it)."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).check(case_id, comment)
    _decision(case, as_json, "provision.checked")


@app.command("execute")
def execute(
    case_id: CaseId,
    acting_user: AsOption,
    witness: Annotated[str, typer.Option("--witness", help="The person witnessing the write.")],
    out: Annotated[
        str | None, typer.Option("--out", help="NAME.iso: a bare name lands in the spool.")
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="The configured burner.")] = None,
    media_type: Annotated[str | None, typer.Option("--media-type")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write the approved, checked case to media and record the provision."""
    with acting(acting_user, password_stdin) as session:
        executed = provision_service(session.ctx).execute(
            case_id, witness, out=out, device=device, media_type=media_type,
            progress=ProgressLine(),
        )  # fmt: skip
    if as_json:
        emit_json(
            {
                "case": case_id,
                "export": executed.export.id,
                "record": executed.record,
                **written_json(executed.written),
            }
        )
    else:
        say_written(executed.written)
    if not executed.written.outcome.verified:
        raise typer.Exit(1)


@app.command("handover")
def handover(
    case_id: CaseId,
    acting_user: AsOption,
    to: Annotated[str, typer.Option("--to", help="Who received it.")],
    external: Annotated[
        bool, typer.Option("--external/--internal", help="To the recipient, or within the office.")
    ] = False,
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD (default today).")] = None,
    signature: Annotated[
        str, typer.Option("--signature", help="Reference of the signed receipt (受取サイン).")
    ] = "",
    tracking: Annotated[str, typer.Option("--tracking", help="Transport tracking number.")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record a handover stage in the ledger."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).handover(
            case_id, external=external, to=to, on=_date(on, "date"), signature=signature,
            tracking=tracking,
        )  # fmt: skip
    _decision(case, as_json, "provision.stage_recorded")


@app.command("erasure")
def erasure(
    case_id: CaseId,
    acting_user: AsOption,
    reference: Annotated[str, typer.Option("--reference", help="The erasure report's reference.")],
    on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD of the report.")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record the recipient's erasure report."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).erasure(case_id, _date(on, "date"), reference)
    _decision(case, as_json, "provision.stage_recorded")


@app.command("close")
def close(
    case_id: CaseId,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Close the case (refused while a ledger stage is missing)."""
    with acting(acting_user, password_stdin) as session:
        case = provision_service(session.ctx).close(case_id)
    _decision(case, as_json, "provision.closed")


@app.command("list")
def list_cases(
    acting_user: AsOption,
    status: Annotated[str | None, typer.Option("--status")] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only cases past deadline without erasure report.")
    ] = False,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Provision cases, newest first."""
    with acting(acting_user, password_stdin) as session:
        service = provision_service(session.ctx)
        cases = service.overdue() if overdue else service.cases(status)
    if as_json:
        emit_json([case_json(c) for c in cases])
        return
    for c in cases:
        deadline = c.retention_deadline.isoformat() if c.retention_deadline else "-"
        say(f"{c.id:>5}  {c.status.value:<9}  {c.basis:<20}  {deadline}  {c.purpose}")


@app.command("records")
def records(
    acting_user: AsOption,
    since: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD (inclusive)")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Provision records (提供記録), kept at least seven years: auditors and supervisors."""
    with acting(acting_user, password_stdin) as session:
        found = provision_service(session.ctx).records(_date(since, "from"), _date(until, "to"))
    rows = [
        {
            "id": r.id,
            "case": r.case,
            "outcome": r.outcome,
            "at": timestamp(r.at),
            "requester": r.requester,
            "approver": r.approver,
            "executor": r.executor,
            "recipient": r.recipient,
            "basis": r.basis,
            "items": list(r.items),
            "persons": r.persons,
            "content_hash": r.content_hash,
            "reason": r.reason,
            "keep_until": r.keep_until.isoformat(),
        }
        for r in found
    ]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        say(f"{row['id']:>5}  {row['at']}  {row['outcome']:<8}  {row['recipient']}  "
            f"{row['persons']}  {row['basis']}")  # fmt: skip


@app.command("inquiry")
def inquiry(
    acting_user: AsOption,
    former_code: Annotated[
        str, typer.Option("--former-code", help="The former municipality's code (6 digits).")
    ],
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """An inbound inquiry about a mover-in (転入者). The 個人番号 is read from standard input
    (after the password line with --password-stdin) and never stored."""
    secrets = Secrets(password_stdin, state().t)
    with acting_as(acting_user, secrets.next("field.password")) as session:
        number = secrets.next("field.mynumber")
        atena = provision_service(session.ctx).inquiry(number, former_code)
    if as_json:
        emit_json({"matched": atena is not None, "atena": atena})
    else:
        say(
            state().t("provision.inquiry_found" if atena else "provision.inquiry_none", atena=atena)
        )

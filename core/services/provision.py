"""Manual information provision with supervisor sign-off (情報提供の管理).

Rules, whatever the interface:
- the items must be allowed by the legal basis; the 個人番号 only where the basis allows it;
- every flagged person (DV, deceased, moved out, 自動応答不可) is confirmed or removed before
  approval;
- a supervisor who is not the requester approves, bound to the case fingerprint (every
  parameter, person and decision, and the data itself); any change voids the approval;
- a second staff member checks content and recipient against the same fingerprint, and never
  executes the case;
- execution re-checks all of that (``cleared``, the gate the export workflow calls) and writes
  the provision record; refusals and rejections are recorded too;
- the ledger keeps every stage, and a case closes only when no required stage is missing.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date

from core.audit import Action
from core.errors import Issue, NotFound, RuleViolation, ValidationFailed
from core.exports import Export, PayloadSpec
from core.identifiers import normalize_municipality_code, normalize_mynumber
from core.ports import Exporter, Progress, UnitOfWork
from core.provision import (
    DELIVERIES,
    Case,
    CasePerson,
    CaseStatus,
    FlagDecision,
    LegalBasis,
    ProvisionRecord,
    Recipient,
    Selection,
    Stage,
    StageEntry,
    Stratum,
    allocate,
    born_between,
    case_fingerprint,
    check_items,
    check_recipient,
    draw,
    keep_until,
    missing_stages,
    parse_items,
    parse_recipient_kind,
)
from core.residents import normalize_atena
from core.roles import Permission
from core.services.context import ServiceContext
from core.services.exports import ExportService, MediaService, Written

PREVIEW_ROWS = 10
_VOIDABLE = frozenset({CaseStatus.DRAFT, CaseStatus.APPROVED})


@dataclass(frozen=True)
class CaseRequest:
    recipient: int
    basis: str
    purpose: str
    items: str | list[str]
    atena: list[str] | None = None  # an explicit list, or …
    sample: int | None = None  # … a stratified random sample
    strata: tuple[Stratum, ...] = ()
    seed: str = ""
    staff: tuple[str, ...] = ()
    supervisor: str = ""
    delivery: str = "media"
    retention_deadline: date | None = None
    approval_ref: str = ""


@dataclass(frozen=True)
class Created:
    case: Case
    persons: int
    content_hash: str


@dataclass(frozen=True)
class Preview:
    case: Case
    recipient: Recipient
    basis: LegalBasis
    total: int
    included: int
    removed: int
    flags: dict[str, int]
    open_flags: list[CasePerson]
    rows: list[tuple[str, str, str, str, str]]
    fingerprint: str
    approval_valid: bool
    stages: list[StageEntry]


@dataclass(frozen=True)
class Executed:
    case: Case
    export: Export
    written: Written
    record: int


def _target(case: int) -> str:
    return f"provision:{case}"


class ProvisionService:
    """Also the export workflow's ``CaseGate``: see ``cleared``."""

    def __init__(self, ctx: ServiceContext, exporter: Exporter) -> None:
        self.ctx = ctx
        self.exporter = exporter

    @property
    def exports(self) -> ExportService:
        return ExportService(self.ctx, self.exporter, case_gate=self)

    # --- registry ----------------------------------------------------------------------------

    def add_recipient(
        self,
        name: str,
        kind: str,
        code: str | None = None,
        age_recipients: list[str] | None = None,
        contact: str = "",
    ) -> Recipient:
        self.ctx.require(Permission.RECIPIENT_MANAGE, "recipient:new")
        recipient_kind = parse_recipient_kind(kind)
        clean_name, clean_code, keys = check_recipient(
            name, recipient_kind, code, age_recipients or []
        )
        with self.ctx.store.transaction() as uow:
            recipient = uow.provisions.add_recipient(
                clean_name, recipient_kind, clean_code, contact.strip(), keys, self.ctx.user,
                self.ctx.clock.now(),
            )  # fmt: skip
            self.ctx.record(
                uow,
                Action.RECIPIENT_ADDED,
                f"recipient:{recipient.id}",
                name=clean_name,
                kind=recipient_kind.value,
                code=clean_code,
                age_keys=len(keys),
            )
        return recipient

    def recipients(self) -> list[Recipient]:
        self._require_any(
            (Permission.PROVISION_REQUEST, Permission.PROVISION_CHECK, Permission.RECIPIENT_MANAGE),
            "recipient:list",
        )
        with self.ctx.store.reader() as uow:
            return uow.provisions.recipients()

    def put_basis(self, basis: LegalBasis) -> LegalBasis:
        self.ctx.require(Permission.RECIPIENT_MANAGE, f"basis:{basis.key}")
        items = parse_items(list(basis.items))
        if "mynumber" in items and not basis.mynumber:
            raise ValidationFailed([Issue("items", "provision.mynumber_not_allowed")])
        clean = replace(basis, key=basis.key.strip(), items=items)
        if not clean.key or not clean.title.strip():
            raise ValidationFailed([Issue("key", "provision.basis_required")])
        with self.ctx.store.transaction() as uow:
            uow.provisions.put_basis(clean)
            self.ctx.record(
                uow,
                Action.BASIS_CHANGED,
                f"basis:{clean.key}",
                items=list(items),
                mynumber=clean.mynumber,
            )
        return clean

    def _require_any(self, permissions: tuple[Permission, ...], target: str) -> None:
        held = [p for p in permissions if self.ctx.session.can(p)]
        self.ctx.require(held[0] if held else permissions[0], target)

    # --- creating ----------------------------------------------------------------------------

    def create(self, request: CaseRequest) -> Created:
        self.ctx.require(Permission.PROVISION_REQUEST, "provision:new")
        issues: list[Issue] = []
        purpose = request.purpose.strip()
        if not purpose:
            issues.append(Issue("purpose", "provision.purpose_required"))
        if request.delivery not in DELIVERIES:
            issues.append(
                Issue("delivery", "provision.delivery", {"accepted": ", ".join(DELIVERIES)})
            )
        if (request.atena is None) == (request.sample is None):
            issues.append(Issue("persons", "provision.persons_source"))
        if issues:
            raise ValidationFailed(issues)
        items = parse_items(request.items)
        now = self.ctx.clock.now()
        with self.ctx.store.reader() as uow:
            recipient = _recipient(uow, request.recipient)
            basis = _basis(uow, request.basis)
            check_items(items, basis)
            if request.atena is not None:
                persons = _listed(request.atena)
                selection = Selection("list")
            else:
                assert request.sample is not None
                persons, selection = self._sample(uow, request, now.date())
            flags = uow.provisions.person_flags(persons)
        unknown = [a for a in persons if a not in flags]
        if unknown:
            raise ValidationFailed(
                [Issue("atena", "provision.unknown_atena", {"atena": a}) for a in unknown[:20]]
            )
        case_persons = [
            CasePerson(a, flags[a], FlagDecision.OPEN if flags[a] else None) for a in persons
        ]
        draft = Case(
            id=0,
            requester=self.ctx.user,
            staff=request.staff or (self.ctx.user,),
            supervisor=request.supervisor.strip(),
            recipient=recipient.id,
            basis=basis.key,
            purpose=purpose,
            items=items,
            delivery=request.delivery,
            retention_deadline=request.retention_deadline,
            approval_ref=request.approval_ref.strip(),
            selection=selection,
            status=CaseStatus.DRAFT,
            created_at=now,
        )
        with self.ctx.store.transaction() as uow:
            case = uow.provisions.add_case(draft)
            uow.provisions.add_persons(case.id, case_persons)
            fingerprint = self._fingerprint(uow, case)
            self.ctx.record(
                uow,
                Action.PROVISION_CREATED,
                _target(case.id),
                recipient=recipient.id,
                basis=basis.key,
                items=list(items),
                persons=len(case_persons),
                flagged=sum(1 for p in case_persons if p.flags),
                selection=selection.method,
                seed=selection.seed,
                fingerprint=fingerprint,
            )
        return Created(case, len(case_persons), fingerprint)

    def _sample(
        self, uow: UnitOfWork, request: CaseRequest, on: date
    ) -> tuple[list[str], Selection]:
        size = request.sample or 0
        if size <= 0 or not request.strata or not request.seed.strip():
            raise ValidationFailed([Issue("sample", "provision.sample_needs")])
        chosen: list[str] = []
        for stratum, count in zip(request.strata, allocate(size, request.strata), strict=True):
            frame = uow.provisions.frame(stratum.sex, *born_between(stratum, on))
            chosen.extend(draw(frame, count, request.seed.strip(), stratum))
        selection = Selection("sample", size, request.seed.strip(), on.isoformat(), request.strata)
        return sorted(set(chosen)), selection

    # --- the fingerprint and the gate ---------------------------------------------------------

    def _fingerprint(self, uow: UnitOfWork, case: Case) -> str:
        return self._bound(uow, case)[0]

    def _bound(self, uow: UnitOfWork, case: Case) -> tuple[str, PayloadSpec, str]:
        """The case fingerprint, the payload it describes and that payload's data hash."""
        recipient = _recipient(uow, case.recipient)
        persons = uow.provisions.persons(case.id)
        spec = PayloadSpec(persons=tuple(p.atena for p in persons if p.included), items=case.items)
        data = self.exporter.content_hash(spec)
        return case_fingerprint(case, recipient, persons, data), spec, data

    def cleared(self, case: int, writer: str) -> tuple[PayloadSpec, str]:
        """Approved, unchanged since, checked by someone else: what may leave, and its hash."""
        with self.ctx.store.reader() as uow:
            current = _case(uow, case)
            if current.status is not CaseStatus.APPROVED:
                raise RuleViolation("provision.not_approved", status=current.status.value)
            fingerprint, spec, data = self._bound(uow, current)
            if fingerprint != current.approved_hash:
                raise RuleViolation("provision.changed_after_approval")
            if current.checked_hash != current.approved_hash or current.checked_by is None:
                raise RuleViolation("provision.not_checked")
            if current.checked_by == writer:
                raise RuleViolation("provision.checker_executes")
        return spec, data

    # --- preview, decisions and changes -------------------------------------------------------

    def preview(self, case_id: int) -> Preview:
        self._require_any(
            (
                Permission.PROVISION_REQUEST,
                Permission.PROVISION_APPROVE,
                Permission.PROVISION_CHECK,
            ),
            _target(case_id),
        )
        with self.ctx.store.transaction() as uow:
            case = _case(uow, case_id)
            persons = uow.provisions.persons(case_id)
            flags = Counter(f for p in persons if p.included for f in p.flags)
            fingerprint = self._fingerprint(uow, case)
            preview = Preview(
                case=case,
                recipient=_recipient(uow, case.recipient),
                basis=_basis(uow, case.basis),
                total=len(persons),
                included=sum(1 for p in persons if p.included),
                removed=sum(1 for p in persons if not p.included),
                flags=dict(flags),
                open_flags=[p for p in persons if p.decision is FlagDecision.OPEN],
                rows=uow.provisions.preview_rows(case_id, PREVIEW_ROWS),
                fingerprint=fingerprint,
                approval_valid=bool(case.approved_hash) and fingerprint == case.approved_hash,
                stages=uow.provisions.stages(case_id),
            )
            self.ctx.record(
                uow, Action.PROVISION_PREVIEWED, _target(case_id), fingerprint=fingerprint
            )
        return preview

    def decide_person(self, case_id: int, atena: str, decision: str) -> Case:
        """Confirm or remove a flagged person (voids an approval already given)."""
        self.ctx.require(Permission.PROVISION_REQUEST, _target(case_id))
        try:
            choice = FlagDecision(decision)
        except ValueError:
            choice = FlagDecision.OPEN
        if choice is FlagDecision.OPEN:
            raise ValidationFailed(
                [Issue("decision", "provision.decision", {"accepted": "confirmed, removed"})]
            )
        atena = normalize_atena(atena)
        with self._writing(case_id) as uow:
            case = self._editable(uow, case_id)
            if not uow.provisions.decide_person(case_id, atena, choice):
                raise RuleViolation("provision.not_flagged", atena=atena)
            case = self._void(uow, case)
            self.ctx.record(
                uow,
                Action.PROVISION_PERSON_DECIDED,
                _target(case_id),
                atena=atena,
                decision=choice.value,
            )
        return case

    def update(
        self,
        case_id: int,
        *,
        purpose: str | None = None,
        retention_deadline: date | None = None,
        approval_ref: str | None = None,
        items: str | None = None,
    ) -> Case:
        """Change a case's parameters (voids an approval already given)."""
        self.ctx.require(Permission.PROVISION_REQUEST, _target(case_id))
        with self._writing(case_id) as uow:
            case = self._editable(uow, case_id)
            changed = replace(
                case,
                purpose=purpose.strip() if purpose is not None else case.purpose,
                retention_deadline=retention_deadline or case.retention_deadline,
                approval_ref=approval_ref.strip()
                if approval_ref is not None
                else case.approval_ref,
                items=parse_items(items) if items is not None else case.items,
            )
            check_items(changed.items, _basis(uow, changed.basis))
            case = self._void(uow, uow.provisions.save_case(changed))
            self.ctx.record(uow, Action.PROVISION_UPDATED, _target(case_id))
        return case

    def _editable(self, uow: UnitOfWork, case_id: int) -> Case:
        case = _case(uow, case_id)
        if case.status not in _VOIDABLE:
            raise RuleViolation("provision.not_editable", status=case.status.value)
        return case

    def _void(self, uow: UnitOfWork, case: Case) -> Case:
        if case.status is not CaseStatus.APPROVED:
            return case
        voided = uow.provisions.save_case(
            replace(
                case,
                status=CaseStatus.DRAFT,
                approved_hash="",
                decided_by=None,
                decided_at=None,
                checked_by=None,
                checked_at=None,
                checked_hash="",
            )
        )
        self.ctx.record(uow, Action.PROVISION_APPROVAL_VOIDED, _target(case.id))
        return voided

    # --- sign-off and second check ------------------------------------------------------------

    def approve(self, case_id: int, comment: str = "") -> Case:
        self.ctx.require(Permission.PROVISION_APPROVE, _target(case_id))
        with self._writing(case_id) as uow:
            case = self._decidable(uow, case_id)
            persons = uow.provisions.persons(case_id)
            if any(p.decision is FlagDecision.OPEN for p in persons):
                raise RuleViolation("provision.flags_open")
            if not any(p.included for p in persons):
                raise RuleViolation("provision.no_persons")
            fingerprint = self._fingerprint(uow, case)
            case = uow.provisions.save_case(
                replace(
                    case,
                    status=CaseStatus.APPROVED,
                    approved_hash=fingerprint,
                    decided_by=self.ctx.user,
                    decided_at=self.ctx.clock.now(),
                    decision_comment=comment.strip(),
                )
            )
            self.ctx.record(
                uow,
                Action.PROVISION_APPROVED,
                _target(case_id),
                fingerprint=fingerprint,
                comment=comment,
            )
        return case

    def reject(self, case_id: int, comment: str = "") -> Case:
        self.ctx.require(Permission.PROVISION_APPROVE, _target(case_id))
        with self._writing(case_id) as uow:
            case = self._decidable(uow, case_id)
            fingerprint = self._fingerprint(uow, case)
            case = uow.provisions.save_case(
                replace(
                    case,
                    status=CaseStatus.REJECTED,
                    decided_by=self.ctx.user,
                    decided_at=self.ctx.clock.now(),
                    decision_comment=comment.strip(),
                )
            )
            self._record(uow, case, "rejected", fingerprint, reason=comment.strip())
            self.ctx.record(uow, Action.PROVISION_REJECTED, _target(case_id), comment=comment)
        return case

    def _decidable(self, uow: UnitOfWork, case_id: int) -> Case:
        case = _case(uow, case_id)
        if case.status is not CaseStatus.DRAFT:
            raise RuleViolation("provision.not_draft", status=case.status.value)
        if case.requester == self.ctx.user:
            raise RuleViolation("provision.self_approval")
        return case

    def check(self, case_id: int, comment: str = "") -> Case:
        """The second check of content and recipient, against the approved fingerprint."""
        self.ctx.require(Permission.PROVISION_CHECK, _target(case_id))
        with self._writing(case_id) as uow:
            case = _case(uow, case_id)
            if case.status is not CaseStatus.APPROVED:
                raise RuleViolation("provision.not_approved", status=case.status.value)
            if case.decided_by == self.ctx.user:
                raise RuleViolation("provision.approver_checks")
            fingerprint = self._fingerprint(uow, case)
            if fingerprint != case.approved_hash:
                raise RuleViolation("provision.changed_after_approval")
            case = uow.provisions.save_case(
                replace(
                    case,
                    checked_by=self.ctx.user,
                    checked_at=self.ctx.clock.now(),
                    checked_hash=fingerprint,
                )
            )
            self.ctx.record(
                uow, Action.PROVISION_CHECKED, _target(case_id), fingerprint=fingerprint,
                comment=comment,
            )  # fmt: skip
        return case

    # --- execution --------------------------------------------------------------------------

    def export_for(self, case_id: int) -> Export:
        """The approved export of a cleared case (``export create --case``)."""
        self.ctx.require(Permission.EXPORT_CREATE, _target(case_id))
        with self.ctx.store.reader() as uow:
            recipient = _recipient(uow, _case(uow, case_id).recipient)
        try:
            return self.exports.carry_case(case_id, recipient.age_recipients)
        except RuleViolation as refused:
            self._refused(case_id, refused, record=True)
            raise

    def execute(
        self,
        case_id: int,
        witness: str,
        *,
        out: str | None = None,
        device: str | None = None,
        media_type: str | None = None,
        progress: Progress | None = None,
    ) -> Executed:
        self.ctx.require(Permission.PROVISION_REQUEST, _target(case_id))
        export = self.export_for(case_id)
        written = self.exports.write(
            export.id,
            witness,
            out=out,
            device=device,
            media_type=media_type,
            progress=progress,
        )
        record = 0
        with self.ctx.store.transaction() as uow:
            case = _case(uow, case_id)
            if written.outcome.verified:
                now = self.ctx.clock.now()
                case = uow.provisions.save_case(
                    replace(
                        case, status=CaseStatus.EXECUTED, executed_by=self.ctx.user, executed_at=now
                    )
                )
                persons = str(len(export.spec.persons))
                self._stage(uow, case_id, Stage.EXTRACTION, persons=persons)
                self._stage(
                    uow,
                    case_id,
                    Stage.MEDIA_WRITTEN,
                    media=str(written.medium.id),
                    label=written.medium.label,
                    witness=written.medium.witness,
                )
                record = self._record(uow, case, "provided", case.approved_hash)
                self.ctx.record(
                    uow,
                    Action.PROVISION_EXECUTED,
                    _target(case_id),
                    export=export.id,
                    media=written.medium.id,
                    persons=len(export.spec.persons),
                    record=record,
                )
        return Executed(case, export, written, record)

    def _record(
        self, uow: UnitOfWork, case: Case, outcome: str, content_hash: str, reason: str = ""
    ) -> int:
        now = self.ctx.clock.now()
        recipient = _recipient(uow, case.recipient)
        persons = sum(1 for p in uow.provisions.persons(case.id) if p.included)
        return uow.provisions.add_record(
            ProvisionRecord(
                id=0,
                case=case.id,
                outcome=outcome,
                at=now,
                requester=case.requester,
                approver=case.decided_by,
                executor=self.ctx.user if outcome == "provided" else None,
                recipient=f"{recipient.name} ({recipient.code or recipient.kind.value})",
                basis=case.basis,
                items=case.items,
                persons=persons,
                content_hash=content_hash,
                reason=reason,
                keep_until=keep_until(now),
            )
        )

    @contextlib.contextmanager
    def _writing(self, case_id: int) -> Iterator[UnitOfWork]:
        try:
            with self.ctx.store.transaction() as uow:
                yield uow
        except RuleViolation as refused:
            self._refused(case_id, refused)
            raise

    def _refused(self, case_id: int, refused: RuleViolation, *, record: bool = False) -> None:
        """A refusal is audited; one that stops a provision also leaves a provision record."""
        with self.ctx.store.transaction() as uow:
            self.ctx.record(uow, Action.PROVISION_REFUSED, _target(case_id), rule=refused.key)
            case = uow.provisions.case(case_id)
            if record and case is not None:
                self._record(uow, case, "refused", case.approved_hash, reason=refused.key)

    # --- the ledger -------------------------------------------------------------------------

    def _stage(self, uow: UnitOfWork, case_id: int, stage: Stage, **detail: str) -> None:
        uow.provisions.add_stage(
            StageEntry(case_id, stage, self.ctx.clock.now(), self.ctx.user, dict(detail))
        )

    def handover(
        self,
        case_id: int,
        *,
        external: bool,
        to: str,
        on: date | None = None,
        signature: str = "",
        tracking: str = "",
    ) -> Case:
        """Internal handover (to the person who carries it), or external (to the recipient:
        the receiver's name and date, and the reference of the signed receipt 受取サイン)."""
        self.ctx.require(Permission.PROVISION_REQUEST, _target(case_id))
        receiver = to.strip()
        issues = [] if receiver else [Issue("to", "provision.receiver_required")]
        if external and not signature.strip():
            issues.append(Issue("signature", "provision.signature_required"))
        if issues:
            raise ValidationFailed(issues)
        day = (on or self.ctx.clock.now().date()).isoformat()
        media = MediaService(self.ctx)
        with self._writing(case_id) as uow:
            case = self._executed(uow, case_id)
            stage = Stage.EXTERNAL_HANDOVER if external else Stage.INTERNAL_HANDOVER
            self._stage(uow, case_id, stage, to=receiver, date=day, signature=signature.strip())
            if tracking.strip():
                self._stage(uow, case_id, Stage.TRANSPORT, tracking=tracking.strip())
            if external:
                media.hand_outside(uow, case_id, receiver)
            self.ctx.record(
                uow, Action.PROVISION_STAGE, _target(case_id), stage=stage.value, to=receiver
            )
        return case

    def erasure(self, case_id: int, on: date | None, reference: str) -> Case:
        self.ctx.require(Permission.PROVISION_REQUEST, _target(case_id))
        if not reference.strip():
            raise ValidationFailed([Issue("reference", "provision.reference_required")])
        media = MediaService(self.ctx)
        with self._writing(case_id) as uow:
            case = self._executed(uow, case_id)
            done = {s.stage for s in uow.provisions.stages(case_id)}
            if Stage.EXTERNAL_HANDOVER not in done:
                raise RuleViolation("provision.erasure_before_handover")
            self._stage(
                uow,
                case_id,
                Stage.ERASURE_REPORTED,
                date=(on or self.ctx.clock.now().date()).isoformat(),
                reference=reference,
            )
            erased = media.erased_by_recipient(uow, case_id, reference.strip())
            self.ctx.record(
                uow,
                Action.PROVISION_STAGE,
                _target(case_id),
                stage=Stage.ERASURE_REPORTED.value,
                media=erased,
            )
        return case

    def close(self, case_id: int) -> Case:
        self.ctx.require(Permission.PROVISION_REQUEST, _target(case_id))
        with self._writing(case_id) as uow:
            case = self._executed(uow, case_id)
            missing = missing_stages({s.stage for s in uow.provisions.stages(case_id)})
            if missing:
                raise RuleViolation(
                    "provision.stages_missing", stages=", ".join(s.value for s in missing)
                )
            case = uow.provisions.save_case(replace(case, status=CaseStatus.CLOSED))
            self.ctx.record(uow, Action.PROVISION_CLOSED, _target(case_id))
        return case

    def _executed(self, uow: UnitOfWork, case_id: int) -> Case:
        case = _case(uow, case_id)
        if case.status is not CaseStatus.EXECUTED:
            raise RuleViolation("provision.not_executed", status=case.status.value)
        return case

    # --- reading ----------------------------------------------------------------------------

    def cases(self, status: str | None = None) -> list[Case]:
        self._require_any(
            (
                Permission.PROVISION_REQUEST,
                Permission.PROVISION_APPROVE,
                Permission.PROVISION_CHECK,
            ),
            "provision:list",
        )
        wanted = CaseStatus(status) if status else None
        with self.ctx.store.reader() as uow:
            return uow.provisions.cases(wanted)

    def overdue(self) -> list[Case]:
        """Executed cases past the recipient's deadline without an erasure report."""
        self._require_any(
            (Permission.PROVISION_APPROVE, Permission.PROVISION_REQUEST), "provision:overdue"
        )
        today = self.ctx.clock.now().date()
        late: list[Case] = []
        with self.ctx.store.reader() as uow:
            for case in uow.provisions.cases(CaseStatus.EXECUTED):
                if case.retention_deadline is None or case.retention_deadline >= today:
                    continue
                if Stage.ERASURE_REPORTED not in {s.stage for s in uow.provisions.stages(case.id)}:
                    late.append(case)
        return late

    def records(
        self, since: date | None = None, until: date | None = None
    ) -> list[ProvisionRecord]:
        self._require_any(
            (Permission.AUDIT_READ, Permission.PROVISION_APPROVE), "provision:records"
        )
        with self.ctx.store.transaction() as uow:
            records = uow.provisions.records(since, until)
            self.ctx.record(
                uow,
                Action.PROVISION_RECORDS_READ,
                "provision:records",
                since=since.isoformat() if since else None,
                until=until.isoformat() if until else None,
                count=len(records),
            )
        return records

    def inquiry(self, mynumber: str, former_code: str) -> str | None:
        """An inbound inquiry about a mover-in: both the 個人番号 and the former municipality's
        code must match. The number is never stored, not even in the audit trail."""
        self.ctx.require(Permission.MYNUMBER_USE, "provision:inquiry")
        number = normalize_mynumber(mynumber)
        code = normalize_municipality_code(former_code, "former_code")
        with self.ctx.store.transaction() as uow:
            atena = uow.provisions.match_mover(number, code)
            self.ctx.record(
                uow,
                Action.PROVISION_INQUIRY,
                f"resident:{atena}" if atena else "provision:inquiry",
                former_code=code,
                matched=atena is not None,
            )
        return atena


def _listed(atenas: list[str]) -> list[str]:
    issues: list[Issue] = []
    clean: list[str] = []
    for line, text in enumerate(atenas, start=1):
        if not text.strip():
            continue
        try:
            clean.append(normalize_atena(text))
        except ValidationFailed:
            issues.append(Issue("atena", "provision.atena_line", {"line": line, "value": text}))
    if issues:
        raise ValidationFailed(issues)
    if not clean:
        raise ValidationFailed([Issue("atena", "provision.persons_source")])
    return sorted(set(clean))


def _case(uow: UnitOfWork, case_id: int) -> Case:
    case = uow.provisions.case(case_id)
    if case is None:
        raise NotFound("provision.not_found", case=case_id)
    return case


def _recipient(uow: UnitOfWork, recipient_id: int) -> Recipient:
    recipient = uow.provisions.recipient(recipient_id)
    if recipient is None:
        raise NotFound("provision.recipient_not_found", recipient=recipient_id)
    return recipient


def _basis(uow: UnitOfWork, key: str) -> LegalBasis:
    basis = uow.provisions.basis(key.strip())
    if basis is None:
        raise NotFound("provision.basis_not_found", basis=key)
    return basis

"""Four-eyes changes (修正の申請と確認): propose, confirm, reject, list and show.

A proposal is stored as pending; a proposed record is written at once as a pending record, so
lookups show it as such. Only another user with ``change.confirm`` may confirm or reject it: the
proposer never can, whatever the interface. Each step is audited in the transaction that makes
it; a refused attempt to decide one's own change is audited as a denial.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.audit import Action, JSONValue
from core.change_rules import check_proposal
from core.changes import (
    FIELD_PREFIX,
    ChangeKind,
    ChangeRequest,
    ChangeStatus,
    PendingChange,
    RecordSnapshot,
    parse_kind,
    touches_protected,
    withhold,
)
from core.errors import Issue, NotFound, RuleViolation, ValidationFailed, VersionConflict
from core.ports import UnitOfWork
from core.residents import RecordStatus, Resident, normalize_atena
from core.roles import Permission
from core.services.context import ServiceContext

LIST_LIMIT = 200


def _target(atena: str) -> str:
    return f"resident:{atena}"


def _detail(change: PendingChange) -> dict[str, JSONValue]:
    """What the audit trail keeps of a change: never the values, only their fingerprint."""
    return {
        "change": change.id,
        "kind": change.kind.value,
        "record": change.record,
        "fields": list(change.fields),
        "digest": change.digest(),
    }


class ChangeService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # --- proposing -----------------------------------------------------------------------

    def basis(
        self, atena: str, record: int | None = None
    ) -> tuple[Resident, RecordSnapshot | None]:
        """The current resident (and record) a change form starts from (audited as opened)."""
        atena = normalize_atena(atena)
        self.ctx.require(Permission.CHANGE_PROPOSE, _target(atena))
        with self.ctx.store.transaction() as uow:
            resident = _resident(uow, atena)
            snapshot = _record(uow, atena, record) if record is not None else None
            self.ctx.record(uow, Action.RESIDENT_OPENED, _target(atena), purpose="change")
        return resident, snapshot

    def propose(self, request: ChangeRequest) -> PendingChange:
        atena = normalize_atena(request.atena)
        self.ctx.require(Permission.CHANGE_PROPOSE, _target(atena))
        with self.ctx.store.reader() as uow:
            protected = _resident(uow, atena).dv_flag
        if protected and touches_protected(parse_kind(request.kind), request.values):
            self.ctx.require(Permission.DV_ADDRESS_REVEAL, _target(atena))
        now = self.ctx.clock.now()
        with self.ctx.store.transaction() as uow:
            resident = _resident(uow, atena)
            record = _record(uow, atena, request.record) if request.record is not None else None
            proposal = check_proposal(
                request,
                resident,
                record,
                known_vaccines=frozenset(uow.residents.vaccine_order()),
                today=now.date(),
            )
            if record is not None and record.status is RecordStatus.VOIDED:
                raise RuleViolation("change.record_voided", record=record.id)
            open_change = uow.changes.open_on(atena, request.record)
            if open_change is not None:
                raise RuleViolation("change.already_pending", change=open_change.id)
            if request.base_version is not None and request.base_version != proposal.base_version:
                raise VersionConflict("change.stale")
            record_id = request.record
            if proposal.kind is ChangeKind.RECORD_ADD:
                record_id = uow.changes.add_record(atena, proposal.after, self.ctx.user, now)
            change = PendingChange(
                id=0,
                kind=proposal.kind,
                atena=atena,
                record=record_id,
                before=proposal.before,
                after=proposal.after,
                evidence=proposal.evidence,
                id_document=proposal.id_document,
                reason=proposal.reason,
                proposed_by=self.ctx.user,
                proposed_at=now,
                status=ChangeStatus.PENDING,
                base_version=proposal.base_version,
            )
            change = _stored(uow, uow.changes.add(change))
            self.ctx.record(
                uow,
                Action.CHANGE_PROPOSED,
                _target(atena),
                **_detail(change),
                evidence=change.evidence.value,
                id_document=change.id_document.value if change.id_document else None,
                reason=change.reason,
            )
        return change

    # --- deciding ------------------------------------------------------------------------

    def confirm(self, change_id: int) -> PendingChange:
        """Apply the change (if its target is unchanged since it was proposed) and close it."""
        self._check_decider(change_id, Permission.CHANGE_CONFIRM)
        now = self.ctx.clock.now()
        with self.ctx.store.transaction() as uow:
            change = self._decidable(uow, change_id)
            _apply(uow, change, self.ctx.user, now)
            decided = replace(
                change, status=ChangeStatus.CONFIRMED, decided_by=self.ctx.user, decided_at=now
            )
            uow.changes.decide(decided)
            self.ctx.record(uow, Action.CHANGE_CONFIRMED, _target(change.atena), **_detail(decided))
        return decided

    def reject(self, change_id: int, reason: str) -> PendingChange:
        """Close the change unapplied; a proposed record stays, voided with the reason."""
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed([Issue(FIELD_PREFIX + "reason", "change.reason_required")])
        self._check_decider(change_id, Permission.CHANGE_CONFIRM)
        now = self.ctx.clock.now()
        with self.ctx.store.transaction() as uow:
            change = self._decidable(uow, change_id)
            if change.kind is ChangeKind.RECORD_ADD and change.record is not None:
                uow.changes.update_record(
                    change.record,
                    {},
                    version=None,
                    status=RecordStatus.VOIDED.value,
                    void_reason=reason,
                )
            decided = replace(
                change,
                status=ChangeStatus.REJECTED,
                decided_by=self.ctx.user,
                decided_at=now,
                decision_note=reason,
            )
            uow.changes.decide(decided)
            self.ctx.record(
                uow,
                Action.CHANGE_REJECTED,
                _target(change.atena),
                **_detail(decided),
                reason=reason,
            )
        return decided

    def _check_decider(self, change_id: int, permission: Permission) -> None:
        """The permission, then four eyes: a refusal for one's own change is audited."""
        self.ctx.require(permission, f"change:{change_id}")
        with self.ctx.store.reader() as uow:
            change = _stored(uow, change_id)
        if change.proposed_by == self.ctx.user:
            with self.ctx.store.transaction() as uow:
                self.ctx.record(
                    uow,
                    Action.PERMISSION_DENIED,
                    _target(change.atena),
                    permission=permission.value,
                    reason="own_change",
                    change=change_id,
                )
            raise RuleViolation("change.own_change")
        if change.status is ChangeStatus.PENDING:
            protected = touches_protected(change.kind, change.fields)
            with self.ctx.store.reader() as uow:
                resident = _resident(uow, change.atena)
            if protected and resident.dv_flag:
                self.ctx.require(Permission.DV_ADDRESS_REVEAL, _target(change.atena))

    def _decidable(self, uow: UnitOfWork, change_id: int) -> PendingChange:
        change = _stored(uow, change_id)
        if change.proposed_by == self.ctx.user:
            raise RuleViolation("change.own_change")
        if change.status is not ChangeStatus.PENDING:
            raise RuleViolation(
                "change.already_decided", status_key=f"change.status.{change.status}"
            )
        return change

    # --- reading -------------------------------------------------------------------------

    def list(
        self, status: ChangeStatus | None = ChangeStatus.PENDING, atena: str | None = None
    ) -> list[PendingChange]:
        """Changes, newest first; protected values withheld from those who may not see them."""
        atena = normalize_atena(atena) if atena else None
        self.ctx.require(Permission.RESIDENT_READ, _target(atena) if atena else "changes")
        with self.ctx.store.transaction() as uow:
            changes = uow.changes.find(status, atena, LIST_LIMIT)
            shown = [self._visible(uow, c) for c in changes]
            atenas: list[JSONValue] = [*sorted({c.atena for c in changes})]
            self.ctx.record(
                uow,
                Action.CHANGES_LISTED,
                _target(atena) if atena else "changes",
                status=status.value if status else None,
                results=len(changes),
                atenas=atenas,
            )
        return shown

    def show(self, change_id: int) -> PendingChange:
        self.ctx.require(Permission.RESIDENT_READ, f"change:{change_id}")
        with self.ctx.store.transaction() as uow:
            change = _stored(uow, change_id)
            shown = self._visible(uow, change)
            self.ctx.record(uow, Action.CHANGE_OPENED, _target(change.atena), change=change_id)
        return shown

    def _visible(self, uow: UnitOfWork, change: PendingChange) -> PendingChange:
        if not touches_protected(change.kind, change.fields):
            return change
        if self.ctx.session.can(Permission.DV_ADDRESS_REVEAL):
            return change
        resident = uow.residents.get(change.atena)
        return withhold(change) if resident is None or resident.dv_flag else change


def pending_for_person(uow: UnitOfWork, resident: Resident) -> tuple[PendingChange, ...]:
    """A person's pending changes as the person view shows them (protected values withheld)."""
    changes = uow.changes.find(ChangeStatus.PENDING, resident.atena, LIST_LIMIT)
    return tuple(withhold(c) if resident.dv_flag else c for c in changes)


def _apply(uow: UnitOfWork, change: PendingChange, confirmer: str, now: datetime) -> None:
    record = change.record
    if change.kind is ChangeKind.RESIDENT_CORRECT:
        current = uow.residents.get(change.atena)
        if current is None or current.version != change.base_version:
            raise VersionConflict("change.target_changed")
        uow.changes.update_resident(change.atena, change.after, version=current.version, at=now)
        return
    if record is None:
        raise RuleViolation("change.record_required")
    snapshot = uow.changes.record(record)
    if snapshot is None or snapshot.version != change.base_version:
        raise VersionConflict("change.target_changed")
    if change.kind is ChangeKind.RECORD_ADD:
        uow.changes.update_record(
            record,
            {},
            version=snapshot.version,
            status=RecordStatus.VERIFIED.value,
            verified_by=confirmer,
        )
    elif change.kind is ChangeKind.RECORD_CORRECT:
        uow.changes.update_record(record, change.after, version=snapshot.version)
    else:
        uow.changes.update_record(
            record,
            {},
            version=snapshot.version,
            status=RecordStatus.VOIDED.value,
            void_reason=change.reason,
        )


def _stored(uow: UnitOfWork, change_id: int) -> PendingChange:
    change = uow.changes.get(change_id)
    if change is None:
        raise NotFound("change.not_found", change=change_id)
    return change


def _resident(uow: UnitOfWork, atena: str) -> Resident:
    resident = uow.residents.get(atena)
    if resident is None:
        raise NotFound("resident.not_found", atena=atena)
    return resident


def _record(uow: UnitOfWork, atena: str, record_id: int) -> RecordSnapshot:
    snapshot = uow.changes.record(record_id)
    if snapshot is None or snapshot.atena != atena:
        raise NotFound("change.record_not_found", record=record_id)
    return snapshot

"""Exports to write-once media and the media ledger (媒体管理簿).

Rules, whatever the interface:
- only a user with ``export.create``, on a terminal whose ``export`` setting is on, writes a
  medium, and only to the configured burner or into the spool directory;
- a backup or migration export needs a supervisor's approval who is not its creator, bound to
  the content hash: if the data changed since, the write is refused;
- a provision export carries its case's approval; the case gate re-checks it right before the
  write, so a case changed after approval is refused;
- a witness other than the writer is named; the medium is registered before anything is written,
  read back and verified after, and only then counts as good: otherwise it is spoiled;
- spoiled and returned media must be destroyed, with a witness; the ledger keeps every medium.
Refusals are audited (``export.refused``) in their own transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import PurePath
from typing import Protocol

from core.audit import Action, JSONValue
from core.errors import InvalidValue, NotFound, RuleViolation, SesshuError
from core.exports import (
    DEFAULT_LOCATION,
    DISPOSABLE,
    OPEN_MEDIA,
    TABLE_KINDS,
    Export,
    ExportKind,
    ExportStatus,
    MediaEvent,
    MediaStatus,
    Medium,
    PayloadSpec,
    WriteJob,
    WriteOutcome,
    WriteTarget,
    check_media_type,
    device_target,
    spool_target,
    witness_name,
)
from core.migration.schema import LOAD_ORDER
from core.ports import Exporter, Progress, UnitOfWork
from core.roles import Permission
from core.services.context import ServiceContext
from core.services.terminal import read_settings

WHOLE_STORE = ("residents", "vaccinations")
OPEN_PACKAGE = tuple(f"open:{table}" for table in LOAD_ORDER)


class CaseGate(Protocol):
    """The provision side of the seam: is this case cleared to leave, and with what?"""

    def cleared(self, case: int, writer: str) -> tuple[PayloadSpec, str]:
        """The case's payload and approved content hash; raises if it may not be written."""
        ...


@dataclass(frozen=True)
class Written:
    medium: Medium
    outcome: WriteOutcome

    @property
    def passphrase(self) -> str | None:
        return self.outcome.passphrase


def _target(export: int) -> str:
    return f"export:{export}"


def _medium_target(medium: int) -> str:
    return f"media:{medium}"


class ExportService:
    def __init__(
        self, ctx: ServiceContext, exporter: Exporter, case_gate: CaseGate | None = None
    ) -> None:
        self.ctx = ctx
        self.exporter = exporter
        self.case_gate = case_gate

    @contextlib.contextmanager
    def _writing(self, target: str) -> Iterator[UnitOfWork]:
        """A write transaction whose rule refusals survive in the audit trail."""
        try:
            with self.ctx.store.transaction() as uow:
                yield uow
        except RuleViolation as refused:
            self._refused(target, refused)
            raise

    def _refused(self, target: str, refused: RuleViolation) -> None:
        with self.ctx.store.transaction() as uow:
            self.ctx.record(uow, Action.EXPORT_REFUSED, target, rule=refused.key)

    # --- creating and deciding --------------------------------------------------------------

    def create(self, kind: str, note: str = "") -> Export:
        """A backup or migration export of the whole store, waiting for a supervisor."""
        try:
            export_kind = ExportKind(kind.strip().lower())
        except ValueError:
            raise InvalidValue("kind", "export.kind", accepted="backup, migration") from None
        if export_kind not in TABLE_KINDS:
            raise InvalidValue("kind", "export.kind", accepted="backup, migration")
        self.ctx.require(Permission.EXPORT_CREATE, "export:new")
        # A migration package carries the open layout, as ``sesshu migrate export`` writes it.
        spec = PayloadSpec(
            tables=OPEN_PACKAGE if export_kind is ExportKind.MIGRATION else WHOLE_STORE
        )
        content_hash = self.exporter.content_hash(spec)
        with self.ctx.store.transaction() as uow:
            export = uow.exports.add(
                export_kind,
                None,
                spec,
                content_hash,
                (),
                self.ctx.user,
                self.ctx.clock.now(),
                ExportStatus.PENDING,
            )
            if note:
                export = uow.exports.save(replace(export, comment=note))
            self.ctx.record(
                uow,
                Action.EXPORT_CREATED,
                _target(export.id),
                kind=export_kind.value,
                content_hash=content_hash,
                tables=list(spec.tables),
            )
        return export

    def carry_case(self, case: int, recipients: tuple[str, ...]) -> Export:
        """The export of a provision case: what the case gate clears, already approved."""
        self.ctx.require(Permission.EXPORT_CREATE, f"provision:{case}")
        spec, content_hash = self._gate().cleared(case, self.ctx.user)
        with self.ctx.store.transaction() as uow:
            export = uow.exports.add(
                ExportKind.PROVISION,
                case,
                spec,
                content_hash,
                recipients,
                self.ctx.user,
                self.ctx.clock.now(),
                ExportStatus.APPROVED,
            )
            self.ctx.record(
                uow,
                Action.EXPORT_CREATED,
                _target(export.id),
                kind=ExportKind.PROVISION.value,
                case=case,
                content_hash=content_hash,
                persons=len(spec.persons),
                items=list(spec.items),
            )
        return export

    def _gate(self) -> CaseGate:
        if self.case_gate is None:
            raise RuleViolation("export.case_gate_missing")
        return self.case_gate

    def approve(self, export_id: int, comment: str = "") -> Export:
        return self._decide(export_id, ExportStatus.APPROVED, comment)

    def reject(self, export_id: int, comment: str = "") -> Export:
        return self._decide(export_id, ExportStatus.REJECTED, comment)

    def _decide(self, export_id: int, status: ExportStatus, comment: str) -> Export:
        self.ctx.require(Permission.EXPORT_APPROVE, _target(export_id))
        with self._writing(_target(export_id)) as uow:
            export = _export(uow, export_id)
            if export.kind is ExportKind.PROVISION:
                raise RuleViolation("export.case_carries_approval", case=export.case)
            if export.status is not ExportStatus.PENDING:
                raise RuleViolation("export.not_pending", status=export.status.value)
            if export.created_by == self.ctx.user:
                raise RuleViolation("export.self_approval")
            decided = uow.exports.save(
                replace(
                    export,
                    status=status,
                    decided_by=self.ctx.user,
                    decided_at=self.ctx.clock.now(),
                    comment=comment.strip(),
                )
            )
            action = (
                Action.EXPORT_APPROVED
                if status is ExportStatus.APPROVED
                else Action.EXPORT_REJECTED
            )
            self.ctx.record(
                uow, action, _target(export_id), content_hash=export.content_hash, comment=comment
            )
        return decided

    def listing(self, status: str | None = None) -> list[Export]:
        self.ctx.require(Permission.EXPORT_CREATE, "export:list")
        wanted = ExportStatus(status) if status else None
        with self.ctx.store.reader() as uow:
            return uow.exports.find(wanted)

    def get(self, export_id: int) -> Export:
        self.ctx.require(Permission.EXPORT_CREATE, _target(export_id))
        with self.ctx.store.reader() as uow:
            return _export(uow, export_id)

    # --- writing ---------------------------------------------------------------------------

    def target(self, *, out: str | None, device: str | None, label: str = "") -> WriteTarget:
        """Where a write may go under this terminal's settings (refused otherwise)."""
        settings = read_settings(self.ctx.store)
        spool = PurePath(settings["export-spool"] or self.exporter.default_spool())
        if (out is None) == (device is None):
            raise InvalidValue("out", "export.out_or_device")
        if device is not None:
            return device_target(device, settings["export-device"], spool, label or "staging")
        assert out is not None
        return WriteTarget(spool_target(out, spool))

    def write(
        self,
        export_id: int,
        witness: str,
        *,
        out: str | None = None,
        device: str | None = None,
        media_type: str | None = None,
        location: str = DEFAULT_LOCATION,
        progress: Progress | None = None,
    ) -> Written:
        target_name = _target(export_id)
        self.ctx.require(Permission.EXPORT_CREATE, target_name)
        try:
            witness = witness_name(witness, self.ctx.user)
            if read_settings(self.ctx.store)["export"] != "yes":
                raise RuleViolation("export.disabled")
            target = self.target(out=out, device=device)
            with self.ctx.store.reader() as uow:
                export = _export(uow, export_id)
            self._check_writable(export)
        except RuleViolation as refused:
            self._refused(target_name, refused)
            raise
        kind = check_media_type(media_type or ("iso" if device is None else "dvd-r"))
        if device is None and kind != "iso":
            raise InvalidValue("media_type", "export.iso_for_files")
        now = self.ctx.clock.now()
        with self.ctx.store.transaction() as uow:
            medium = uow.media.register(
                export, kind, self.ctx.user, witness, now, location.strip() or DEFAULT_LOCATION,
                self.ctx.store.terminal,
            )  # fmt: skip
            self._event(uow, medium, "registered", witness=witness, location=medium.location)
            self.ctx.record(
                uow,
                Action.MEDIA_REGISTERED,
                _medium_target(medium.id),
                export=export.id,
                label=medium.label,
                witness=witness,
            )
        if device is not None:
            target = self.target(out=None, device=device, label=medium.label)
        job = WriteJob(export, medium.label, target, self._bag_info(export, medium, witness))
        try:
            outcome = self.exporter.write(job, progress)
        except SesshuError as failed:
            self._spoiled(medium, failed.key)
            raise
        except OSError as failed:
            self._spoiled(medium, f"os_error: {failed.strerror or type(failed).__name__}")
            raise
        problems = outcome.problems
        if outcome.content_hash != export.content_hash:
            problems = (*problems, "payload: content_changed_during_write")
        good = not problems
        with self.ctx.store.transaction() as uow:
            medium = uow.media.save(
                replace(
                    uow.media.get(medium.id) or medium,
                    status=MediaStatus.GOOD if good else MediaStatus.SPOILED,
                    content_hash=outcome.bundle_hash,
                    path=outcome.read_path,
                    verified_at=self.ctx.clock.now(),
                    problems=problems,
                )
            )
            self._event(uow, medium, "verified" if good else "spoiled", problems=" ".join(problems))
            if good:
                uow.exports.save(replace(_export(uow, export.id), status=ExportStatus.WRITTEN))
            self.ctx.record(
                uow,
                Action.MEDIA_WRITTEN,
                _medium_target(medium.id),
                export=export.id,
                case=export.case,
                verified=good,
                problems=list(problems),
                bundle_hash=outcome.bundle_hash,
                content_hash=outcome.content_hash,
                passphrase_mode=outcome.passphrase is not None,
                bytes=outcome.payload_bytes,
            )
        return Written(medium, replace(outcome, problems=problems, verified=good))

    def _check_writable(self, export: Export) -> None:
        if export.status is ExportStatus.WRITTEN:
            raise RuleViolation("export.already_written")
        if export.kind is ExportKind.PROVISION:
            assert export.case is not None
            current = self._gate().cleared(export.case, self.ctx.user)
            if current != (export.spec, export.content_hash):
                raise RuleViolation("export.case_changed", case=export.case)
            return
        if export.status is not ExportStatus.APPROVED:
            raise RuleViolation("export.not_approved", status=export.status.value)
        if self.exporter.content_hash(export.spec) != export.content_hash:
            raise RuleViolation("export.content_changed")

    def _bag_info(self, export: Export, medium: Medium, witness: str) -> dict[str, str]:
        info = {
            "External-Identifier": medium.label,
            "Export-Id": str(export.id),
            "Export-Kind": export.kind.value,
            "Source-Organization-Terminal": self.ctx.store.terminal,
            "Created-By": self.ctx.user,
            "Witness": witness,
            "Approved-By": export.decided_by or "",
            "Bagging-Date": self.ctx.clock.now().date().isoformat(),
            "Content-Hash": export.content_hash,
        }
        if export.case is not None:
            info["Provision-Case"] = str(export.case)
        return info

    def _spoiled(self, medium: Medium, reason: str) -> None:
        with self.ctx.store.transaction() as uow:
            current = uow.media.get(medium.id) or medium
            spoiled = uow.media.save(
                replace(current, status=MediaStatus.SPOILED, problems=(reason,))
            )
            self._event(uow, spoiled, "spoiled", problems=reason)
            self.ctx.record(
                uow,
                Action.MEDIA_WRITTEN,
                _medium_target(medium.id),
                export=medium.export,
                verified=False,
                problems=[reason],
            )

    def _event(self, uow: UnitOfWork, medium: Medium, event: str, **detail: str) -> None:
        uow.media.add_event(
            MediaEvent(medium.id, self.ctx.clock.now(), self.ctx.user, event, dict(detail))
        )


def _export(uow: UnitOfWork, export_id: int) -> Export:
    export = uow.exports.get(export_id)
    if export is None:
        raise NotFound("export.not_found", export=export_id)
    return export


# --- the media ledger ---------------------------------------------------------------------


@dataclass(frozen=True)
class MediumDetail:
    medium: Medium
    events: list[MediaEvent]


class MediaService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _require_read(self, target: str) -> None:
        """Media managers and auditors read the ledger."""
        permission = (
            Permission.AUDIT_READ
            if self.ctx.session.can(Permission.AUDIT_READ)
            else Permission.MEDIA_MANAGE
        )
        self.ctx.require(permission, target)

    def listing(self, open_only: bool = False, case: int | None = None) -> list[Medium]:
        self._require_read("media:list")
        with self.ctx.store.transaction() as uow:
            media = uow.media.find(open_only=open_only, case=case)
            self.ctx.record(uow, Action.MEDIA_LISTED, "media:list", open_only=open_only)
        return media

    def show(self, medium_id: int) -> MediumDetail:
        self._require_read(_medium_target(medium_id))
        with self.ctx.store.transaction() as uow:
            medium = _medium(uow, medium_id)
            events = uow.media.events(medium_id)
            self.ctx.record(uow, Action.MEDIA_VIEWED, _medium_target(medium_id))
        return MediumDetail(medium, events)

    def handover(self, medium_id: int, to: str, location: str = "", note: str = "") -> Medium:
        holder = to.strip()
        if not holder:
            raise InvalidValue("to", "media.holder_required")
        return self._change(
            medium_id,
            frozenset({MediaStatus.GOOD}),
            "handed_over",
            Action.MEDIA_HANDED_OVER,
            lambda m, now: replace(
                m,
                status=MediaStatus.HANDED_OVER,
                holder=holder,
                handed_at=now,
                location=location.strip() or holder,
            ),
            to=holder,
            note=note,
        )

    def return_(self, medium_id: int, location: str = DEFAULT_LOCATION, note: str = "") -> Medium:
        return self._change(
            medium_id,
            frozenset({MediaStatus.HANDED_OVER}),
            "returned",
            Action.MEDIA_RETURNED,
            lambda m, now: replace(
                m,
                status=MediaStatus.RETURNED,
                returned_at=now,
                location=location.strip() or DEFAULT_LOCATION,
            ),
            location=location,
            note=note,
        )

    def move(self, medium_id: int, location: str) -> Medium:
        place = location.strip()
        if not place:
            raise InvalidValue("location", "media.location_required")
        return self._change(
            medium_id,
            OPEN_MEDIA - {MediaStatus.HANDED_OVER},
            "moved",
            Action.MEDIA_MOVED,
            lambda m, _now: replace(m, location=place),
            location=place,
        )

    def dispose(
        self,
        medium_id: int,
        method: str,
        witness: str,
        certificate: str = "",
        at: datetime | None = None,
    ) -> Medium:
        how = method.strip()
        if not how:
            raise InvalidValue("method", "media.method_required")
        who = witness.strip()
        if not who:
            raise InvalidValue("witness", "export.witness_required")
        if who == self.ctx.user:
            raise RuleViolation("export.witness_is_writer")
        return self._change(
            medium_id,
            DISPOSABLE,
            "disposed",
            Action.MEDIA_DISPOSED,
            lambda m, now: replace(
                m,
                status=MediaStatus.DISPOSED,
                disposed_at=at or now,
                disposal_method=how,
                disposal_witness=who,
                certificate=certificate.strip(),
                location="",
            ),
            method=how,
            witness=who,
            certificate=certificate.strip(),
        )

    def hand_outside(self, uow: UnitOfWork, case: int, receiver: str) -> list[int]:
        """Inside a provision's external handover: its good media go to the recipient."""
        handed: list[int] = []
        now = self.ctx.clock.now()
        for medium in uow.media.find(open_only=True, case=case):
            if medium.status is MediaStatus.GOOD:
                saved = uow.media.save(
                    replace(
                        medium,
                        status=MediaStatus.HANDED_OVER,
                        holder=receiver,
                        handed_at=now,
                        location=receiver,
                    )
                )
                uow.media.add_event(
                    MediaEvent(saved.id, now, self.ctx.user, "handed_over", {"to": receiver})
                )
                handed.append(saved.id)
        return handed

    def erased_by_recipient(self, uow: UnitOfWork, case: int, reference: str) -> list[int]:
        """Inside a provision's erasure transaction: its media handed outside are closed."""
        closed: list[int] = []
        for medium in uow.media.find(open_only=True, case=case):
            if medium.status is MediaStatus.HANDED_OVER:
                saved = uow.media.save(replace(medium, status=MediaStatus.ERASED, location=""))
                uow.media.add_event(
                    MediaEvent(
                        saved.id,
                        self.ctx.clock.now(),
                        self.ctx.user,
                        "erased",
                        {"reference": reference},
                    )
                )
                closed.append(saved.id)
        return closed

    def _change(
        self,
        medium_id: int,
        allowed: frozenset[MediaStatus],
        event: str,
        action: Action,
        change: _Change,
        **detail: str,
    ) -> Medium:
        target = _medium_target(medium_id)
        self.ctx.require(Permission.MEDIA_MANAGE, target)
        try:
            with self.ctx.store.transaction() as uow:
                medium = _medium(uow, medium_id)
                if medium.status not in allowed:
                    raise RuleViolation(
                        "media.wrong_state", medium=medium.label, status=medium.status.value
                    )
                saved = uow.media.save(change(medium, self.ctx.clock.now()))
                uow.media.add_event(
                    MediaEvent(saved.id, self.ctx.clock.now(), self.ctx.user, event, dict(detail))
                )
                audit_detail: dict[str, JSONValue] = {"label": saved.label, **detail}
                self.ctx.record(uow, action, target, **audit_detail)
        except RuleViolation as refused:
            with self.ctx.store.transaction() as uow:
                self.ctx.record(uow, Action.EXPORT_REFUSED, target, rule=refused.key)
            raise
        return saved


class _Change(Protocol):
    def __call__(self, medium: Medium, now: datetime, /) -> Medium: ...


def _medium(uow: UnitOfWork, medium_id: int) -> Medium:
    medium = uow.media.get(medium_id)
    if medium is None:
        raise NotFound("media.not_found", medium=medium_id)
    return medium

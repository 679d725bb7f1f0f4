"""Slip batches: register, key blind twice, compare, reconcile, commit, decide duplicates.

Who may do what is decided here, for every interface:
- the same person never keys both passes of a batch;
- the second pass sees nothing of the first (no values, counts of agreement or warnings);
- mismatches are settled by someone who keyed neither pass (the second keyer only if the
  terminal setting ``reconcile-by-second-keyer`` allows it; the first keyer never);
- commit is one transaction; duplicates wait for a supervisor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from core.audit import Action, JSONValue
from core.batches import (
    DROP,
    SLIP_FIELD,
    Attribution,
    Batch,
    BatchStatus,
    Comparison,
    Duplicate,
    KeyerStats,
    RecordKey,
    Resolution,
    SlipEntry,
    SlipOutcome,
    attribute,
    compare,
    dose_flags,
    find_duplicate,
    record_key,
    to_record,
)
from core.catalog import Catalog, load_default_catalog
from core.errors import InvalidValue, Issue, NotFound, RuleViolation, ValidationFailed
from core.japanese.wareki import parse_date
from core.masters import Masters
from core.ports import UnitOfWork
from core.residents import Resident, normalize_atena
from core.roles import Permission
from core.services.batch_results import (
    BatchReport,
    BatchSummary,
    CommitResult,
    Keyed,
    KeyReport,
    LineProblem,
    PassProgress,
    keyer_statistics,
)
from core.services.context import ServiceContext
from core.slips import (
    FIELDS,
    SlipContext,
    SlipValues,
    errors_in,
    normalize_field,
    normalize_slip,
    normalize_slip_no,
    slip_issues,
)
from core.terminal import SETTINGS

__all__ = [
    "BatchReport",
    "BatchService",
    "BatchSummary",
    "CommitResult",
    "DutiesRefused",
    "KeyReport",
    "Keyed",
    "LineProblem",
    "PassProgress",
    "load_masters",
]

MAX_SOURCE = 100
MAX_COUNT = 100_000
POLICY = SETTINGS["reconcile-by-second-keyer"]


def load_masters(uow: UnitOfWork) -> Masters:
    m = uow.masters
    return Masters(
        tuple(m.vaccines()), tuple(m.makers()), tuple(m.institutions()), tuple(m.physicians())
    )


def _other(pass_no: int) -> int:
    return 2 if pass_no == 1 else 1


class DutiesRefused(RuleViolation):
    """The same person would be maker and checker (入力者と照合者の分離)."""

    def __init__(self, key: str, *, batch: int, detail: dict[str, JSONValue]) -> None:
        super().__init__(key, batch=batch)
        self.detail = detail


class BatchService:
    def __init__(self, ctx: ServiceContext, catalog: Catalog | None = None) -> None:
        self.ctx = ctx
        self.catalog = catalog or load_default_catalog()
        self._masters: Masters | None = None

    # -- registering and reading ------------------------------------------------------------

    def masters(self) -> Masters:
        if self._masters is None:
            with self.ctx.store.reader() as uow:
                self._masters = load_masters(uow)
        return self._masters

    def create(
        self,
        source: str,
        received: str,
        count: int | str,
        expected_vaccine: str | None = None,
    ) -> Batch:
        self.ctx.require(Permission.BATCH_KEY, "batches")
        issues: list[Issue] = []
        source = " ".join(source.split())
        if not source or len(source) > MAX_SOURCE:
            issues.append(Issue("source", "batch.source_format", {"limit": MAX_SOURCE}))
        day = None
        try:
            day = parse_date(received, "received")
        except ValidationFailed as failed:
            issues.extend(failed.issues)
        if day is not None and day > self.ctx.clock.now().date():
            issues.append(Issue("received", "slip.date_future"))
        control = str(count).strip()
        if not control.isdecimal() or not 0 < int(control) <= MAX_COUNT:
            issues.append(Issue("count", "batch.count_format", {"limit": MAX_COUNT}))
        vaccine = None
        if expected_vaccine:
            try:
                vaccine = normalize_field("vaccine", expected_vaccine, self.masters())
            except ValidationFailed as failed:
                issues.extend(failed.issues)
        if issues or day is None:
            raise ValidationFailed(issues)
        now = self.ctx.clock.now()
        batch = Batch(0, source, day, int(control), vaccine, BatchStatus.OPEN, self.ctx.user, now)
        with self.ctx.store.transaction() as uow:
            batch_id = uow.batches.add(batch)
            self.ctx.record(
                uow,
                Action.BATCH_CREATED,
                f"batch:{batch_id}",
                source=source,
                received=day.isoformat(),
                count=int(control),
                vaccine=vaccine,
            )
        return replace(batch, id=batch_id)

    def batches(self) -> list[Batch]:
        self.ctx.require(Permission.BATCH_KEY if self._keys() else Permission.BATCH_RECONCILE)
        with self.ctx.store.reader() as uow:
            return uow.batches.all()

    def _keys(self) -> bool:
        return self.ctx.session.can(Permission.BATCH_KEY)

    def _batch(self, uow: UnitOfWork, batch_id: int) -> Batch:
        batch = uow.batches.get(batch_id)
        if batch is None:
            raise NotFound("batch.not_found", batch=batch_id)
        return batch

    # -- keying -------------------------------------------------------------------------------

    def identify(self, batch_id: int, atena: str) -> Resident:
        """The person a 宛名番号 names, shown on the form so the keyer can confirm the slip."""
        atena = normalize_atena(atena)
        self.ctx.require(Permission.BATCH_KEY, f"resident:{atena}")
        with self.ctx.store.transaction() as uow:
            resident = uow.residents.get(atena)
            if resident is None:
                raise InvalidValue("atena", "slip.atena_unknown")
            self.ctx.record(uow, Action.SLIP_PERSON_SHOWN, f"resident:{atena}", batch=batch_id)
        return resident

    def check(self, raw: Mapping[str, object]) -> tuple[str, SlipValues, list[Issue]]:
        """Normalise and check a slip without saving it (the form's live checks)."""
        slip, values = normalize_slip(raw, self.masters())
        with self.ctx.store.reader() as uow:
            issues = self._issues(uow, values)
        return slip, values, issues

    def _issues(
        self, uow: UnitOfWork, values: SlipValues, known: Mapping[str, Resident] | None = None
    ) -> list[Issue]:
        atena = values.get("atena")
        if known is not None:
            resident = known.get(atena) if atena else None
        else:
            resident = uow.residents.get(atena) if atena else None
        context = SlipContext(resident, self.ctx.clock.now().date(), self.catalog, self.masters())
        return slip_issues(values, context)

    def _may_key(self, uow: UnitOfWork, batch: Batch, pass_no: int) -> None:
        if pass_no not in (1, 2):
            raise InvalidValue("pass", "batch.pass_format")
        if batch.status is not BatchStatus.OPEN:
            raise RuleViolation("batch.not_open", batch=batch.id)
        if uow.batches.resolutions(batch.id):
            raise RuleViolation("batch.keying_closed", batch=batch.id)
        if self.ctx.user in uow.batches.keyers(batch.id)[_other(pass_no)]:
            self._refuse(batch, "batch.same_keyer", pass_no=pass_no)
        if self.ctx.user in uow.batches.readers(batch.id):
            self._refuse(batch, "batch.keyer_saw_comparison", pass_no=pass_no)

    def _refuse(self, batch: Batch, key: str, **detail: JSONValue) -> None:
        """A separation-of-duties refusal; ``_writing`` audits it after the rollback."""
        raise DutiesRefused(key, batch=batch.id, detail=dict(detail))

    @contextmanager
    def _writing(self) -> Iterator[UnitOfWork]:
        """A write transaction whose separation-of-duties refusals survive in the audit trail."""
        try:
            with self.ctx.store.transaction() as uow:
                yield uow
        except DutiesRefused as refused:
            with self.ctx.store.transaction() as uow:
                self.ctx.record(
                    uow,
                    Action.BATCH_REFUSED,
                    f"batch:{refused.params['batch']}",
                    rule=refused.key,
                    **refused.detail,
                )
            raise

    def key(
        self,
        batch_id: int,
        pass_no: int,
        raw: Mapping[str, object],
        duration_ms: int | None = None,
    ) -> Keyed:
        """Save one slip of one pass; errors refuse it, warnings come back with it."""
        report = self.key_many(batch_id, pass_no, [raw], durations=[duration_ms])
        if report.rejected:
            raise ValidationFailed(report.rejected[0].issues)
        return report.kept[0]

    def key_many(
        self,
        batch_id: int,
        pass_no: int,
        lines: Sequence[Mapping[str, object]],
        durations: Sequence[int | None] | None = None,
    ) -> KeyReport:
        """Key many slips at once: valid ones are kept, invalid ones reported by line."""
        self.ctx.require(Permission.BATCH_KEY, f"batch:{batch_id}")
        kept: list[Keyed] = []
        rejected: list[LineProblem] = []
        now = self.ctx.clock.now()
        with self._writing() as uow:
            batch = self._batch(uow, batch_id)
            self._may_key(uow, batch, pass_no)
            seen: set[str] = set()
            atenas: set[str] = set()
            for number, raw in enumerate(lines, start=1):
                try:
                    slip, values = normalize_slip(raw, self.masters())
                except ValidationFailed as failed:
                    rejected.append(LineProblem(number, _raw_slip(raw), failed.issues))
                    continue
                issues = self._issues(uow, values)
                if slip in seen:
                    issues.append(Issue("slip", "batch.slip_twice_in_input"))
                existing = uow.batches.entry(batch_id, pass_no, slip)
                if existing is not None and existing.keyed_by != self.ctx.user:
                    issues.append(Issue("slip", "batch.slip_keyed_by_other"))
                if errors_in(issues):
                    rejected.append(LineProblem(number, slip, tuple(errors_in(issues))))
                    continue
                seen.add(slip)
                duration = durations[number - 1] if durations else None
                uow.batches.put_entry(
                    SlipEntry(batch_id, pass_no, slip, values, self.ctx.user, now, duration)
                )
                kept.append(Keyed(slip, issues, existing is not None, number))
                atenas.add(values["atena"] or "")
            if kept:
                self.ctx.record(
                    uow,
                    Action.SLIPS_KEYED,
                    f"batch:{batch_id}",
                    **{"pass": pass_no},
                    slips=[k.slip for k in kept],
                    atenas=sorted(atenas),
                    rejected=len(rejected),
                )
        return KeyReport(kept, rejected)

    def progress(self, batch_id: int, pass_no: int) -> PassProgress:
        """A keyer's own progress: how many slips this pass holds and which are theirs."""
        self.ctx.require(Permission.BATCH_KEY, f"batch:{batch_id}")
        with self.ctx.store.reader() as uow:
            batch = self._batch(uow, batch_id)
            entries = uow.batches.entries(batch_id, pass_no)
        mine = [e.slip for e in entries if e.keyed_by == self.ctx.user]
        return PassProgress(batch, pass_no, len(entries), mine)

    def begin_pass(self, batch_id: int, pass_no: int) -> PassProgress:
        """Check that this user may key this pass before a form opens (a refusal is audited)."""
        self.ctx.require(Permission.BATCH_KEY, f"batch:{batch_id}")
        with self._writing() as uow:
            self._may_key(uow, self._batch(uow, batch_id), pass_no)
        return self.progress(batch_id, pass_no)

    def my_entry(self, batch_id: int, pass_no: int, slip: str) -> SlipEntry | None:
        """A slip this user keyed in this pass, to correct it before reconciliation."""
        self.ctx.require(Permission.BATCH_KEY, f"batch:{batch_id}")
        with self.ctx.store.reader() as uow:
            entry = uow.batches.entry(batch_id, pass_no, normalize_slip_no(slip))
        return entry if entry is not None and entry.keyed_by == self.ctx.user else None

    # -- comparing and reconciling --------------------------------------------------------------

    def _may_reconcile(self, uow: UnitOfWork, batch: Batch) -> None:
        keyers = uow.batches.keyers(batch.id)
        if self.ctx.user in keyers[1]:
            self._refuse(batch, "batch.reconciler_keyed")
        if self.ctx.user in keyers[2]:
            allowed = (uow.settings.get(POLICY.key) or POLICY.default) == "yes"
            if not allowed:
                self._refuse(batch, "batch.reconciler_keyed")

    def compare(self, batch_id: int) -> Comparison:
        """Both passes field by field, for a reconciler (never for a keyer of the batch)."""
        self.ctx.require(Permission.BATCH_RECONCILE, f"batch:{batch_id}")
        with self._writing() as uow:
            batch = self._batch(uow, batch_id)
            self._may_reconcile(uow, batch)
            result = self._comparison(uow, batch_id)
            uow.batches.add_reader(batch_id, self.ctx.user, self.ctx.clock.now())
            self.ctx.record(
                uow,
                Action.BATCH_COMPARED,
                f"batch:{batch_id}",
                matched=len(result.matched),
                mismatches=len(result.mismatches),
                open=len(result.open_mismatches),
            )
        return result

    def _comparison(
        self, uow: UnitOfWork, batch_id: int, entries: Sequence[SlipEntry] | None = None
    ) -> Comparison:
        if entries is None:
            entries = uow.batches.entries(batch_id)
        return compare(
            [e for e in entries if e.pass_no == 1],
            [e for e in entries if e.pass_no == 2],
            uow.batches.resolutions(batch_id),
        )

    def resolve(
        self, batch_id: int, slip: str, field_name: str, value: str | None, reason: str
    ) -> Resolution:
        """Settle one mismatched field with the value read from the paper slip."""
        self.ctx.require(Permission.BATCH_RECONCILE, f"batch:{batch_id}")
        slip = normalize_slip_no(slip)
        reason = " ".join(reason.split())
        if not reason:
            raise InvalidValue("reason", "batch.reason_required")
        if field_name != SLIP_FIELD and field_name not in FIELDS:
            raise InvalidValue(
                "field", "slip.field_unknown", accepted=", ".join((SLIP_FIELD, *FIELDS))
            )
        with self._writing() as uow:
            batch = self._batch(uow, batch_id)
            if batch.status is not BatchStatus.OPEN:
                raise RuleViolation("batch.not_open", batch=batch_id)
            self._may_reconcile(uow, batch)
            mismatch = next(
                (
                    m
                    for m in self._comparison(uow, batch_id).mismatches
                    if m.slip == slip and m.field == field_name
                ),
                None,
            )
            if mismatch is None:
                raise NotFound("batch.no_mismatch", slip=slip, field=field_name)
            if field_name == SLIP_FIELD:
                if (value or "").strip().lower() != DROP:
                    raise InvalidValue("value", "batch.slip_only_drop")
                final: str | None = DROP
                blamed: Attribution = "pass1" if mismatch.pass1 is not None else "pass2"
            else:
                final = normalize_field(field_name, value, self.masters())
                blamed = attribute(final, mismatch.pass1, mismatch.pass2)
            resolution = Resolution(
                batch_id,
                slip,
                field_name,
                final,
                mismatch.pass1,
                mismatch.pass2,
                blamed,
                reason,
                self.ctx.user,
                self.ctx.clock.now(),
            )
            uow.batches.put_resolution(resolution)
            self.ctx.record(
                uow,
                Action.SLIP_RESOLVED,
                f"batch:{batch_id}",
                slip=slip,
                field=field_name,
                attribution=resolution.attribution,
                reason=reason,
            )
        return resolution

    # -- committing ---------------------------------------------------------------------------

    def commit(self, batch_id: int, override_reason: str | None = None) -> CommitResult:
        """Move every verified slip into the records, in one transaction."""
        self.ctx.require(Permission.BATCH_COMMIT, f"batch:{batch_id}")
        override = " ".join((override_reason or "").split()) or None
        now = self.ctx.clock.now()
        with self.ctx.store.transaction() as uow:
            batch = self._batch(uow, batch_id)
            if batch.status is not BatchStatus.OPEN:
                raise RuleViolation("batch.not_open", batch=batch_id)
            entries = uow.batches.entries(batch_id)
            comparison = self._comparison(uow, batch_id, entries)
            if not comparison.slips:
                raise RuleViolation("batch.nothing_keyed", batch=batch_id)
            if comparison.open_mismatches:
                raise RuleViolation(
                    "batch.unreconciled", batch=batch_id, count=len(comparison.open_mismatches)
                )
            verified = comparison.verified
            if len(verified) != batch.control_count:
                if override is None:
                    raise RuleViolation(
                        "batch.count_mismatch",
                        batch=batch_id,
                        keyed=len(verified),
                        control=batch.control_count,
                    )
                self.ctx.require(Permission.BATCH_OVERRIDE, f"batch:{batch_id}")
            self._check_all(uow, verified)
            result = self._move(uow, batch, verified, entries, now)
            uow.batches.update(
                replace(
                    batch,
                    status=BatchStatus.COMMITTED,
                    committed_by=self.ctx.user,
                    committed_at=now,
                    override_reason=override,
                )
            )
            self.ctx.record(
                uow,
                Action.BATCH_COMMITTED,
                f"batch:{batch_id}",
                committed=result.committed,
                duplicates=[d.slip for d in result.duplicates],
                flagged=sorted(result.flagged),
                control=batch.control_count,
                override=override,
            )
        return result

    def _check_all(self, uow: UnitOfWork, verified: Mapping[str, SlipValues]) -> None:
        known = uow.residents.get_many(v["atena"] or "" for v in verified.values())
        issues: list[Issue] = []
        for slip, values in verified.items():
            for issue in errors_in(self._issues(uow, values, known)):
                issues.append(Issue(f"{slip}.{issue.field}", issue.key, issue.params))
        if issues:
            raise ValidationFailed(issues)

    def _move(
        self,
        uow: UnitOfWork,
        batch: Batch,
        verified: Mapping[str, SlipValues],
        entries: Sequence[SlipEntry],
        now: datetime,
    ) -> CommitResult:
        history = uow.records.history(v["atena"] or "" for v in verified.values())
        keyed_by = {e.slip: e.keyed_by for e in entries if e.pass_no == 1}
        second = {e.slip: e.keyed_by for e in entries if e.pass_no == 2}
        committed = 0
        duplicates: list[Duplicate] = []
        flagged: dict[str, list[str]] = {}
        earlier: dict[str, list[SlipValues]] = {}  # atena → this batch's slips so far
        for slip in sorted(verified, key=lambda s: (len(s), s)):
            values = verified[slip]
            atena = values["atena"] or ""
            duplicate = find_duplicate(
                slip,
                values,
                history[atena],
                earlier.get(atena, []),
                self.catalog.get(values["vaccine"] or ""),
            )
            if duplicate is not None:
                duplicates.append(duplicate)
                uow.batches.put_outcome(SlipOutcome(batch.id, slip, "duplicate"))
                continue
            flags = dose_flags(values, history[atena], self.catalog)
            record = uow.records.add(
                to_record(batch.id, slip, values, keyed_by[slip], second[slip], now)
            )
            uow.batches.put_outcome(SlipOutcome(batch.id, slip, "committed", record, tuple(flags)))
            history[atena].append(_key_of(values))
            earlier.setdefault(atena, []).append(values)
            committed += 1
            if flags:
                flagged[slip] = flags
        return CommitResult(committed, duplicates, flagged)

    def decide_duplicate(self, batch_id: int, slip: str, accept: bool, reason: str) -> SlipOutcome:
        """A supervisor's decision on a slip held as a possible duplicate."""
        self.ctx.require(Permission.DUPLICATE_DECIDE, f"batch:{batch_id}")
        slip = normalize_slip_no(slip)
        reason = " ".join(reason.split())
        if not reason:
            raise InvalidValue("reason", "batch.reason_required")
        now = self.ctx.clock.now()
        with self._writing() as uow:
            batch = self._batch(uow, batch_id)
            held = {o.slip: o for o in uow.batches.outcomes(batch_id) if o.outcome == "duplicate"}
            if slip not in held:
                raise NotFound("batch.no_duplicate", slip=slip)
            keyers = uow.batches.keyers(batch_id)
            if self.ctx.user in keyers[1] | keyers[2]:
                self._refuse(batch, "batch.decider_keyed")
            record = None
            flags: tuple[str, ...] = ()
            if accept:
                values = self._comparison(uow, batch_id).verified[slip]
                history = uow.records.history([values["atena"] or ""])[values["atena"] or ""]
                flags = tuple(dose_flags(values, history, self.catalog))
                first = uow.batches.entry(batch_id, 1, slip)
                second = uow.batches.entry(batch_id, 2, slip)
                assert first is not None
                assert second is not None
                record = uow.records.add(
                    to_record(batch_id, slip, values, first.keyed_by, second.keyed_by, now)
                )
            outcome = SlipOutcome(
                batch_id,
                slip,
                "committed" if accept else "rejected",
                record,
                flags,
                self.ctx.user,
                now,
                reason,
            )
            uow.batches.put_outcome(outcome)
            self.ctx.record(
                uow,
                Action.DUPLICATE_DECIDED,
                f"batch:{batch_id}",
                slip=slip,
                accepted=accept,
                reason=reason,
            )
        return outcome

    def keyer_stats(self) -> list[KeyerStats]:
        """Everyone's statistics for a verifier or supervisor; one's own for a keyer."""
        account = self.ctx.require(None, "batches:stats")
        everyone = account.can(Permission.BATCH_COMMIT)
        if not everyone:
            self.ctx.require(Permission.BATCH_KEY, "batches:stats")
        with self.ctx.store.reader() as uow:
            entries = uow.batches.user_entries(None)
            resolutions = uow.batches.all_resolutions()
        stats = keyer_statistics(entries, resolutions)
        return stats if everyone else [s for s in stats if s.user == self.ctx.user]

    def report(self, batch_id: int) -> BatchReport:
        """The printable batch report: the summary and this batch's keying statistics."""
        self.ctx.require(Permission.BATCH_COMMIT, f"batch:{batch_id}")
        summary = self.summary(batch_id)
        with self.ctx.store.transaction() as uow:
            entries = uow.batches.entries(batch_id)
            resolutions = uow.batches.resolutions(batch_id) if summary.comparison else []
            self.ctx.record(uow, Action.BATCH_REPORTED, f"batch:{batch_id}")
        stats = keyer_statistics(entries, resolutions)
        return BatchReport(summary, stats, resolutions, self.ctx.user, self.ctx.clock.now())

    # -- status -----------------------------------------------------------------------------

    def summary(self, batch_id: int) -> BatchSummary:
        """Counts for anyone who works on batches; the comparison only for a reconciler.

        Someone who keyed the batch never sees the comparison while it is open, and someone
        who has seen it may no longer key the batch: either would break the blind second pass.
        """
        account = self.ctx.require(None, f"batch:{batch_id}")
        if not account.can(Permission.BATCH_KEY):
            self.ctx.require(Permission.BATCH_RECONCILE, f"batch:{batch_id}")
        with self._writing() as uow:
            batch = self._batch(uow, batch_id)
            entries = uow.batches.entries(batch_id)
            keyers = uow.batches.keyers(batch_id)
            sees = batch.status is not BatchStatus.OPEN or (
                account.can(Permission.BATCH_RECONCILE)
                and self.ctx.user not in keyers[1] | keyers[2]
            )
            comparison = self._comparison(uow, batch_id) if sees else None
            if sees and batch.status is BatchStatus.OPEN:
                uow.batches.add_reader(batch_id, self.ctx.user, self.ctx.clock.now())
            self.ctx.record(uow, Action.BATCH_VIEWED, f"batch:{batch_id}", comparison=sees)
            outcomes = uow.batches.outcomes(batch_id)
        return BatchSummary(
            batch,
            sum(1 for e in entries if e.pass_no == 1),
            sum(1 for e in entries if e.pass_no == 2),
            comparison,
            outcomes,
            keyers,
        )


def _raw_slip(raw: Mapping[str, object]) -> str | None:
    value = raw.get("slip")
    return None if value is None else str(value)[:20]


def _key_of(values: SlipValues) -> RecordKey:
    return record_key(values)

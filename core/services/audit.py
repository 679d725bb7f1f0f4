"""The auditor's work: verify the chain, browse it, report a month and record the review."""

from __future__ import annotations

from datetime import date, datetime, time

from core.audit import Action, AuditRecord, ChainVerdict, verify_chain
from core.audit_report import MonthlyReport, ReportRules, build_report, month_bounds
from core.clock import JST, timestamp
from core.errors import InvalidValue
from core.ports import AuditFilter, AuditReview, OpenStore
from core.roles import Permission
from core.services.context import ServiceContext
from core.services.terminal import read_settings


def chain_verdict(store: OpenStore) -> ChainVerdict:
    """Recompute the whole chain and check its signed checkpoints (no permission, no audit)."""
    with store.reader() as uow:
        return verify_chain(
            uow.audit.records(),
            uow.audit.checkpoints(),
            uow.audit.head(),
            store.trusted_signing_keys(),
            store.signature_check,
        )


class AuditService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def verify(self) -> ChainVerdict:
        self.ctx.require(Permission.AUDIT_READ, "audit")
        store = self.ctx.store
        verdict = chain_verdict(store)
        with store.transaction() as uow:
            self.ctx.record(
                uow,
                Action.AUDIT_VERIFIED,
                "audit",
                ok=verdict.ok,
                count=verdict.count,
                first_bad_seq=verdict.first_bad_seq,
            )
        return verdict

    def browse(self, query: AuditFilter) -> list[AuditRecord]:
        self.ctx.require(Permission.AUDIT_READ, "audit")
        with self.ctx.store.transaction() as uow:
            found = uow.audit.find(query)
            self.ctx.record(
                uow,
                Action.AUDIT_BROWSED,
                "audit",
                user=query.user,
                action=query.action,
                target=query.target,
                since=query.since.isoformat() if query.since else None,
                until=query.until.isoformat() if query.until else None,
                found=len(found),
            )
        return found

    def report(self, month: str) -> MonthlyReport:
        self.ctx.require(Permission.AUDIT_READ, f"audit:{month}")
        start_day, end_day = _month(month)
        start = datetime.combine(start_day, time(0), JST)
        end = datetime.combine(end_day, time(0), JST)
        threshold = int(read_settings(self.ctx.store)["lookup-threshold"])
        rules = ReportRules(daily_lookup_threshold=threshold)
        with self.ctx.store.reader() as uow:
            report = build_report(month, uow.audit.between(start, end), rules)
            reviews = uow.audit.reviews(month)
        with self.ctx.store.transaction() as uow:
            self.ctx.record(uow, Action.AUDIT_REPORTED, f"audit:{month}", events=report.events)
        report.reviews.extend((r.reviewer, r.at) for r in reviews)
        return report

    def record_review(self, month: str, note: str = "") -> AuditReview:
        """Record that this auditor reviewed the month; the record is itself audited."""
        self.ctx.require(Permission.AUDIT_REVIEW, f"audit:{month}")
        _month(month)
        review = AuditReview(month, self.ctx.user, timestamp(self.ctx.clock.now()), note)
        with self.ctx.store.transaction() as uow:
            uow.audit.add_review(review)
            self.ctx.record(uow, Action.AUDIT_REVIEWED, f"audit:{month}", note=note)
        return review


def _month(month: str) -> tuple[date, date]:
    try:
        return month_bounds(month)
    except ValueError:
        raise InvalidValue("month", "audit.month_format") from None

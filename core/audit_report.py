"""The monthly audit review report (月次点検): per-user activity, off-hours work, heavy lookups.

Logs are reviewed monthly (domain.md §4); the reviewer and date are recorded by the audit
service. Office hours and thresholds are the defaults below, overridable per terminal.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time

from core.audit import Action, AuditRecord
from core.clock import parse_timestamp

LOOKUP_ACTIONS = frozenset(
    {Action.RESIDENT_SEARCHED.value, Action.RESIDENT_OPENED.value, Action.MYNUMBER_REVEALED.value}
)


@dataclass(frozen=True)
class ReportRules:
    office_start: time = time(8, 0)
    office_end: time = time(19, 0)
    daily_lookup_threshold: int = 200
    relative_lookup_factor: float = 3.0
    relative_lookup_minimum: int = 100

    def is_off_hours(self, moment: datetime) -> bool:
        if moment.weekday() >= 5:
            return True
        return not self.office_start <= moment.time() < self.office_end


@dataclass(frozen=True)
class UserActivity:
    user: str
    events: int
    by_action: dict[str, int]
    off_hours: int
    lookups: int
    busiest_day: date | None
    busiest_day_lookups: int
    heavy_lookups: bool
    heavy_reason: str | None


@dataclass(frozen=True)
class MonthlyReport:
    month: str
    events: int
    users: list[UserActivity]
    off_hours_events: list[AuditRecord]
    failed_logins: int
    locks: int
    denied: int
    reviews: list[tuple[str, str]] = field(default_factory=list)

    @property
    def heavy_lookup_users(self) -> list[str]:
        return [u.user for u in self.users if u.heavy_lookups]


def month_bounds(month: str) -> tuple[date, date]:
    """'2026-10' → (2026-10-01, 2026-11-01); raises ValueError on any other form."""
    year_text, _, month_text = month.partition("-")
    if len(year_text) != 4 or len(month_text) != 2:
        raise ValueError(month)
    start = date(int(year_text), int(month_text), 1)
    end = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
    return start, end


def build_report(
    month: str, records: Iterable[AuditRecord], rules: ReportRules | None = None
) -> MonthlyReport:
    rules = rules or ReportRules()
    per_user: dict[str, Counter[str]] = defaultdict(Counter)
    off_hours: Counter[str] = Counter()
    lookups_by_day: dict[str, Counter[date]] = defaultdict(Counter)
    off_hours_events: list[AuditRecord] = []
    totals: Counter[str] = Counter()
    count = 0
    for record in records:
        count += 1
        totals[record.action] += 1
        user = record.user or "-"
        per_user[user][record.action] += 1
        moment = parse_timestamp(record.at)
        if rules.is_off_hours(moment):
            off_hours[user] += 1
            off_hours_events.append(record)
        if record.action in LOOKUP_ACTIONS:
            lookups_by_day[user][moment.date()] += 1
    monthly_lookups = {u: sum(days.values()) for u, days in lookups_by_day.items()}
    median = statistics.median(monthly_lookups.values()) if len(monthly_lookups) >= 3 else None
    users: list[UserActivity] = []
    for user in sorted(per_user):
        actions = per_user[user]
        days = lookups_by_day.get(user, Counter())
        busiest = days.most_common(1)[0] if days else None
        lookups = monthly_lookups.get(user, 0)
        reason: str | None = None
        if busiest and busiest[1] > rules.daily_lookup_threshold:
            reason = "daily"
        elif (
            median is not None
            and lookups >= rules.relative_lookup_minimum
            and lookups > rules.relative_lookup_factor * median
        ):
            reason = "relative"
        users.append(
            UserActivity(
                user=user,
                events=sum(actions.values()),
                by_action=dict(sorted(actions.items())),
                off_hours=off_hours[user],
                lookups=lookups,
                busiest_day=busiest[0] if busiest else None,
                busiest_day_lookups=busiest[1] if busiest else 0,
                heavy_lookups=reason is not None,
                heavy_reason=reason,
            )
        )
    return MonthlyReport(
        month=month,
        events=count,
        users=users,
        off_hours_events=off_hours_events,
        failed_logins=totals[Action.LOGIN_FAILED.value],
        locks=totals[Action.ACCOUNT_LOCKED.value],
        denied=totals[Action.PERMISSION_DENIED.value],
    )

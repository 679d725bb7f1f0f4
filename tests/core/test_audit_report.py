"""The monthly review report: per-user counts, off-hours activity, unusually many lookups."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.audit import GENESIS_HASH, AuditRecord
from core.audit_report import ReportRules, build_report
from core.clock import JST, timestamp


def record(seq: int, at: datetime, user: str, action: str) -> AuditRecord:
    return AuditRecord(seq, timestamp(at), "T", user, action, None, "{}", GENESIS_HASH, "")


def day(d: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, d, hour, minute, tzinfo=JST)


def test_counts_and_off_hours() -> None:
    records = [
        record(1, day(5, 9), "op1", "auth.login"),  # Monday, office hours
        record(2, day(5, 22), "op1", "resident.opened"),  # Monday night
        record(3, day(10, 11), "op2", "auth.login"),  # Saturday
        record(4, day(6, 7, 59), "op2", "auth.login_failed"),  # before 08:00
    ]
    report = build_report("2026-10", records)
    by_user = {u.user: u for u in report.users}
    assert by_user["op1"].events == 2
    assert by_user["op1"].off_hours == 1
    assert by_user["op2"].off_hours == 2
    assert [r.seq for r in report.off_hours_events] == [2, 3, 4]
    assert report.failed_logins == 1


def test_a_day_over_the_threshold_is_flagged() -> None:
    rules = ReportRules(daily_lookup_threshold=30)
    records = [
        record(i, day(7, 10) + timedelta(seconds=i), "op1", "resident.searched")
        for i in range(1, 32)
    ]
    records += [record(100 + i, day(7 + i, 10), "op2", "resident.searched") for i in range(10)]
    report = build_report("2026-10", records, rules)
    assert report.heavy_lookup_users == ["op1"]
    op1 = next(u for u in report.users if u.user == "op1")
    assert op1.heavy_reason == "daily"
    assert op1.busiest_day_lookups == 31


def test_a_user_far_above_the_others_is_flagged() -> None:
    rules = ReportRules(daily_lookup_threshold=1000, relative_lookup_minimum=50)
    records = []
    seq = 0
    for user, per_day in (("op1", 10), ("op2", 2), ("op3", 2), ("ver1", 3)):
        for d in range(1, 21):
            for i in range(per_day):
                seq += 1
                records.append(record(seq, day(d, 10, i), user, "resident.opened"))
    report = build_report("2026-10", records, rules)
    assert report.heavy_lookup_users == ["op1"]
    assert next(u for u in report.users if u.user == "op1").heavy_reason == "relative"


def test_ordinary_use_flags_nobody() -> None:
    records = [
        record(i, day(1 + i % 20, 10), f"op{i % 3}", "resident.searched") for i in range(1, 120)
    ]
    assert build_report("2026-10", records).heavy_lookup_users == []

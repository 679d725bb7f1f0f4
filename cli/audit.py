"""``sesshu audit``: verify the chain, browse it, report a month, record the review."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated

import typer

from cli.context import acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.audit_report import MonthlyReport
from core.clock import today
from core.errors import AuditChainBroken, InvalidValue
from core.ports import AuditFilter
from core.services.audit import AuditService

app = typer.Typer(help="The audit trail: verify, report, review, log.")


def _previous_month() -> str:
    first = today(state().clock).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


@app.command("verify")
def verify(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Recompute the hash chain and check the signed checkpoints. Exit 1 names the first bad seq."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        verdict = AuditService(session.ctx).verify()
    if as_json:
        emit_json(
            {
                "ok": verdict.ok,
                "events": verdict.count,
                "checkpoints": verdict.checkpoints,
                "first_bad_seq": verdict.first_bad_seq,
                "reason": verdict.reason,
            }
        )
    if not verdict.ok:
        raise AuditChainBroken(
            "audit.verify_failed", seq=verdict.first_bad_seq, reason_key=verdict.reason
        )
    if not as_json:
        say(t("audit.verify_ok", count=verdict.count, checkpoints=verdict.checkpoints))


def _report_json(report: MonthlyReport) -> dict[str, object]:
    return {
        "month": report.month,
        "events": report.events,
        "failed_logins": report.failed_logins,
        "locks": report.locks,
        "denied": report.denied,
        "users": [
            {
                "user": u.user,
                "events": u.events,
                "by_action": u.by_action,
                "off_hours": u.off_hours,
                "lookups": u.lookups,
                "busiest_day": u.busiest_day.isoformat() if u.busiest_day else None,
                "busiest_day_lookups": u.busiest_day_lookups,
                "heavy_lookups": u.heavy_lookups,
                "heavy_reason": u.heavy_reason,
            }
            for u in report.users
        ],
        "heavy_lookup_users": report.heavy_lookup_users,
        "off_hours_events": [
            {"seq": r.seq, "at": r.at, "user": r.user, "action": r.action}
            for r in report.off_hours_events
        ],
        "reviews": [{"reviewer": who, "at": at} for who, at in report.reviews],
    }


@app.command("report")
def report(
    acting_user: AsOption,
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM; default last month")
    ] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Per-user counts, off-hours activity and unusually many lookups for one month."""
    t = state().t
    month = month or _previous_month()
    with acting(acting_user, password_stdin) as session:
        result = AuditService(session.ctx).report(month)
    if as_json:
        emit_json(_report_json(result))
        return
    say(t("audit.report_title", month=result.month))
    say(t("audit.report_events", count=result.events))
    say(
        t(
            "audit.report_failed_logins",
            count=result.failed_logins,
            locks=result.locks,
            denied=result.denied,
        )
    )
    for user in result.users:
        say(
            "  "
            + t(
                "audit.report_user_line",
                user=user.user,
                events=user.events,
                off_hours=user.off_hours,
                lookups=user.lookups,
            )
        )
    heavy = result.heavy_lookup_users
    say(t("audit.report_heavy", users=", ".join(heavy)) if heavy else t("audit.report_heavy_none"))
    if result.reviews:
        say(t("audit.report_reviewed", reviews=", ".join(f"{w} {a}" for w, a in result.reviews)))
    else:
        say(t("audit.report_not_reviewed"))


@app.command("review")
def review(
    acting_user: AsOption,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    note: Annotated[str, typer.Option("--note")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record that you reviewed a month's trail (itself an audited event)."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        done = AuditService(session.ctx).record_review(month, note)
    if as_json:
        emit_json({"month": done.month, "reviewer": done.reviewer, "at": done.at})
    else:
        say(t("audit.reviewed", month=done.month))


def _day(text: str | None, field_name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(field_name, "user.date_format") from None


@app.command("log")
def log(
    acting_user: AsOption,
    user: Annotated[str | None, typer.Option("--user")] = None,
    action: Annotated[str | None, typer.Option("--action", help="prefix, e.g. auth.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="e.g. an 宛名番号")] = None,
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DD")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 200,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Browse the trail, newest first, filtered by user, action, target and dates."""
    query = AuditFilter(user, action, target, _day(since, "since"), _day(until, "until"), limit)
    with acting(acting_user, password_stdin) as session:
        records = AuditService(session.ctx).browse(query)
    if as_json:
        emit_json(
            {
                "events": [
                    {
                        "seq": r.seq,
                        "at": r.at,
                        "terminal": r.terminal,
                        "user": r.user,
                        "action": r.action,
                        "target": r.target,
                        "detail": json.loads(r.detail),
                    }
                    for r in records
                ]
            }
        )
        return
    for r in records:
        say(
            f"{r.seq:>8} {r.at[:19]} {r.user or '-':<10} {r.action:<28} {r.target or ''} {r.detail}"
        )

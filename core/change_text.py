"""How a pending change reads, in either language (the CLI and the TUI show the same words)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.changes import FIELD_PREFIX, ChangeKind, FieldValue, PendingChange
from core.clock import JST
from core.i18n import Catalogue
from core.japanese.wareki import format_wareki


@dataclass(frozen=True)
class FieldLine:
    """One changed field: its label and the values before and after, as text."""

    name: str
    label: str
    before: str
    after: str


def field_label(t: Catalogue, name: str) -> str:
    return t.field(FIELD_PREFIX + name)


def value_text(t: Catalogue, name: str, value: FieldValue) -> str:
    if value is None or value == "":
        return t("change.empty")
    if isinstance(value, bool):
        return t("app.yes") if value else t("app.no")
    if name == "date" and isinstance(value, str):
        return f"{format_wareki(date.fromisoformat(value), 'short')}（{value}）"
    return str(value)


def field_lines(t: Catalogue, change: PendingChange) -> list[FieldLine]:
    withheld = t("change.withheld")
    lines = []
    for name in change.fields:
        hidden = name in change.withheld
        if change.kind is ChangeKind.RECORD_VOID and change.before.get(name) in (None, False):
            continue  # a voided record's empty fields say nothing
        before = value_text(t, name, change.before.get(name)) if name in change.before else ""
        after = value_text(t, name, change.after.get(name)) if name in change.after else ""
        lines.append(
            FieldLine(
                name,
                field_label(t, name),
                withheld if hidden and name in change.before else before,
                withheld if hidden and name in change.after else after,
            )
        )
    return lines


def evidence_text(t: Catalogue, change: PendingChange) -> str:
    text = t(f"change.evidence.{change.evidence.value}")
    if change.id_document is not None:
        text += t("change.id_checked", document=t(f"change.id_document.{change.id_document}"))
    return text


def kind_text(t: Catalogue, change: PendingChange) -> str:
    return t(f"change.kind.{change.kind.value}")


def status_text(t: Catalogue, change: PendingChange) -> str:
    return t(f"change.status.{change.status.value}")


def when_text(moment: datetime | None) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M") if moment else ""


def summary_lines(t: Catalogue, change: PendingChange) -> list[str]:
    """A change as plain lines of text: heading, who and when, evidence, reason, each field."""
    subject = f"{change.atena} {change.person_name or ''}".rstrip()
    record = (
        t("change.on_record", record=change.record, label=change.record_label or "")
        if change.record is not None
        else ""
    )
    lines = [
        f"#{change.id} {kind_text(t, change)}  {subject}{record}  [{status_text(t, change)}]",
        "  " + t("change.proposed_line", user=change.proposed_by, at=when_text(change.proposed_at)),
        "  " + t("change.evidence_line", evidence=evidence_text(t, change)),
        "  " + t("change.reason_line", reason=change.reason),
    ]
    if change.decided_by:
        lines.append(
            "  "
            + t(
                "change.decided_line",
                status=status_text(t, change),
                user=change.decided_by,
                at=when_text(change.decided_at),
                note=change.decision_note or "",
            )
        )
    for line in field_lines(t, change):
        lines.append(f"  {line.label}: {line.before or '—'} → {line.after or '—'}")
    if change.kind is ChangeKind.RECORD_VOID:
        lines.append("  " + t("change.void_note"))
    return lines

"""The printable batch report (バッチ処理結果票): counts and keying statistics only.

It names staff (who keyed, reconciled and committed) but no resident: no 宛名番号, names or
values, so it may be printed and filed with the paper slips.
"""

from __future__ import annotations

from collections import Counter

from core.clock import timestamp
from core.i18n import Catalogue
from core.services.batches import BatchReport

WIDTH = 64


def render_report(t: Catalogue, report: BatchReport) -> str:
    s = report.summary
    b = s.batch
    held = sum(1 for o in s.outcomes if o.outcome == "duplicate")
    committed = sum(1 for o in s.outcomes if o.outcome == "committed")
    rejected = sum(1 for o in s.outcomes if o.outcome == "rejected")
    flagged = sum(1 for o in s.outcomes if o.flags)
    lines = [
        t("batch_report.title", batch=b.id),
        "=" * WIDTH,
        f"{t('field.source')}: {b.source}",
        f"{t('field.received')}: {b.received.isoformat()}",
        f"{t('field.count')}: {b.control_count}",
        f"{t('batch_report.status')}: {t('batch_status.' + b.status.value)}",
        f"{t('batch_report.created')}: {b.created_by}",
        "-" * WIDTH,
        t("batch_report.passes", pass1=s.pass1, pass2=s.pass2),
        t(
            "batch_report.keyers",
            pass1=", ".join(sorted(s.keyers[1])) or "-",
            pass2=", ".join(sorted(s.keyers[2])) or "-",
        ),
    ]
    if s.comparison is not None:
        c = s.comparison
        lines.append(
            t(
                "batch_report.comparison",
                matched=len(c.matched),
                mismatches=len(c.mismatches),
                open=len(c.open_mismatches),
            )
        )
        blame = Counter(r.attribution for r in report.resolutions)
        lines.append(
            t(
                "batch_report.attribution",
                pass1=blame["pass1"],
                pass2=blame["pass2"],
                both=blame["both"],
            )
        )
    lines += [
        t(
            "batch_report.outcomes",
            committed=committed,
            held=held,
            rejected=rejected,
            flagged=flagged,
        ),
    ]
    if b.committed_by:
        committed_at = timestamp(b.committed_at) if b.committed_at else "-"
        lines.append(t("batch_report.committed_by", user=b.committed_by, at=committed_at))
    if b.override_reason:
        lines.append(t("batch_report.override", reason=b.override_reason))
    lines += ["-" * WIDTH, t("batch_report.kpi_header")]
    for k in report.keyers:
        per_hour = k.slips_per_hour if k.slips_per_hour is not None else "-"
        lines.append(
            t(
                "batch_report.kpi_row",
                user=k.user,
                slips=k.slips,
                fields=k.fields,
                errors=k.errors,
                rate=k.errors_per_thousand,
                per_hour=per_hour,
            )
        )
    lines += [
        "=" * WIDTH,
        t("batch_report.printed", user=report.printed_by, at=timestamp(report.printed_at)),
    ]
    return "\n".join(lines)

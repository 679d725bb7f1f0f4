"""What the batch service returns: results of keying, comparison, commit, and the statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from core.batches import (
    Batch,
    Comparison,
    Duplicate,
    KeyerStats,
    Resolution,
    SlipEntry,
    SlipOutcome,
)
from core.errors import Issue
from core.slips import fields_keyed


@dataclass(frozen=True)
class Keyed:
    slip: str
    warnings: list[Issue]
    replaced: bool  # the same keyer keyed this slip again in this pass
    line: int = 1  # its position in the input, from 1


@dataclass(frozen=True)
class LineProblem:
    line: int
    slip: str | None
    issues: tuple[Issue, ...]


@dataclass(frozen=True)
class KeyReport:
    kept: list[Keyed]
    rejected: list[LineProblem]


@dataclass(frozen=True)
class PassProgress:
    """What a keyer may see while keying: their own pass only, and the control total."""

    batch: Batch
    pass_no: int
    keyed: int
    mine: list[str]


@dataclass(frozen=True)
class CommitResult:
    committed: int
    duplicates: list[Duplicate]
    flagged: dict[str, list[str]]  # slip → dose-order / interval flags


@dataclass(frozen=True)
class BatchSummary:
    batch: Batch
    pass1: int
    pass2: int
    comparison: Comparison | None  # None for someone who keyed the batch while it is open
    outcomes: list[SlipOutcome]
    keyers: dict[int, set[str]]


@dataclass(frozen=True)
class BatchReport:
    summary: BatchSummary
    keyers: list[KeyerStats]
    resolutions: list[Resolution]
    printed_by: str
    printed_at: datetime


def keyer_statistics(
    entries: Sequence[SlipEntry], resolutions: Sequence[Resolution]
) -> list[KeyerStats]:
    """Per keyer: slips and fields keyed, fields found wrong at reconciliation, time spent."""
    keyer = {(e.batch, e.slip, e.pass_no): e.keyed_by for e in entries}
    errors: dict[str, int] = {}
    for r in resolutions:
        blamed = {"pass1": (1,), "pass2": (2,), "both": (1, 2), "none": ()}[r.attribution]
        for pass_no in blamed:
            user = keyer.get((r.batch, r.slip, pass_no))
            if user is not None:
                errors[user] = errors.get(user, 0) + 1
    stats: dict[str, KeyerStats] = {}
    for e in entries:
        seen = stats.get(e.keyed_by, KeyerStats(e.keyed_by, 0, 0, 0, 0.0))
        stats[e.keyed_by] = replace(
            seen,
            slips=seen.slips + 1,
            fields=seen.fields + fields_keyed(e.values),
            seconds=seen.seconds + (e.duration_ms or 0) / 1000,
        )
    return [replace(s, errors=errors.get(s.user, 0)) for s in sorted(stats.values(), key=_user)]


def _user(stats: KeyerStats) -> str:
    return stats.user

"""The central system's own audit trail: hash-chained like a terminal's (``core.audit``).

Events carry counts, names of terminals and ids of conflicts, never personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from central.db import Database
from core.audit import GENESIS_HASH, JSONValue, canonical_json, event_digest

CENTRAL = "central"


class CentralAction:
    """The actions the central trail records."""

    INITIALISED = "central.initialised"
    TOKEN_CREATED = "central.token_created"
    ENROLLED = "central.enrolled"
    ENROLL_REFUSED = "central.enroll_refused"
    REVOKED = "central.revoked"
    PUSHED = "central.pushed"
    CONFLICT_OPENED = "central.conflict_opened"
    CONFLICT_DECIDED = "central.conflict_decided"
    REJECTED = "central.rejected"
    REGISTRY_IMPORTED = "central.registry_imported"


def append(
    db: Database,
    at: str,
    actor: str,
    action: str,
    target: str | None = None,
    detail: Mapping[str, JSONValue] | None = None,
) -> int:
    """Append one event (inside the caller's transaction); its sequence number."""
    with db.transaction():
        head = db.one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq = int(head[0]) + 1 if head else 1
        prev = str(head[1]) if head else GENESIS_HASH
        text = canonical_json(detail or {})
        digest = event_digest(prev, seq, at, CENTRAL, actor, action, target, text)
        db.execute(
            "INSERT INTO audit (seq, at, actor, action, target, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, actor, action, target, text, prev, digest),
        )
    return seq


@dataclass(frozen=True)
class AuditVerdict:
    ok: bool
    count: int
    head: str
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(db: Database) -> AuditVerdict:
    """Recompute the chain; name the first sequence number that does not hold."""
    prev = GENESIS_HASH
    expected = 1
    rows = db.query(
        "SELECT seq, at, actor, action, target, detail, prev_hash, hash FROM audit ORDER BY seq"
    )
    for seq, at, actor, action, target, detail, prev_hash, digest in rows:
        if int(seq) != expected:
            return AuditVerdict(False, expected - 1, prev, expected, "audit.bad_sequence")
        if prev_hash != prev:
            return AuditVerdict(False, expected - 1, prev, int(seq), "audit.bad_link")
        if event_digest(prev, int(seq), at, CENTRAL, actor, action, target, detail) != digest:
            return AuditVerdict(False, expected - 1, prev, int(seq), "audit.bad_hash")
        prev = str(digest)
        expected += 1
    return AuditVerdict(True, expected - 1, prev)

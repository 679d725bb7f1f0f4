"""The tamper-evident audit trail (監査ログ): events, the hash chain and its verification.

hash(n) = SHA-256(hash(n-1) ‖ canonical(event n)). Checkpoints (seq, hash) are signed with the
terminal's Ed25519 key; the signature check itself is a port, so this module stays free of
crypto libraries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

GENESIS_HASH = "0" * 64
CHECKPOINT_INTERVAL = 256
RETENTION_YEARS = 7

JSONValue = str | int | float | bool | None | Sequence["JSONValue"] | Mapping[str, "JSONValue"]


class Action(StrEnum):
    STORE_INITIALISED = "store.initialised"
    STORE_MIGRATED = "store.migrated"
    STORE_CHECKED = "store.checked"
    STORE_REKEYED = "store.rekeyed"
    STORE_RECOVERED = "store.recovered"
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_REFUSED = "auth.login_refused"
    LOGOUT = "auth.logout"
    SESSION_LOCKED = "auth.session_locked"
    SESSION_UNLOCKED = "auth.session_unlocked"
    ACCOUNT_LOCKED = "account.locked"
    ACCOUNT_UNLOCKED = "account.unlocked"
    PASSWORD_CHANGED = "account.password_changed"
    PASSWORD_RESET = "account.password_reset"
    USER_ADDED = "user.added"
    USERS_LISTED = "user.listed"
    PERMISSION_DENIED = "permission.denied"
    AUDIT_VERIFIED = "audit.verified"
    AUDIT_REPORTED = "audit.reported"
    AUDIT_REVIEWED = "audit.reviewed"
    AUDIT_BROWSED = "audit.browsed"
    RESIDENT_SEARCHED = "resident.searched"
    RESIDENT_OPENED = "resident.opened"
    MYNUMBER_REVEALED = "mynumber.revealed"
    DV_ADDRESS_REVEALED = "dv_address.revealed"
    TERMINAL_SETTING_CHANGED = "terminal.setting_changed"
    DEMO_BUILT = "demo.built"
    BATCH_CREATED = "batch.created"
    BATCH_VIEWED = "batch.viewed"
    BATCH_COMPARED = "batch.compared"
    BATCH_COMMITTED = "batch.committed"
    BATCH_REFUSED = "batch.refused"
    BATCH_REPORTED = "batch.reported"
    SLIPS_KEYED = "batch.slips_keyed"
    SLIP_PERSON_SHOWN = "batch.person_shown"
    SLIP_RESOLVED = "batch.slip_resolved"
    DUPLICATE_DECIDED = "batch.duplicate_decided"
    CHANGE_PROPOSED = "change.proposed"
    CHANGE_CONFIRMED = "change.confirmed"
    CHANGE_REJECTED = "change.rejected"
    CHANGES_LISTED = "change.listed"
    CHANGE_OPENED = "change.opened"
    EXPORT_CREATED = "export.created"
    EXPORT_APPROVED = "export.approved"
    EXPORT_REJECTED = "export.rejected"
    EXPORT_REFUSED = "export.refused"
    MEDIA_REGISTERED = "media.registered"
    MEDIA_WRITTEN = "media.written"
    MEDIA_LISTED = "media.listed"
    MEDIA_VIEWED = "media.viewed"
    MEDIA_HANDED_OVER = "media.handed_over"
    MEDIA_RETURNED = "media.returned"
    MEDIA_MOVED = "media.moved"
    MEDIA_DISPOSED = "media.disposed"
    RECIPIENT_ADDED = "recipient.added"
    BASIS_CHANGED = "basis.changed"
    PROVISION_CREATED = "provision.created"
    PROVISION_PREVIEWED = "provision.previewed"
    PROVISION_PERSON_DECIDED = "provision.person_decided"
    PROVISION_UPDATED = "provision.updated"
    PROVISION_APPROVAL_VOIDED = "provision.approval_voided"
    PROVISION_APPROVED = "provision.approved"
    PROVISION_REJECTED = "provision.rejected"
    PROVISION_CHECKED = "provision.checked"
    PROVISION_REFUSED = "provision.refused"
    PROVISION_EXECUTED = "provision.executed"
    PROVISION_STAGE = "provision.stage"
    PROVISION_CLOSED = "provision.closed"
    PROVISION_RECORDS_READ = "provision.records_read"
    PROVISION_INQUIRY = "provision.inquiry"
    SYNC_STARTED = "sync.started"
    SYNC_FINISHED = "sync.finished"
    SYNC_FAILED = "sync.failed"
    SYNC_ENROLLED = "sync.enrolled"
    SYNC_COMPARED = "sync.compared"
    SYNC_CONFLICTS_READ = "sync.conflicts_read"
    SYNC_DECIDED = "sync.decided"
    SYNC_BUNDLE_EXPORTED = "sync.bundle_exported"
    SYNC_BUNDLE_IMPORTED = "sync.bundle_imported"
    MIGRATION_CHECKED = "migration.checked"
    MIGRATION_STARTED = "migration.started"
    MIGRATION_BATCH = "migration.batch_loaded"
    MIGRATION_LOADED = "migration.loaded"
    MIGRATION_RECONCILED = "migration.reconciled"
    MIGRATION_EXPORTED = "migration.exported"
    MIGRATION_APPROVED = "migration.approved"


@dataclass(frozen=True)
class AuditEvent:
    """A fact to record: who did what to which target, from which terminal."""

    action: str
    user: str | None
    target: str | None = None
    detail: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """An event as stored in the chain."""

    seq: int
    at: str
    terminal: str
    user: str | None
    action: str
    target: str | None
    detail: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    terminal: str
    signature: str
    public_key: str


class SignatureCheck(Protocol):
    def __call__(self, public_key_hex: str, signature_hex: str, message: bytes) -> bool: ...


def canonical_json(value: Mapping[str, JSONValue]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_digest(
    prev_hash: str,
    seq: int,
    at: str,
    terminal: str,
    user: str | None,
    action: str,
    target: str | None,
    detail: str,
) -> str:
    body = json.dumps(
        [seq, at, terminal, user, action, target, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(bytes.fromhex(prev_hash) + body.encode("utf-8")).hexdigest()


def record_digest(record: AuditRecord) -> str:
    return event_digest(
        record.prev_hash,
        record.seq,
        record.at,
        record.terminal,
        record.user,
        record.action,
        record.target,
        record.detail,
    )


def checkpoint_message(terminal: str, seq: int, chain_hash: str, at: str) -> bytes:
    return f"sesshu-audit-checkpoint/1\n{terminal}\n{seq}\n{chain_hash}\n{at}\n".encode()


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    count: int
    checkpoints: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_chain(
    records: Iterable[AuditRecord],
    checkpoints: Sequence[Checkpoint],
    head: tuple[int, str] | None,
    trusted_keys: frozenset[str],
    signature_ok: SignatureCheck,
) -> ChainVerdict:
    """Recompute the chain; name the first sequence number that does not hold."""
    by_seq = {c.seq: c for c in checkpoints}
    expected_seq = 1
    prev = GENESIS_HASH
    count = 0
    for record in records:
        if record.seq != expected_seq:
            return ChainVerdict(False, count, 0, expected_seq, "audit.bad_sequence")
        if record.prev_hash != prev:
            return ChainVerdict(False, count, 0, record.seq, "audit.bad_link")
        if record_digest(record) != record.hash:
            return ChainVerdict(False, count, 0, record.seq, "audit.bad_hash")
        checkpoint = by_seq.get(record.seq)
        if checkpoint is not None and checkpoint.hash != record.hash:
            return ChainVerdict(False, count, 0, record.seq, "audit.bad_checkpoint")
        prev = record.hash
        expected_seq += 1
        count += 1
    last_seq = expected_seq - 1
    for checkpoint in sorted(checkpoints, key=lambda c: c.seq):
        if checkpoint.seq > last_seq:
            return ChainVerdict(False, count, 0, last_seq + 1, "audit.missing_tail")
        if checkpoint.public_key not in trusted_keys:
            return ChainVerdict(False, count, 0, checkpoint.seq, "audit.unknown_signer")
        message = checkpoint_message(
            checkpoint.terminal, checkpoint.seq, checkpoint.hash, checkpoint.at
        )
        if not signature_ok(checkpoint.public_key, checkpoint.signature, message):
            return ChainVerdict(False, count, 0, checkpoint.seq, "audit.bad_signature")
    if head is not None and head != (last_seq, prev):
        first_bad = last_seq if head[0] == last_seq else min(head[0], last_seq) + 1
        return ChainVerdict(False, count, 0, max(first_bad, 1), "audit.missing_tail")
    return ChainVerdict(True, count, len(checkpoints))

"""The rules a pushed batch is applied by: one transaction per batch, acknowledged by UUID.

Each entry is applied at most once: a UUID already received gets its stored answer again
(``duplicate`` if it was applied). A change made on another version than the central one is
a conflict; further changes from the same terminal to the same entity fold into that open
conflict, so two concurrent edits end in exactly one conflict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from central import audit
from central.audit import CentralAction
from central.db import Database, placeholders
from central.entities import (
    BatchEntities,
    Entity,
    data_text,
    get_conflict,
    merge_resident,
    open_conflicts,
)
from core.audit import checkpoint_message
from core.clock import Clock, timestamp
from core.errors import RuleViolation
from core.sync import Ack, AckStatus, Choice, Conflict, Entry, EntryKind, PushResult, check_decider
from sync.wire import check_data


def signature_ok(public_key_hex: str, signature_hex: str, message: bytes) -> bool:
    try:
        key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
    except (ValueError, InvalidSignature):
        return False
    return True


def _user_of(entry: Entry) -> str:
    """Who made a change (for the four-eyes check on its decision)."""
    for name in ("verified_by", "keyed_by"):
        value = entry.data.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


@dataclass(frozen=True)
class Applied:
    """The outcome of one entry: its ack, and the conflict it opened or folded into."""

    ack: Ack
    conflict: int | None = None


class PushRules:
    """Applies one terminal's batch; construct one per push."""

    def __init__(self, db: Database, clock: Clock, terminal: str, signing_key: str) -> None:
        self._db = db
        self._terminal = terminal
        self._signing_key = signing_key
        self._at = timestamp(clock.now())
        self._entities = BatchEntities(db, terminal, self._at)
        self._open: dict[tuple[str, str], int] = {}

    def push(self, entries: Sequence[Entry]) -> PushResult:
        db = self._db
        acks: list[Ack] = []
        touched: list[int] = []
        counts: Counter[str] = Counter()
        with db.transaction(changes=True):
            stored = self._received([e.uuid for e in entries])
            self._open = open_conflicts(db, self._terminal)
            self._entities.prefetch(
                [
                    (e.kind.value, e.key)
                    for e in entries
                    if e.kind in (EntryKind.RECORD, EntryKind.RESIDENT) and e.uuid not in stored
                ]
            )
            rows: list[tuple[object, ...]] = []
            last = db.scalar("SELECT pushed_seq FROM terminals WHERE name = ?", (self._terminal,))
            expected = None if last is None else int(last) + 1
            for entry in entries:
                prior = stored.get(entry.uuid)
                if prior is not None:
                    ack = self._replayed(entry, prior)
                elif expected is not None and entry.seq > expected:
                    # A gap: an earlier entry has not arrived (a delivery out of order). This
                    # and the later entries stay unacknowledged and are applied when resent.
                    break
                elif expected is not None and entry.seq < expected:
                    ack = self._rejected(entry, "stale_seq").ack
                else:
                    expected = entry.seq + 1
                    outcome = self._apply(entry)
                    ack = outcome.ack
                    if outcome.conflict is not None and outcome.conflict not in touched:
                        touched.append(outcome.conflict)
                    rows.append(
                        (
                            entry.uuid,
                            self._terminal,
                            entry.seq,
                            ack.status.value,
                            ack.conflict,
                            ack.reason,
                            self._at,
                        )
                    )
                acks.append(ack)
                counts[ack.status.value] += 1
            self._entities.flush()
            db.executemany(
                "INSERT INTO received (uuid, terminal, seq, status, conflict, reason, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute(
                "UPDATE terminals SET last_push = ?, last_seen = ?, pushed_seq = ? WHERE name = ?",
                (self._at, self._at, None if expected is None else expected - 1, self._terminal),
            )
            audit.append(
                db, self._at, self._terminal, CentralAction.PUSHED, self._terminal, dict(counts)
            )
            conflicts = tuple(c for i in touched if (c := get_conflict(db, i)) is not None)
        return PushResult(tuple(acks), conflicts)

    def _received(self, uuids: Sequence[str]) -> dict[str, tuple[str, str, int | None, str]]:
        found: dict[str, tuple[str, str, int | None, str]] = {}
        for start in range(0, len(uuids), 500):
            chunk = uuids[start : start + 500]
            for uuid, terminal, status, conflict, reason in self._db.query(
                "SELECT uuid, terminal, status, conflict, reason FROM received"
                f" WHERE uuid IN ({placeholders(len(chunk))})",
                chunk,
            ):
                found[str(uuid)] = (str(terminal), str(status), conflict, str(reason))
        return found

    def _replayed(self, entry: Entry, prior: tuple[str, str, int | None, str]) -> Ack:
        terminal, status, conflict, reason = prior
        if terminal != self._terminal:
            return Ack(entry.uuid, AckStatus.REJECTED, reason="uuid_taken")
        if status in (AckStatus.APPLIED, AckStatus.DUPLICATE):
            return Ack(entry.uuid, AckStatus.DUPLICATE)
        return Ack(entry.uuid, AckStatus(status), int(conflict) if conflict else None, reason)

    def _apply(self, entry: Entry) -> Applied:
        match entry.kind:
            case EntryKind.RECORD if entry.op == "upsert":
                return self._upsert(entry)
            case EntryKind.RECORD | EntryKind.RESIDENT:
                return self._correct(entry)
            case EntryKind.PROVISION:
                return self._provision(entry)
            case EntryKind.CHECKPOINT:
                return self._checkpoint(entry)
            case EntryKind.DECISION:
                return self._decide(entry)
        raise AssertionError(entry.kind)  # pragma: no cover - parse_push admits no other kind

    def _applied(self, entry: Entry) -> Applied:
        return Applied(Ack(entry.uuid, AckStatus.APPLIED))

    def _rejected(self, entry: Entry, reason: str) -> Applied:
        audit.append(
            self._db,
            self._at,
            self._terminal,
            CentralAction.REJECTED,
            self._terminal,
            {"uuid": entry.uuid, "kind": entry.kind.value, "reason": reason},
        )
        return Applied(Ack(entry.uuid, AckStatus.REJECTED, reason=reason))

    def _upsert(self, entry: Entry) -> Applied:
        text = data_text(entry.kind, entry.data)
        if (folded := self._fold(entry, text)) is not None:
            return folded
        current = self._entities.get(entry.kind, entry.key)
        if current is None:
            self._entities.put(Entity(entry.kind, entry.key, entry.version, text))
            return self._applied(entry)
        if current.text == text:
            return Applied(Ack(entry.uuid, AckStatus.DUPLICATE))
        return self._conflict(entry, text, current)

    def _correct(self, entry: Entry) -> Applied:
        text = data_text(entry.kind, entry.data)
        if (folded := self._fold(entry, text)) is not None:
            return folded
        current = self._entities.get(entry.kind, entry.key)
        if current is None:
            return self._rejected(entry, "unknown_entity")
        if current.version != entry.base_version:
            return self._conflict(entry, text, current)
        if entry.kind == EntryKind.RESIDENT:
            text = data_text(entry.kind, merge_resident(current.data, entry.data))
        self._entities.put(Entity(entry.kind, entry.key, entry.base_version + 1, text))
        return self._applied(entry)

    def _fold(self, entry: Entry, text: str) -> Applied | None:
        """Fold a change into this terminal's open conflict on the same entity, if any."""
        conflict = self._open.get((entry.kind.value, entry.key))
        if conflict is None:
            return None
        current = self._entities.get(entry.kind, entry.key)
        self._db.execute(
            "UPDATE conflicts SET client_data = ?, base_version = ?, entry_uuid = ?,"
            " client_user = ?, server_version = ?, server_data = ? WHERE id = ?",
            (
                text,
                entry.base_version,
                entry.uuid,
                _user_of(entry),
                current.version if current else 0,
                current.text if current else None,
                conflict,
            ),
        )
        return Applied(Ack(entry.uuid, AckStatus.CONFLICT, conflict), conflict)

    def _conflict(self, entry: Entry, text: str, current: Entity) -> Applied:
        conflict = self._db.scalar(
            "INSERT INTO conflicts (kind, key, terminal, entry_uuid, base_version,"
            " server_version, server_data, client_data, client_user, status, opened_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?) RETURNING id",
            (
                entry.kind.value,
                entry.key,
                self._terminal,
                entry.uuid,
                entry.base_version,
                current.version,
                current.text,
                text,
                _user_of(entry),
                self._at,
            ),
        )
        audit.append(
            self._db,
            self._at,
            self._terminal,
            CentralAction.CONFLICT_OPENED,
            str(conflict),
            {"kind": entry.kind.value, "terminal": self._terminal},
        )
        self._open[(entry.kind.value, entry.key)] = int(conflict)
        return Applied(Ack(entry.uuid, AckStatus.CONFLICT, int(conflict)), int(conflict))

    def _provision(self, entry: Entry) -> Applied:
        text = data_text("provision", entry.data)
        known = self._db.scalar(
            "SELECT data FROM provisions WHERE terminal = ? AND key = ?",
            (self._terminal, entry.key),
        )
        if known is None:
            self._db.execute(
                "INSERT INTO provisions (terminal, key, data, received_at) VALUES (?, ?, ?, ?)",
                (self._terminal, entry.key, text, self._at),
            )
            return self._applied(entry)
        if known == text:
            return Applied(Ack(entry.uuid, AckStatus.DUPLICATE))
        return self._rejected(entry, "provision_changed")

    def _checkpoint(self, entry: Entry) -> Applied:
        data = entry.data
        seq, chain_hash = data.get("seq"), str(data.get("hash"))
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            return self._rejected(entry, "bad_checkpoint")
        if data.get("terminal") != self._terminal:
            return self._rejected(entry, "checkpoint_other_terminal")
        if str(data.get("public_key")).lower() != self._signing_key:
            return self._rejected(entry, "unknown_signer")
        message = checkpoint_message(self._terminal, seq, chain_hash, str(data.get("at")))
        if not signature_ok(self._signing_key, str(data.get("signature")), message):
            return self._rejected(entry, "bad_signature")
        known = self._db.scalar(
            "SELECT hash FROM checkpoints WHERE terminal = ? AND seq = ?", (self._terminal, seq)
        )
        if known is not None:
            if known == chain_hash:
                return Applied(Ack(entry.uuid, AckStatus.DUPLICATE))
            return self._rejected(entry, "checkpoint_contradiction")
        highest = self._db.scalar(
            "SELECT max(seq) FROM checkpoints WHERE terminal = ?", (self._terminal,)
        )
        if highest is not None and seq < int(highest):
            return self._rejected(entry, "checkpoint_contradiction")
        self._db.execute(
            "INSERT INTO checkpoints (terminal, seq, hash, at, signature, public_key, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self._terminal,
                seq,
                chain_hash,
                str(data.get("at")),
                str(data.get("signature")),
                self._signing_key,
                self._at,
            ),
        )
        return self._applied(entry)

    def _decide(self, entry: Entry) -> Applied:
        data = entry.data
        try:
            conflict = get_conflict(self._db, int(str(data.get("conflict"))))
            choice = Choice(str(data.get("choice")))
        except ValueError:
            return self._rejected(entry, "bad_decision")
        if conflict is None or conflict.terminal != self._terminal:
            return self._rejected(entry, "conflict_unknown")
        try:
            check_decider(conflict, str(data.get("decided_by")))
        except RuleViolation as refusal:
            return self._rejected(entry, refusal.key.removeprefix("sync."))
        current = self._entities.get(conflict.kind, conflict.key)
        if choice == Choice.LOCAL:
            refused = self._keep_local(entry, conflict, current)
            if refused is not None:
                return refused
        elif current is not None:
            self._entities.rebroadcast(current)
        self._open.pop((conflict.kind.value, conflict.key), None)
        self._db.execute(
            "UPDATE conflicts SET status = 'decided', decided_by = ?, decided_at = ?, choice = ?,"
            " reason = ? WHERE id = ?",
            (data.get("decided_by"), self._at, choice.value, data.get("reason"), conflict.id),
        )
        audit.append(
            self._db,
            self._at,
            str(data.get("decided_by")),
            CentralAction.CONFLICT_DECIDED,
            str(conflict.id),
            {"choice": choice.value, "terminal": self._terminal},
        )
        return self._applied(entry)

    def _keep_local(
        self, entry: Entry, conflict: Conflict, current: Entity | None
    ) -> Applied | None:
        chosen = entry.data.get("data")
        kept = dict(chosen) if chosen is not None else dict(conflict.client_data)
        if check_data(conflict.kind.value, kept, 0):
            return self._rejected(entry, "bad_decision_data")
        if conflict.kind == EntryKind.RESIDENT:
            if current is None:
                return self._rejected(entry, "unknown_entity")
            kept = merge_resident(current.data, kept)
        version = (current.version if current else 0) + 1
        text = data_text(conflict.kind.value, kept)
        self._entities.put(Entity(conflict.kind.value, conflict.key, version, text))
        return None

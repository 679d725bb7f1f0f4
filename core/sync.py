"""Sync with the central system (中央システムとの同期): the domain's words and rules.

A terminal keeps a transactional outbox: every verified vaccination record, confirmed
correction or void, confirmed resident correction, provision record (番号法第23条) and signed
audit checkpoint is written to it in the same transaction as the change itself. The outbox is
pushed in order; each entry carries a client UUID, so a replay never duplicates. Pull brings
changes since the terminal's cursor: the resident registry, master data, and records from the
other terminals of the city.

Versions: every synced entity (a record, a resident) has an integer version. A change names
the version it was made on (``base_version``); the central system applies it only if its own
version is the same, else the change is a conflict for a supervisor (所属長) to decide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.errors import RuleViolation

PROTOCOL = "sesshu-sync/1"
PUSH_BATCH_LIMIT = 5000
PULL_PAGE_LIMIT = 10000
DEFAULT_INTERVAL_SECONDS = 300
STALE_AFTER = timedelta(hours=24)
# The central address of a terminal enrolled for media bundles only (never connected).
OFFLINE_CENTRAL = "offline"


class EntryKind(StrEnum):
    """What an outbox entry carries."""

    RECORD = "record"  # 接種記録
    RESIDENT = "resident"  # 宛名 (a confirmed correction)
    PROVISION = "provision"  # 提供記録
    CHECKPOINT = "checkpoint"  # 監査ログのチェックポイント
    DECISION = "decision"  # a supervisor's decision on a conflict


class ChangeKind(StrEnum):
    """What a pulled change carries."""

    RESIDENT = "resident"
    VACCINE = "vaccine"
    INSTITUTION = "institution"
    PHYSICIAN = "physician"
    RECORD = "record"


ENTRY_OPS: dict[EntryKind, frozenset[str]] = {
    EntryKind.RECORD: frozenset({"upsert", "correct", "void"}),
    EntryKind.RESIDENT: frozenset({"correct"}),
    EntryKind.PROVISION: frozenset({"append"}),
    EntryKind.CHECKPOINT: frozenset({"append"}),
    EntryKind.DECISION: frozenset({"decide"}),
}

# The fields of each synced entity, in wire order. ``None`` is allowed for every field but the
# keys marked required below.
RECORD_FIELDS = (
    "uid",
    "atena",
    "vaccine",
    "dose",
    "date",
    "date_unknown",
    "amount",
    "maker",
    "lot",
    "institution",
    "physician",
    "venue",
    "copay",
    "note",
    "status",
    "source",
    "keyed_by",
    "verified_by",
    "created_at",
    "void_reason",
)
RESIDENT_FIELDS = (
    "atena",
    "mynumber",
    "name",
    "kana",
    "alias_name",
    "alias_kana",
    "birth",
    "sex",
    "postal",
    "address",
    "household",
    "relation",
    "status",
    "status_date",
    "status_reason",
    "dv_flag",
    "no_auto_answer",
    "guardian",
    "former_code",
)
# What a terminal may send when it corrects a resident (never the 個人番号).
RESIDENT_CORRECTABLE = ("name", "kana", "postal", "address")
PROVISION_FIELDS = (
    "id",
    "provision_case",
    "outcome",
    "at",
    "requester",
    "approver",
    "executor",
    "recipient",
    "basis",
    "items",
    "persons",
    "content_hash",
    "reason",
    "keep_until",
)
CHECKPOINT_FIELDS = ("seq", "hash", "at", "terminal", "signature", "public_key")
DECISION_FIELDS = ("conflict", "choice", "decided_by", "reason", "data")
MASTER_FIELDS: dict[ChangeKind, tuple[str, ...]] = {
    ChangeKind.VACCINE: ("code", "name", "name_en", "category", "active"),
    ChangeKind.INSTITUTION: ("code", "name", "active"),
    ChangeKind.PHYSICIAN: ("code", "institution", "name", "active"),
}
REQUIRED: dict[str, frozenset[str]] = {
    "record": frozenset({"uid", "atena", "vaccine", "status", "source", "created_at"}),
    "resident": frozenset({"atena", "name", "kana", "birth", "sex", "status"}),
    "provision": frozenset({"id", "outcome", "at", "requester", "recipient", "basis"}),
    "checkpoint": frozenset(CHECKPOINT_FIELDS),
    "decision": frozenset({"conflict", "choice", "decided_by", "reason"}),
    "vaccine": frozenset({"code", "name"}),
    "institution": frozenset({"code", "name"}),
    "physician": frozenset({"code", "institution", "name"}),
}


def fields_of(kind: str) -> tuple[str, ...]:
    """The wire fields of an entry or change kind."""
    match kind:
        case "record":
            return RECORD_FIELDS
        case "resident":
            return RESIDENT_FIELDS
        case "provision":
            return PROVISION_FIELDS
        case "checkpoint":
            return CHECKPOINT_FIELDS
        case "decision":
            return DECISION_FIELDS
        case _:
            return MASTER_FIELDS[ChangeKind(kind)]


Data = Mapping[str, Any]


@dataclass(frozen=True)
class Entry:
    """One outbox entry as pushed: ``uuid`` is the idempotency key, ``seq`` the local order."""

    uuid: str
    seq: int
    kind: EntryKind
    key: str
    op: str
    base_version: int
    version: int
    data: Data
    at: str


@dataclass(frozen=True)
class Change:
    """One change as pulled, in the central system's order (``seq``)."""

    seq: int
    kind: ChangeKind
    key: str
    version: int
    data: Data
    origin: str


class AckStatus(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # already applied earlier (a replay): not applied again
    CONFLICT = "conflict"  # base version differs: a supervisor decides
    REJECTED = "rejected"  # well-formed but refused (e.g. a contradicting checkpoint)


@dataclass(frozen=True)
class Ack:
    uuid: str
    status: AckStatus
    conflict: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Conflict:
    """A change whose base version differs from the central one, waiting for a decision."""

    id: int
    kind: EntryKind
    key: str
    base_version: int
    server_version: int
    server_data: Data | None
    client_data: Data
    client_user: str
    terminal: str
    opened_at: str
    status: str = "open"
    decided_by: str | None = None
    choice: str | None = None


class Choice(StrEnum):
    """What the supervisor keeps: this terminal's version or the central one."""

    LOCAL = "local"
    CENTRAL = "central"


@dataclass(frozen=True)
class PushResult:
    acks: tuple[Ack, ...]
    conflicts: tuple[Conflict, ...] = ()


@dataclass(frozen=True)
class PullPage:
    changes: tuple[Change, ...]
    next_cursor: int
    more: bool


@dataclass(frozen=True)
class TableTotal:
    """Row count and an order-independent hash total of one table (副本と原本の照合)."""

    count: int = 0
    total: int = 0

    def add(self, kind: str, data: Data) -> TableTotal:
        return TableTotal(self.count + 1, (self.total + entity_digest(kind, data)) % 2**256)

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"


@dataclass
class TotalsBuilder:
    totals: dict[str, TableTotal] = field(default_factory=dict)

    def add(self, table: str, kind: str, data: Data) -> None:
        self.totals[table] = self.totals.get(table, TableTotal()).add(kind, data)

    def extend(self, table: str, kind: str, rows: Iterable[Data]) -> None:
        current = self.totals.get(table, TableTotal())
        count, total = current.count, current.total
        for data in rows:
            count += 1
            total += entity_digest(kind, data)
        self.totals[table] = TableTotal(count, total % 2**256)


def canonical(kind: str, data: Data) -> str:
    """The one text of an entity: its wire fields in order, as compact JSON.

    Flags are compared as numbers (SQLite keeps ``true`` as 1), so both sides agree.
    """
    values = [_plain(data.get(name)) for name in fields_of(kind)]
    return json.dumps([kind, values], ensure_ascii=False, separators=(",", ":"))


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def entity_digest(kind: str, data: Data) -> int:
    return int.from_bytes(hashlib.sha256(canonical(kind, data).encode("utf-8")).digest(), "big")


# The tables compared by ``sesshu sync compare``, and the kind each holds.
COMPARED_TABLES = {
    "residents": "resident",
    "records": "record",
    "vaccines": "vaccine",
    "institutions": "institution",
    "physicians": "physician",
    "provisions": "provision",
    "checkpoints": "checkpoint",
}


@dataclass(frozen=True)
class Comparison:
    table: str
    local: TableTotal
    central: TableTotal

    @property
    def equal(self) -> bool:
        return self.local == self.central


def compare_totals(
    local: Mapping[str, TableTotal], central: Mapping[str, TableTotal]
) -> list[Comparison]:
    return [
        Comparison(table, local.get(table, TableTotal()), central.get(table, TableTotal()))
        for table in COMPARED_TABLES
    ]


@dataclass(frozen=True)
class SyncStatus:
    """What the status bar shows."""

    enrolled: bool
    central: str
    last_sync: datetime | None
    pending: int
    conflicts: int
    errors: int
    last_error: str
    cursor: int

    @property
    def offline(self) -> bool:
        """Enrolled for media bundles only: there is no central system to connect to."""
        return self.central == OFFLINE_CENTRAL

    def stale(self, now: datetime) -> bool:
        return self.last_sync is None or now - self.last_sync > STALE_AFTER


def check_decider(conflict: Conflict, user: str) -> None:
    """A supervisor never decides a conflict over a change they made themselves (four eyes)."""
    if conflict.status != "open":
        raise RuleViolation("sync.conflict_decided", conflict=conflict.id)
    if user == conflict.client_user:
        raise RuleViolation("sync.conflict_own_change", conflict=conflict.id)


def conflict_fields(conflict: Conflict) -> list[tuple[str, Any, Any]]:
    """The fields that differ: (field, this terminal's value, the central value)."""
    server = conflict.server_data or {}
    return [
        (name, conflict.client_data.get(name), server.get(name))
        for name in fields_of(conflict.kind)
        if conflict.client_data.get(name) != server.get(name)
    ]

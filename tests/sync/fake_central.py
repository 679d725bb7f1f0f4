"""An in-memory central system with the protocol's rules, for fast rule tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import SyncFailed
from core.sync import (
    Ack,
    AckStatus,
    Change,
    ChangeKind,
    Conflict,
    Entry,
    EntryKind,
    PullPage,
    PushResult,
    TableTotal,
    TotalsBuilder,
)
from sync.wire import WireError, entry_json, parse_push, push_json


@dataclass
class FakeCentral:
    """Applies entries by base version, logs every change for pulls, counts calls."""

    entities: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    log: list[Change] = field(default_factory=list)
    opened: list[Conflict] = field(default_factory=list)
    appended: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pushes: int = 0
    fail_pull_after: int | None = None  # pages served before the next pull fails
    fail_push: bool = False
    origin: str = "CENTRAL"

    def publish(self, kind: ChangeKind, key: str, data: dict[str, Any]) -> int:
        """A change made centrally (or by another terminal): a new version, logged for pulls."""
        version = self.entities.get((kind.value, key), (0, {}))[0] + 1
        self.entities[(kind.value, key)] = (version, dict(data))
        self.log.append(Change(len(self.log) + 1, kind, key, version, dict(data), self.origin))
        return version

    def push(self, terminal: str, entries: Sequence[Entry]) -> PushResult:
        if self.fail_push:
            raise SyncFailed("sync.unreachable")
        self.pushes += 1
        try:  # the real format check, so a malformed trigger output fails the test
            parse_push(push_json(terminal, entries))
        except WireError as error:
            raise AssertionError(error.problems) from error
        acks: list[Ack] = []
        conflicts: list[Conflict] = []
        for entry in entries:
            if entry.uuid in self.seen:
                acks.append(Ack(entry.uuid, AckStatus.DUPLICATE))
                continue
            self.seen.add(entry.uuid)
            if entry.kind in (EntryKind.RECORD, EntryKind.RESIDENT):
                current = self.entities.get((entry.kind.value, entry.key))
                expected = 0 if entry.op == "upsert" else entry.base_version
                if current is not None and current[0] != expected and entry.op != "upsert":
                    conflict = Conflict(
                        id=len(self.opened) + 1,
                        kind=entry.kind,
                        key=entry.key,
                        base_version=entry.base_version,
                        server_version=current[0],
                        server_data=current[1],
                        client_data=dict(entry.data),
                        client_user="",
                        terminal=terminal,
                        opened_at=entry.at,
                    )
                    self.opened.append(conflict)
                    conflicts.append(conflict)
                    acks.append(Ack(entry.uuid, AckStatus.CONFLICT, conflict.id))
                    continue
                self.entities[(entry.kind.value, entry.key)] = (entry.version, dict(entry.data))
            else:
                self.appended.setdefault(entry.kind.value, []).append(entry_json(entry))
            acks.append(Ack(entry.uuid, AckStatus.APPLIED))
        return PushResult(tuple(acks), tuple(conflicts))

    def pull(self, cursor: int, limit: int) -> PullPage:
        if self.fail_pull_after is not None:
            if self.fail_pull_after == 0:
                raise SyncFailed("sync.unreachable")
            self.fail_pull_after -= 1
        changes = [c for c in self.log if c.seq > cursor][:limit]
        last = changes[-1].seq if changes else cursor
        return PullPage(tuple(changes), last, any(c.seq > last for c in self.log))

    def conflicts(self) -> list[Conflict]:
        return list(self.opened)

    def totals(self) -> dict[str, TableTotal]:
        builder = TotalsBuilder()
        tables = {"record": "records", "resident": "residents"}
        for (kind, _), (_, data) in self.entities.items():
            builder.add(tables.get(kind, kind + "s"), kind, data)
        for kind, entries in self.appended.items():
            for entry in entries:
                builder.add(kind + "s", kind, entry["data"])
        return builder.totals

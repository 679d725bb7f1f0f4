"""The wire format of protocol ``sesshu-sync/1``, shared by terminals and the central system.

JSON over HTTPS with mutual TLS 1.3. Every path is under ``/v1``; every request except
``POST /v1/enroll`` needs the client certificate of an enrolled, unrevoked terminal.

- ``POST /v1/enroll``  ``{"protocol", "terminal", "token", "csr_pem", "signing_public_key"}``
  → ``{"certificate_pem", "ca_pem", "terminal"}``. The token is used once.
- ``POST /v1/push``    ``{"protocol", "terminal", "entries": [Entry…]}`` → ``{"acks": [Ack…],
  "conflicts": [Conflict…]}``. The whole batch is format-checked first; if anything is wrong
  nothing is applied and the answer is 422 ``{"error": "malformed", "problems": [Problem…]}``.
- ``GET  /v1/pull?cursor=N&limit=M`` → ``{"changes": [Change…], "next_cursor", "more"}``.
- ``GET  /v1/conflicts`` → ``{"conflicts": [Conflict…]}`` (this terminal's, open and decided).
- ``GET  /v1/compare`` → ``{"tables": {name: {"count", "hash"}}}`` (records, residents, masters,
  and this terminal's provision records and checkpoints).
- ``GET  /v1/status``  → ``{"terminal", "server_seq", "open_conflicts", "last_push"}``.
- ``GET  /v1/openapi.json``.

Entry: ``{"uuid", "seq", "kind", "key", "op", "base_version", "version", "data", "at"}``.
Change: ``{"seq", "kind", "key", "version", "data", "origin"}``.
Ack: ``{"uuid", "status", "conflict", "reason"}``. Problem: ``{"index", "field", "reason"}``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.clock import parse_timestamp
from core.sync import (
    ENTRY_OPS,
    PROTOCOL,
    PUSH_BATCH_LIMIT,
    REQUIRED,
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
    fields_of,
)

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TERMINAL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
MAX_TEXT = 4000


@dataclass(frozen=True)
class Problem:
    """One reason a document was refused: which entry (or -1 for the envelope) and field."""

    index: int
    field: str
    reason: str


class WireError(Exception):
    """A document did not have the expected form; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("malformed")
        self.problems = tuple(problems)


def _value_problem(value: Any) -> str | None:
    if value is None or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str):
        return "too_long" if len(value) > MAX_TEXT else None
    return "not_scalar"


@functools.cache
def _allowed(kind: str) -> frozenset[str]:
    return frozenset(fields_of(kind))


def _well_formed(kind: str, data: Mapping[str, Any]) -> bool:
    """The common case, checked quickly (a million residents come through here)."""
    if kind == "decision" or not _allowed(kind).issuperset(data):
        return False
    for name in REQUIRED.get(kind, ()):
        value = data.get(name)
        if value is None or value == "":
            return False
    for value in data.values():
        if type(value) is str:
            if len(value) > MAX_TEXT:
                return False
        elif value is not None and type(value) not in (int, float, bool):
            return False
    return True


def check_data(kind: str, data: Any, index: int) -> list[Problem]:
    """Problems with an entity's fields: unknown or missing fields, non-scalar values."""
    if not isinstance(data, Mapping):
        return [Problem(index, "data", "not_object")]
    if _well_formed(kind, data):
        return []
    allowed = _allowed(kind)
    problems = [
        Problem(index, f"data.{name}", "unknown_field") for name in data if name not in allowed
    ]
    for name in sorted(REQUIRED.get(kind, frozenset())):
        value = data.get(name)
        if value is None or value == "":
            problems.append(Problem(index, f"data.{name}", "required"))
    for name, value in data.items():
        if kind == "decision" and name == "data":
            if value is not None and not isinstance(value, Mapping):
                problems.append(Problem(index, "data.data", "not_object"))
            continue
        if (reason := _value_problem(value)) is not None:
            problems.append(Problem(index, f"data.{name}", reason))
    return problems


def _int(doc: Mapping[str, Any], name: str, index: int, problems: list[Problem]) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        problems.append(Problem(index, name, "not_a_count"))
        return 0
    return value


def _text(doc: Mapping[str, Any], name: str, index: int, problems: list[Problem]) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        problems.append(Problem(index, name, "required_text"))
        return ""
    return value


def parse_entry(doc: Any, index: int) -> tuple[Entry | None, list[Problem]]:
    if not isinstance(doc, Mapping):
        return None, [Problem(index, "", "not_object")]
    problems: list[Problem] = []
    uuid = doc.get("uuid")
    if not isinstance(uuid, str) or not UUID_PATTERN.match(uuid):
        problems.append(Problem(index, "uuid", "not_uuid"))
    seq = _int(doc, "seq", index, problems)
    key = _text(doc, "key", index, problems)
    op = _text(doc, "op", index, problems)
    base = _int(doc, "base_version", index, problems)
    version = _int(doc, "version", index, problems)
    at = _text(doc, "at", index, problems)
    if at:
        try:
            parse_timestamp(at)
        except ValueError:
            problems.append(Problem(index, "at", "not_timestamp"))
    try:
        kind = EntryKind(str(doc.get("kind")))
    except ValueError:
        problems.append(Problem(index, "kind", "unknown_kind"))
        return None, problems
    if op and op not in ENTRY_OPS[kind]:
        problems.append(Problem(index, "op", "unknown_op"))
    if kind in (EntryKind.RECORD, EntryKind.RESIDENT) and op != "upsert" and version != base + 1:
        problems.append(Problem(index, "version", "not_base_plus_one"))
    data = doc.get("data")
    problems += check_data(kind.value, data, index)
    if problems or not isinstance(data, Mapping):
        return None, problems
    entry = Entry(str(uuid), seq, kind, key, op, base, version, dict(data), at)
    return entry, []


def parse_push(doc: Any) -> tuple[str, list[Entry]]:
    """The terminal name and entries of a push; ``WireError`` lists every problem found."""
    if not isinstance(doc, Mapping):
        raise WireError([Problem(-1, "", "not_object")])
    problems: list[Problem] = []
    if doc.get("protocol") != PROTOCOL:
        problems.append(Problem(-1, "protocol", "unsupported_protocol"))
    terminal = doc.get("terminal")
    if not isinstance(terminal, str) or not TERMINAL_PATTERN.match(terminal):
        problems.append(Problem(-1, "terminal", "not_terminal_name"))
    raw = doc.get("entries")
    if not isinstance(raw, list):
        raise WireError([*problems, Problem(-1, "entries", "not_list")])
    if len(raw) > PUSH_BATCH_LIMIT:
        problems.append(Problem(-1, "entries", "too_many"))
    entries: list[Entry] = []
    seen: set[str] = set()
    last_seq = -1
    for index, item in enumerate(raw):
        entry, found = parse_entry(item, index)
        problems += found
        if entry is None:
            continue
        if entry.uuid in seen:
            problems.append(Problem(index, "uuid", "repeated_in_batch"))
        if entry.seq <= last_seq:
            problems.append(Problem(index, "seq", "out_of_order"))
        seen.add(entry.uuid)
        last_seq = entry.seq
        entries.append(entry)
    if problems:
        raise WireError(problems)
    return str(terminal), entries


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "uuid": entry.uuid,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "key": entry.key,
        "op": entry.op,
        "base_version": entry.base_version,
        "version": entry.version,
        "data": dict(entry.data),
        "at": entry.at,
    }


def push_json(terminal: str, entries: Sequence[Entry]) -> dict[str, Any]:
    return {"protocol": PROTOCOL, "terminal": terminal, "entries": [entry_json(e) for e in entries]}


def ack_json(ack: Ack) -> dict[str, Any]:
    return {
        "uuid": ack.uuid,
        "status": ack.status.value,
        "conflict": ack.conflict,
        "reason": ack.reason,
    }


def conflict_json(conflict: Conflict) -> dict[str, Any]:
    return {
        "id": conflict.id,
        "kind": conflict.kind.value,
        "key": conflict.key,
        "base_version": conflict.base_version,
        "server_version": conflict.server_version,
        "server_data": dict(conflict.server_data) if conflict.server_data is not None else None,
        "client_data": dict(conflict.client_data),
        "client_user": conflict.client_user,
        "terminal": conflict.terminal,
        "opened_at": conflict.opened_at,
        "status": conflict.status,
        "decided_by": conflict.decided_by,
        "choice": conflict.choice,
    }


def parse_conflict(doc: Mapping[str, Any]) -> Conflict:
    return Conflict(
        id=int(doc["id"]),
        kind=EntryKind(doc["kind"]),
        key=str(doc["key"]),
        base_version=int(doc["base_version"]),
        server_version=int(doc["server_version"]),
        server_data=dict(doc["server_data"]) if doc.get("server_data") is not None else None,
        client_data=dict(doc["client_data"]),
        client_user=str(doc.get("client_user") or ""),
        terminal=str(doc["terminal"]),
        opened_at=str(doc["opened_at"]),
        status=str(doc.get("status") or "open"),
        decided_by=doc.get("decided_by"),
        choice=doc.get("choice"),
    )


def push_result_json(result: PushResult) -> dict[str, Any]:
    return {
        "acks": [ack_json(a) for a in result.acks],
        "conflicts": [conflict_json(c) for c in result.conflicts],
    }


def parse_push_result(doc: Mapping[str, Any]) -> PushResult:
    acks = tuple(
        Ack(
            uuid=str(a["uuid"]),
            status=AckStatus(a["status"]),
            conflict=a.get("conflict"),
            reason=str(a.get("reason") or ""),
        )
        for a in doc["acks"]
    )
    return PushResult(acks, tuple(parse_conflict(c) for c in doc.get("conflicts", [])))


def change_json(change: Change) -> dict[str, Any]:
    return {
        "seq": change.seq,
        "kind": change.kind.value,
        "key": change.key,
        "version": change.version,
        "data": dict(change.data),
        "origin": change.origin,
    }


def parse_pull(doc: Mapping[str, Any]) -> PullPage:
    """A page of pulled changes; each change's data is format-checked like a pushed entry."""
    problems: list[Problem] = []
    changes: list[Change] = []
    for index, item in enumerate(doc.get("changes", [])):
        try:
            kind = ChangeKind(str(item.get("kind")))
        except ValueError:
            problems.append(Problem(index, "kind", "unknown_kind"))
            continue
        found = check_data(kind.value, item.get("data"), index)
        if found:
            problems += found
            continue
        changes.append(
            Change(
                seq=int(item["seq"]),
                kind=kind,
                key=str(item["key"]),
                version=int(item["version"]),
                data=dict(item["data"]),
                origin=str(item.get("origin") or ""),
            )
        )
    if problems:
        raise WireError(problems)
    return PullPage(tuple(changes), int(doc["next_cursor"]), bool(doc["more"]))


def totals_json(totals: Mapping[str, TableTotal]) -> dict[str, Any]:
    return {name: {"count": t.count, "hash": t.hex} for name, t in totals.items()}


def parse_totals(doc: Mapping[str, Any]) -> dict[str, TableTotal]:
    return {
        name: TableTotal(int(value["count"]), int(str(value["hash"]), 16))
        for name, value in doc.items()
    }


def problem_json(problem: Problem) -> dict[str, Any]:
    return {"index": problem.index, "field": problem.field, "reason": problem.reason}

"""Registry import, pull order, comparison totals and the central audit chain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from central.entities import get_entity
from central.service import CentralService
from core.errors import ValidationFailed
from core.sync import EntryKind, TotalsBuilder
from tests.central.conftest import Terminal, enroll, record, resident


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    return path


def test_registry_import_versions_only_what_changed(
    service: CentralService, tmp_path: Path
) -> None:
    lines = [
        {"kind": "resident", "key": "A1", "data": resident("A1")},
        {"kind": "resident", "key": "A2", "data": resident("A2")},
        {"kind": "vaccine", "key": "MR", "data": {"code": "MR", "name": "麻しん風しん"}},
    ]
    done = service.registry_import(write_lines(tmp_path / "r1.jsonl", lines))
    assert (done.added, done.changed, done.unchanged) == (3, 0, 0)
    lines[1]["data"] = resident("A2", address="岡崎市羽根町3")
    again = service.registry_import(write_lines(tmp_path / "r2.jsonl", lines))
    assert (again.added, again.changed, again.unchanged) == (0, 1, 2)
    changed = get_entity(service.db, "resident", "A2")
    assert changed is not None
    assert (changed.version, changed.data["address"]) == (2, "岡崎市羽根町3")
    page = service.pull(0)
    assert [(c.kind.value, c.key, c.version) for c in page.changes] == [
        ("resident", "A1", 1),
        ("resident", "A2", 1),
        ("vaccine", "MR", 1),
        ("resident", "A2", 2),
    ]
    assert {c.origin for c in page.changes} == {"registry"}


def test_a_bad_registry_file_changes_nothing(service: CentralService, tmp_path: Path) -> None:
    lines: list[Any] = [
        {"kind": "resident", "key": "A1", "data": resident("A1")},
        {"kind": "record", "key": "R1", "data": record("R1")},
        {"kind": "resident", "key": "A3", "data": resident("A3", name=None, shoe=1)},
    ]
    path = write_lines(tmp_path / "bad.jsonl", lines)
    with path.open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(ValidationFailed) as refused:
        service.registry_import(path)
    found = {(i.params["line"], i.params["name"], i.params["reason"]) for i in refused.value.issues}
    assert found == {
        (2, "kind", "unknown_kind"),
        (3, "data.shoe", "unknown_field"),
        (3, "data.name", "required"),
        (4, "", "not_json"),
    }
    assert service.db.scalar("SELECT count(*) FROM entities") == 0


def test_registry_import_in_many_chunks(service: CentralService, tmp_path: Path) -> None:
    lines = [
        {"kind": "resident", "key": f"{i:06d}", "data": resident(f"{i:06d}")} for i in range(2500)
    ]
    done = service.registry_import(write_lines(tmp_path / "big.jsonl", lines))
    assert done.added == 2500
    again = service.registry_import(tmp_path / "big.jsonl")
    assert again.unchanged == 2500
    assert service.db.scalar("SELECT count(*) FROM changes") == 2500


def test_compare_matches_the_totals_of_the_same_data(
    service: CentralService, tmp_path: Path
) -> None:
    t1: Terminal = enroll(service, "T-1")
    service.registry_import(
        write_lines(
            tmp_path / "r.jsonl", [{"kind": "resident", "key": "A1", "data": resident("A1")}]
        )
    )
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    checkpoint = t1.checkpoint(256, "c" * 64)
    service.push("T-1", [checkpoint])
    expected = TotalsBuilder()
    expected.add("residents", "resident", resident("A1"))
    expected.add("records", "record", record("R1"))
    expected.add("checkpoints", "checkpoint", checkpoint.data)
    totals = service.compare("T-1")
    for table in ("residents", "records", "checkpoints"):
        assert totals[table] == expected.totals[table], table
    assert totals["provisions"].count == 0
    assert service.compare("T-2")["checkpoints"].count == 0


def test_the_central_audit_chain_detects_tampering(service: CentralService) -> None:
    enroll(service, "T-1")
    verdict = service.verify_audit()
    assert verdict.ok
    assert verdict.count >= 3
    service.db.execute("UPDATE audit SET target = 'T-X' WHERE seq = 2")
    broken = service.verify_audit()
    assert (broken.ok, broken.first_bad_seq, broken.reason) == (False, 2, "audit.bad_hash")

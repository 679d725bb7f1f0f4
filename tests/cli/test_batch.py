"""``sesshu batch`` and ``sesshu catalog``: the CLI contract of the dual-entry issue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, Outcome
from tests.conftest import PASSWORD
from tests.services.batching import slip

PW = PASSWORD + "\n"


@pytest.fixture
def run(cli: Cli, people_path: Path) -> Cli:
    def invoke(*args: str, user: str = "op1") -> Outcome:
        return cli(*args, "--as", user, "--password-stdin", stdin=PW, store=people_path)

    return invoke


def jsonl(tmp_path: Path, name: str, lines: list[Any]) -> str:
    path = tmp_path / name
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return str(path)


def create(run: Cli, count: int = 2) -> int:
    out = run(
        "batch", "create", "--source", "医師会 11月分", "--received", "R8.11.20",
        "--count", str(count), "--json",
    )  # fmt: skip
    assert out.code == 0, out.stderr
    batch: int = out.json()["batch"]
    return batch


def test_catalog_lists_codes_and_names(cli: Cli, run: Cli, people_path: Path) -> None:
    out = run("catalog", "institutions", "--json")
    assert out.code == 0, out.stderr
    assert out.json() == [{"code": "1310000001", "name": "さくら小児科"}]
    vaccines = run("catalog", "vaccines", "--json").json()
    assert {"code": "PCV", "name": "小児の肺炎球菌"}.items() <= vaccines[1].items()
    public = cli("catalog", "institutions", "--json", store=people_path)  # no login needed
    assert public.json() == [{"code": "1310000001", "name": "さくら小児科"}]


def test_full_dual_entry_flow(run: Cli, tmp_path: Path) -> None:
    batch = create(run)
    first = jsonl(tmp_path, "a.jsonl", [slip(1), slip(2, dose=2, date="R1.8.20", lot="AB1111")])
    second = jsonl(
        tmp_path, "b.jsonl", [slip(2, dose=2, date="2019-08-20", lot="AB2222"), slip("01")]
    )
    out = run("batch", "key", str(batch), "--pass", "1", "--input", first, "--json")
    assert out.code == 0, out.stderr
    assert out.json()["kept"] == 2
    refused = run("batch", "key", str(batch), "--pass", "2", "--input", second)
    assert refused.code == 1
    assert "両方" in refused.stderr
    out = run("batch", "key", str(batch), "--pass", "2", "--input", second, "--json", user="op2")
    assert out.code == 0, out.stderr
    status = run("batch", "status", str(batch), "--json", user="op2").json()
    assert (status["pass1"], status["pass2"], status["mismatches"]) == (2, 2, None)
    diff = run("batch", "diff", str(batch), "--json", user="ver1")
    assert diff.code == 0, diff.stderr
    assert diff.json()["matched"] == 1
    assert [
        {k: m[k] for k in ("slip", "field", "pass1", "pass2")} for m in diff.json()["mismatches"]
    ] == [{"slip": "2", "field": "lot", "pass1": "AB1111", "pass2": "AB2222"}]
    early = run("batch", "commit", str(batch), "--json", user="ver1")
    assert early.code == 1
    out = run(
        "batch", "resolve", str(batch), "--slip", "2", "--field", "lot", "--value", "ab1111",
        "--reason", "原本で確認", "--json", user="ver1",
    )  # fmt: skip
    assert out.code == 0, out.stderr
    assert out.json()["attribution"] == "pass2"
    out = run("batch", "commit", str(batch), "--json", user="ver1")
    assert out.code == 0, out.stderr
    assert out.json() == {"committed": 2, "duplicates": [], "flagged": {}}
    final = run("batch", "status", str(batch), "--json", user="op1").json()
    assert (final["status"], final["committed"]) == ("committed", 2)
    report = run("batch", "report", str(batch), user="sup1")
    assert report.code == 0, report.stderr
    assert "op2 / 2 / 16 / 1 / 62.5" in report.stdout
    assert "1000000010" not in report.stdout


def test_key_reports_bad_lines_by_number_and_keeps_the_rest(run: Cli, tmp_path: Path) -> None:
    batch = create(run, 3)
    lines = [slip(1), "not json", slip(2, date="平成31年5月1日"), "", slip(3, atena="1999999999")]
    out = run("batch", "key", str(batch), "--pass", "1", "--input", jsonl(tmp_path, "x", lines),
              "--json")  # fmt: skip
    assert out.code == 1
    reply = out.json()
    assert reply["kept"] == 1
    assert [(e["line"], e["field"]) for e in reply["errors"]] == [
        (2, ""),
        (3, "date"),
        (5, "atena"),
    ]
    assert "平成" in reply["errors"][1]["message"]


def test_count_mismatch_and_supervisor_override(run: Cli, tmp_path: Path) -> None:
    batch = create(run, 3)
    both = jsonl(tmp_path, "a.jsonl", [slip(1), slip(2, dose=2, date="2019-08-20")])
    run("batch", "key", str(batch), "--pass", "1", "--input", both)
    run("batch", "key", str(batch), "--pass", "2", "--input", both, user="op2")
    refused = run("batch", "commit", str(batch), "--json", user="ver1")
    assert refused.code == 1
    assert "3" in refused.stderr
    out = run("batch", "commit", str(batch), "--override-reason", "1枚書き損じ", "--json",
              user="sup1")  # fmt: skip
    assert out.code == 0, out.stderr
    assert out.json()["committed"] == 2


def test_duplicates_need_a_supervisor_decision(run: Cli, tmp_path: Path) -> None:
    first = create(run, 1)
    one = jsonl(tmp_path, "a.jsonl", [slip(1)])
    run("batch", "key", str(first), "--pass", "1", "--input", one)
    run("batch", "key", str(first), "--pass", "2", "--input", one, user="op2")
    assert run("batch", "commit", str(first), user="ver1").code == 0
    again = create(run, 1)
    run("batch", "key", str(again), "--pass", "1", "--input", one)
    run("batch", "key", str(again), "--pass", "2", "--input", one, user="op2")
    out = run("batch", "commit", str(again), "--json", user="ver1")
    assert out.json()["duplicates"] == [{"slip": "1", "atena": "1000000010", "reason": "same_dose"}]
    assert run("batch", "decide", str(again), "--slip", "1", "--reject", "--reason", "再提出",
               user="ver1").code == 1  # fmt: skip
    out = run("batch", "decide", str(again), "--slip", "1", "--reject", "--reason", "再提出",
              "--json", user="sup1")  # fmt: skip
    assert out.json()["outcome"] == "rejected"

"""``sesshu change``: the four-eyes contract on the command line (same rules as the TUI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, Outcome
from tests.conftest import PASSWORD, Sessions
from tests.people import CHILD, PEOPLE

PW = PASSWORD + "\n"
YAMADA = PEOPLE[0].atena


@pytest.fixture
def run(cli: Cli, people_path: Path) -> Cli:
    """``sesshu … --as USER --password-stdin`` on the people store, in English."""

    def invoke(*args: str, user: str = "op1") -> Outcome:
        return cli(
            "--lang", "en", *args, "--as", user, "--password-stdin", stdin=PW, store=people_path
        )

    return invoke


def first_record(run: Cli) -> dict[str, Any]:
    person = run("show", CHILD.atena, "--json").json()
    dated = [v for v in person["vaccinations"] if v["date"] > CHILD.birth.isoformat()]
    return dict(dated[0])


def propose(run: Cli, *args: str, user: str = "op1") -> Outcome:
    return run("change", "propose", *args, "--json", user=user)


def test_propose_show_and_confirm_a_correction(run: Cli) -> None:
    record = first_record(run)
    out = propose(
        run,
        "--kind",
        "record.correct",
        "--atena",
        CHILD.atena,
        "--record",
        str(record["id"]),
        "--set",
        "lot=LOT-NEW",
        "--set",
        "date=R2.3.4",
        "--evidence",
        "counter",
        "--id-document",
        "passport",
        "--reason",
        "slip misread",
    )
    assert out.code == 0, out.stderr
    proposed = out.json()
    assert proposed == {"change": proposed["change"], "status": "pending", "record": record["id"]}
    shown = run("change", "show", str(proposed["change"]), "--json", user="ver1").json()
    assert shown["before"] == {"lot": record["lot"], "date": record["date"]}
    assert shown["after"] == {"lot": "LOT-NEW", "date": "2020-03-04"}
    assert (shown["evidence"], shown["id_document"], shown["proposed_by"]) == (
        "counter",
        "passport",
        "op1",
    )
    confirmed = run("change", "confirm", str(proposed["change"]), "--json", user="ver1")
    assert confirmed.json() == {"change": proposed["change"], "status": "confirmed"}
    after = {v["id"]: v for v in run("show", CHILD.atena, "--json").json()["vaccinations"]}
    assert (after[record["id"]]["lot"], after[record["id"]]["date"]) == ("LOT-NEW", "2020-03-04")


def test_the_proposer_cannot_confirm_or_reject(run: Cli) -> None:
    change = propose(
        run,
        "--kind",
        "resident.correct",
        "--atena",
        YAMADA,
        "--set",
        "address=緑町1番",
        "--evidence",
        "phone",
        "--reason",
        "moved within the city",
        user="ver1",
    ).json()["change"]
    own = run("change", "confirm", str(change), user="ver1")
    assert own.code == 1
    assert own.stderr == (
        "You cannot confirm or reject a change you proposed; another member of staff must.\n"
    )
    assert run("change", "reject", str(change), "--reason", "x", user="ver1").code == 1
    assert run("change", "show", str(change), "--json").json()["status"] == "pending"


def test_a_role_without_confirm_is_refused(run: Cli) -> None:
    change = propose(
        run,
        *("--kind", "resident.correct", "--atena", YAMADA, "--set", "kana=ヤマダ　タロー"),
        *("--evidence", "counter", "--id-document", "運転免許証", "--reason", "typo"),
    ).json()["change"]
    for user in ("op2", "aud1"):
        refused = run("change", "confirm", str(change), user=user)
        assert refused.code == 1
        assert "permission" in refused.stderr.lower()
    assert run("change", "show", str(change), "--json").json()["status"] == "pending"


def test_reject_needs_a_reason_and_voids_a_proposed_record(run: Cli, people: Sessions) -> None:
    out = propose(
        run,
        *("--kind", "record.add", "--atena", YAMADA, "--set", "vaccine=FLU", "--set", "dose=2"),
        *("--set", "date=令和6年10月15日", "--set", "lot=Q1"),
        *("--evidence", "counter", "--id-document", "mynumber_card", "--reason", "brought slip"),
    ).json()
    person = run("show", YAMADA, "--json").json()
    added = [v for v in person["vaccinations"] if v["id"] == out["record"]]
    assert [v["status"] for v in added] == ["pending"]
    assert [c["id"] for c in person["pending_changes"]] == [out["change"]]
    listed = run("change", "list", "--json", user="sup1").json()["changes"]
    assert [c["id"] for c in listed] == [out["change"]]
    no_reason = run("change", "reject", str(out["change"]), user="sup1")
    assert (no_reason.code, no_reason.stderr) == (1, "Reason: Enter a reason.\n")
    rejected = run(
        "change", "reject", str(out["change"]), "--reason", "not ours", "--json", user="sup1"
    )
    assert rejected.json() == {"change": out["change"], "status": "rejected"}
    store = people.login("adm1").store
    status, reason = store.conn.execute(
        "SELECT status, void_reason FROM vaccinations WHERE id = ?", (out["record"],)
    ).fetchone()
    assert (status, reason) == ("voided", "not ours")
    assert run("change", "list", "--json", user="sup1").json() == {"changes": []}
    history = run("change", "list", "--status", "all", "--json", user="sup1").json()["changes"]
    assert history[0]["decision_note"] == "not ours"


def test_a_deletion_keeps_the_record(run: Cli, people: Sessions) -> None:
    record = first_record(run)
    change = propose(
        run,
        *("--kind", "record.void", "--atena", CHILD.atena, "--record", str(record["id"])),
        *("--evidence", "phone", "--reason", "entered twice"),
    ).json()["change"]
    assert run("change", "confirm", str(change), "--json", user="sup1").code == 0
    ids = {v["id"] for v in run("show", CHILD.atena, "--json").json()["vaccinations"]}
    assert record["id"] not in ids
    store = people.login("adm1").store
    kept = store.conn.execute(
        "SELECT status, void_reason, lot FROM vaccinations WHERE id = ?", (record["id"],)
    ).fetchone()
    assert tuple(kept) == ("voided", "entered twice", record["lot"])


def test_problems_are_reported_together(run: Cli) -> None:
    out = run(
        "change",
        "propose",
        *("--kind", "record.correct", "--atena", CHILD.atena, "--record", "1"),
        *("--set", "lot", "--evidence", "counter"),
    )
    assert out.code == 1
    assert out.stderr == 'Changes: Write "lot" as field=value.\n'
    out = run(
        "change",
        "propose",
        *("--kind", "record.add", "--atena", YAMADA, "--set", "dose=1", "--set", "date=H31.5.1"),
        *("--evidence", "counter"),
    )
    assert out.code == 1
    for text in ("identity document", "Enter a reason", "平成 runs from", "Vaccine: Required"):
        assert text in out.stderr
    unknown = run("change", "propose", "--kind", "record.move", "--atena", YAMADA)
    assert unknown.code == 1
    assert "record.add, record.correct, record.void, resident.correct" in unknown.stderr


def test_text_output_in_japanese(cli: Cli, people_path: Path) -> None:
    out = cli(
        *("change", "propose", "--kind", "resident.correct", "--atena", YAMADA),
        *("--set", "name=山﨑　太郎", "--evidence", "窓口申請", "--id-document", "パスポート"),
        *("--reason", "戸籍と相違", "--as", "op1", "--password-stdin"),
        stdin=PW,
        store=people_path,
    )
    assert out.code == 0, out.stderr
    assert out.stdout.startswith("変更 #1 を申請しました。")
    shown = cli(
        *("change", "show", "1", "--as", "ver1", "--password-stdin"), stdin=PW, store=people_path
    )
    assert "氏名: 山田　太郎 → 山﨑　太郎" in shown.stdout
    assert "根拠: 窓口申請（パスポートで本人確認）" in shown.stdout

"""``sesshu recipient|basis|provision|export|media``: the CLI contract of the provision and
export issues, end to end on the people store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli, Outcome
from tests.conftest import PASSWORD

PW = PASSWORD + "\n"


@pytest.fixture
def run(cli: Cli, people_path: Path) -> Cli:
    def invoke(*args: str, user: str = "op1", stdin: str = PW) -> Outcome:
        return cli(
            "--lang", "en", *args, "--as", user, "--password-stdin", stdin=stdin,
            store=people_path,
        )  # fmt: skip

    return invoke


def test_basis_list_needs_no_login(cli: Cli) -> None:
    bases = cli("basis", "list", "--json").json()
    keys = {b["key"]: b for b in bases}
    assert keys["survey-sample"]["items"] == ["name", "birth", "sex", "address"]
    assert keys["survey-sample"]["mynumber"] is False
    assert keys["municipal-history"]["mynumber"] is True
    assert set(bases[0]) == {"key", "title", "title_en", "items", "mynumber"}


def test_a_provision_case_from_request_to_closing(
    run: Cli, people_path: Path, tmp_path: Path
) -> None:
    added = run(
        "recipient", "add", "--name", "東京都", "--kind", "prefecture", "--code", "130001",
        "--json", user="sup1",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    recipient = added.json()["recipient"]
    assert [r["id"] for r in run("recipient", "list", "--json").json()] == [recipient]
    atena_file = tmp_path / "list.txt"
    atena_file.write_text("1000000001\n1000000002\n1000000015\n")
    created = run(
        "provision", "create", "--recipient", str(recipient), "--basis", "survey-sample",
        "--purpose", "抗体保有調査", "--items", "name,birth,sex,address",
        "--atena-file", str(atena_file), "--deadline", "2027-03-31", "--json",
    ).json()  # fmt: skip
    assert set(created) == {"case", "persons", "content_hash"}
    assert created["persons"] == 3
    case = str(created["case"])
    refused = run("provision", "approve", case, "--json", user="op1")
    assert refused.code != 0
    preview = run("provision", "preview", case, "--json").json()
    assert [p["atena"] for p in preview["open_flags"]] == ["1000000015"]
    assert run("provision", "approve", case, user="sup1").code != 0  # flag still open
    decided = run("provision", "person", case, "--atena", "1000000015", "--decision", "removed")
    assert decided.code == 0, decided.stderr
    assert run("provision", "approve", case, "--comment", "可", user="sup1").code == 0
    assert run("provision", "check", case, user="ver1").code == 0
    executed = run(
        "provision", "execute", case, "--witness", "立会　三郎", "--out", "case1.iso", "--json"
    )
    assert executed.code == 0, executed.stderr
    result = executed.json()
    assert result["verify"]["ok"] is True
    assert Path(result["path"]).name == "case1.iso"
    assert result["passphrase"]
    media = str(result["media"])
    shown = run("media", "show", media, "--json").json()
    assert shown["status"] == "good"
    assert shown["witness"] == "立会　三郎"
    assert shown["case"] == int(case)
    assert run("provision", "close", case).code != 0  # stages missing
    for args in (
        ("handover", case, "--internal", "--to", "運搬係"),
        ("handover", case, "--external", "--to", "都職員", "--signature", "受領-1"),
        ("erasure", case, "--reference", "消去-1", "--date", "2027-04-01"),
        ("close", case),
    ):
        step = run("provision", *args)
        assert step.code == 0, (args, step.stderr)
    records = run("provision", "records", "--json", user="aud1").json()
    assert [r["outcome"] for r in records] == ["provided"]
    assert records[0]["persons"] == 2
    assert run("media", "list", "--open", "--json").json() == []


def test_backup_export_approve_write_and_dispose(run: Cli) -> None:
    created = run("export", "create", "--kind", "backup", "--json").json()
    export = str(created["export"])
    assert created["status"] == "pending"
    assert run("export", "write", export, "--witness", "立会", "--out", "b.iso").code != 0
    assert run("export", "approve", export, user="op1").code != 0
    assert run("export", "approve", export, user="sup1").code == 0
    outside = run("export", "write", export, "--witness", "立会", "--out", "/etc/b.iso")
    assert outside.code != 0
    assert "spool" in outside.stderr
    written = run("export", "write", export, "--witness", "立会", "--out", "b.iso", "--json")
    assert written.code == 0, written.stderr
    medium = written.json()
    assert medium["verify"]["ok"] is True
    listed = run("media", "list", "--json").json()
    assert [m["media"] for m in listed] == [medium["media"]]
    disposed = run(
        "media", "dispose", str(medium["media"]), "--method", "物理破壊", "--witness", "立会",
        "--certificate", "C-1", "--json",
    )  # fmt: skip
    assert disposed.json()["status"] == "disposed"


def test_exports_can_be_switched_off_and_the_spool_moved(run: Cli, tmp_path: Path) -> None:
    assert run("terminal", "set", "export", "no", user="adm1").code == 0
    export = str(run("export", "create", "--kind", "backup", "--json").json()["export"])
    run("export", "approve", export, user="sup1")
    off = run("export", "write", export, "--witness", "立会", "--out", "b.iso")
    assert off.code != 0
    assert "switched off" in off.stderr
    assert run("terminal", "set", "export", "yes", user="adm1").code == 0
    spool = tmp_path / "spool2"
    assert run("terminal", "set", "export-spool", str(spool), user="adm1").code == 0
    assert run("terminal", "set", "export-spool", "relative/dir", user="adm1").code != 0
    written = run("export", "write", export, "--witness", "立会", "--out", "b.iso", "--json")
    assert written.code == 0, written.stderr
    assert Path(written.json()["path"]) == spool / "b.iso"


def _ready_case(run: Cli, tmp_path: Path) -> str:
    recipient = run(
        "recipient", "add", "--name", "某市", "--kind", "municipality", "--code", "131016",
        "--json", user="sup1",
    ).json()["recipient"]  # fmt: skip
    listed = tmp_path / "one.txt"
    listed.write_text("1000000001\n")
    case = str(
        run(
            "provision", "create", "--recipient", str(recipient), "--basis", "survey-sample",
            "--purpose", "照会回答", "--items", "name,birth", "--atena-file", str(listed),
            "--json",
        ).json()["case"]
    )  # fmt: skip
    assert run("provision", "approve", case, user="sup1").code == 0
    assert run("provision", "check", case, user="ver1").code == 0
    return case


def test_export_create_for_a_case_carries_its_approval(run: Cli, tmp_path: Path) -> None:
    case = _ready_case(run, tmp_path)
    created = run("export", "create", "--case", case, "--json")
    assert created.code == 0, created.stderr
    export = created.json()
    assert (export["kind"], export["status"], export["persons"]) == ("provision", "approved", 1)
    refused = run("export", "approve", str(export["export"]), user="sup1")
    assert refused.code == 1
    assert "approved through its case" in refused.stderr
    written = run(
        "export", "write", str(export["export"]), "--witness", "立会", "--out", "c.iso", "--json"
    )
    assert written.json()["verify"]["ok"] is True


def test_mover_in_inquiry_reads_the_number_after_the_password(run: Cli, people_path: Path) -> None:
    from tests.people import MYNUMBERS, open_store

    store = open_store(people_path)
    with store.transaction():
        store.conn.execute("UPDATE residents SET former_code = '131016' WHERE atena = '1000000009'")
    store.close()
    number = MYNUMBERS["1000000009"]
    found = run("provision", "inquiry", "--former-code", "131016", "--json",
                stdin=f"{PASSWORD}\n{number}\n")  # fmt: skip
    assert found.code == 0, found.stderr
    assert found.json() == {"matched": True, "atena": "1000000009"}
    wrong = run("provision", "inquiry", "--former-code", "132012", "--json",
                stdin=f"{PASSWORD}\n{number}\n")  # fmt: skip
    assert wrong.json() == {"matched": False, "atena": None}


def test_bad_input_names_the_field(run: Cli, tmp_path: Path) -> None:
    strata = tmp_path / "strata.csv"
    strata.write_text("sex,age_from,age_to,share\nM,0,19,0.5\nX,20,forty,0.5\n")
    bad_strata = run(
        "provision", "create", "--recipient", "1", "--basis", "survey-sample", "--purpose", "p",
        "--items", "name", "--sample", "10", "--strata", str(strata), "--seed", "s",
    )  # fmt: skip
    assert bad_strata.code == 1
    assert "line 3" in bad_strata.stderr
    listed = tmp_path / "one.txt"
    listed.write_text("1000000001\n")
    bad_date = run(
        "provision", "create", "--recipient", "1", "--basis", "survey-sample", "--purpose", "p",
        "--items", "name", "--atena-file", str(listed), "--deadline", "2027/13/01",
    )  # fmt: skip
    assert bad_date.code == 1
    assert "deadline" in bad_date.stderr
    assert "YYYY-MM-DD" in bad_date.stderr
    bad_device = run("terminal", "set", "export-device", "sr0", user="adm1")
    assert bad_device.code == 1
    assert "export-device" in bad_device.stderr

"""``sesshu migrate`` end to end: every dry-run error class, a killed load resumed, the CP932
round trip, characters CP932 cannot hold, reconciliation exit codes and the cut-over."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from core.catalog import load_default_catalog
from exports.migration import example_layout
from exports.migration.synthetic import PLANTED, write_legacy_dataset, write_open_dataset
from tests.cli.conftest import Cli, Outcome
from tests.conftest import PASSWORD, Sessions, copy_store
from tests.subprocess_env import SESSHU, sandbox_env

LEGACY = str(example_layout("legacy_a"))
OPEN_CP932 = str(example_layout("open_cp932"))
MIG = ("--as", "mig1", "--password-stdin")


def migrate(cli: Cli, *args: str, store: Path | None = None, passphrase: str = "") -> Outcome:
    stdin = PASSWORD + "\n" + (passphrase + "\n" if passphrase else "")
    extra = ("--passphrase-stdin",) if passphrase else ()
    return cli("migrate", *args, *MIG, *extra, "--json", stdin=stdin, store=store)


def rows(store: Path, sql: str) -> list[tuple[object, ...]]:
    sessions = Sessions(store)
    try:
        return list(sessions.login("adm1").store.conn.execute(sql).fetchall())
    finally:
        sessions.close()


def test_a_dry_run_reports_every_error_class_and_writes_nothing(
    cli: Cli, store_path: Path, tmp_path: Path
) -> None:
    _, planted = write_legacy_dataset(tmp_path / "legacy", 40, 120, errors=True)
    done = migrate(cli, "import", str(tmp_path / "legacy"), "--layout", LEGACY, "--dry-run")
    assert done.code == 1
    report = done.json()
    assert report["dry_run"] is True
    found = {(i["reason"], i["file"], i["line"]) for i in report["issues"]}
    for reason in PLANTED:
        file, line = planted[reason]
        assert (reason, file, line) in found, reason
    for issue in report["issues"]:
        assert issue["field"]
        assert issue["raw"]
    assert rows(store_path, "SELECT COUNT(*) FROM residents") == [(0,)]
    assert rows(store_path, "SELECT COUNT(*) FROM migration_runs") == [(0,)]


def test_a_clean_legacy_load_widens_kana_keeps_nec_characters_and_round_trips_in_cp932(
    cli: Cli, store_path: Path, tmp_path: Path, staff_template: Path
) -> None:
    write_legacy_dataset(tmp_path / "legacy", 60, 200)
    loaded = migrate(cli, "import", str(tmp_path / "legacy"), "--layout", LEGACY)
    assert loaded.code == 0, loaded.stdout[-2000:]
    assert loaded.json()["status"] == "loaded"
    kana = rows(store_path, "SELECT kana FROM residents")
    assert kana
    assert not any(any("\uff61" <= c <= "\uff9f" for c in str(k[0])) for k in kana)
    nec = rows(store_path, "SELECT COUNT(*) FROM residents WHERE address LIKE '%㈱%'")
    again = migrate(cli, "reconcile", "--source", str(tmp_path / "legacy"), "--layout", LEGACY)
    assert again.json()["equal"] is True

    exported = migrate(cli, "export", "--out", str(tmp_path / "pkg"), "--layout", OPEN_CP932)
    assert exported.code == 0, exported.stdout[-2000:]
    package = exported.json()
    assert package["complete"] is True
    fresh = copy_store(staff_template, tmp_path / "fresh.db")
    phrase = package["passphrase"]
    args = (str(tmp_path / "pkg"), "--layout", OPEN_CP932)
    assert (
        migrate(cli, "import", *args, store=fresh, passphrase=phrase).json()["status"] == "loaded"
    )
    check = migrate(cli, "reconcile", "--source", *args, store=fresh, passphrase=phrase)
    assert check.code == 0
    assert check.json()["equal"] is True
    before = rows(store_path, "SELECT atena, name, kana, address FROM residents ORDER BY atena")
    after = rows(fresh, "SELECT atena, name, kana, address FROM residents ORDER BY atena")
    assert after == before
    assert rows(fresh, "SELECT COUNT(*) FROM residents WHERE address LIKE '%㈱%'") == nec


def test_characters_outside_cp932_are_reported_on_a_legacy_export(
    cli: Cli, store_path: Path, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    header = "atena,name,kana,birth,sex,status\n"
    person = "0000000001,𠮷田 一郎,ヨシダ イチロウ,1980-01-01,M,resident\n"
    (source / "residents.csv").write_text(header + person, encoding="utf-8")
    assert migrate(cli, "import", str(source)).code == 0
    done = migrate(cli, "export", "--out", str(tmp_path / "pkg"), "--layout", OPEN_CP932)
    assert done.code == 1
    report = done.json()
    assert report["complete"] is False
    assert [(u["column"], u["codepoint"], u["character"]) for u in report["unrepresentable"]] == [
        ("name", "U+20BB7", "𠮷")
    ]
    clean = migrate(cli, "export", "--out", str(tmp_path / "open"))
    assert clean.code == 0  # the open layout is UTF-8: nothing lost
    assert clean.json()["complete"] is True


def test_reconcile_exits_1_on_a_difference_and_the_cut_over_is_recorded(
    cli: Cli, store_path: Path, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    codes = [v.code for v in load_default_catalog().vaccines]
    write_open_dataset(source, 50, 300, vaccines=codes)
    run = migrate(cli, "import", str(source)).json()["run"]
    assert migrate(cli, "reconcile", "--source", str(source)).code == 0
    sessions = Sessions(store_path)
    try:
        store = sessions.login("adm1").store
        with store.transaction():
            store.conn.execute("DELETE FROM vaccinations WHERE id = 1")
    finally:
        sessions.close()
    differs = migrate(cli, "reconcile", "--source", str(source))
    assert differs.code == 1
    assert {d["table"] for d in differs.json()["differences"]} == {"vaccinations"}
    refused = cli(
        "migrate", "approve", str(run), "--as", "sup1", "--password-stdin", stdin=PASSWORD
    )
    assert refused.code == 1
    assert "相違" in refused.stderr


def test_a_killed_load_resumes_with_no_duplicates_and_no_gaps(
    store_path: Path, tmp_path: Path, cli: Cli
) -> None:
    source = tmp_path / "src"
    codes = [v.code for v in load_default_catalog().vaccines]
    counts = write_open_dataset(source, 20_000, 200_000, vaccines=codes)
    command = [
        SESSHU, "--store", str(store_path),
        "migrate", "import", str(source), *MIG,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=sandbox_env(tmp_path)
    )
    assert process.stdin is not None
    process.stdin.write(f"{PASSWORD}\n".encode())
    process.stdin.close()
    deadline = time.monotonic() + 120
    loaded = 0
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.3)
        found = rows(store_path, "SELECT COALESCE(SUM(loaded), 0) FROM migration_progress")
        loaded = int(str(found[0][0]))
        if loaded > 20_000:  # into the vaccination records
            break
    readers = children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert 20_000 < loaded < 220_000, "the load must be cut midway"
    gone = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in readers) and time.monotonic() < gone:
        time.sleep(0.2)
    left = [p for p in readers if Path(f"/proc/{p}").exists() and "Z" not in state(p)]
    assert left == [], "the reading process must not outlive the killed load"
    resumed = migrate(cli, "import", str(source))
    assert resumed.code == 0
    report = resumed.json()
    assert report["resumed"] is True
    assert report["status"] == "loaded"
    assert rows(store_path, "SELECT COUNT(*) FROM residents") == [(counts["residents.csv"],)]
    total = counts["vaccinations.csv"]
    assert rows(store_path, "SELECT COUNT(*), COUNT(DISTINCT uid) FROM vaccinations") == [
        (total, total)
    ]
    assert migrate(cli, "reconcile", "--source", str(source)).json()["equal"] is True
    verified = cli("audit", "verify", "--as", "aud1", "--password-stdin", stdin=PASSWORD)
    assert verified.code == 0, verified.stderr


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (FileNotFoundError, IndexError):
        return "Z"


@pytest.mark.parametrize("bad", ["nothing-here", "layout"])
def test_bad_sources_name_the_field(cli: Cli, tmp_path: Path, bad: str) -> None:
    layout = tmp_path / "bad.toml"
    layout.write_text('[[files]]\ntable = "residents"\npath = "../x"\n', encoding="utf-8")
    args = [str(tmp_path / bad)] if bad != "layout" else [str(tmp_path), "--layout", str(layout)]
    done = migrate(cli, "import", *args, "--dry-run")
    assert done.code == 1
    assert done.stdout == ""
    assert ("移行元" in done.stderr) or ("path" in done.stderr) or ("../x" in done.stderr)
    assert "Traceback" not in done.stderr
    json.dumps(done.stderr)

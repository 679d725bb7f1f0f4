"""The CLI contract of the foundation issue: names, options, JSON keys and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.conftest import PASSWORD

PW = PASSWORD + "\n"


def test_init_prints_the_recovery_secret_once(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "new" / "s.db"
    out = cli(
        "init",
        "--admin",
        "root1",
        "--password-stdin",
        "--json",
        stdin="a-long-password\n",
        store=store,
    )
    assert out.code == 0, out.stderr
    document = out.json()
    assert document["admin"] == "root1"
    secret = document["recovery_secret"]
    assert len(secret.replace("-", "")) == 32
    on_disk = b"".join(p.read_bytes() for p in store.parent.iterdir() if p.is_file())
    assert secret.encode() not in on_disk
    assert secret.replace("-", "").encode() not in on_disk
    again = cli(
        "init", "--admin", "root1", "--password-stdin", stdin="a-long-password\n", store=store
    )
    assert again.code == 1
    assert "既にストアがあります" in again.stderr


def test_init_refuses_a_weak_password_naming_the_rule(cli: Cli, tmp_path: Path) -> None:
    out = cli(
        "--lang",
        "en",
        "init",
        "--admin",
        "root1",
        "--password-stdin",
        stdin="short\n",
        store=tmp_path / "s.db",
    )
    assert out.code == 1
    assert out.stderr.count("\n") == 1
    assert "at least 10 characters" in out.stderr
    assert not (tmp_path / "s.db").exists()


def test_user_add_list_lock_unlock(cli: Cli) -> None:
    out = cli(
        "user",
        "add",
        "op7",
        "--role",
        "operator",
        "--role",
        "verifier",
        "--mynumber-access",
        "--as",
        "adm1",
        "--password-stdin",
        "--json",
        stdin=PW + "initial-pass-7\n",
    )
    assert out.code == 0, out.stderr
    assert out.json() == {"user": "op7", "roles": ["operator", "verifier"]}
    listed = cli("user", "list", "--as", "adm1", "--password-stdin", "--json", stdin=PW).json()
    op7 = next(u for u in listed["users"] if u["name"] == "op7")
    assert op7["must_change_password"] is True
    assert op7["mynumber_access"] is True
    assert cli("user", "lock", "op7", "--as", "adm1", "--password-stdin", stdin=PW).code == 0
    listed = cli("user", "list", "--as", "adm1", "--password-stdin", "--json", stdin=PW).json()
    assert next(u for u in listed["users"] if u["name"] == "op7")["locked"] is True
    assert cli("user", "unlock", "op7", "--as", "adm1", "--password-stdin", stdin=PW).code == 0


def test_first_use_requires_a_password_change(cli: Cli) -> None:
    cli(
        "user",
        "add",
        "op7",
        "--role",
        "operator",
        "--as",
        "adm1",
        "--password-stdin",
        stdin=PW + "initial-pass-7\n",
    )
    refused = cli(
        "--lang",
        "en",
        "audit",
        "verify",
        "--as",
        "op7",
        "--password-stdin",
        stdin="initial-pass-7\n",
    )
    assert refused.code == 1
    assert "change your password" in refused.stderr
    changed = cli(
        "user",
        "passwd",
        "--as",
        "op7",
        "--password-stdin",
        stdin="initial-pass-7\nmy-own-passphrase\n",
    )
    assert changed.code == 0, changed.stderr
    denied = cli(
        "--lang",
        "en",
        "user",
        "list",
        "--as",
        "op7",
        "--password-stdin",
        stdin="my-own-passphrase\n",
    )
    assert denied.code == 1
    assert "manage users" in denied.stderr


def test_wrong_password_is_one_line_and_exit_1(cli: Cli) -> None:
    out = cli("user", "list", "--as", "adm1", "--password-stdin", stdin="wrong-password\n")
    assert out.code == 1
    assert out.stderr == "利用者名またはパスワードが違います。\n"
    assert out.stdout == ""


def test_five_failures_lock_via_cli_and_admin_unlocks(cli: Cli) -> None:
    for _ in range(5):
        cli("audit", "verify", "--as", "aud1", "--password-stdin", stdin="bad-password\n")
    locked = cli("--lang", "en", "audit", "verify", "--as", "aud1", "--password-stdin", stdin=PW)
    assert locked.code == 1
    assert "locked" in locked.stderr
    assert cli("user", "unlock", "aud1", "--as", "adm1", "--password-stdin", stdin=PW).code == 0
    verified = cli("audit", "verify", "--as", "aud1", "--password-stdin", "--json", stdin=PW)
    assert verified.code == 0
    assert verified.json()["ok"] is True


def test_audit_verify_and_report(cli: Cli) -> None:
    out = cli("audit", "verify", "--as", "aud1", "--password-stdin", "--json", stdin=PW)
    assert out.code == 0, out.stderr
    document = out.json()
    assert document["ok"] is True
    assert document["events"] > 10
    text = cli("--lang", "en", "audit", "verify", "--as", "aud1", "--password-stdin", stdin=PW)
    assert text.stdout.startswith("Audit trail verified:")
    month = cli(
        "audit",
        "report",
        "--month",
        "2026-11",
        "--as",
        "aud1",
        "--password-stdin",
        "--json",
        stdin=PW,
    )
    assert month.code == 0, month.stderr
    report = month.json()
    assert set(report) >= {"month", "events", "users", "heavy_lookup_users", "off_hours_events"}


def test_audit_report_rejects_a_bad_month(cli: Cli) -> None:
    out = cli(
        "--lang",
        "en",
        "audit",
        "report",
        "--month",
        "2026/10",
        "--as",
        "aud1",
        "--password-stdin",
        stdin=PW,
    )
    assert out.code == 1
    assert "YYYY-MM" in out.stderr


def test_audit_review_is_recorded_and_audited(cli: Cli) -> None:
    assert (
        cli(
            "audit", "review", "--month", "2026-10", "--as", "aud1", "--password-stdin", stdin=PW
        ).code
        == 0
    )
    report = cli(
        "audit",
        "report",
        "--month",
        "2026-10",
        "--as",
        "aud1",
        "--password-stdin",
        "--json",
        stdin=PW,
    ).json()
    assert report["reviews"][0]["reviewer"] == "aud1"
    log = cli(
        "audit",
        "log",
        "--action",
        "audit.reviewed",
        "--as",
        "aud1",
        "--password-stdin",
        "--json",
        stdin=PW,
    ).json()
    assert log["events"][0]["target"] == "audit:2026-10"


def test_store_check_and_rekey(cli: Cli, store_path: Path) -> None:
    check = cli("store", "check", "--as", "adm1", "--password-stdin", "--json", stdin=PW)
    assert check.code == 0, check.stderr
    assert check.json() == {"ok": True, "problems": []}
    before = json.loads(store_path.with_name(store_path.name + ".keyslots").read_text())
    assert cli("store", "rekey", "--as", "adm1", "--password-stdin", stdin=PW).code == 0
    after = json.loads(store_path.with_name(store_path.name + ".keyslots").read_text())
    assert before["data_keys"] != after["data_keys"]
    assert set(before["slots"]) == set(after["slots"])
    for user in ("op1", "aud1"):
        assert cli("audit", "verify", "--as", user, "--password-stdin", stdin=PW).code in (0, 1)
    assert cli("audit", "verify", "--as", "aud1", "--password-stdin", stdin=PW).code == 0
    assert cli("store", "check", "--as", "adm1", "--password-stdin", stdin=PW).code == 0


def test_recovery_with_the_printed_secret(cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    secret = cli(
        "init",
        "--admin",
        "root1",
        "--password-stdin",
        "--json",
        stdin="a-long-password\n",
        store=store,
    ).json()["recovery_secret"]
    wrong = cli(
        "--lang",
        "en",
        "store",
        "recover",
        "--admin",
        "root1",
        "--password-stdin",
        stdin="AAAA-BBBB\nnew-initial-pass\n",
        store=store,
    )
    assert wrong.code == 1
    assert wrong.stderr == "The recovery secret is wrong.\n"
    ok = cli(
        "store",
        "recover",
        "--admin",
        "root1",
        "--password-stdin",
        stdin=f"{secret.lower()}\nnew-initial-pass\n",
        store=store,
    )
    assert ok.code == 0, ok.stderr
    changed = cli(
        "user",
        "passwd",
        "--as",
        "root1",
        "--password-stdin",
        stdin="new-initial-pass\nanother-passphrase\n",
        store=store,
    )
    assert changed.code == 0, changed.stderr


def test_terminal_settings_and_pubkey(cli: Cli) -> None:
    out = cli(
        "terminal", "set", "idle-lock", "15", "--as", "adm1", "--password-stdin", "--json", stdin=PW
    )
    assert out.json() == {"setting": "idle-lock", "value": "15"}
    bad = cli(
        "--lang",
        "en",
        "terminal",
        "set",
        "idle-lock",
        "0",
        "--as",
        "adm1",
        "--password-stdin",
        stdin=PW,
    )
    assert bad.code == 1
    assert "from 1 to 120" in bad.stderr
    shown = cli("terminal", "show", "--as", "adm1", "--password-stdin", "--json", stdin=PW)
    assert shown.json()["settings"]["idle-lock"] == "15"
    key = cli("terminal", "pubkey", "--json").json()
    assert len(key["ed25519"]) == 64


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("user", "add", "--as", "adm1").code == 2
    assert cli("no-such-command").code == 2
    assert cli("--lang", "fr", "user", "list", "--as", "adm1").code == 2
    missing = cli(
        "user", "add", "x1", "--role", "operator", "--as", "adm1", "--password-stdin", stdin=PW
    )
    assert missing.code == 2


def test_global_options_are_accepted_after_the_command(cli: Cli, store_path: Path) -> None:
    out = cli("terminal", "pubkey", "--store", str(store_path), "--json")
    assert out.code == 0
    assert out.json()["terminal"] == "T-TEST"

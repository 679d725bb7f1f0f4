"""Bad stores and bad secrets: one line on stderr, exit 1, never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import PASSWORD

PW = PASSWORD + "\n"


def assert_one_line(stderr: str) -> None:
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr


def test_missing_store(cli: Cli, tmp_path: Path) -> None:
    out = cli(
        "--lang",
        "en",
        "user",
        "list",
        "--as",
        "adm1",
        "--password-stdin",
        stdin=PW,
        store=tmp_path / "nothing.db",
    )
    assert out.code == 1
    assert_one_line(out.stderr)
    assert "Store not found" in out.stderr


def test_missing_keyslots(cli: Cli, store_path: Path) -> None:
    store_path.with_name(store_path.name + ".keyslots").unlink()
    out = cli("--lang", "en", "user", "list", "--as", "adm1", "--password-stdin", stdin=PW)
    assert out.code == 1
    assert_one_line(out.stderr)
    assert "Keyslot file not found" in out.stderr


def test_damaged_keyslots(cli: Cli, store_path: Path) -> None:
    store_path.with_name(store_path.name + ".keyslots").write_text("{ not json")
    out = cli("--lang", "en", "user", "list", "--as", "adm1", "--password-stdin", stdin=PW)
    assert out.code == 1
    assert_one_line(out.stderr)
    assert "keyslot file is damaged" in out.stderr


@pytest.mark.parametrize("keep", [0, 100, 4096, 12000])
def test_truncated_store(cli: Cli, store_path: Path, keep: int) -> None:
    data = store_path.read_bytes()
    store_path.write_bytes(data[:keep])
    out = cli("--lang", "en", "user", "list", "--as", "adm1", "--password-stdin", stdin=PW)
    assert out.code == 1
    assert_one_line(out.stderr)
    assert "damaged" in out.stderr or "Cannot open" in out.stderr


def test_corrupted_page_is_reported_by_the_check(cli: Cli, store_path: Path) -> None:
    data = bytearray(store_path.read_bytes())
    middle = len(data) // 4096 // 2 * 4096 + 100
    data[middle : middle + 16] = bytes(16)
    store_path.write_bytes(bytes(data))
    out = cli("--lang", "en", "store", "check", "--as", "adm1", "--password-stdin", stdin=PW)
    assert out.code == 1
    assert_one_line(out.stderr)


def test_plain_sqlite_cannot_open_the_store(store_path: Path) -> None:
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(store_path).execute("SELECT * FROM sqlite_master").fetchall()


def test_a_plain_sqlite_file_is_not_mistaken_for_a_store(cli: Cli, store_path: Path) -> None:
    store_path.unlink()
    sqlite3.connect(store_path).execute("CREATE TABLE t (a)").connection.commit()
    out = cli("--lang", "en", "user", "list", "--as", "adm1", "--password-stdin", stdin=PW)
    assert out.code == 1
    assert_one_line(out.stderr)


def test_unexpected_errors_are_one_line_without_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.services.users as users

    def explode(*_args: object) -> None:
        raise ZeroDivisionError("secret 山田太郎")

    monkeypatch.setattr(users.UserAdmin, "list", explode)
    out = cli("user", "list", "--as", "adm1", "--password-stdin", stdin=PW)
    assert out.code == 1
    assert_one_line(out.stderr)
    assert "ZeroDivisionError" in out.stderr
    assert "山田" not in out.stderr

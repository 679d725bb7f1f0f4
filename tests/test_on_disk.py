"""No personal data in plaintext anywhere sesshu writes; a kill never breaks the store."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from core.clock import SystemClock
from core.services.audit import chain_verdict
from core.services.auth import AuthService
from storage.database import integrity_problems
from storage.demo_store import DEMO_PASSWORD
from storage.store import SqlStore
from storage.vault import Vault
from tests.subprocess_env import SESSHU, sandbox_env, sesshu

KNOWN_NAME = "山田 太郎"
KNOWN_KANA = "ヤマダ タロウ"
KNOWN_MYNUMBER = "123456789018"


def open_store(path: Path, user: str = "adm1") -> SqlStore:
    clock = SystemClock()
    _, store = AuthService(Vault(path, clock), clock).login(user, DEMO_PASSWORD)
    assert isinstance(store, SqlStore)
    return store


def needles(names: list[tuple[str, str, str]]) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, kana, number in names:
        for text in (name, name.replace("\u3000", "").replace(" ", ""), kana):
            found[text.encode("utf-8")] = f"{text} (UTF-8)"
            with contextlib.suppress(UnicodeEncodeError):
                found[text.encode("cp932")] = f"{text} (CP932)"
        found[number.encode("ascii")] = f"{number} (個人番号)"
    return found


def scan(root: Path, wanted: dict[bytes, str]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path.name}: {label}" for needle, label in wanted.items() if needle in data]
    return hits


@pytest.mark.slow
def test_no_personal_data_in_plaintext_anywhere(tmp_path: Path) -> None:
    store = tmp_path / "data" / "store" / "sesshu.db"
    sesshu(tmp_path, "--store", str(store), "demo", "--residents", "300", "--seed", "5")
    pw = DEMO_PASSWORD + "\n"
    for args in (
        ("user", "list", "--as", "adm1"),
        ("audit", "verify", "--as", "aud1"),
        ("store", "check", "--as", "adm1"),
        ("audit", "report", "--month", "2026-11", "--as", "aud1"),
    ):
        sesshu(tmp_path, "--store", str(store), *args, "--password-stdin", stdin=pw)
    opened = open_store(store, "op1")
    try:
        with opened.transaction():
            opened.conn.execute(
                "INSERT INTO residents (atena, mynumber, name, kana, birth, sex, status, "
                "updated_at) VALUES ('9999999999', ?, ?, ?, '1990-01-01', 'M', 'resident', 'x')",
                (KNOWN_MYNUMBER, KNOWN_NAME, KNOWN_KANA),
            )
        sample = opened.conn.execute(
            "SELECT name, kana, mynumber FROM residents ORDER BY atena LIMIT 25"
        ).fetchall()
        wanted = needles([(KNOWN_NAME, KNOWN_KANA, KNOWN_MYNUMBER), *sample])
        assert (store.parent / "sesshu.db-wal").exists()
        assert scan(tmp_path, wanted) == []
    finally:
        opened.close()
    assert scan(tmp_path, wanted) == []
    assert any(p.is_file() for p in tmp_path.rglob("*"))


def test_the_scan_finds_plaintext_when_it_is_there(tmp_path: Path) -> None:
    (tmp_path / "leak.txt").write_bytes(KNOWN_NAME.encode("cp932"))
    assert scan(tmp_path, needles([(KNOWN_NAME, KNOWN_KANA, KNOWN_MYNUMBER)])) != []


def residents_and_audited(store: SqlStore) -> tuple[int, int]:
    count = store.conn.execute("SELECT count(*) FROM residents").fetchone()[0]
    audited = sum(
        json.loads(detail).get("residents", 0)
        for (detail,) in store.conn.execute("SELECT detail FROM audit WHERE action = 'demo.built'")
    )
    return count, audited


@pytest.mark.slow
@pytest.mark.parametrize("delay", [2.2, 4.6, 6.0])
def test_a_kill_during_writes_leaves_a_consistent_store(tmp_path: Path, delay: float) -> None:
    store = tmp_path / "sesshu.db"
    process = subprocess.Popen(
        [SESSHU, "--store", str(store), "demo", "--residents", "40000", "--seed", "9"],
        env=sandbox_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    if not store.exists():
        pytest.skip("killed before the store was complete; nothing to check")
    opened = open_store(store)
    try:
        assert integrity_problems(opened.conn) == []
        count, audited = residents_and_audited(opened)
        assert count == audited
        verdict = chain_verdict(opened)
        assert verdict.ok, verdict
    finally:
        opened.close()

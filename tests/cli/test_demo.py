"""``sesshu demo``: reproducible, with demo users ready, and never overwrites a real store."""

from __future__ import annotations

from pathlib import Path

from storage.demo_store import DEMO_PASSWORD
from tests.cli.conftest import Cli
from tests.test_on_disk import open_store

PW = DEMO_PASSWORD + "\n"


def fingerprint(path: Path) -> list[tuple[str, ...]]:
    store = open_store(path)
    try:
        rows: list[tuple[str, ...]] = store.conn.execute(
            "SELECT r.atena, r.name, r.kana, r.birth, r.mynumber, count(v.id) FROM residents r "
            "LEFT JOIN vaccinations v ON v.atena = r.atena GROUP BY r.atena ORDER BY r.atena"
        ).fetchall()
        return rows
    finally:
        store.close()


def test_demo_is_reproducible_with_a_seed(cli: Cli, tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    for path, seed in ((first, "4"), (second, "4"), (other, "5")):
        out = cli("demo", "--residents", "60", "--seed", seed, "--json", store=path)
        assert out.code == 0, out.stderr
    assert out.json()["residents"] == 60
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(first) != fingerprint(other)


def test_demo_users_work_without_a_password_change(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    cli("demo", "--residents", "20", store=path)
    listed = cli(
        "user", "list", "--as", "adm1", "--password-stdin", "--json", stdin=PW, store=path
    ).json()
    names = {u["name"]: u for u in listed["users"]}
    assert set(names) == {"adm1", "op1", "op2", "op3", "ver1", "sup1", "aud1", "mig1"}
    assert not any(u["must_change_password"] for u in names.values())
    assert names["op1"]["mynumber_access"]
    assert names["sup1"]["mynumber_access"]
    assert not names["op2"]["mynumber_access"]
    assert names["mig1"]["valid_to"] is not None


def test_demo_refuses_an_existing_store_and_force_rebuilds_only_demos(
    cli: Cli, tmp_path: Path, store_path: Path
) -> None:
    path = tmp_path / "d.db"
    cli("demo", "--residents", "10", store=path)
    again = cli("--lang", "en", "demo", "--residents", "10", store=path)
    assert again.code == 1
    assert "--force" in again.stderr
    assert cli("demo", "--residents", "12", "--force", store=path).code == 0
    real = cli("--lang", "en", "demo", "--force", store=store_path)
    assert real.code == 1
    assert "Not a demo store" in real.stderr
    assert store_path.exists()


def test_demo_has_a_batch_waiting_for_its_second_pass(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    cli("demo", "--residents", "400", store=path)
    status = cli(
        "batch", "status", "1", "--as", "op2", "--password-stdin", "--json", stdin=PW, store=path
    ).json()
    assert (status["status"], status["count"], status["pass1"], status["pass2"]) == (
        "open",
        12,
        12,
        0,
    )
    assert status["keyers"] == {"1": ["op1"], "2": []}

"""``sesshu central`` commands, run in-process through the CLI's error funnel."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from central.config import open_dir
from central.service import CentralService
from cli.main import run
from tests.central.conftest import enroll, resident

PRIVATE = ("ca.key", "server.key", "signing.key", "age.key", "sqlite.key")


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = run(["--lang", "en", "central", *args])
    out, err = capsys.readouterr()
    try:
        document = json.loads(out)
    except ValueError:
        document = out
    return code, document, err


def test_init_writes_conf_with_private_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "conf"
    code, doc, _ = call(
        capsys, "init", "--dir", str(conf), "--name", "central.city.lg.jp", "--json"
    )
    assert code == 0
    assert doc["db"] == f"sqlite:///{conf}/central.db"
    assert set(doc) >= {"ca_fingerprint", "server_fingerprint", "signing_public_key"}
    assert doc["age_recipient"].startswith("age1")
    for name in PRIVATE:
        assert stat.S_IMODE((conf / name).stat().st_mode) == 0o600, name
    assert b"SQLite format" not in (conf / "central.db").read_bytes()[:16]
    code, _, err = call(capsys, "init", "--dir", str(conf))
    assert code == 1
    assert "never overwritten" in err


def test_enroll_revoke_terminals_and_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "conf"
    call(capsys, "init", "--dir", str(conf))
    code, doc, _ = call(capsys, "enroll", "--terminal", "T-1", "--dir", str(conf), "--json")
    assert code == 0
    assert doc["token"].endswith("." + open_dir(conf).public["server_fingerprint"])
    service = CentralService.open(open_dir(conf))
    try:
        enroll(service, "T-1")
    finally:
        service.close()
    code, doc, _ = call(capsys, "terminals", "--dir", str(conf), "--json")
    assert [(t["name"], t["status"]) for t in doc["terminals"]] == [("T-1", "enrolled")]
    assert call(capsys, "revoke", "--terminal", "T-1", "--dir", str(conf))[0] == 0
    code, doc, _ = call(capsys, "terminals", "--dir", str(conf), "--json")
    assert doc["terminals"][0]["status"] == "revoked"
    code, doc, _ = call(capsys, "audit", "verify", "--dir", str(conf), "--json")
    assert (code, doc["ok"]) == (0, True)
    code, _, err = call(capsys, "revoke", "--terminal", "T-9", "--dir", str(conf))
    assert (code, err.strip()) == (1, "No terminal T-9.")


def test_registry_import_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "conf"
    call(capsys, "init", "--dir", str(conf))
    path = tmp_path / "registry.jsonl"
    line = {"kind": "resident", "key": "A1", "data": resident("A1")}
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", "utf-8")
    code, doc, _ = call(capsys, "registry", "import", str(path), "--dir", str(conf), "--json")
    assert (code, doc) == (0, {"added": 1, "changed": 0, "unchanged": 0})
    path.write_text('{"kind": "resident", "key": "A2", "data": {"atena": "A2"}}\n', "utf-8")
    code, _, err = call(capsys, "registry", "import", str(path), "--dir", str(conf))
    assert code == 1
    assert err.startswith("Line 1: data.birth required")


def test_a_missing_conf_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "terminals", "--dir", str(tmp_path / "nowhere"))
    assert code == 1
    assert "sesshu central init" in err


def test_init_on_postgresql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], postgres_schema_url: str
) -> None:
    conf = tmp_path / "conf"
    code, doc, err = call(capsys, "init", "--dir", str(conf), "--db", postgres_schema_url, "--json")
    assert code == 0, err
    code, doc, _ = call(capsys, "enroll", "--terminal", "T-1", "--dir", str(conf), "--json")
    assert code == 0
    assert "token" in doc


def test_init_with_an_unreachable_database_leaves_no_conf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "conf"
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    code, _, err = call(capsys, "init", "--dir", str(conf), "--db", url)
    assert code == 1
    assert "PostgreSQL" in err
    assert not conf.exists()


def test_a_demo_feed_matches_the_demo_generator_and_is_importable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed.jsonl"
    code, doc, _ = call(
        capsys, "registry", "demo-feed", "--out", str(feed), "--residents", "40", "--json"
    )
    assert code == 0
    kinds = [json.loads(line)["kind"] for line in feed.read_text("utf-8").splitlines()]
    assert kinds.count("resident") == 40
    assert doc["lines"] == len(kinds)
    code, _, err = call(capsys, "registry", "demo-feed", "--out", str(feed))
    assert code == 2
    assert "--out" in err
    conf = tmp_path / "conf"
    assert call(capsys, "init", "--dir", str(conf))[0] == 0
    code, doc, _ = call(capsys, "registry", "import", str(feed), "--dir", str(conf), "--json")
    assert (code, doc["added"]) == (0, len(kinds))

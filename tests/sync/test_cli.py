"""``sesshu sync`` on the command line: status without a login reads only the sidecar."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli, cli  # noqa: F401 - the fixture
from tests.conftest import PASSWORD, Sessions
from tests.sync.conftest import service
from tests.sync.fake_central import FakeCentral

STATUS_KEYS = {
    "enrolled", "central", "last_sync", "pending", "conflicts", "errors", "last_error", "stale",
    "cursor",
}  # fmt: skip


def test_status_of_a_terminal_never_enrolled(cli: Cli, store_path: Path) -> None:  # noqa: F811
    done = cli("sync", "status", "--json")
    assert done.code == 0, done.stderr
    assert set(done.json()) == STATUS_KEYS
    assert (done.json()["enrolled"], done.json()["stale"]) == (False, True)
    assert not store_path.with_name(store_path.name + ".sync.json").exists()


def test_status_without_login_reads_the_sidecar_written_at_close(
    cli: Cli,  # noqa: F811
    store_path: Path,
) -> None:
    sessions = Sessions(store_path)
    opened = sessions.login("adm1")
    with opened.store.transaction() as uow:
        uow.sync.put_state({"central": "https://central.example:8443"})
    service(sessions, "op1", FakeCentral()).run()
    sessions.close()
    sidecar = store_path.with_name(store_path.name + ".sync.json")
    assert sidecar.stat().st_mode & 0o077 == 0
    assert set(json.loads(sidecar.read_text())) <= STATUS_KEYS | {"held"}
    done = cli("sync", "status", "--json")
    assert done.code == 0, done.stderr
    status = done.json()
    assert status["enrolled"] is True
    assert status["central"] == "https://central.example:8443"
    assert (status["pending"], status["conflicts"], status["errors"]) == (0, 0, 0)
    assert status["last_sync"] is not None
    assert status["stale"] is False
    live = cli("sync", "status", "--as", "op1", "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert live.code == 0, live.stderr
    assert live.json()["pending"] == 0


def test_run_on_a_terminal_not_enrolled_fails_with_one_line(cli: Cli) -> None:  # noqa: F811
    done = cli("sync", "run", "--as", "op1", "--password-stdin", "--json", stdin=PASSWORD + "\n")
    assert done.code == 1
    assert done.stderr.strip().count("\n") == 0
    assert "sesshu sync enroll" in done.stderr


def test_decide_names_its_choices(cli: Cli) -> None:  # noqa: F811
    done = cli(
        "sync", "decide", "1", "--keep", "mine", "--reason", "x", "--as", "sup1",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert done.code == 1
    assert "local" in done.stderr

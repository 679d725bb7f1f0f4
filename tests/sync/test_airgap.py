"""The air gap end to end: a terminal enrolled offline, push bundles carried to a real central
system (SQLCipher), answer bundles carried back; conflicts, convergence, idempotent replays and
refused bundles on both sides."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

from central import pki
from central.config import CentralDir
from central.service import CentralService
from central.setup import initialise
from core.changes import ChangeRequest
from core.clock import SystemClock
from core.errors import RuleViolation, SyncFailed
from core.ports import AuditFilter
from core.services.changes import ChangeService
from core.services.sync import SyncRun, SyncService
from core.sync import MASTER_FIELDS, RESIDENT_FIELDS, Choice, TableTotal
from storage.store import SqlStore
from sync.airgap import media_for
from tests.conftest import PASSWORD, Sessions
from tests.people import PEOPLE

YAMADA = PEOPLE[0]
COUNTER: dict[str, Any] = {
    "evidence": "counter",
    "id_document": "マイナンバーカード",
    "reason": "本人申出",
}
TABLES = {"residents": RESIDENT_FIELDS, **{f"{k.value}s": v for k, v in MASTER_FIELDS.items()}}


@pytest.fixture
def conf(tmp_path: Path) -> CentralDir:
    return initialise(tmp_path / "conf", None, [], SystemClock())


@pytest.fixture
def central(conf: CentralDir) -> Iterator[CentralService]:
    service = CentralService.open(conf)
    yield service
    service.close()


def rows(store: SqlStore, table: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    cursor = store.conn.execute(f"SELECT {', '.join(fields)} FROM {table}")
    return [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]


def registry(path: Path, lines: list[tuple[str, str, dict[str, Any]]]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"kind": k, "key": key, "data": d}, ensure_ascii=False) + "\n"
            for k, key, d in lines
        ),
        "utf-8",
    )
    return path


def seed_central(central: CentralService, store: SqlStore, folder: Path) -> dict[str, Any]:
    """The central registry holds what the terminal holds (residents and masters); returns
    YAMADA's registry data."""
    lines: list[tuple[str, str, dict[str, Any]]] = []
    for kind, table in (("vaccine", "vaccines"), ("institution", "institutions"),
                        ("physician", "physicians")):  # fmt: skip
        lines += [(kind, r["code"], r) for r in rows(store, table, TABLES[f"{kind}s"])]
    residents = rows(store, "residents", RESIDENT_FIELDS)
    lines += [("resident", r["atena"], r) for r in residents]
    central.registry_import(registry(folder / "registry1.jsonl", lines))
    return next(r for r in residents if r["atena"] == YAMADA.atena)


def sync_of(people: Sessions, user: str) -> SyncService:
    return SyncService(people.login(user).ctx, None)


def export(people: Sessions, user: str, target: Path) -> Any:
    opened = people.login(user)
    return SyncService(opened.ctx, None).export_bundle(target, media_for(opened.store))


def answer(people: Sessions, user: str, path: Path) -> SyncRun:
    opened = people.login(user)
    return SyncService(opened.ctx, None).import_answer(path, media_for(opened.store))


def enroll_offline(people: Sessions, conf: CentralDir, token: str) -> None:
    opened = people.login("adm1")
    SyncService(opened.ctx, None).enroll_offline(conf.public, token, media_for(opened.store))


def terminal_totals(people: Sessions) -> dict[str, TableTotal]:
    with people.login("aud1").store.reader() as uow:
        return uow.sync.totals()


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def tampered(bundle: Path, name: str, target: Path) -> Path:
    shutil.copytree(bundle, target)
    flip(target / name)
    return target


def payload(bundle: Path) -> str:
    [name] = [p.name for p in (bundle / "data").iterdir()]
    return f"data/{name}"


def central_state(central: CentralService) -> tuple[Any, ...]:
    return (
        central.db.scalar("SELECT count(*) FROM received"),
        central.db.scalar("SELECT coalesce(max(seq), 0) FROM changes"),
        central.db.scalar("SELECT count(*) FROM terminals"),
        central.db.scalar("SELECT count(*) FROM enrollment_tokens WHERE used_at IS NOT NULL"),
        central.db.scalar("SELECT count(*) FROM conflicts"),
    )


def terminal_state(people: Sessions) -> tuple[Any, ...]:
    store = people.login("aud1").store
    with store.reader() as uow:
        state = uow.sync.state()
        return (
            uow.sync.pending_count(),
            state.get("cursor"),
            len(uow.sync.conflicts(None)),
            uow.sync.held_count(),
            uow.sync.totals(),
        )


def test_offline_round_trip_with_a_conflict_converges(
    people: Sessions, conf: CentralDir, central: CentralService, tmp_path: Path
) -> None:
    yamada = seed_central(central, people.login("adm1").store, tmp_path)
    central.registry_import(
        registry(tmp_path / "registry2.jsonl",
                 [("resident", YAMADA.atena, {**yamada, "name": "山田　太朗"})])
    )  # fmt: skip
    enroll_offline(people, conf, central.create_token("T-TEST"))
    change = ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(kind="resident.correct", atena=YAMADA.atena,
                      values={"address": "桜台二丁目2番2号"}, **COUNTER)
    )  # fmt: skip
    ChangeService(people.login("ver1").ctx).confirm(change.id)
    pending = sync_of(people, "op1").status().pending

    first = export(people, "op1", tmp_path / "push1")
    assert first.entries == pending + 1  # and the fresh checkpoint
    document = (tmp_path / "push1" / payload(tmp_path / "push1")).read_bytes()
    assert b"age-encryption.org/v1" in document[:30]
    assert YAMADA.name.encode() not in document
    imported = central.import_bundle(tmp_path / "push1")
    assert imported.registered
    assert imported.acks == {"applied": first.entries - 1, "conflict": 1}
    assert imported.answer == tmp_path / "push1.answer"
    assert central.enrollment.terminal("T-TEST") is not None

    done = answer(people, "op1", imported.answer)
    assert (done.pushed, done.conflicts, done.held, done.errors) == (first.entries - 1, 1, 1, 0)
    assert sync_of(people, "op1").status().pending == 0
    [conflict] = sync_of(people, "sup1").conflicts()
    assert conflict.client_user == "ver1"
    assert conflict.server_data is not None
    assert conflict.server_data["name"] == "山田　太朗"

    sync_of(people, "sup1").decide(conflict.id, Choice.CENTRAL, "中央の記載が正しい")
    second = export(people, "sup1", tmp_path / "push2")
    assert second.entries == 2  # the decision and the checkpoint
    assert "token" not in _push_document(people, tmp_path / "push2", conf)
    again = central.import_bundle(tmp_path / "push2")
    assert (again.registered, again.acks) == (False, {"applied": 2})
    final = answer(people, "sup1", again.answer)
    assert (final.pushed, final.held, final.errors) == (2, 0, 0)

    local = terminal_totals(people)
    assert central.compare("T-TEST") == local
    assert local["records"].count == 60
    assert local["residents"].count == len(PEOPLE)
    assert local["checkpoints"].count >= 2
    store = people.login("adm1").store
    assert store.conn.execute(
        "SELECT name, version FROM residents WHERE atena = ?", (YAMADA.atena,)
    ).fetchone() == ("山田　太朗", 2)

    # Replays change nothing, on either side.
    before = central_state(central), terminal_state(people)
    replayed = central.import_bundle(tmp_path / "push1", tmp_path / "replay1.answer")
    assert replayed.acks == {"duplicate": first.entries - 1, "conflict": 1}
    central.import_bundle(tmp_path / "push2", tmp_path / "replay2.answer")
    assert answer(people, "op1", again.answer) == SyncRun()
    assert answer(people, "op1", imported.answer) == SyncRun()
    # An answer never imported, older than what was applied: its acknowledgements change no
    # entry, its changes are at or below the cursor and skipped, and the cursor stays.
    late = answer(people, "op1", tmp_path / "replay1.answer")
    assert (late.pulled, late.conflicts, late.held, late.errors) == (0, 1, 0, 0)
    assert (central_state(central), terminal_state(people)) == before
    assert central.compare("T-TEST") == terminal_totals(people)
    with people.login("aud1").store.reader() as uow:
        trail = uow.audit.find(AuditFilter(action="sync.bundle_"))
    assert [r.action for r in trail].count("sync.bundle_imported") == 5
    assert central.verify_audit().ok


def _push_document(people: Sessions, bundle: Path, conf: CentralDir) -> dict[str, Any]:
    from sync.bundle import PUSH_FILE, read_sync_bundle

    store = people.login("aud1").store
    return read_sync_bundle(
        bundle, PUSH_FILE, identity=str(conf.age_identity), signer=store.signing_public_key
    )


def test_an_online_enrolled_terminal_may_use_bundles_too(
    people: Sessions, conf: CentralDir, central: CentralService, tmp_path: Path
) -> None:
    opened = people.login("adm1")
    terminal, public_key = opened.store.terminal, opened.store.signing_public_key
    recipient_identity = x25519.Identity.generate()
    central.enroll(
        central.create_token(terminal),
        terminal,
        pki.make_csr(terminal).cert_pem.decode(),
        public_key,
        str(recipient_identity.to_public()),
    )
    with opened.store.transaction() as uow:
        uow.sync.put_state(
            {
                "central": "https://central.example:8443",
                "central_info": json.dumps(conf.public),
                "age_identity": str(recipient_identity),
            }
        )
    written = export(people, "op1", tmp_path / "push")
    assert "token" not in _push_document(people, tmp_path / "push", conf)
    imported = central.import_bundle(tmp_path / "push")
    assert not imported.registered
    done = answer(people, "op1", imported.answer)
    assert done.pushed == written.entries
    assert sync_of(people, "op1").status().pending == 0


def test_tampered_or_foreign_answers_are_refused(
    people: Sessions, conf: CentralDir, central: CentralService, tmp_path: Path
) -> None:
    seed_central(central, people.login("adm1").store, tmp_path)
    enroll_offline(people, conf, central.create_token("T-TEST"))
    export(people, "op1", tmp_path / "push")
    imported = central.import_bundle(tmp_path / "push")
    before = terminal_state(people)
    for index, name in enumerate((payload(imported.answer), "bag-info.txt")):
        bad = tampered(imported.answer, name, tmp_path / f"bad{index}")
        with pytest.raises(SyncFailed) as refused:
            answer(people, "op1", bad)
        assert refused.value.key == "sync.bundle_refused"
        assert refused.value.params["reason"] == "hash_mismatch"
    # An answer signed by another key (here: the terminal's own) is refused, too.
    from sync.bundle import ANSWER_FILE, write_sync_bundle

    store = people.login("adm1").store
    with store.reader() as uow:
        point = uow.audit.checkpoints()[-1]
        recipient = uow.sync.state()["age_recipient"]
    write_sync_bundle(
        tmp_path / "forged",
        ANSWER_FILE,
        {"acks": [], "conflicts": [], "changes": [], "cursor": 0, "next_cursor": 99,
         "more": False},
        signer=store.sign,
        recipient=recipient,
        info={},
        checkpoint=point.__dict__,
    )  # fmt: skip
    with pytest.raises(SyncFailed) as foreign:
        answer(people, "op1", tmp_path / "forged")
    assert foreign.value.params["reason"] == "unexpected_signer"
    assert terminal_state(people) == before
    assert sync_of(people, "op1").status().errors == 3


def test_an_export_needs_enrollment_and_never_overwrites(
    people: Sessions, conf: CentralDir, central: CentralService, tmp_path: Path
) -> None:
    with pytest.raises(RuleViolation) as refused:
        export(people, "op1", tmp_path / "push")
    assert refused.value.key == "sync.not_enrolled"
    enroll_offline(people, conf, central.create_token("T-TEST"))
    (tmp_path / "push").mkdir()
    with pytest.raises(RuleViolation) as exists:
        export(people, "op1", tmp_path / "push")
    assert exists.value.key == "sync.bundle_exists"
    assert list((tmp_path / "push").iterdir()) == []


def test_cli_offline_enroll_export_import(
    people_path: Path, conf: CentralDir, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import run

    def sesshu(*args: str, stdin: str = "") -> tuple[int, Any, str]:
        import io
        import sys

        old = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            code = run(["--lang", "en", "--store", str(people_path), *args])
        finally:
            sys.stdin = old
        out, err = capsys.readouterr()
        try:
            return code, json.loads(out), err
        except ValueError:
            return code, out, err

    code, token, err = sesshu("central", "enroll", "--terminal", "T-TEST", "--dir", str(conf.path),
                              "--json")  # fmt: skip
    assert code == 0, err
    code, doc, err = sesshu(
        "sync", "enroll", "--offline", str(conf.file("public.json")), "--token", token["token"],
        "--as", "adm1", "--password-stdin", "--json", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, doc) == (0, {"enrolled": True, "terminal": "T-TEST", "central": "offline"}), err
    code, doc, err = sesshu(
        "sync", "export-bundle", "--out", str(tmp_path / "push"), "--as", "op1",
        "--password-stdin", "--json", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert set(doc) == {"path", "entries", "content_hash"}
    assert doc["entries"] > 60
    code, doc, err = sesshu("central", "import-bundle", str(tmp_path / "push"),
                            "--dir", str(conf.path), "--json")  # fmt: skip
    assert code == 0, err
    assert doc["terminal"] == "T-TEST"
    assert doc["acks"]["applied"] > 60
    assert doc["answer"] == str(tmp_path / "push.answer")
    code, _, err = sesshu("central", "import-bundle", str(tmp_path / "push"),
                          "--dir", str(conf.path))  # fmt: skip
    assert code == 1
    assert "--answer-out" in err
    code, doc, err = sesshu(
        "sync", "import-bundle", str(tmp_path / "push.answer"), "--as", "op1",
        "--password-stdin", "--json", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert set(doc) >= {"pushed", "pulled", "conflicts", "held", "errors"}
    assert doc["pushed"] > 60
    shutil.copytree(tmp_path / "push.answer", tmp_path / "bad")
    flip(tmp_path / "bad" / "bag-info.txt")
    code, _, err = sesshu(
        "sync", "import-bundle", str(tmp_path / "bad"), "--as", "op1", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 1
    assert "refused" in err
    assert err.count("\n") == 1
    code, _, err = sesshu(
        "sync", "enroll", "--token", "x", "--as", "adm1", "--password-stdin", stdin=PASSWORD + "\n"
    )  # fmt: skip
    assert code == 2

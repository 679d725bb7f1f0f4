"""``CentralService.import_bundle``: who may send a push bundle, what is refused before anything
is applied, and what the answer bundle carries (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from pyrage import x25519

from central import bundles
from central.config import CentralDir
from central.service import CentralService
from core.audit import checkpoint_message
from core.errors import AuthenticationFailed, RuleViolation, SesshuError, ValidationFailed
from core.sync import Entry, EntryKind
from sync.bundle import ANSWER_FILE, PUSH_FILE, read_sync_bundle, write_sync_bundle
from sync.wire import push_json
from tests.central.conftest import Terminal, record, resident

AT = "2026-11-24T10:00:00.000000+09:00"


class Sender:
    """A terminal that only travels on media: its signing key and age identity."""

    def __init__(self, name: str) -> None:
        self.terminal = Terminal(name, ed25519.Ed25519PrivateKey.generate())
        self.identity = x25519.Identity.generate()

    def sign(self, message: bytes) -> tuple[str, str]:
        return self.terminal.signing.sign(message).hex(), self.terminal.public_hex

    def bundle(
        self,
        target: Path,
        conf: CentralDir,
        entries: list[Entry],
        *,
        token: str | None = None,
        cursor: int = 0,
        claim: str | None = None,
        override: dict[str, Any] | None = None,
    ) -> Path:
        name = claim or self.terminal.name
        document: dict[str, Any] = {**push_json(name, entries), "cursor": cursor}
        if token is not None:
            document.update(
                token=token.split(".")[0],
                signing_public_key=self.terminal.public_hex,
                age_recipient=str(self.identity.to_public()),
            )
        document.update(override or {})
        point = {"seq": 1, "hash": "ab" * 32, "at": AT, "terminal": name}
        signature, public_key = self.sign(checkpoint_message(name, 1, "ab" * 32, AT))
        write_sync_bundle(
            target,
            PUSH_FILE,
            document,
            signer=self.sign,
            recipient=conf.public["age_recipient"],
            info={"Bundle-Kind": "sesshu-sync-push"},
            checkpoint={**point, "signature": signature, "public_key": public_key},
        )
        return target

    def read(self, answer: Path, conf: CentralDir) -> dict[str, Any]:
        return read_sync_bundle(
            answer,
            ANSWER_FILE,
            identity=str(self.identity),
            signer=conf.public["signing_public_key"],
        )


def state(service: CentralService) -> tuple[Any, ...]:
    db = service.db
    return (
        db.scalar("SELECT count(*) FROM received"),
        db.scalar("SELECT count(*) FROM entities"),
        db.scalar("SELECT count(*) FROM terminals"),
        db.scalar("SELECT count(*) FROM enrollment_tokens WHERE used_at IS NOT NULL"),
    )


def refusals(service: CentralService) -> list[dict[str, Any]]:
    rows = service.db.query(
        "SELECT detail FROM audit WHERE action = ? ORDER BY seq", (bundles.BUNDLE_REFUSED,)
    )
    return [json.loads(str(row[0])) for row in rows]


def refused(service: CentralService, path: Path, kind: type[SesshuError] = SesshuError) -> str:
    before = state(service)
    with pytest.raises(kind) as refusal:
        service.import_bundle(path)
    assert state(service) == before, "nothing may be applied"
    assert not path.with_name(path.name + ".answer").exists()
    assert refusals(service)[-1]["error"] == refusal.value.key
    return refusal.value.key


def test_first_contact_registers_with_the_token_and_answers_to_the_terminal(
    service: CentralService, conf: CentralDir, tmp_path: Path
) -> None:
    sender = Sender("T-AIR")
    uid = "T-AIR:1"
    entries = [sender.terminal.entry(EntryKind.RECORD, uid, "upsert", record(uid))]
    token = service.create_token("T-AIR")
    path = sender.bundle(tmp_path / "push", conf, entries, token=token)
    done = service.import_bundle(path)
    assert (done.terminal, done.registered, done.acks) == ("T-AIR", True, {"applied": 1})
    info = service.enrollment.terminal("T-AIR")
    assert info is not None
    assert info.cert_fingerprint is None
    assert info.signing_public_key == sender.terminal.public_hex
    document = sender.read(done.answer, conf)
    assert [a["status"] for a in document["acks"]] == ["applied"]
    assert [(c["kind"], c["key"]) for c in document["changes"]] == [("record", uid)]
    assert (document["cursor"], document["more"]) == (0, False)
    assert document["next_cursor"] == document["changes"][-1]["seq"]
    # The answer carries the central system's own signed checkpoint over its audit head.
    point = json.loads((done.answer / "checkpoint.json").read_text())
    head = service.db.one("SELECT seq, hash FROM audit WHERE seq = ?", (point["seq"],))
    assert head is not None
    assert (point["terminal"], point["hash"]) == ("central", head[1])
    assert point["public_key"] == conf.public["signing_public_key"]
    # Imported again (the answer went missing): nothing is applied twice; the token is not
    # needed any more, since the key is registered now.
    again = service.import_bundle(path, tmp_path / "again")
    assert (again.registered, again.acks) == (False, {"duplicate": 1})
    assert sender.read(tmp_path / "again", conf)["changes"] == document["changes"]


def test_tampered_bundles_are_refused_before_anything_is_applied(
    service: CentralService, conf: CentralDir, tmp_path: Path
) -> None:
    sender = Sender("T-AIR")
    entries = [sender.terminal.entry(EntryKind.RESIDENT, "A1", "correct", resident("A1"), 1)]
    good = sender.bundle(tmp_path / "good", conf, entries, token=service.create_token("T-AIR"))
    [sealed] = [p.relative_to(good) for p in (good / "data").iterdir()]
    for index, name in enumerate((str(sealed), "bag-info.txt", "checkpoint.json")):
        bad = tmp_path / f"bad{index}"
        shutil.copytree(good, bad)
        data = bytearray((bad / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (bad / name).write_bytes(bytes(data))
        assert refused(service, bad, RuleViolation) == "central.bundle_refused"
        assert refusals(service)[-1]["reason"] == "hash_mismatch"
    (good / "signature.txt").unlink()
    assert refused(service, good) == "central.bundle_refused"
    assert (refusals(service)[-1]["reason"], refusals(service)[-1]["file"]) == (
        "missing",
        "signature.txt",
    )


def test_a_bundle_signed_by_another_terminals_key_is_refused(
    service: CentralService, conf: CentralDir, tmp_path: Path
) -> None:
    owner, other = Sender("T-AIR"), Sender("T-OTHER")
    uid = "T-AIR:1"
    entry = owner.terminal.entry(EntryKind.RECORD, uid, "upsert", record(uid))
    service.import_bundle(
        owner.bundle(tmp_path / "first", conf, [], token=service.create_token("T-AIR"))
    )
    # Unknown key, no token: refused whatever terminal it names.
    stranger = other.bundle(tmp_path / "stranger", conf, [entry], claim="T-AIR")
    assert refused(service, stranger, AuthenticationFailed) == "central.bundle_unknown_signer"
    # A registered terminal's key speaking for another terminal: refused.
    service.import_bundle(
        other.bundle(tmp_path / "other", conf, [], token=service.create_token("T-OTHER"))
    )
    forged = other.bundle(tmp_path / "forged", conf, [entry], claim="T-AIR")
    assert refused(service, forged) == "central.bundle_terminal_mismatch"
    # A key's token that names one terminal cannot register another.
    third = Sender("T-THIRD")
    token = service.create_token("T-AIR2")
    wrong = third.bundle(tmp_path / "wrong", conf, [], token=token)
    assert refused(service, wrong) == "central.token_other_terminal"


def test_offline_enrollment_with_a_used_token_is_refused(
    service: CentralService, conf: CentralDir, tmp_path: Path
) -> None:
    token = service.create_token("T-AIR")
    first, second = Sender("T-AIR"), Sender("T-AIR")
    service.import_bundle(first.bundle(tmp_path / "first", conf, [], token=token))
    uid = "T-AIR:9"
    entry = second.terminal.entry(EntryKind.RECORD, uid, "upsert", record(uid))
    again = second.bundle(tmp_path / "again", conf, [entry], token=token)
    assert refused(service, again, AuthenticationFailed) == "central.token_used"
    info = service.enrollment.terminal("T-AIR")
    assert info is not None
    assert info.signing_public_key == first.terminal.public_hex
    unknown = Sender("T-AIR").bundle(tmp_path / "unknown", conf, [], token="nope.x")
    assert refused(service, unknown) == "central.token_unknown"


def test_a_malformed_push_document_is_refused_whole(
    service: CentralService, conf: CentralDir, tmp_path: Path
) -> None:
    sender = Sender("T-AIR")
    service.import_bundle(
        sender.bundle(tmp_path / "first", conf, [], token=service.create_token("T-AIR"))
    )
    uid = "T-AIR:1"
    good = sender.terminal.entry(EntryKind.RECORD, uid, "upsert", record(uid))
    path = sender.bundle(tmp_path / "bad", conf, [good], cursor=-1)
    assert refused(service, path, ValidationFailed) == "central.bundle_malformed"
    broken = sender.bundle(tmp_path / "broken", conf, [good], override={"entries": [{"uuid": "x"}]})
    assert refused(service, broken) == "central.bundle_malformed"


def test_a_large_pull_is_cut_into_answers_that_continue(
    service: CentralService, conf: CentralDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundles, "MAX_ANSWER_CHANGES", 3)
    monkeypatch.setattr(bundles, "PULL_PAGE_LIMIT", 2)
    sender = Sender("T-AIR")
    entries = [
        sender.terminal.entry(EntryKind.RECORD, f"T-AIR:{i}", "upsert", record(f"T-AIR:{i}"))
        for i in range(5)
    ]
    first = service.import_bundle(
        sender.bundle(tmp_path / "one", conf, entries, token=service.create_token("T-AIR"))
    )
    answer = sender.read(first.answer, conf)
    assert (len(answer["changes"]), answer["more"], first.more) == (3, True, True)
    second = service.import_bundle(
        sender.bundle(tmp_path / "two", conf, [], cursor=answer["next_cursor"])
    )
    rest = sender.read(second.answer, conf)
    keys = [c["key"] for c in answer["changes"] + rest["changes"]]
    assert keys == [f"T-AIR:{i}" for i in range(5)]
    assert rest["more"] is False

"""Export workflow and media ledger rules, through the core services over a real store."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from core.errors import InvalidValue, PermissionDenied, RuleViolation, StoreError
from core.exports import MediaStatus
from core.services.exports import ExportService, MediaService
from core.services.terminal import change_setting
from exports import writer as writer_module
from exports.iso import write_iso
from exports.verify import open_bundle, verify_path
from exports.writer import StoreExporter
from storage.export_payload import TABLES, csv_chunks
from tests.conftest import Sessions


def exports(people: Sessions, user: str) -> ExportService:
    opened = people.login(user)
    return ExportService(opened.ctx, StoreExporter(opened.store))


def media(people: Sessions, user: str) -> MediaService:
    return MediaService(people.login(user).ctx)


def approved_backup(people: Sessions) -> int:
    export = exports(people, "op1").create("backup", "monthly backup")
    exports(people, "sup1").approve(export.id, "ok")
    return export.id


def audit_actions(people: Sessions) -> list[str]:
    opened = people.login("sup1")
    rows = opened.store.conn.execute("SELECT action FROM audit ORDER BY seq").fetchall()
    return [row[0] for row in rows]


def test_round_trip_export_verify_open_equals_the_source(people: Sessions, tmp_path: Path) -> None:
    export_id = approved_backup(people)
    written = exports(people, "op1").write(export_id, "立会　花子", out="backup-1.iso")
    assert written.outcome.verified
    assert written.medium.status is MediaStatus.GOOD
    image = Path(written.outcome.read_path)
    assert image.parent == people.path.parent / "spool"
    assert image.name == "backup-1.iso"
    assert verify_path(image, people.login("sup1").store.signing_public_key).ok
    assert written.passphrase is not None
    opened = open_bundle(image, tmp_path / "out", identity=None, passphrase=written.passphrase)
    assert sorted(p.name for p in opened) == ["residents.csv", "vaccinations.csv"]
    store = people.login("sup1").store
    for table in TABLES:
        source = b"".join(csv_chunks(store.conn, table, TABLES[table]))
        assert (tmp_path / "out" / f"{table}.csv").read_bytes() == source
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / "residents.csv").read_text())))
    assert len(rows) == 21
    assert "秘匿　保護" in {r[2] for r in rows}


def test_the_creator_never_approves_and_only_supervisors_do(people: Sessions) -> None:
    created = exports(people, "sup1").create("migration")
    with pytest.raises(RuleViolation, match="export.self_approval"):
        exports(people, "sup1").approve(created.id)
    with pytest.raises(PermissionDenied):
        exports(people, "op1").approve(created.id)
    assert "export.refused" in audit_actions(people)


def test_writing_needs_approval_permission_and_an_enabled_terminal(people: Sessions) -> None:
    pending = exports(people, "op1").create("backup")
    with pytest.raises(RuleViolation, match="export.not_approved"):
        exports(people, "op1").write(pending.id, "立会人", out="x.iso")
    with pytest.raises(PermissionDenied):
        exports(people, "aud1").write(pending.id, "立会人", out="x.iso")
    with pytest.raises(RuleViolation, match="export.witness_is_writer"):
        exports(people, "op1").write(pending.id, "op1", out="x.iso")
    approved = approved_backup(people)
    change_setting(people.login("adm1").ctx, "export", "no")
    with pytest.raises(RuleViolation, match="export.disabled"):
        exports(people, "op1").write(approved, "立会人", out="x.iso")
    with people.login("sup1").store.reader() as uow:
        assert uow.media.find() == []  # nothing was registered for refused writes


@pytest.mark.parametrize(
    "out", ["/var/elsewhere.iso", "../escape.iso", "sub/dir.iso", "plain.txt", ""]
)
def test_any_path_outside_the_spool_is_refused(people: Sessions, out: str) -> None:
    approved = approved_backup(people)
    with pytest.raises((RuleViolation, InvalidValue)):
        exports(people, "op1").write(approved, "立会人", out=out)


def test_a_configured_spool_is_used_and_paths_inside_it_are_allowed(
    people: Sessions, tmp_path: Path
) -> None:
    spool = tmp_path / "burn-spool"
    change_setting(people.login("adm1").ctx, "export-spool", str(spool))
    approved = approved_backup(people)
    written = exports(people, "op1").write(approved, "立会人", out=str(spool / "b.iso"))
    assert Path(written.outcome.read_path) == spool / "b.iso"
    with pytest.raises(RuleViolation, match="export.already_written"):
        exports(people, "op1").write(approved, "立会人", out="again.iso")


def test_a_change_in_the_data_after_approval_blocks_the_write(people: Sessions) -> None:
    approved = approved_backup(people)
    store = people.login("adm1").store
    with store.transaction():
        store.conn.execute("UPDATE residents SET address = '変更後' WHERE atena = '1000000001'")
    with pytest.raises(RuleViolation, match="export.content_changed"):
        exports(people, "op1").write(approved, "立会人", out="changed.iso")


def test_a_medium_that_fails_verification_is_spoiled_and_must_be_destroyed(
    people: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = write_iso

    def corrupting(bundle: Path, image: Path, label: str, progress: object = None) -> Path:
        payload = next((bundle / "data").iterdir())
        data = bytearray(payload.read_bytes())
        data[-1] ^= 0x01
        payload.write_bytes(bytes(data))
        return real(bundle, image, label)

    monkeypatch.setattr(writer_module, "write_iso", corrupting)  # the name the writer calls
    approved = approved_backup(people)
    written = exports(people, "op1").write(approved, "立会人", out="bad.iso")
    assert not written.outcome.verified
    assert written.medium.status is MediaStatus.SPOILED
    assert written.medium.must_dispose
    assert any("hash_mismatch" in p for p in written.outcome.problems)
    ledger = media(people, "op1")
    with pytest.raises(RuleViolation, match="media.wrong_state"):
        ledger.handover(written.medium.id, "県庁　受取")
    with pytest.raises(RuleViolation, match="export.witness_is_writer"):
        ledger.dispose(written.medium.id, "物理破壊", "op1")
    disposed = ledger.dispose(written.medium.id, "物理破壊", "立会　一郎", "CERT-1")
    assert disposed.status is MediaStatus.DISPOSED
    assert disposed.disposal_witness == "立会　一郎"
    with pytest.raises(RuleViolation):
        ledger.dispose(written.medium.id, "物理破壊", "立会　一郎")


def test_the_ledger_tracks_handover_return_and_disposal(people: Sessions) -> None:
    written = exports(people, "op1").write(approved_backup(people), "立会人", out="l.iso")
    ledger = media(people, "op1")
    medium = written.medium.id
    assert [m.id for m in ledger.listing(open_only=True)] == [medium]
    handed = ledger.handover(medium, "保健所　受取", note="監査用")
    assert handed.status is MediaStatus.HANDED_OVER
    assert handed.holder == "保健所　受取"
    with pytest.raises(RuleViolation):
        ledger.dispose(medium, "物理破壊", "立会人")  # outside the room: return it first
    returned = ledger.return_(medium, "施錠保管庫 A")
    assert returned.must_dispose
    ledger.dispose(medium, "物理破壊", "立会人")
    assert ledger.listing(open_only=True) == []
    detail = media(people, "aud1").show(medium)
    assert [e.event for e in detail.events] == [
        "registered",
        "verified",
        "handed_over",
        "returned",
        "disposed",
    ]
    actions = audit_actions(people)
    for action in ("media.registered", "media.written", "media.returned", "media.disposed"):
        assert action in actions


def test_the_database_refuses_a_disposal_without_witness_or_a_deleted_medium(
    people: Sessions,
) -> None:
    written = exports(people, "op1").write(approved_backup(people), "立会人", out="d.iso")
    store = people.login("sup1").store
    with pytest.raises(StoreError) as refused, store.transaction():
        store.conn.execute(
            "UPDATE media SET status = 'disposed', disposed_at = 'x' WHERE id = ?",
            (written.medium.id,),
        )
    assert "CHECK" in str(refused.value.__cause__)
    with pytest.raises(StoreError) as refused, store.transaction():
        store.conn.execute("DELETE FROM media")
    assert "never deleted" in str(refused.value.__cause__)


needs_xorriso = pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso missing")


@needs_xorriso
def test_burning_to_the_configured_file_backed_drive(people: Sessions, tmp_path: Path) -> None:
    disc = tmp_path / "disc.img"
    change_setting(people.login("adm1").ctx, "export-device", f"stdio:{disc}")
    approved = approved_backup(people)
    with pytest.raises(RuleViolation, match="export.device_refused"):
        exports(people, "op1").write(approved, "立会人", device="/dev/sr9")
    written = exports(people, "op1").write(approved, "立会人", device=f"stdio:{disc}")
    assert written.outcome.verified
    assert written.outcome.read_path == str(disc)
    assert written.medium.media_type == "dvd-r"
    assert not list((people.path.parent / "spool").glob("*.iso"))  # staging image removed
    # A file-backed pseudo-drive cannot be closed; an appended session is caught on read-back.
    extra = tmp_path / "extra.txt"
    extra.write_text("appended")
    subprocess.run(
        ["xorriso", "-no_rc", "-dev", f"stdio:{disc}", "-map", str(extra), "/extra.txt",
         "-commit"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert not verify_path(disc).ok

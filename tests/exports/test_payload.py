"""Export payload straight from the store: round trip equals the source, hash follows the data."""

from __future__ import annotations

from pathlib import Path

from exports.bundle import PayloadFile, build_bundle
from exports.iso import write_iso
from exports.verify import open_bundle, verify_path
from storage.export_payload import TABLES, content_hash, csv_chunks, table_stream
from tests.conftest import Sessions
from tests.people import PEOPLE


def test_tables_round_trip_through_an_encrypted_iso(people: Sessions, tmp_path: Path) -> None:
    store = people.login("sup1").store
    with store.reader():
        sources = {t: b"".join(csv_chunks(store.conn, t, TABLES[t])) for t in TABLES}
        with store.transaction() as uow:
            point = uow.audit.checkpoint()
        assert point is not None
        bundle = build_bundle(
            tmp_path / "bag",
            [PayloadFile(f"{t}.csv", table_stream(store.conn, t)) for t in TABLES],
            signer=store.sign,
            info={"External-Identifier": "backup-1"},
            checkpoint=point.__dict__,
        )
    image = write_iso(bundle.path, tmp_path / "backup.iso", "SESSHU-BACKUP")
    assert verify_path(image, store.signing_public_key).ok
    names = {
        p.name: p.read_bytes()
        for p in open_bundle(image, tmp_path / "out", passphrase=bundle.passphrase)
    }
    assert names == {f"{t}.csv": sources[t] for t in TABLES}
    assert sources["residents"].count(b"\n") == len(PEOPLE) + 1
    assert PEOPLE[0].name.encode() in sources["residents"]
    for secret in (PEOPLE[0].name.encode(), PEOPLE[0].name.encode("cp932")):
        assert secret not in image.read_bytes()


def test_the_content_hash_follows_the_data(people: Sessions) -> None:
    store = people.login("sup1").store
    with store.reader():
        before = content_hash(store.conn)
        again = content_hash(store.conn)
    assert before == again
    with store.transaction():
        store.conn.execute(
            "UPDATE residents SET address = '桜台二丁目' WHERE atena = ?", (PEOPLE[1].atena,)
        )
    with store.reader():
        assert content_hash(store.conn) != before

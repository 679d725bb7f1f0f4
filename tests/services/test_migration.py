"""System migration through the core service over a real store: dry run, load, resume,
re-run, reconciliation, cut-over approval and the export → import round trip."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pyrage
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import PermissionDenied, RuleViolation
from core.identifiers import random_mynumber
from core.migration.convert import Converted
from core.migration.layout import FileSpec
from core.services.migration import MigrationService
from exports.migration.package import package_for
from exports.migration.source import DiskSource
from exports.verify import bundle_identity
from storage.crypto import ed25519_verify
from tests.conftest import Sessions, copy_store

RESIDENTS = ("atena", "mynumber", "name", "kana", "birth", "sex", "status", "address", "dv_flag")
RECORDS = ("atena", "vaccine", "dose", "date", "lot")


def write(path: Path, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def dataset(root: Path, residents: int = 30, per_person: int = 3) -> Path:
    import random

    rng = random.Random(5)
    root.mkdir(parents=True, exist_ok=True)
    people = [
        (
            f"{n:010d}",
            random_mynumber(rng) if n % 4 else "",
            f"試験 太郎{n}",
            "ｼｹﾝ ﾀﾛｳ",
            f"20{n % 20:02d}-04-0{1 + n % 9}",
            "MF"[n % 2],
            "resident",
            f"市内{n}番地",
            "1" if n % 10 == 0 else "0",
        )
        for n in range(1, residents + 1)
    ]
    write(root / "residents.csv", RESIDENTS, people)
    records = [
        (p[0], vaccine, str(dose), f"2021-0{dose}-1{dose}", f"L{p[0][-3:]}{dose}")
        for p in people
        for vaccine, dose in itertools.islice(itertools.product(("BCG", "MR1"), (1, 2)), per_person)
    ]
    write(root / "vaccinations.csv", RECORDS, records)
    return root


def count(people: Sessions, table: str) -> int:
    store = people.login("adm1").store
    return int(store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def service(sessions: Sessions, user: str = "mig1") -> MigrationService:
    return MigrationService(sessions.login(user).ctx)


def source(path: Path) -> DiskSource:
    return DiskSource(path, parallel=False)


def test_a_dry_run_reports_and_writes_nothing(sessions: Sessions, tmp_path: Path) -> None:
    root = dataset(tmp_path / "src")
    with (root / "vaccinations.csv").open("a", encoding="utf-8") as handle:
        handle.write("0000000001,BCG,1,2021-01-11,LX\n")  # the same key as line 2
        handle.write("0000000099,BCG,1,2021-01-11,LX\n")
    before = count(sessions, "residents"), count(sessions, "vaccinations")
    report = service(sessions).check(source(root))
    assert report.dry_run
    assert report.records == 30 + 90 + 2
    assert [(i.line, i.reason) for i in report.issues] == [
        (92, "duplicate_key"),
        (93, "unknown_atena"),
    ]
    assert report.loaded == 120
    assert (count(sessions, "residents"), count(sessions, "vaccinations")) == before
    assert count(sessions, "migration_runs") == 0


def test_a_load_then_a_rerun_loads_nothing_twice(sessions: Sessions, tmp_path: Path) -> None:
    root = dataset(tmp_path / "src")
    first = service(sessions).load(source(root))
    assert first.status == "loaded"
    assert first.loaded == 120
    assert first.issue_count == 0
    second = service(sessions).load(source(root))
    assert second.run != first.run
    assert second.loaded == 0
    assert sum(f.skipped for f in second.files) == 120
    assert count(sessions, "residents") == 30
    assert count(sessions, "vaccinations") == 90
    store = sessions.login("adm1").store
    kana = store.conn.execute("SELECT DISTINCT kana FROM residents").fetchall()
    assert kana == [("シケン タロウ",)]
    pending = store.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE kind IN ('record', 'resident')"
    ).fetchone()[0]
    assert pending == 0  # the migrated baseline is not pushed as new records


class Interrupted(Exception):
    pass


class Cut:
    """A source that dies after ``batches`` batches, like a killed process."""

    def __init__(self, inner: DiskSource, batches: int) -> None:
        self.inner = inner
        self.left = batches

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def batches(
        self, spec: FileSpec, skip: int, codes: Mapping[str, frozenset[str]]
    ) -> Iterator[Converted]:
        for batch in self.inner.batches(spec, skip, codes):
            if self.left == 0:
                raise Interrupted
            self.left -= 1
            yield batch


def test_an_interrupted_load_resumes_without_duplicates_or_gaps(
    sessions: Sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import exports.migration.readers as readers

    root = dataset(tmp_path / "src", residents=50, per_person=4)
    original = readers.read_batches
    monkeypatch.setattr(
        "exports.migration.source.read_batches",
        lambda *a, **k: original(*a, **{**k, "batch_size": 7}),
    )
    with pytest.raises(Interrupted):
        service(sessions).load(Cut(source(root), 12))  # type: ignore[arg-type]
    partial = count(sessions, "residents") + count(sessions, "vaccinations")
    assert 0 < partial < 250
    resumed = service(sessions).load(source(root))
    assert resumed.resumed
    assert resumed.status == "loaded"
    assert count(sessions, "residents") == 50
    assert count(sessions, "vaccinations") == 200
    store = sessions.login("adm1").store
    distinct = store.conn.execute(
        "SELECT COUNT(*) FROM (SELECT DISTINCT atena, vaccine, dose FROM vaccinations)"
    ).fetchone()[0]
    assert distinct == 200
    assert service(sessions).reconcile(source(root)).equal


def test_reconciliation_is_signed_kept_and_sees_a_changed_value(
    sessions: Sessions, tmp_path: Path
) -> None:
    root = dataset(tmp_path / "src")
    service(sessions).load(source(root))
    equal = service(sessions).reconcile(source(root))
    assert equal.equal
    assert equal.report["differences"] == []
    kept = (
        sessions.login("adm1")
        .store.conn.execute(
            "SELECT report, signature, public_key FROM migration_reports WHERE id = ?",
            (equal.report_id,),
        )
        .fetchone()
    )
    assert ed25519_verify(kept[2], kept[1], kept[0].encode())
    assert not ed25519_verify(kept[2], kept[1], kept[0].encode() + b" ")
    sample = equal.report["sample"]["residents"][0]
    assert sample["source"] == sample["target"]
    assert sample["source"]["mynumber"] in (None, "************")
    store = sessions.login("adm1").store
    with store.transaction():
        store.conn.execute("UPDATE vaccinations SET lot = 'CHANGED' WHERE id = 5")
    changed = service(sessions).reconcile(source(root))
    assert not changed.equal
    assert [(d["table"], d["field"]) for d in changed.report["differences"]] == [
        ("vaccinations", "lot")
    ]


def test_dv_addresses_never_appear_in_the_sample(sessions: Sessions, tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    dv = ("0000000010", "", "支援 花子", "シエン ハナコ", "1990-01-01", "F", "resident")
    write(root / "residents.csv", RESIDENTS, [(*dv, "秘匿町1", "1")])
    service(sessions).load(source(root))
    sample = service(sessions).reconcile(source(root)).report["sample"]["residents"][0]
    assert sample["source"]["address"] == sample["target"]["address"] == "(DV)"


def test_the_cut_over_needs_a_clean_load_an_equal_reconciliation_and_another_person(
    sessions: Sessions, tmp_path: Path
) -> None:
    root = dataset(tmp_path / "src")
    run = service(sessions).load(source(root)).run
    assert run is not None
    with pytest.raises(PermissionDenied):
        service(sessions, "mig1").approve(run)
    with pytest.raises(RuleViolation) as refused:
        service(sessions, "sup1").approve(run)
    assert refused.value.key == "migration.not_reconciled"
    store = sessions.login("adm1").store
    with store.transaction():
        store.conn.execute("UPDATE vaccinations SET dose = 9 WHERE id = 1")
    assert not service(sessions).reconcile(source(root)).equal
    with pytest.raises(RuleViolation) as refused:
        service(sessions, "sup1").approve(run)
    assert refused.value.key == "migration.reconciliation_differs"
    with store.transaction():
        store.conn.execute("UPDATE vaccinations SET dose = 1 WHERE id = 1")
    assert service(sessions).reconcile(source(root)).equal
    with store.transaction():
        store.conn.execute("UPDATE migration_runs SET started_by = 'sup1' WHERE id = ?", (run,))
    with pytest.raises(RuleViolation) as refused:
        service(sessions, "sup1").approve(run)
    assert refused.value.key == "migration.approve_own_run"
    with store.transaction():
        store.conn.execute("UPDATE migration_runs SET started_by = 'mig1' WHERE id = ?", (run,))
    approved = service(sessions, "sup1").approve(run, "照合一致を確認")
    assert approved.approved_by == "sup1"
    assert approved.reconciliation is not None
    actions = [r[0] for r in store.conn.execute("SELECT action FROM audit ORDER BY seq")]
    assert "migration.approved" in actions
    with pytest.raises(RuleViolation):
        service(sessions, "sup1").approve(run)


def test_a_load_with_errors_cannot_be_approved(sessions: Sessions, tmp_path: Path) -> None:
    root = dataset(tmp_path / "src")
    with (root / "vaccinations.csv").open("a", encoding="utf-8") as handle:
        handle.write("0000000001,BCG,3,2021-02-30,LX\n")
    report = service(sessions).load(source(root))
    assert report.status == "loaded_with_errors"
    assert [(i.field, i.reason) for i in report.issues] == [("date", "date")]
    assert not service(sessions).reconcile(source(root)).equal  # a record did not arrive
    with pytest.raises(RuleViolation) as refused:
        service(sessions, "sup1").approve(report.run or 0)
    assert refused.value.key == "migration.not_loaded_cleanly"


def export_to(sessions: Sessions, out: Path, recipient: str | None = None) -> str:
    """Export; the passphrase shown once, or without one when written to ``recipient``."""
    opened = sessions.login("mig1")
    package = package_for(opened.store, "mig1", "2026-12-06", [recipient] if recipient else [])
    written = MigrationService(opened.ctx).export(package, out)
    assert written.complete
    assert (written.passphrase is None) == (recipient is not None)
    return written.passphrase or ""


def imported_into_fresh_store(
    template: Path,
    tmp_path: Path,
    package: Path,
    passphrase: str = "",
    identity: str | None = None,
) -> Sessions:
    fresh = Sessions(copy_store(template, tmp_path / "fresh.db"))
    identity = bundle_identity(package, identity, passphrase or None)
    report = MigrationService(fresh.login("mig1").ctx).load(DiskSource(package, identity=identity))
    assert report.status == "loaded", report.issues[:3]
    return fresh


def test_export_import_reconcile_round_trip_is_equal(
    sessions: Sessions, tmp_path: Path, staff_template: Path
) -> None:
    service(sessions).load(source(dataset(tmp_path / "src")))
    passphrase = export_to(sessions, tmp_path / "package")
    fresh = imported_into_fresh_store(staff_template, tmp_path, tmp_path / "package", passphrase)
    try:
        identity = bundle_identity(tmp_path / "package", None, passphrase)
        result = MigrationService(fresh.login("mig1").ctx).reconcile(
            DiskSource(tmp_path / "package", identity=identity)
        )
        assert result.equal
        assert result.report["tables"]["vaccinations"]["source"]["rows"] == 90
    finally:
        fresh.close()


TEXT = (
    st.text(
        alphabet=st.sampled_from('山田花子髙﨑①㈱アイウエオがぎぐ ,"\n[]xyz0'),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(TEXT, min_size=1, max_size=6),
    notes=st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=8),
)
def test_random_datasets_survive_export_then_import_unchanged(
    tmp_path_factory: pytest.TempPathFactory,
    staff_template: Path,
    names: list[str],
    notes: list[str | None],
) -> None:
    work = tmp_path_factory.mktemp("prop")
    origin = Sessions(copy_store(staff_template, work / "origin.db"))
    try:
        store = origin.login("adm1").store
        with store.transaction():
            for number, name in enumerate(names, start=1):
                store.conn.execute(
                    "INSERT INTO residents (atena, name, kana, birth, sex, status, updated_at) "
                    "VALUES (?, ?, 'テスト', '2000-01-01', 'F', 'resident', 'x')",
                    (f"{number:08d}", name),
                )
            for index, note in enumerate(notes):
                store.conn.execute(
                    "INSERT INTO vaccinations (atena, vaccine, dose, date, note, status, source, "
                    "created_at) VALUES (?, 'BCG', ?, '2020-01-01', ?, 'verified', 'test', 'x')",
                    (f"{1 + index % len(names):08d}", index, note),
                )
        columns = "atena, name, kana, birth"
        before = store.conn.execute(f"SELECT {columns} FROM residents ORDER BY atena").fetchall()
        records = "atena, vaccine, dose, date, note"
        before_records = store.conn.execute(
            f"SELECT {records} FROM vaccinations ORDER BY dose"
        ).fetchall()
        key = pyrage.x25519.Identity.generate()  # no scrypt: fast examples
        export_to(origin, work / "package", str(key.to_public()))
        fresh = imported_into_fresh_store(staff_template, work, work / "package", identity=str(key))
        try:
            target = fresh.login("adm1").store
            after = target.conn.execute(f"SELECT {columns} FROM residents ORDER BY atena")
            assert after.fetchall() == before
            after_records = target.conn.execute(f"SELECT {records} FROM vaccinations ORDER BY dose")
            assert after_records.fetchall() == before_records
        finally:
            fresh.close()
    finally:
        origin.close()


def test_a_migration_medium_carries_the_open_layout_that_imports_unchanged(
    sessions: Sessions, tmp_path: Path, staff_template: Path
) -> None:
    from core.services.exports import ExportService
    from exports.verify import open_bundle
    from exports.writer import StoreExporter

    service(sessions).load(source(dataset(tmp_path / "src")))
    maker = sessions.login("mig1")
    exports = ExportService(maker.ctx, StoreExporter(maker.store))
    export = exports.create("migration", "to the next vendor")
    checker = sessions.login("sup1")
    ExportService(checker.ctx, StoreExporter(checker.store)).approve(export.id, "ok")
    written = exports.write(export.id, "立会 花子", out="migration-1.iso")
    assert written.outcome.verified
    opened = open_bundle(
        Path(written.outcome.read_path),
        tmp_path / "opened",
        identity=None,
        passphrase=written.passphrase,
    )
    assert sorted(p.name for p in opened) == [
        "consents.csv",
        "datapackage.json",
        "notices.csv",
        "residents.csv",
        "vaccinations.csv",
    ]
    fresh = Sessions(copy_store(staff_template, tmp_path / "fresh.db"))
    try:
        mig = MigrationService(fresh.login("mig1").ctx)
        assert mig.load(source(tmp_path / "opened")).status == "loaded"
        assert mig.reconcile(source(tmp_path / "opened")).equal
        assert (
            MigrationService(sessions.login("mig1").ctx)
            .reconcile(source(tmp_path / "opened"))
            .equal
        )
    finally:
        fresh.close()


@pytest.mark.parametrize("with_record_key", [True, False])
def test_a_first_load_still_finds_a_key_repeated_in_a_later_batch(
    sessions: Sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_record_key: bool
) -> None:
    import exports.migration.readers as readers

    root = dataset(tmp_path / "src", residents=10, per_person=2)
    records = (root / "vaccinations.csv").read_text("utf-8").splitlines()
    header, body = records[0], records[1:]
    if with_record_key:
        header = "record_key," + header
        body = [f"K{n:04d},{line}" for n, line in enumerate(body)]
        body.append("K0003," + body[5].split(",", 1)[1].replace("2021-0", "2022-0"))
    else:
        body.append(body[0])  # same 宛名番号, vaccine, dose and date as line 2
    (root / "vaccinations.csv").write_text("\n".join([header, *body]) + "\n", "utf-8")
    original = readers.read_batches
    monkeypatch.setattr(
        "exports.migration.source.read_batches",
        lambda *a, **k: original(*a, **{**k, "batch_size": 4}),
    )
    report = service(sessions).load(source(root))
    assert [(i.line, i.reason) for i in report.issues] == [(22, "duplicate_key")]
    assert count(sessions, "vaccinations") == 20

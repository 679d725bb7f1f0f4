"""Building a demo store: a synthetic city with staff accounts, masters and histories.

Only a store whose sidecar is marked as a demo can be rebuilt with ``--force``; a real store is
never deleted by this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from core.audit import Action, AuditEvent
from core.catalog import load_default_catalog
from core.clock import Clock, timestamp
from core.errors import StoreError
from core.japanese.kana import kana_key, kana_loose_key
from core.roles import Role
from core.services.auth import AuthService
from core.services.context import ServiceContext
from core.services.setup import initialise
from core.services.users import NewAccount, UserAdmin
from storage.demo.batch import add_demo_batch
from storage.demo.generator import SyntheticResident, generate_city, generate_institutions
from storage.keyfile import KeyFile, sidecar_path
from storage.residents import mynumber_digest
from storage.store import SqlStore
from storage.vault import SqlStoreFactory, Vault

DEMO_PASSWORD = "sesshu-demo"
DEMO_ADMIN = "adm1"
DEMO_TERMINAL = "DEMO-01"
CHUNK = 10_000

DEMO_USERS: tuple[tuple[str, str, frozenset[Role], bool], ...] = (
    ("op1", "入力 一郎", frozenset({Role.OPERATOR}), True),
    ("op2", "入力 二美", frozenset({Role.OPERATOR}), False),
    ("op3", "入力 三太", frozenset({Role.OPERATOR}), False),
    ("ver1", "照合 花子", frozenset({Role.VERIFIER}), False),
    ("sup1", "所属 長子", frozenset({Role.SUPERVISOR}), True),
    ("aud1", "監査 正", frozenset({Role.AUDITOR}), False),
    ("mig1", "移行 新", frozenset({Role.MIGRATION}), False),
)

Progress = Callable[[int, int], None]  # (residents done, residents total)


@dataclass(frozen=True)
class DemoSummary:
    path: Path
    residents: int
    records: int


def _store_files(path: Path) -> list[Path]:
    return [
        path.with_name(path.name + s)
        for s in ("", "-wal", "-shm", ".keyslots", ".lock", ".sessions", ".masters.json")
    ]


def remove_demo_store(path: Path) -> None:
    """Delete a demo store; refuse anything not marked as a demo."""
    keyfile = KeyFile(path)
    if not keyfile.exists() or keyfile.read().get("demo") is not True:
        raise StoreError("store.not_demo", path=str(path))
    for file in _store_files(path):
        with contextlib.suppress(FileNotFoundError):
            file.unlink()


def build_demo_store(
    path: Path,
    *,
    residents: int,
    seed: int,
    clock: Clock,
    progress: Progress | None = None,
) -> DemoSummary:
    path = path.expanduser().absolute()
    initialise(
        SqlStoreFactory(path, clock),
        admin=DEMO_ADMIN,
        password=DEMO_PASSWORD,
        terminal=DEMO_TERMINAL,
        clock=clock,
    )
    with KeyFile(path).update() as data:
        data["demo"] = True
    vault = Vault(path, clock)
    auth = AuthService(vault, clock)
    session, store = auth.login(DEMO_ADMIN, DEMO_PASSWORD)
    if not isinstance(store, SqlStore):
        raise TypeError(type(store))
    ctx = ServiceContext(store, session, clock)
    try:
        admin = UserAdmin(ctx, vault)
        for name, display, roles, mynumber in DEMO_USERS:
            admin.add(NewAccount(name, roles, display, mynumber_access=mynumber), DEMO_PASSWORD)
        with store.transaction() as uow:
            for name, *_ in DEMO_USERS:
                account = uow.users.get(name)
                if account is not None:
                    uow.users.update(replace(account, must_change_password=False))
            store.conn.execute("INSERT INTO meta (key, value) VALUES ('demo', '1')")
            ctx.record(uow, Action.DEMO_BUILT, "store", step="users", users=len(DEMO_USERS))
        _insert_masters(store, seed)
        records = _insert_city(store, ctx, residents, seed, clock, progress)
        auth.logout(ctx, reason="demo")
    finally:
        store.close()
    add_demo_batch(vault, clock, DEMO_PASSWORD, seed)
    return DemoSummary(path, residents, records)


def _insert_masters(store: SqlStore, seed: int) -> None:
    catalog = load_default_catalog()
    institutions = generate_institutions(seed)
    with store.transaction() as uow:
        uow.db.table("institutions").insert_all(
            {"code": i.code, "name": i.name} for i in institutions
        )
        uow.db.table("physicians").insert_all(
            {"code": code, "institution": i.code, "name": name}
            for i in institutions
            for code, name in i.physicians
        )
        uow.audit.append(
            AuditEvent(
                Action.DEMO_BUILT.value,
                DEMO_ADMIN,
                "store",
                {
                    "step": "masters",
                    "vaccines": len(catalog.vaccines),
                    "institutions": len(institutions),
                },
            )
        )


def _resident_row(r: SyntheticResident, key: bytes, now: str) -> tuple[Any, ...]:
    return (
        r.atena,
        r.mynumber,
        mynumber_digest(key, r.mynumber),
        r.name,
        r.kana,
        kana_key(r.kana),
        kana_loose_key(r.kana),
        r.birth.isoformat(),
        r.sex,
        r.postal,
        r.address,
        r.household,
        r.relation,
        r.status,
        r.status_date.isoformat() if r.status_date else None,
        int(r.dv_flag),
        int(r.no_auto_answer),
        r.guardian,
        now,
    )


def _vaccination_rows(r: SyntheticResident, now: str) -> Iterator[tuple[Any, ...]]:
    for v in r.vaccinations:
        yield (
            r.atena,
            v.vaccine,
            v.dose,
            v.date.isoformat(),
            v.maker,
            v.lot,
            v.institution,
            v.physician,
            "verified",
            "demo",
            now,
        )


def _chunks(items: Iterable[SyntheticResident], size: int) -> Iterator[list[SyntheticResident]]:
    chunk: list[SyntheticResident] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _insert_city(
    store: SqlStore,
    ctx: ServiceContext,
    residents: int,
    seed: int,
    clock: Clock,
    progress: Progress | None,
) -> int:
    now = timestamp(clock.now())
    today: date = clock.now().date()
    done = 0
    records = 0
    for chunk in _chunks(generate_city(residents, seed, today), CHUNK):
        with store.transaction() as uow:
            store.conn.executemany(
                "INSERT INTO residents (atena, mynumber, mynumber_hmac, name, kana, kana_key, "
                "kana_loose_key, birth, sex, postal, address, household, relation, status, "
                "status_date, dv_flag, no_auto_answer, guardian, updated_at, synced_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                [_resident_row(r, store.lookup_key, now) for r in chunk],
            )
            rows = [row for r in chunk for row in _vaccination_rows(r, now)]
            store.conn.executemany(
                "INSERT INTO vaccinations (atena, vaccine, dose, date, maker, lot, institution, "
                "physician, status, source, created_at, synced_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                rows,
            )
            ctx.record(
                uow,
                Action.DEMO_BUILT,
                "store",
                step="residents",
                first=chunk[0].atena,
                last=chunk[-1].atena,
                residents=len(chunk),
                records=len(rows),
            )
        done += len(chunk)
        records += len(rows)
        if progress:
            progress(done, residents)
    return records


def is_demo_store(path: Path) -> bool:
    side = sidecar_path(path)
    return side.is_file() and KeyFile(path).read().get("demo") is True

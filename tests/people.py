"""A small, hand-made population with the tricky cases search must handle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.clock import SystemClock
from core.identifiers import mynumber_check_digit
from core.services.auth import AuthService
from storage.store import SqlStore
from storage.vault import Vault
from tests.conftest import PASSWORD


def mynumber(serial: int) -> str:
    first = f"{serial:011d}"
    return first + str(mynumber_check_digit(first))


@dataclass(frozen=True)
class Person:
    atena: str
    name: str
    kana: str
    birth: date
    sex: str = "M"
    address: str = "桜台一丁目1番1号"
    status: str = "resident"
    status_date: date | None = None
    dv: bool = False
    no_auto: bool = False


PEOPLE: tuple[Person, ...] = (
    Person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1990, 1, 1)),
    Person("1000000002", "山田　花子", "ヤマダ　ハナコ", date(1989, 1, 8), "F"),
    Person("1000000003", "髙橋　一郎", "タカハシ　イチロウ", date(1964, 3, 31)),
    Person("1000000004", "高橋　次郎", "タカハシ　ジロウ", date(1970, 12, 31)),
    Person("1000000005", "山﨑　茂", "ヤマザキ　シゲル", date(1955, 2, 28)),
    Person("1000000006", "山崎　静", "ヤマサキ　シズカ", date(1956, 5, 5), "F"),
    Person("1000000007", "齋藤　学", "サイトウ　マナブ", date(2000, 4, 1)),
    Person("1000000008", "斎藤　望", "サイトウ　ノゾミ", date(2000, 4, 2), "F"),
    Person("1000000009", "渡邊　健", "ワタナベ　ケン", date(1980, 6, 15)),
    Person("1000000010", "渡辺　舞", "ワタナベ　マイ", date(2019, 5, 1), "F"),
    Person("1000000011", "澤田　ちぢみ", "サワダ　チヂミ", date(2010, 10, 10), "F"),
    Person("1000000012", "沢田　ちじみ", "サワダ　チジミ", date(2011, 11, 11), "F"),
    Person(
        "1000000013",
        "O'Brien [red]Jr;[/]",
        "オブライエン　ジュニア",
        date(1975, 7, 7),
        address="[bold]桜台３丁目４番５号;",
    ),
    Person(
        "1000000014", "大野　幸", "オーノ　ユキ", date(1948, 8, 8), "F", address="緑町２丁目３番"
    ),
    Person(
        "1000000015",
        "秘匿　保護",
        "ヒトク　ホゴ",
        date(1985, 9, 9),
        "F",
        address="秘密町9番9号",
        dv=True,
    ),
    Person(
        "1000000016",
        "転出　太一",
        "テンシュツ　タイチ",
        date(1995, 3, 3),
        status="moved_out",
        status_date=date(2024, 4, 1),
    ),
    Person(
        "1000000017",
        "故人　一",
        "コジン　ハジメ",
        date(1930, 1, 2),
        status="deceased",
        status_date=date(2025, 12, 1),
        no_auto=True,
    ),
    Person("1000000018", "濵田　浜", "ハマダ　ハマ", date(1999, 12, 31), "F"),
    Person("1000000019", "ヴィオラ　葵", "ヴィオラ　アオイ", date(2005, 5, 5), "F"),
    Person("1000000020", "ビオラ　茜", "ビオラ　アカネ", date(2006, 6, 6), "F"),
)
MYNUMBERS = {p.atena: mynumber(i * 7919) for i, p in enumerate(PEOPLE, start=1)}
CHILD = PEOPLE[9]  # 渡辺 舞: sixty vaccination rows


def open_store(path: Path, user: str = "adm1") -> SqlStore:
    clock = SystemClock()
    _, store = AuthService(Vault(path, clock), clock).login(user, PASSWORD)
    assert isinstance(store, SqlStore)
    return store


def populate(path: Path) -> None:
    """Add masters, PEOPLE, sixty records for CHILD and one pending record for 山田 太郎."""
    store = open_store(path)
    try:
        with store.transaction() as uow:
            conn = store.conn
            conn.execute(
                "INSERT OR IGNORE INTO vaccines (code, name, name_en, category, definition) VALUES "
                "('HIB', 'ヒブ', 'Hib', 'A', '{}'), "
                "('FLU', 'インフルエンザ', 'Influenza', 'B', '{}')"
            )
            conn.execute(
                "INSERT INTO institutions (code, name) VALUES ('1310000001', 'さくら小児科')"
            )
            conn.execute(
                "INSERT INTO physicians (code, institution, name) "
                "VALUES ('D001', '1310000001', '医師　一')"
            )
            for p in PEOPLE:
                number = MYNUMBERS[p.atena]
                conn.execute(
                    "INSERT INTO residents (atena, mynumber, mynumber_hmac, name, kana, birth, "
                    "sex, address, status, status_date, dv_flag, no_auto_answer, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'test')",
                    (
                        p.atena,
                        number,
                        store.mynumber_digest(number),
                        p.name,
                        p.kana,
                        p.birth.isoformat(),
                        p.sex,
                        p.address,
                        p.status,
                        p.status_date.isoformat() if p.status_date else None,
                        int(p.dv),
                        int(p.no_auto),
                    ),
                )
            rows = [
                (
                    CHILD.atena,
                    "HIB" if i % 2 else "FLU",
                    i // 2 + 1,
                    date(2019 + i // 12, i % 12 + 1, 10).isoformat(),
                    f"LOT{i:03d}",
                    "1310000001",
                    "D001",
                    "verified",
                )
                for i in range(60)
            ]
            rows.append(
                (PEOPLE[0].atena, "FLU", 1, "2025-11-01", "P001", "1310000001", "D001", "pending")
            )
            conn.executemany(
                "INSERT INTO vaccinations (atena, vaccine, dose, date, lot, institution, "
                "physician, status, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'test', "
                "'test')",
                rows,
            )
            del uow
        store.checkpoint_wal()
    finally:
        store.close()

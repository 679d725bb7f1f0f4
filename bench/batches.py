"""Slip batches on a copy of a large store: saving one slip, and compare + commit of a batch.

    .venv/bin/python -m bench.batches --store /path/city.db [--slips 1000] [--rounds 5]

The input store is never written: its file, WAL and key slots are copied into a temporary
directory beside it, and the copy is opened (and migrated if it needs to be) before any timing.
A plain twin is exported from the copy; the encrypted and plain rounds alternate.

Slips are realistic: real residents of the store, influenza for older people in the current
season or the next PCV / Hib dose for infants, institutions, physicians and makers from the
masters, lots in the catalogue's patterns. None would be held as a duplicate.

Each round keys a new batch twice with ``key_many`` (op1, op2; outside the timing, a few
fields keyed differently in the second pass), then times ``compare`` by the reconciler (ver1),
resolves the mismatches (outside the timing) and times ``commit`` by ver1.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from bench.common import context, login, percentiles, plain_twin, record, timed
from core.batches import RecordKey, find_duplicate
from core.catalog import Catalog, Vaccine, load_default_catalog
from core.japanese.wareki import format_wareki
from core.services.batches import BatchService
from core.slips import SlipValues
from storage.batches import SqlRecords
from storage.database_types import Connection
from storage.keyfile import sidecar_path
from storage.store import SESSIONS_SUFFIX, SqlStore

Raw = dict[str, object]
T = TypeVar("T")

USERS = ("op1", "op2", "ver1")  # first pass, second pass, reconciler and committer
INFANT_SHARE = 0.15
INFANT_VACCINES = ("PCV", "HIB")
LOT_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
REASON = "伝票原本で確認"
TARGET_SAVE_MS = 10
TARGET_BATCH_MS = 1000


def in_use(path: Path) -> bool:
    """Whether a session holds the store open (a build still running, a terminal)."""
    sessions = path.with_name(path.name + SESSIONS_SUFFIX)
    if not sessions.exists():
        return False
    fd = os.open(sessions, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def copy_store(source: Path, scratch: Path) -> Path:
    target = scratch / source.name
    for name in (source, source.with_name(source.name + "-wal"), sidecar_path(source)):
        if name.exists():
            shutil.copyfile(name, scratch / name.name)
    return target


def size_mib(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20, 1)


def timed_call(call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - start) * 1000


# -- slips ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    """A field the second pass keyed differently, and the value on the paper slip."""

    slip: str
    field: str
    value: str


@dataclass(frozen=True)
class BatchSlips:
    """One batch as each keyer keys it, and the reconciler's fixes."""

    first: list[Raw]
    second: list[Raw]
    fixes: list[Fix]


def season_days(vaccine: Vaccine, today: date) -> tuple[date, date]:
    """The first and last day so far of the latest season of a recurring vaccine."""
    season = vaccine.season
    if season is None:
        raise ValueError(vaccine.code)
    year = today.year if (today.month, today.day) >= season.start else today.year - 1
    first = date(year, *season.start)
    last = date(year + (season.end < season.start), *season.end)
    return first, min(last, today)


def lot(pattern: str, rng: random.Random) -> str:
    return "".join(
        rng.choice("0123456789") if c == "#" else rng.choice(LOT_LETTERS) if c == "@" else c
        for c in pattern
    )


class SlipMaker:
    """Draws residents without replacement and writes the slips a clinic would send."""

    def __init__(self, store: SqlStore, catalog: Catalog, today: date, seed: int) -> None:
        self.rng = random.Random(seed)
        self.catalog = catalog
        self.today = today
        self.records = SqlRecords(store.conn)
        self.flu = catalog.get("FLU") or _missing("FLU")
        self.season = season_days(self.flu, today)
        first = self.season[0]
        conn = store.conn
        self.elderly = self._people(
            conn, "birth <= ?", (first.replace(year=first.year - 65).isoformat(),)
        )
        self.infants = self._people(
            conn,
            "birth BETWEEN ? AND ?",
            ((today - timedelta(days=730)).isoformat(), (today - timedelta(days=90)).isoformat()),
        )
        rows = conn.execute(
            "SELECT p.institution, p.code FROM physicians p "
            "JOIN institutions i ON i.code = p.institution WHERE p.active AND i.active"
        ).fetchall()
        self.physicians: dict[str, list[str]] = {}
        for institution, code in rows:
            self.physicians.setdefault(institution, []).append(code)
        self.institutions = sorted(self.physicians)
        self.makers = {row[0] for row in conn.execute("SELECT code FROM makers WHERE active")}

    def _people(self, conn: Connection, where: str, params: tuple[str, ...]) -> list[str]:
        rows = conn.execute(
            f"SELECT atena FROM residents WHERE status = 'resident' AND {where}", params
        )
        people = [row[0] for row in rows]
        self.rng.shuffle(people)
        return people

    def slips(self, count: int) -> list[Raw]:
        """``count`` valid slips numbered from 1, each for a different resident."""
        slips: list[Raw] = []
        while len(slips) < count:
            drawn = [self._draw() for _ in range(count - len(slips))]
            history = self.records.history(atena for atena, _ in drawn)
            for atena, infant in drawn:
                raw = self._slip(atena, infant, history[atena])
                if raw is not None:
                    slips.append({"slip": len(slips) + 1, **raw})
        return slips

    def _draw(self) -> tuple[str, bool]:
        infant = self.rng.random() < INFANT_SHARE and bool(self.infants)
        pool = self.infants if infant else self.elderly
        if not pool:
            raise SystemExit("the store has too few residents for this many slips")
        return pool.pop(), infant

    def _slip(self, atena: str, infant: bool, history: list[RecordKey]) -> Raw | None:
        if infant:
            day = self.today - timedelta(days=self.rng.randint(1, 40))
            codes = list(INFANT_VACCINES)
            self.rng.shuffle(codes)
            for code in codes:
                vaccine = self.catalog.get(code) or _missing(code)
                done = [k.dose or 0 for k in history if k.vaccine == code]
                dose = max(done, default=0) + 1
                if dose <= vaccine.dose_count:
                    return self._values(atena, vaccine, dose, day, history)
            return None
        first, last = self.season
        day = first + timedelta(days=self.rng.randint(0, (last - first).days))
        return self._values(atena, self.flu, 1, day, history)

    def _values(
        self, atena: str, vaccine: Vaccine, dose: int, day: date, history: list[RecordKey]
    ) -> Raw | None:
        values: SlipValues = {
            "atena": atena,
            "vaccine": vaccine.code,
            "dose": str(dose),
            "date": day.isoformat(),
        }
        if find_duplicate("", values, history, [], vaccine) is not None:
            return None
        products = [
            p for p in vaccine.products if p.available_on(day) and p.maker in self.makers
        ] or list(vaccine.products)
        product = self.rng.choice(products)
        institution = self.rng.choice(self.institutions)
        return {
            **values,
            "lot": lot(product.lot_pattern, self.rng),
            "maker": product.maker,
            "institution": institution,
            "physician": self.rng.choice(self.physicians[institution]),
            "amount": "0.5",
        }


def second_pass(first: list[Raw], mismatches: int, rng: random.Random) -> BatchSlips:
    """The second keyer's slips: dates in 和暦, a few lots or dates keyed wrong."""
    second = [
        {**raw, "date": format_wareki(date.fromisoformat(str(raw["date"])), "short")}
        for raw in first
    ]
    fixes: list[Fix] = []
    for index in rng.sample(range(len(first)), min(mismatches, len(first))):
        raw, slip = first[index], str(first[index]["slip"])
        if len(fixes) % 2:
            day = date.fromisoformat(str(raw["date"])) - timedelta(days=1)
            second[index]["date"] = day.isoformat()
            fixes.append(Fix(slip, "date", str(raw["date"])))
        else:
            keyed = str(raw["lot"])
            second[index]["lot"] = keyed[:-1] + ("8" if keyed[-1] != "8" else "3")
            fixes.append(Fix(slip, "lot", keyed))
    return BatchSlips(first, second, fixes)


def _missing(code: str) -> NoReturn:
    raise SystemExit(f"the catalogue has no {code}")


# -- the people at the desk -------------------------------------------------------------------


@dataclass(frozen=True)
class Desk:
    """One store as three terminals see it: first keyer, second keyer, reconciler."""

    label: str
    first: BatchService
    second: BatchService
    reconciler: BatchService


def desk(label: str, stores: Mapping[str, SqlStore], sessions: Mapping[str, Any]) -> Desk:
    first, second, reconciler = (
        BatchService(context(stores[user], sessions[user])) for user in USERS
    )
    return Desk(label, first, second, reconciler)


def save_latency(desk: Desk, slips: list[Raw], today: date, warmup: int) -> list[float]:
    """One ``key`` call per slip, pass 1, as the form saves it."""
    batch = desk.first.create(f"ベンチ 一件保存 {desk.label}", today.isoformat(), len(slips)).id
    desk.first.masters()
    samples = [timed(partial(desk.first.key, batch, 1, raw)) for raw in slips]
    return samples[warmup:]


def batch_round(desk: Desk, batch: BatchSlips, today: date, number: int) -> dict[str, float]:
    source = f"ベンチ 第{number}回 {desk.label}"
    batch_id = desk.first.create(source, today.isoformat(), len(batch.first)).id
    first, keyed_1 = timed_call(lambda: desk.first.key_many(batch_id, 1, batch.first))
    second, keyed_2 = timed_call(lambda: desk.second.key_many(batch_id, 2, batch.second))
    if first.rejected or second.rejected:
        raise RuntimeError(f"slips rejected: {(first.rejected or second.rejected)[:3]}")
    comparison, compare_ms = timed_call(lambda: desk.reconciler.compare(batch_id))
    if len(comparison.open_mismatches) != len(batch.fixes):
        raise RuntimeError(f"{len(comparison.open_mismatches)} mismatches, not {len(batch.fixes)}")
    for fix in batch.fixes:
        desk.reconciler.resolve(batch_id, fix.slip, fix.field, fix.value, REASON)
    result, commit_ms = timed_call(lambda: desk.reconciler.commit(batch_id))
    return {
        "compare_ms": compare_ms,
        "commit_ms": commit_ms,
        "total_ms": compare_ms + commit_ms,
        "key_many_ms": (keyed_1 + keyed_2) / 2,
        "committed": result.committed,
        "duplicates": len(result.duplicates),
        "flagged": len(result.flagged),
    }


def summary(rounds: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "compare": percentiles([r["compare_ms"] for r in rounds]),
        "commit": percentiles([r["commit_ms"] for r in rounds]),
        "total": percentiles([r["total_ms"] for r in rounds]),
        "total_rounds_ms": [round(r["total_ms"], 1) for r in rounds],
        "key_many_p50_ms": round(statistics.median(r["key_many_ms"] for r in rounds), 1),
        "committed": sum(int(r["committed"]) for r in rounds),
        "duplicates": sum(int(r["duplicates"]) for r in rounds),
        "flagged": sum(int(r["flagged"]) for r in rounds),
    }


def ratios(encrypted: dict[str, float], plain: dict[str, float]) -> dict[str, float]:
    return {
        "ratio_p50": round(encrypted["p50_ms"] / plain["p50_ms"], 2),
        "ratio_p95": round(encrypted["p95_ms"] / plain["p95_ms"], 2),
    }


def table(result: dict[str, Any]) -> Iterator[str]:
    save, batch = result["save_slip"], result["batch"]
    enc, pla = batch["encrypted"], batch["plain"]
    yield f"{'':34}{'encrypted':>12}{'plain':>12}{'ratio':>8}{'target':>9}"
    for label, stat, a, b, target in (
        ("save one slip p50 (ms)", "p50_ms", save["encrypted"], save["plain"], TARGET_SAVE_MS),
        ("save one slip p95 (ms)", "p95_ms", save["encrypted"], save["plain"], TARGET_SAVE_MS),
        (f"compare {batch['slips']} p50 (ms)", "p50_ms", enc["compare"], pla["compare"], None),
        (f"commit {batch['slips']} p50 (ms)", "p50_ms", enc["commit"], pla["commit"], None),
        ("compare + commit p50 (ms)", "p50_ms", enc["total"], pla["total"], TARGET_BATCH_MS),
        ("compare + commit max (ms)", "max_ms", enc["total"], pla["total"], TARGET_BATCH_MS),
    ):
        ratio = a[stat] / b[stat]
        limit = f"≤ {target}" if target else ""
        yield f"{label:34}{a[stat]:>12.1f}{b[stat]:>12.1f}{ratio:>8.2f}{limit:>9}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--slips", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--mismatches", type=int, help="per batch; default one slip in 100")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    source = args.store.expanduser().absolute()
    if not source.is_file():
        parser.error(f"{source} does not exist")
    if in_use(source):
        parser.error(f"{source} is open elsewhere (a build still running?)")
    mismatches = args.slips // 100 if args.mismatches is None else args.mismatches
    warmup = 10
    load_start = os.getloadavg()
    today = date.today()
    with tempfile.TemporaryDirectory(dir=source.parent, prefix="bench-batches-") as scratch:
        path, copy_ms = timed_call(lambda: copy_store(source, Path(scratch)))
        store_mib = size_mib(path)
        (session, store), first_open_ms = timed_call(lambda: login(path, USERS[0]))
        sessions, encrypted = {USERS[0]: session}, {USERS[0]: store}
        for user in USERS[1:]:
            sessions[user], encrypted[user] = login(path, user)
        conn = store.conn
        residents = conn.execute("SELECT count(*) FROM residents").fetchone()[0]
        records = conn.execute("SELECT count(*) FROM vaccinations").fetchone()[0]
        maker = SlipMaker(store, load_default_catalog(), today, args.seed)
        saves = maker.slips(args.saves + warmup)
        rng = random.Random(args.seed)
        batches = [
            second_pass(maker.slips(args.slips), mismatches, rng) for _ in range(args.rounds)
        ]
        twin = Path(scratch) / "plain.db"
        _, export_ms = timed_call(lambda: plain_twin(store, twin))
        plain = {user: plain_twin(encrypted[user], twin) for user in USERS}
        desks = (desk("encrypted", encrypted, sessions), desk("plain", plain, sessions))
        save = {d.label: percentiles(save_latency(d, saves, today, warmup)) for d in desks}
        rounds: dict[str, list[dict[str, float]]] = {d.label: [] for d in desks}
        for number, batch in enumerate(batches, start=1):
            for d in desks if number % 2 else desks[::-1]:
                rounds[d.label].append(batch_round(d, batch, today, number))
        for opened in (*plain.values(), *encrypted.values()):
            opened.close()
    enc, pla = summary(rounds["encrypted"]), summary(rounds["plain"])
    result: dict[str, Any] = {
        "benchmark": "batches",
        "residents": residents,
        "records": records,
        "store_mib": store_mib,
        "copy_s": round(copy_ms / 1000, 1),
        "first_open_s": round(first_open_ms / 1000, 1),
        "plain_export_s": round(export_ms / 1000, 1),
        "save_slip": {**save, **ratios(save["encrypted"], save["plain"])},
        "batch": {
            "slips": args.slips,
            "mismatches": mismatches,
            "rounds": args.rounds,
            "encrypted": enc,
            "plain": pla,
            **ratios(enc["total"], pla["total"]),
        },
        "cpus": os.cpu_count(),
        "load_start": [round(x, 2) for x in load_start],
        "load_end": [round(x, 2) for x in os.getloadavg()],
    }
    record("batches", result)
    print("\n".join(table(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""SYNTHETIC migration datasets for tests, demos and benchmarks. No row is a real person.

People come from ``storage.demo``: its household model and its tables of common surnames,
given names and fictional towns. Everything is drawn from ``random.Random(seed)``, so a seed
gives the same bytes every time, and files are streamed: memory does not grow with the size.

``write_open_dataset`` writes the open layout (``core.migration.schema``, UTF-8 CSV);
``write_legacy_dataset`` writes the files of ``layouts/legacy_a.toml`` (fixed-width CP932 with
half-width kana, era-coded dates and legacy codes), optionally with one planted problem of each
kind the import reports.
"""

from __future__ import annotations

import contextlib
import csv
import random
import tomllib
import unicodedata
from bisect import bisect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import NamedTuple, TextIO

from core.catalog import load_default_catalog
from core.identifiers import mynumber_check_digit
from core.japanese.wareki import format_wareki
from core.migration.layout import FileSpec, Layout, parse_layout
from core.migration.schema import CONSENTS, NOTICES, RESIDENTS, VACCINATIONS
from exports.migration import example_layout
from exports.migration.legacy import write_file
from storage.demo.population import HouseholdMaker, Member
from storage.demo.tables import name_tables, place_tables

TODAY = date(2025, 3, 31)
"""The day the synthetic city is drawn on (fixed, so that a seed always gives the same files)."""
_TODAY = TODAY.toordinal()
_Y1935, _Y1955, _Y1990 = (date(year, 1, 1).toordinal() for year in (1935, 1955, 1990))
ATENA_BASE = 1_000_000_000
"""宛名番号 of person i: ATENA_BASE + 10 i + (0..8); ATENA_BASE + 10 i + 9 is never used."""

_MIN_AGE_DAYS = 60  # everyone is old enough to have had a few vaccinations
_MYNUMBER_SPACE = 10**11
_MYNUMBER_STRIDE = 3_141_592_653  # coprime to 10**11: person i → a distinct number
_RARE_SURNAMES = (("𠮷田", "ヨシダ"),)  # 𠮷 is not in CP932: a 外字 in the legacy files
_CIRCLED = "①②③④⑤⑥⑦⑧⑨"  # NEC special characters of CP932
_LINE_END = "\r\n"


class _Person(NamedTuple):  # a tuple: a million of them are made, and tuples are made fast
    position: int  # in 宛名番号 order, from 0
    atena: str
    mynumber: str
    name: str
    kana: str  # full-width katakana, U+3000 between surname and given name
    birth: int  # date.toordinal()
    sex: str
    postal: str
    address: str
    household: str
    relation: str
    status: str
    status_date: int | None
    guardian: str
    dv_flag: int


def atena_of(index: int, seed: int = 1) -> str:
    return str(ATENA_BASE + 10 * index + (index * 7 + seed) % 9)


def _mynumber(index: int, offset: int) -> str:
    first = f"{(offset + index * _MYNUMBER_STRIDE) % _MYNUMBER_SPACE:011d}"
    return first + str(mynumber_check_digit(first))


class _City:
    """Draws people household by household, in 宛名番号 order."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.seed = seed
        self.names = name_tables()
        self.places = place_tables()
        self.households = HouseholdMaker(rng, _TODAY - _MIN_AGE_DAYS)
        self.mynumber_offset = rng.randrange(_MYNUMBER_SPACE)

    def people(self, count: int) -> Iterator[_Person]:
        index = 0
        while index < count:
            members = self.households.household()[: count - index]
            yield from self._household(index, members)
            index += len(members)

    def _household(self, first: int, members: list[Member]) -> Iterator[_Person]:
        random_ = self.rng.random
        surname = self._surname()
        postal, address = self._address()
        atenas = [atena_of(first + i, self.seed) for i in range(len(members))]
        for offset, member in enumerate(members):
            index = first + offset
            given, given_kana = self._given(member.sex, member.birth)
            draw = random_()
            status, status_date = "resident", None
            if draw < 0.06:
                status = "moved_out" if draw < 0.04 else "deceased"
                status_date = member.birth + int((_TODAY - member.birth) * random_())
            minor = _TODAY - member.birth < 18 * 365
            yield _Person(
                position=index,
                atena=atenas[offset],
                mynumber=_mynumber(index, self.mynumber_offset) if random_() < 0.9 else "",
                name=f"{surname[0]}\u3000{given}",
                kana=f"{surname[1]}\u3000{given_kana}",
                birth=member.birth,
                sex=member.sex,
                postal=postal,
                address=address,
                household=atenas[0],
                relation=member.relation,
                status=status,
                status_date=status_date,
                guardian=atenas[member.parent] if minor and member.parent is not None else "",
                dv_flag=1 if random_() < 0.003 else 0,
            )

    def _surname(self) -> tuple[str, str]:
        if self.rng.random() < 0.002:
            return _RARE_SURNAMES[0]
        names = self.names
        pick = self.rng.random() * names.surname_cumulative[-1]
        return names.surnames[bisect(names.surname_cumulative, pick)]

    def _given(self, sex: str, birth: int) -> tuple[str, str]:
        era = "N" if birth >= _Y1990 else "M" if birth >= _Y1955 else "S"
        if sex == "F" and birth < _Y1935:
            era = "K"
        names = self.names.given.get((sex, era)) or self.names.given[(sex, "S")]
        return names[int(self.rng.random() * len(names))]

    def _address(self) -> tuple[str, str]:
        random_ = self.rng.random
        places = self.places
        town, blocks = places.towns[int(random_() * len(places.towns))]
        if blocks:
            place = f"{town}{1 + int(random_() * blocks)}丁目{1 + int(random_() * 30)}番"
            place += f"{1 + int(random_() * 20)}号"
        else:
            place = f"{town}{1 + int(random_() * 3000)}番地"
        postal = f"{190 + len(town) * 7 + blocks:03d}-{int(random_() * 10000):04d}"
        draw = random_()
        if draw < 0.25:
            prefixes, suffixes = places.building_prefixes, places.building_suffixes
            building = prefixes[int(random_() * len(prefixes))]
            building += suffixes[int(random_() * len(suffixes))]
            room = _CIRCLED[int(random_() * 9)] if draw < 0.03 else f"{1 + int(random_() * 4)}01号"
            place += f"\u3000{building}{room}"
        elif draw < 0.27:
            company = places.clinic_prefixes[int(random_() * len(places.clinic_prefixes))]
            place += f"\u3000㈱{company}社宅"
        return postal, place


def _spread(total: int, count: int, rank: int) -> int:
    """How many of ``total`` items the ``rank``-th of ``count`` holders gets (evenly spread)."""
    return (rank + 1) * total // count - rank * total // count


def _days(birth: int, count: int, rng: random.Random) -> list[int]:
    """``count`` days after ``birth``, up to TODAY: one in each of ``count`` equal slots, so
    they increase strictly while the slots are at least a day long (60 records for a baby)."""
    slot = (_TODAY - birth) // count if count > 0 else 0
    if slot < 1:
        return [min(birth + 1 + i, _TODAY) for i in range(count)]
    random_, start = rng.random, birth + 1
    return [start + i * slot + int(random_() * slot) for i in range(count)]


_FIRST_DAY = date(1900, 1, 1).toordinal()


@cache
def _iso_days() -> list[str]:
    """ISO texts of the days from 1900 to a year after TODAY, by ``ordinal - _FIRST_DAY``."""
    return [date.fromordinal(day).isoformat() for day in range(_FIRST_DAY, _TODAY + 400)]


def _iso(day: int) -> str:
    days, index = _iso_days(), day - _FIRST_DAY
    return days[index] if 0 <= index < len(days) else date.fromordinal(day).isoformat()


# --- the open layout ---------------------------------------------------------------------------


def write_open_dataset(
    out: Path,
    residents: int,
    records: int,
    *,
    seed: int = 1,
    vaccines: Sequence[str],
    notices: int = 0,
    consents: int = 0,
) -> dict[str, int]:
    """``residents.csv`` and ``vaccinations.csv`` (and notices, consents) in the open layout.

    Rows follow 宛名番号 order; vaccination records carry the record key ``L%010d``. Returns
    the number of data rows per file.
    """
    if residents < 1 or not vaccines or min(records, notices, consents) < 0:
        raise ValueError("residents and vaccines must not be empty, nor any count negative")
    out.mkdir(parents=True, exist_ok=True)
    tables = {"residents.csv": RESIDENTS, "vaccinations.csv": VACCINATIONS}
    if notices:
        tables["notices.csv"] = NOTICES
    if consents:
        tables["consents.csv"] = CONSENTS
    rng = random.Random(seed)
    rows = _OpenRows(rng, vaccines)
    counts = dict.fromkeys(tables, 0)
    buffers: dict[str, list[str]] = {name: [] for name in tables}
    with contextlib.ExitStack() as stack:
        handles = {
            name: stack.enter_context((out / name).open("w", encoding="utf-8", newline=""))
            for name in tables
        }
        for name, table in tables.items():
            handles[name].write(",".join(table.names) + _LINE_END)
        for person in _City(rng, seed).people(residents):
            rank = person.position
            buffers["residents.csv"].append(_open_resident(person))
            rows.vaccinations(
                person, _spread(records, residents, rank), buffers["vaccinations.csv"]
            )
            if notices:
                rows.notices(person, _spread(notices, residents, rank), buffers["notices.csv"])
            if consents:
                rows.consents(person, _spread(consents, residents, rank), buffers["consents.csv"])
            if len(buffers["vaccinations.csv"]) >= 10_000 or len(buffers["residents.csv"]) >= 1000:
                _flush(handles, buffers, counts)
        _flush(handles, buffers, counts)
    return counts


class _OpenRows:
    """Rows of the open layout's record tables, drawn fast: lots and institutions come from
    pools drawn once (real ones repeat across many records too)."""

    def __init__(self, rng: random.Random, vaccines: Sequence[str]) -> None:
        self.rng = rng
        self.codes = list(vaccines)
        catalog = load_default_catalog()
        last = [v.dose_count if (v := catalog.get(code)) else 1 for code in vaccines]
        # "CODE,DOSE" by vaccine and by how many of it the person has had (capped at 9)
        self.code_doses = [
            [""] + [f"{code},{min(d, n)}" for d in range(1, 10)]
            for code, n in zip(vaccines, last, strict=True)
        ]
        places = [_institution(rng) for _ in range(300)]
        # the columns after the date: date_unknown … created_at, with a lot and an institution
        self.tails = [
            f",0,0.5,,{_lot(rng)},{places[int(rng.random() * 300)]},,,0,,verified,,,,{_LINE_END}"
            for _ in range(4000)
        ]
        self.record_key = 0

    def vaccinations(self, person: _Person, count: int, lines: list[str]) -> None:
        """``count`` records on increasing days; each vaccine's doses count up to its last."""
        random_, code_doses, tails = self.rng.random, self.code_doses, self.tails
        days, first, atena = _iso_days(), _FIRST_DAY, person.atena
        seen = [0] * len(code_doses)
        key = self.record_key
        for day in _days(person.birth, count, self.rng):
            i = int(random_() * len(code_doses))
            seen[i] += 1
            key += 1
            code_dose, tail = code_doses[i][min(seen[i], 9)], tails[int(random_() * len(tails))]
            lines.append(f"L{key:010d},{atena},{code_dose},{days[day - first]}{tail}")
        self.record_key = key

    def notices(self, person: _Person, count: int, lines: list[str]) -> None:
        random_, codes = self.rng.random, self.codes
        for day in _days(person.birth, count, self.rng):
            kind = ("guide", "voucher", "recommendation")[int(random_() * 3)]
            code = codes[int(random_() * len(codes))]
            lines.append(f"{person.atena},{kind},{code},{_iso(day)},{_LINE_END}")

    def consents(self, person: _Person, count: int, lines: list[str]) -> None:
        random_, codes = self.rng.random, self.codes
        for day in _days(person.birth, count, self.rng):
            code = codes[int(random_() * len(codes))]
            lines.append(f"{person.atena},{code},{_iso(day)},{_iso(day + 365)},{_LINE_END}")


def _open_resident(p: _Person) -> str:
    status_date = _iso(p.status_date) if p.status_date else ""
    reason = {"moved_out": "転出", "deceased": "死亡"}.get(p.status, "")
    return (
        f"{p.atena},{p.mynumber},{p.name},{p.kana},,,{_iso(p.birth)},{p.sex},{p.postal},"
        f"{p.address},{p.household},{p.relation},{p.status},{status_date},{reason},{p.dv_flag},"
        f"0,{p.guardian},{_LINE_END}"
    )


def _lot(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXY"
    return f"{letters[int(rng.random() * 22)]}{letters[int(rng.random() * 22)]}" + str(
        1000 + int(rng.random() * 9000)
    )


def _institution(rng: random.Random) -> str:
    return f"13{10000000 + int(rng.random() * 500):08d}"


def _flush(
    handles: Mapping[str, TextIO], buffers: dict[str, list[str]], counts: dict[str, int]
) -> None:
    for name, lines in buffers.items():
        handles[name].writelines(lines)
        counts[name] += len(lines)
        lines.clear()


# --- the legacy layout (layouts/legacy_a.toml) -------------------------------------------------

PLANTED = ("encoding", "date", "duplicate_key", "unknown_atena", "mynumber_check", "unmapped_code")
"""The problems ``write_legacy_dataset(errors=True)`` plants, one of each."""
UNMAPPED_VACCINE = "99"
_IMPOSSIBLE_DATE = b"20230230"
_BAD_NAME_BYTES = b"\x85\x40"  # a lead byte with a trail byte CP932 leaves undefined


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where problems are planted: residents by index, vaccination records by position.

    The residents that carry a problem get no records, notices or consents, so that each
    planted problem is the only one it causes.
    """

    residents: int
    records: int
    encoding: int | None = None
    duplicate_key: int | None = None
    mynumber_check: int | None = None
    date: int | None = None
    unknown_atena: int | None = None
    unmapped_code: int | None = None
    victims: tuple[int, ...] = ()  # the residents with a planted problem

    @classmethod
    def of(cls, residents: int, records: int, errors: bool) -> _Plan:
        plan = cls(residents, records)
        if not errors:
            return plan
        if residents < 8 or records < 4:
            raise ValueError("planting problems needs at least 8 residents and 4 records")
        victims = (residents // 4, residents // 2, 3 * residents // 4)
        return replace(
            plan,
            encoding=victims[0],
            duplicate_key=victims[1],
            mynumber_check=victims[2],
            date=records // 2,
            unknown_atena=records // 3,
            unmapped_code=records - 1,
            victims=victims,
        )

    def share(self, total: int, index: int) -> int:
        """How many of ``total`` rows resident ``index`` holds (none for a victim)."""
        if index in self.victims:
            return 0
        rank = index - sum(1 for victim in self.victims if victim < index)
        return _spread(total, self.residents - len(self.victims), rank)

    def where(self, specs: dict[str, FileSpec]) -> dict[str, tuple[str, int]]:
        """(file, line) of each planted problem."""
        residents, records = specs["residents"].path, specs["vaccinations"].path
        found = {
            "encoding": (residents, self.encoding),
            "duplicate_key": (residents, self.duplicate_key),
            "mynumber_check": (residents, self.mynumber_check),
            "date": (records, self.date),
            "unknown_atena": (records, self.unknown_atena),
            "unmapped_code": (records, self.unmapped_code),
        }
        return {kind: (path, at + 1) for kind, (path, at) in found.items() if at is not None}


def write_legacy_dataset(
    out: Path, residents: int, records: int, *, seed: int = 1, errors: bool = False
) -> tuple[dict[str, int], dict[str, tuple[str, int]]]:
    """The four files of ``layouts/legacy_a.toml``, and where each planted problem is.

    Returns the data rows per file, and with ``errors`` the (file, line) of one problem of
    each kind in ``PLANTED``. Notices number half the residents, consents a quarter.
    """
    if residents < 1 or records < 0:
        raise ValueError("at least one resident, and no negative count")
    out.mkdir(parents=True, exist_ok=True)
    layout = legacy_layout()
    specs = {spec.table: spec for spec in layout.files}
    plan = _Plan.of(residents, records, errors)
    tables = {
        "residents": _legacy_residents(specs["residents"], seed, plan),
        "vaccinations": _legacy_vaccinations(specs["vaccinations"], seed, plan, layout),
        "consents": _legacy_consents(specs["consents"], seed, plan, layout, residents // 4),
    }
    counts: dict[str, int] = {}
    for table, rows in tables.items():
        spec = specs[table]
        counts[spec.path] = write_file(out / spec.path, spec, layout, rows).rows
    notices = specs["notices"]
    counts[notices.path] = _write_notices(out / notices.path, notices, seed, plan, layout)
    if plan.encoding is not None:
        _patch(out, specs["residents"], plan.encoding, "name", _BAD_NAME_BYTES)
    if plan.date is not None:
        _patch(out, specs["vaccinations"], plan.date, "date", _IMPOSSIBLE_DATE)
    return counts, plan.where(specs)


def legacy_layout() -> Layout:
    """``layouts/legacy_a.toml``, parsed."""
    text = example_layout("legacy_a").read_bytes()
    return parse_layout(tomllib.loads(text.decode("utf-8")), text)


def _people(seed: int, count: int) -> Iterator[_Person]:
    return _City(random.Random(seed), seed).people(count)


def _legacy_residents(spec: FileSpec, seed: int, plan: _Plan) -> Iterator[list[object | None]]:
    columns = spec.columns
    for p in _people(seed, plan.residents):
        mynumber, atena = p.mynumber, p.atena
        if p.position == plan.duplicate_key:
            atena = atena_of(p.position - 1, seed)
        if p.position == plan.mynumber_check:
            first = mynumber[:11] or f"{p.position:011d}"
            mynumber = first + str((mynumber_check_digit(first) + 1) % 10)
        values: dict[str, object | None] = {
            "atena": atena,
            "mynumber": mynumber,
            "name": p.name,
            "kana": halfwidth_kana(p.kana),
            "birth": _iso(p.birth),
            "sex": p.sex,
            "postal": p.postal,
            "address": p.address,
            "household": p.household,
            "relation": p.relation,
            "status": p.status,
            "status_date": _iso(p.status_date) if p.status_date else None,
            "dv_flag": p.dv_flag,
        }
        yield [values[column] for column in columns]


def _legacy_vaccinations(
    spec: FileSpec, seed: int, plan: _Plan, layout: Layout
) -> Iterator[list[object | None]]:
    catalog = load_default_catalog()
    codes = sorted(layout.maps["vaccine"].values())
    doses = {code: v.dose_count if (v := catalog.get(code)) else 1 for code in codes}
    rng = random.Random(f"{seed}:vaccinations")
    lots = [_lot(rng) for _ in range(2000)]
    places = [_institution(rng) for _ in range(300)]
    columns = spec.columns
    position = 0
    for p in _people(seed, plan.residents):
        seen: dict[str, int] = {}
        for day in _days(p.birth, plan.share(plan.records, p.position), rng):
            code = codes[int(rng.random() * len(codes))]
            dose = seen[code] = seen.get(code, 0) + 1
            values: dict[str, object | None] = {
                "atena": p.atena,
                "vaccine": code,
                "dose": min(dose, doses[code]),
                "date": _iso(day),
                "lot": lots[int(rng.random() * len(lots))],
                "institution": places[int(rng.random() * len(places))],
            }
            if position == plan.unknown_atena:
                values["atena"] = str(ATENA_BASE + 10 * p.position + 9)
            if position == plan.unmapped_code:
                values["vaccine"] = UNMAPPED_VACCINE
            yield [values[column] for column in columns]
            position += 1


def _legacy_consents(
    spec: FileSpec, seed: int, plan: _Plan, layout: Layout, total: int
) -> Iterator[list[object | None]]:
    codes = sorted(layout.maps["vaccine"].values())
    rng = random.Random(f"{seed}:consents")
    columns = spec.columns
    for p in _people(seed, plan.residents):
        for day in _days(p.birth, plan.share(total, p.position), rng):
            values: dict[str, object | None] = {
                "atena": p.atena,
                "vaccine": codes[int(rng.random() * len(codes))],
                "submitted_on": _iso(day),
                "expires_on": _iso(day + 365) if rng.random() < 0.7 else None,
                "note": "保護者同伴" if rng.random() < 0.1 else "",
            }
            yield [values[column] for column in columns]


def _write_notices(path: Path, spec: FileSpec, seed: int, plan: _Plan, layout: Layout) -> int:
    """TSUCHI.CSV by hand: its 和暦 dates come in two forms (令和5年4月1日 and R5.4.1)."""
    kinds = layout.reverse_map("notice_kind")
    vaccines = layout.reverse_map("vaccine")
    codes = sorted(vaccines)
    rng = random.Random(f"{seed}:notices")
    columns = spec.columns
    written = 0
    with path.open("w", encoding="cp932", newline="") as handle:
        writer = csv.writer(handle, lineterminator=_LINE_END)
        writer.writerow([field.heading for field in spec.fields])
        for p in _people(seed, plan.residents):
            for day in _days(p.birth, plan.share(plan.residents // 2, p.position), rng):
                sent = date.fromordinal(day)
                kind = ("guide", "voucher", "recommendation")[int(rng.random() * 3)]
                values = {
                    "atena": p.atena,
                    "kind": kinds[kind],
                    "vaccine": vaccines[codes[int(rng.random() * len(codes))]],
                    "sent_on": format_wareki(sent, "long" if rng.random() < 0.5 else "short"),
                    "note": "再送" if rng.random() < 0.05 else "",
                }
                writer.writerow([values[column] for column in columns])
                written += 1
    return written


def _patch(out: Path, spec: FileSpec, index: int, column: str, data: bytes) -> None:
    """Overwrite the start of one field of one fixed-width record, in place."""
    start = next(f.start for f in spec.fields if f.column == column) or 1
    offset = index * (spec.record_length + len(spec.line_bytes)) + start - 1
    with (out / spec.path).open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def _halfwidth_table() -> dict[int, str]:
    table: dict[int, str] = {ord("\u3000"): " "}
    for code in range(0xFF61, 0xFFA0):
        half = chr(code)
        full = unicodedata.normalize("NFKC", half)
        if len(full) == 1:
            table.setdefault(ord(full), half)
    for full_code in range(0x30A1, 0x30FF):
        decomposed = unicodedata.normalize("NFD", chr(full_code))
        if len(decomposed) == 2 and ord(decomposed[0]) in table:
            mark = {"\u3099": "\uff9e", "\u309a": "\uff9f"}.get(decomposed[1])
            if mark:
                table[full_code] = table[ord(decomposed[0])] + mark
    return table


_HALFWIDTH = _halfwidth_table()


def halfwidth_kana(text: str) -> str:
    """Full-width katakana as the half-width kana of old systems: ヤマダ　タロウ → ﾔﾏﾀﾞ ﾀﾛｳ."""
    return text.translate(_HALFWIDTH)

"""A synthetic registry feed for the central system (住民記録・マスタの連携ファイル).

JSON lines ``{"kind", "key", "data"}`` in the wire form of ``core.sync``: the vaccine
catalogue, institutions and physicians, then residents. ``sesshu central registry import``
loads it; tests, benchmarks and the demo use it. Every value is synthetic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from core.catalog import load_default_catalog
from storage.demo.generator import generate_city
from storage.demo.institutions import generate_institutions
from storage.demo.records import SyntheticResident


def resident_data(r: SyntheticResident) -> dict[str, Any]:
    return {
        "atena": r.atena,
        "mynumber": r.mynumber,
        "name": r.name,
        "kana": r.kana,
        "alias_name": None,
        "alias_kana": None,
        "birth": r.birth.isoformat(),
        "sex": r.sex,
        "postal": r.postal,
        "address": r.address,
        "household": r.household,
        "relation": r.relation,
        "status": r.status,
        "status_date": r.status_date.isoformat() if r.status_date else None,
        "status_reason": None,
        "dv_flag": int(r.dv_flag),
        "no_auto_answer": int(r.no_auto_answer),
        "guardian": r.guardian,
        "former_code": None,
    }


def feed_lines(residents: int, seed: int, today: date) -> Iterator[dict[str, Any]]:
    catalog = load_default_catalog()
    for vaccine in catalog.vaccines:
        yield {
            "kind": "vaccine",
            "key": vaccine.code,
            "data": {
                "code": vaccine.code,
                "name": vaccine.name_ja,
                "name_en": vaccine.name_en,
                "category": vaccine.category,
                "active": 1,
            },
        }
    for institution in generate_institutions(seed):
        yield {
            "kind": "institution",
            "key": institution.code,
            "data": {"code": institution.code, "name": institution.name, "active": 1},
        }
        for code, name in institution.physicians:
            yield {
                "kind": "physician",
                "key": code,
                "data": {"code": code, "institution": institution.code, "name": name, "active": 1},
            }
    for resident in generate_city(residents, seed, today):
        yield {"kind": "resident", "key": resident.atena, "data": resident_data(resident)}


def write_registry_feed(path: Path, residents: int, seed: int, today: date) -> int:
    """Write the feed to ``path`` (synthetic data only); return the number of lines."""
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for line in feed_lines(residents, seed, today):
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            lines += 1
    return lines

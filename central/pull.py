"""Pull: the change log in the central system's order, from a terminal's cursor.

``pull_text`` answers with the JSON text directly, splicing each change's stored data text in
without decoding it: an initial pull of a million residents is a hundred such pages.
"""

from __future__ import annotations

import json

from central.db import Database, Row
from central.entities import load
from core.sync import PULL_PAGE_LIMIT, Change, ChangeKind, PullPage


def page_limit(limit: int) -> int:
    return max(1, min(int(limit), PULL_PAGE_LIMIT))


def _rows(db: Database, cursor: int, limit: int) -> tuple[list[Row], bool]:
    size = page_limit(limit)
    rows = db.query(
        "SELECT seq, kind, key, version, data, origin FROM changes WHERE seq > ?"
        " ORDER BY seq LIMIT ?",
        (max(0, int(cursor)), size + 1),
    )
    return rows[:size], len(rows) > size


def pull(db: Database, cursor: int, limit: int = PULL_PAGE_LIMIT) -> PullPage:
    rows, more = _rows(db, cursor, limit)
    changes = tuple(
        Change(int(seq), ChangeKind(kind), str(key), int(version), load(data), str(origin))
        for seq, kind, key, version, data, origin in rows
    )
    return PullPage(changes, changes[-1].seq if changes else max(0, int(cursor)), more)


def pull_text(db: Database, cursor: int, limit: int = PULL_PAGE_LIMIT) -> str:
    """The same page as ``pull``, as the JSON text of the wire's pull answer."""
    rows, more = _rows(db, cursor, limit)
    dumps = json.dumps
    parts = [
        f'{{"seq":{int(seq)},"kind":{dumps(kind)},"key":{dumps(key, ensure_ascii=False)},'
        f'"version":{int(version)},"data":{data},"origin":{dumps(origin, ensure_ascii=False)}}}'
        for seq, kind, key, version, data, origin in rows
    ]
    next_cursor = int(rows[-1][0]) if rows else max(0, int(cursor))
    return (
        f'{{"changes":[{",".join(parts)}],"next_cursor":{next_cursor},'
        f'"more":{"true" if more else "false"}}}'
    )

"""Helpers shared by the batch tests: slips for the people store and a quick batch builder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.services.batches import BatchService
from tests.conftest import Sessions
from tests.people import CHILD, PEOPLE

ELDER = PEOPLE[13]  # 大野 幸, born 1948: of age for the elderly influenza vaccination
INSTITUTION = "1310000001"
PHYSICIAN = "D001"


def slip(number: int | str, **changes: object) -> dict[str, object]:
    """A valid slip: CHILD's PCV dose 1 in 2019, unless changed."""
    base: dict[str, object] = {
        "slip": number,
        "atena": CHILD.atena,
        "vaccine": "PCV",
        "dose": 1,
        "date": "2019-07-10",
        "lot": "AB1234",
        "maker": "PFIZER",
        "institution": INSTITUTION,
        "physician": PHYSICIAN,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def flu(number: int | str, day: str, **changes: object) -> dict[str, object]:
    return slip(number, atena=ELDER.atena, vaccine="FLU", date=day, maker="BIKEN", **changes)


def service(people: Sessions, user: str) -> BatchService:
    return BatchService(people.login(user).ctx)


def new_batch(people: Sessions, count: int = 2, user: str = "op1") -> int:
    return service(people, user).create("さくら小児科", "R8.11.20", count).id


def key_both(
    people: Sessions,
    batch: int,
    first: Sequence[Mapping[str, object]],
    second: Sequence[Mapping[str, object]] | None = None,
) -> None:
    report = service(people, "op1").key_many(batch, 1, first)
    assert not report.rejected, report.rejected
    report = service(people, "op2").key_many(batch, 2, second if second is not None else first)
    assert not report.rejected, report.rejected

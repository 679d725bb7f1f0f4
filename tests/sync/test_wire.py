"""The wire's format check of entity data: every kind of problem is named, none passes."""

from __future__ import annotations

from typing import Any

import pytest

from sync.wire import MAX_TEXT, check_data

GOOD: dict[str, Any] = {
    "atena": "1000001",
    "mynumber": None,
    "name": "髙橋　太郎",
    "kana": "タカハシ　タロウ",
    "birth": "1990-04-01",
    "sex": "M",
    "status": "resident",
    "dv_flag": 0,
    "no_auto_answer": False,
}


def test_well_formed_data_has_no_problems() -> None:
    assert check_data("resident", GOOD, 0) == []


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"colour": "blue"}, "data.colour", "unknown_field"),
        ({"name": ""}, "data.name", "required"),
        ({"birth": None}, "data.birth", "required"),
        ({"address": ["a", "b"]}, "data.address", "not_scalar"),
        ({"address": {"city": "x"}}, "data.address", "not_scalar"),
        ({"address": "x" * (MAX_TEXT + 1)}, "data.address", "too_long"),
    ],
)
def test_each_problem_is_named(change: dict[str, Any], field: str, reason: str) -> None:
    problems = check_data("resident", {**GOOD, **change}, 7)
    assert [(p.index, p.field, p.reason) for p in problems] == [(7, field, reason)]


def test_data_that_is_not_an_object_is_refused() -> None:
    assert [p.reason for p in check_data("record", ["not", "an", "object"], 0)] == ["not_object"]

"""Pure rules of exports and provision: targets, labels, strata and allocation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import PurePath

import pytest

from core.errors import InvalidValue, RuleViolation, ValidationFailed
from core.exports import device_target, media_label, spool_target, witness_name
from core.provision import DEFAULT_BASES, Stratum, allocate, born_between, check_items, parse_strata

SPOOL = PurePath("/srv/sesshu/spool")


def test_a_bare_name_lands_in_the_spool_and_only_the_spool_is_allowed() -> None:
    assert spool_target("名簿.iso", SPOOL) == SPOOL / "名簿.iso"
    assert spool_target(str(SPOOL / "a.iso"), SPOOL) == SPOOL / "a.iso"
    for outside in ("/tmp/a.iso", "../a.iso", "x/a.iso", str(SPOOL / ".." / "a.iso")):  # noqa: S108
        with pytest.raises(RuleViolation):
            spool_target(outside, SPOOL)
    with pytest.raises(InvalidValue):
        spool_target("a.zip", SPOOL)


def test_only_the_configured_device_and_another_person_as_witness() -> None:
    assert device_target("/dev/sr0", "/dev/sr0", SPOOL, "L").device == "/dev/sr0"
    with pytest.raises(RuleViolation, match="device_refused"):
        device_target("/dev/sr1", "/dev/sr0", SPOOL, "L")
    with pytest.raises(RuleViolation, match="no_device"):
        device_target("/dev/sr0", "", SPOOL, "L")
    assert witness_name("  立会　人 ", "op1") == "立会　人"
    with pytest.raises(RuleViolation):
        witness_name("op1", "op1")


def test_labels_fit_the_joliet_volume_identifier() -> None:
    label = media_label("保健センター端末-LONG-NAME-01", 123456, datetime(2026, 1, 1, tzinfo=UTC))
    assert label == "LONGNA-26-123456"
    assert len(label) <= 16


def test_allocation_sums_exactly_and_stays_within_one_of_each_share() -> None:
    strata = parse_strata("M,0,9,1\nF,0,9,1\n*,10,120,1\n")
    for size in (1, 2, 3, 10, 5000, 4999):
        counts = allocate(size, strata)
        assert sum(counts) == size
        assert all(abs(c - size / 3) < 1 for c in counts)


def test_strata_lines_are_checked_with_their_line_numbers() -> None:
    with pytest.raises(ValidationFailed) as bad:
        parse_strata("sex,age_from,age_to,share\nQ,0,9,1\nM,9,0,1\nM,0,9,0\nM,0\n")
    assert [i.params["line"] for i in bad.value.issues] == [2, 3, 4, 5]
    with pytest.raises(ValidationFailed):
        parse_strata("# nothing\n")


def test_ages_map_to_birth_ranges_including_leap_days() -> None:
    low, high = born_between(Stratum("M", 20, 29, 1), date(2026, 11, 23))
    assert (low, high) == (date(1996, 11, 24), date(2006, 11, 23))
    low, high = born_between(Stratum("F", 0, 0, 1), date(2024, 2, 29))
    assert (low, high) == (date(2023, 3, 1), date(2024, 2, 29))


def test_items_must_be_allowed_by_the_basis() -> None:
    survey = next(b for b in DEFAULT_BASES if b.key == "survey-sample")
    check_items(("name", "address"), survey)
    with pytest.raises(InvalidValue, match="mynumber_not_allowed"):
        check_items(("name", "mynumber"), survey)
    with pytest.raises(InvalidValue, match="items_not_allowed"):
        check_items(("name", "history"), survey)

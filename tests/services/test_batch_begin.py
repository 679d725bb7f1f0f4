"""Opening a keying pass checks the keying rules before anything is typed."""

from __future__ import annotations

import pytest

from core.errors import RuleViolation
from core.ports import AuditFilter
from tests.conftest import Sessions
from tests.services.batching import new_batch, service, slip


def test_begin_pass_refuses_the_first_keyer_for_the_second_pass(people: Sessions) -> None:
    batch = new_batch(people, 2)
    assert service(people, "op1").begin_pass(batch, 1).keyed == 0
    service(people, "op1").key(batch, 1, slip(1))
    with pytest.raises(RuleViolation) as refused:
        service(people, "op1").begin_pass(batch, 2)
    assert refused.value.key == "batch.same_keyer"
    progress = service(people, "op2").begin_pass(batch, 2)
    assert (progress.keyed, progress.mine, progress.batch.control_count) == (0, [], 2)
    with people.login("aud1").store.reader() as uow:
        refusals = uow.audit.find(AuditFilter(user="op1", action="batch.refused"))
    assert len(refusals) == 1


def test_begin_pass_refuses_once_reconciliation_started(people: Sessions) -> None:
    batch = new_batch(people, 1)
    service(people, "op1").key(batch, 1, slip(1, lot="AB1111"))
    service(people, "op2").key(batch, 2, slip(1, lot="AB2222"))
    service(people, "ver1").resolve(batch, "1", "lot", "AB1111", "紙で確認")
    with pytest.raises(RuleViolation) as refused:
        service(people, "op2").begin_pass(batch, 2)
    assert refused.value.key == "batch.keying_closed"

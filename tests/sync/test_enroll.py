"""Enrollment pins the server by the token's fingerprint; the client then speaks mutual TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import InvalidValue, PermissionDenied, SyncFailed
from core.services.sync import SyncService
from sync.client import central_for
from sync.enroll import enroll
from tests.conftest import Sessions
from tests.sync.tls_server import Central, tls_central


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    with tls_central(tmp_path) as server:
        yield server


def test_a_wrong_fingerprint_is_refused_before_the_token_leaves(
    sessions: Sessions, central: Central
) -> None:
    admin = SyncService(sessions.login("adm1").ctx, None)
    with pytest.raises(SyncFailed) as refused:
        admin.enroll(central.url, "s3cret." + "ab" * 32, enroll)
    assert refused.value.key == "sync.server_mismatch"
    assert central.requests == []
    assert not admin.status().enrolled
    assert admin.status().last_error == "sync.server_mismatch"


def test_enrollment_stores_the_material_and_the_client_uses_mutual_tls(
    sessions: Sessions, central: Central
) -> None:
    with pytest.raises(PermissionDenied):
        SyncService(sessions.login("op1").ctx, None).enroll(
            central.url, f"s3cret.{central.fingerprint}", enroll
        )
    admin = SyncService(sessions.login("adm1").ctx, None)
    with pytest.raises(InvalidValue):
        admin.enroll(central.url, "no-fingerprint", enroll)
    assert admin.enroll(central.url, f"s3cret.{central.fingerprint}", enroll) == "T-TEST"
    [(path, body, _)] = central.requests
    assert path == "/v1/enroll"
    assert body is not None
    assert (body["token"], body["terminal"], body["protocol"]) == (
        "s3cret",
        "T-TEST",
        "sesshu-sync/1",
    )
    assert body["age_recipient"].startswith("age1")
    store = sessions.login("op1").store
    assert body["signing_public_key"] == store.signing_public_key
    with store.reader() as uow:
        state = uow.sync.state()
    assert "ENCRYPTED PRIVATE KEY" in state["key_pem"]
    assert state["age_identity"].startswith("AGE-SECRET-KEY-1")
    assert admin.status().enrolled

    central.answers["/v1/conflicts"] = (200, {"conflicts": []})
    central.answers["/v1/pull"] = (422, {"error": "malformed"})
    client = central_for(store)
    assert client is not None
    with client:
        assert client.conflicts() == []
        with pytest.raises(SyncFailed) as malformed:
            client.pull(0, 10)
    assert malformed.value.key == "sync.malformed"
    assert central.requests[-2][2] is True  # the client certificate was presented


def test_a_server_outside_the_central_ca_is_refused(sessions: Sessions, tmp_path: Path) -> None:
    from sync.client import HttpCentral, client_context

    with tls_central(tmp_path / "a") as first, tls_central(tmp_path / "b") as second:
        admin = SyncService(sessions.login("adm1").ctx, None)
        admin.enroll(first.url, f"s3cret.{first.fingerprint}", enroll)
        with sessions.login("op1").store.reader() as uow:
            state = uow.sync.state()
        context = client_context(
            state["ca_pem"], state["certificate_pem"], state["key_pem"], state["key_password"]
        )
        with HttpCentral(second.url, context) as other, pytest.raises(SyncFailed) as refused:
            other.conflicts()
        assert refused.value.key == "sync.unreachable"
        assert second.requests == []

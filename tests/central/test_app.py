"""The HTTP edge in-process: authentication, malformed batches, pull pages, OpenAPI coverage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from central.app import create_app
from central.openapi import document
from central.server import with_client_certificate
from central.service import CentralService
from core.sync import PROTOCOL, EntryKind
from sync.wire import entry_json, parse_pull, push_json
from tests.central.conftest import Terminal, enroll, record


class AppClient:
    """Requests to the app in-process, as a terminal presenting ``pem`` (or no certificate)."""

    def __init__(self, service: CentralService, pem: str | None) -> None:
        self._app = with_client_certificate(create_app(service), pem)

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://central") as http:
                return await http.request(method, path, **options)

        return asyncio.run(send())

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)


def client(service: CentralService, terminal: Terminal | None) -> AppClient:
    return AppClient(service, terminal.cert_pem.decode() if terminal else None)


@pytest.fixture
def t1(service: CentralService) -> Terminal:
    return enroll(service, "T-1")


@pytest.fixture
def http(service: CentralService, t1: Terminal) -> Iterator[AppClient]:
    with client(service, t1) as opened:
        yield opened


def test_without_a_certificate_every_route_but_enroll_is_401(service: CentralService) -> None:
    with client(service, None) as anonymous:
        for path in ("/v1/pull", "/v1/conflicts", "/v1/compare", "/v1/status", "/v1/openapi.json"):
            answer = anonymous.get(path)
            assert (answer.status_code, answer.json()) == (
                401,
                {"error": "certificate_required"},
            ), path
        assert anonymous.post("/v1/push", json={}).status_code == 401


def test_unknown_and_revoked_terminals_are_403(service: CentralService, t1: Terminal) -> None:
    stranger = Terminal("T-9", t1.signing, cert_pem=enroll(service, "T-9").cert_pem)
    service.revoke("T-9")
    with client(service, stranger) as revoked:
        assert revoked.get("/v1/status").json() == {"error": "revoked"}
    enroll(service, "T-1")  # a new certificate: the fixture's one is no longer current
    with client(service, t1) as old:
        answer = old.get("/v1/status")
        assert (answer.status_code, answer.json()) == (403, {"error": "unknown_terminal"})


def test_a_malformed_batch_is_refused_whole(service: CentralService, t1: Terminal) -> None:
    good = t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))
    bad = entry_json(t1.entry(EntryKind.RECORD, "R2", "upsert", record("R2")))
    bad["data"] = dict(bad["data"], uid=None, colour="red")
    doc = push_json("T-1", [good])
    doc["entries"].append(bad)
    with client(service, t1) as http:
        answer = http.post("/v1/push", json=doc)
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "malformed"
    assert {(p["index"], p["field"], p["reason"]) for p in body["problems"]} == {
        (1, "data.colour", "unknown_field"),
        (1, "data.uid", "required"),
    }
    assert service.db.scalar("SELECT count(*) FROM entities") == 0
    assert service.db.scalar("SELECT count(*) FROM received") == 0


def test_a_batch_for_another_terminal_is_refused(http: AppClient, t1: Terminal) -> None:
    doc = push_json("T-2", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))])
    answer = http.post("/v1/push", json=doc)
    assert (answer.status_code, answer.json()) == (403, {"error": "terminal_mismatch"})


def test_not_json_is_malformed(http: AppClient) -> None:
    answer = http.post("/v1/push", content=b"{nope")
    assert answer.status_code == 422
    assert answer.json()["problems"] == [{"index": -1, "field": "", "reason": "not_json"}]


def test_push_then_pull_in_pages(http: AppClient, service: CentralService, t1: Terminal) -> None:
    entries = [t1.entry(EntryKind.RECORD, f"R{i}", "upsert", record(f"R{i}")) for i in range(5)]
    pushed = http.post("/v1/push", json=push_json("T-1", entries))
    assert [a["status"] for a in pushed.json()["acks"]] == ["applied"] * 5
    first = http.get("/v1/pull", params={"cursor": 0, "limit": 3}).json()
    page = parse_pull(first)
    assert ([c.key for c in page.changes], page.more) == (["R0", "R1", "R2"], True)
    rest = parse_pull(http.get("/v1/pull", params={"cursor": page.next_cursor}).json())
    assert ([c.key for c in rest.changes], rest.more) == (["R3", "R4"], False)
    assert rest.changes[0].data == record("R3") | {
        k: None for k in rest.changes[0].data if k not in record("R3")
    }
    assert http.get("/v1/pull", params={"cursor": "x"}).status_code == 422


def test_the_fast_pull_text_is_the_same_page(service: CentralService, t1: Terminal) -> None:
    name = record("R1", note='引用 "quoted" \\ 改行\n')
    service.push("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", name)])
    text = service.pull_text(0)
    page = service.pull(0)
    assert parse_pull(json.loads(text)) == page
    assert page.changes[0].data["note"] == name["note"]


def test_status_conflicts_and_compare(http: AppClient, t1: Terminal) -> None:
    http.post(
        "/v1/push",
        json=push_json("T-1", [t1.entry(EntryKind.RECORD, "R1", "upsert", record("R1"))]),
    )
    status = http.get("/v1/status").json()
    assert (status["terminal"], status["server_seq"], status["open_conflicts"]) == ("T-1", 1, 0)
    assert http.get("/v1/conflicts").json() == {"conflicts": []}
    tables = http.get("/v1/compare").json()["tables"]
    assert tables["records"]["count"] == 1
    assert tables["residents"] == {"count": 0, "hash": "0" * 64}


def test_enroll_over_http(service: CentralService) -> None:
    from central import pki

    token = service.create_token("T-5")
    csr = pki.make_csr("T-5").cert_pem.decode()
    with client(service, None) as anonymous:
        doc = {
            "protocol": PROTOCOL,
            "terminal": "T-5",
            "token": token,
            "csr_pem": csr,
            "signing_public_key": "cd" * 32,
        }
        answer = anonymous.post("/v1/enroll", json=doc)
        assert answer.status_code == 200, answer.text
        assert set(answer.json()) == {"certificate_pem", "ca_pem", "terminal", "central"}
        again = anonymous.post("/v1/enroll", json=doc)
        assert (again.status_code, again.json()) == (403, {"error": "token_used"})
        missing = anonymous.post("/v1/enroll", json={"protocol": PROTOCOL})
        assert missing.status_code == 422


def test_openapi_describes_every_route(service: CentralService, http: AppClient) -> None:
    app = create_app(service)
    paths = document()["paths"]
    for route in app.routes:
        assert isinstance(route, Route)
        assert route.path in paths, route.path
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in paths[route.path], (route.path, method)
    served = http.get("/v1/openapi.json").json()
    assert served["openapi"] == "3.1.0"
    assert set(served["paths"]) == set(paths)

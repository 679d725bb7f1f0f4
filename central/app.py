"""The ASGI app (Starlette): the routes of ``sync.wire``, a thin edge over ``CentralService``.

The client certificate arrives as PEM in ``scope["extensions"]["tls"]["client_cert_chain"]``
(the ASGI TLS extension, filled in by ``central.server``). Every route but ``POST /v1/enroll``
needs the certificate of an enrolled, unrevoked terminal. Blocking database work runs in the
threadpool. Errors answer with ``{"error": code}`` and never carry personal data; an unexpected
error is logged by its type name only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from central import pki
from central.openapi import document as openapi_document
from central.service import CentralService
from core.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    RuleViolation,
    SesshuError,
    StoreError,
    ValidationFailed,
)
from core.sync import PROTOCOL, PULL_PAGE_LIMIT
from sync.wire import (
    Problem,
    WireError,
    conflict_json,
    parse_push,
    problem_json,
    push_result_json,
    totals_json,
)

LOG = logging.getLogger("sesshu.central")
MAX_BODY = 64 * 1024 * 1024
STATUS: tuple[tuple[type[SesshuError], int], ...] = (
    (ValidationFailed, 422),
    (AuthenticationFailed, 403),
    (PermissionDenied, 403),
    (NotFound, 404),
    (RuleViolation, 409),
    (StoreError, 503),
)

Handler = Callable[[Request], Awaitable[Response]]


class Refused(Exception):
    """An answer other than success, decided by the edge itself."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = dict(body)


def _malformed(problems: list[Problem]) -> Refused:
    return Refused(422, {"error": "malformed", "problems": [problem_json(p) for p in problems]})


def error_answer(error: SesshuError) -> JSONResponse:
    status = next((code for kind, code in STATUS if isinstance(error, kind)), 400)
    body: dict[str, Any] = {"error": error.key.removeprefix("central.")}
    if isinstance(error, ValidationFailed):
        body["fields"] = [issue.field for issue in error.issues]
    return JSONResponse(body, status_code=status)


def guarded(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return JSONResponse(refused.body, status_code=refused.status)
        except SesshuError as error:
            return error_answer(error)
        except Exception as error:  # noqa: BLE001 - the edge: one line, never a traceback
            LOG.error("central: unexpected %s", type(error).__name__)
            return JSONResponse({"error": "internal"}, status_code=500)

    return run


def client_certificate(request: Request) -> bytes | None:
    """The DER of the client certificate the TLS layer verified, if one was presented."""
    extensions = request.scope.get("extensions") or {}
    chain = (extensions.get("tls") or {}).get("client_cert_chain") or []
    if not chain:
        return None
    try:
        return pki.pem_to_der(str(chain[0]).encode("ascii"))
    except ValueError:
        return None


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Refused(413, {"error": "too_large"})
    try:
        return json.loads(body)
    except ValueError:
        raise _malformed([Problem(-1, "", "not_json")]) from None


def _count(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise _malformed([Problem(-1, name, "not_a_count")])
    return int(raw)


def create_app(service: CentralService) -> Starlette:
    async def terminal_of(request: Request) -> str:
        der = client_certificate(request)
        if der is None:
            raise Refused(401, {"error": "certificate_required"})
        return await run_in_threadpool(service.authenticate, der)

    async def enroll(request: Request) -> Response:
        doc = await _json_body(request)
        if not isinstance(doc, dict):
            raise _malformed([Problem(-1, "", "not_object")])
        problems = [
            Problem(-1, name, "required_text")
            for name in ("terminal", "token", "csr_pem", "signing_public_key")
            if not isinstance(doc.get(name), str) or not doc.get(name)
        ]
        if doc.get("protocol") != PROTOCOL:
            problems.append(Problem(-1, "protocol", "unsupported_protocol"))
        recipient = doc.get("age_recipient") or ""
        if not isinstance(recipient, str):
            problems.append(Problem(-1, "age_recipient", "required_text"))
        if problems:
            raise _malformed(problems)
        answer = await run_in_threadpool(
            service.enroll,
            doc["token"],
            doc["terminal"],
            doc["csr_pem"],
            doc["signing_public_key"],
            recipient,
        )
        return JSONResponse(answer)

    async def push(request: Request) -> Response:
        terminal = await terminal_of(request)
        doc = await _json_body(request)
        try:
            claimed, entries = parse_push(doc)
        except WireError as error:
            raise _malformed(list(error.problems)) from None
        if claimed != terminal:
            raise Refused(403, {"error": "terminal_mismatch"})
        result = await run_in_threadpool(service.push, terminal, entries)
        return JSONResponse(push_result_json(result))

    async def pull(request: Request) -> Response:
        await terminal_of(request)
        cursor = _count(request, "cursor", 0)
        limit = _count(request, "limit", PULL_PAGE_LIMIT)
        text = await run_in_threadpool(service.pull_text, cursor, limit)
        return Response(text.encode("utf-8"), media_type="application/json")

    async def conflicts(request: Request) -> Response:
        terminal = await terminal_of(request)
        found = await run_in_threadpool(service.conflicts, terminal)
        return JSONResponse({"conflicts": [conflict_json(c) for c in found]})

    async def compare(request: Request) -> Response:
        terminal = await terminal_of(request)
        totals = await run_in_threadpool(service.compare, terminal)
        return JSONResponse({"tables": totals_json(totals)})

    async def status(request: Request) -> Response:
        terminal = await terminal_of(request)
        return JSONResponse(await run_in_threadpool(service.status, terminal))

    async def openapi(request: Request) -> Response:
        await terminal_of(request)
        return JSONResponse(openapi_document())

    routes = [
        Route("/v1/enroll", guarded(enroll), methods=["POST"]),
        Route("/v1/push", guarded(push), methods=["POST"]),
        Route("/v1/pull", guarded(pull), methods=["GET"]),
        Route("/v1/conflicts", guarded(conflicts), methods=["GET"]),
        Route("/v1/compare", guarded(compare), methods=["GET"]),
        Route("/v1/status", guarded(status), methods=["GET"]),
        Route("/v1/openapi.json", guarded(openapi), methods=["GET"]),
    ]
    return Starlette(routes=routes)

"""The OpenAPI 3.1 description of protocol ``sesshu-sync/1`` (served at ``/v1/openapi.json``).

Written by hand from ``sync.wire``; the field lists of entities come from ``core.sync`` so they
cannot drift. A test checks that every route of the app is described here.
"""

from __future__ import annotations

from typing import Any

from core.sync import (
    CHECKPOINT_FIELDS,
    DECISION_FIELDS,
    ENTRY_OPS,
    MASTER_FIELDS,
    PROTOCOL,
    PROVISION_FIELDS,
    PULL_PAGE_LIMIT,
    PUSH_BATCH_LIMIT,
    RECORD_FIELDS,
    RESIDENT_FIELDS,
    AckStatus,
    ChangeKind,
    EntryKind,
)

SCALAR = {"type": ["string", "integer", "number", "boolean", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _entity(fields: tuple[str, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": dict.fromkeys(fields, SCALAR),
    }


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": _json(_ref("Error"), "No client certificate (certificate_required)."),
    "403": _json(_ref("Error"), "Unknown or revoked terminal (unknown_terminal, revoked)."),
}


def _schemas() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    text = {"type": "string"}
    return {
        "Error": _object(
            ["error"],
            {"error": text, "problems": {"type": "array", "items": _ref("Problem")}},
        ),
        "Problem": _object(
            ["index", "field", "reason"],
            {"index": {"type": "integer", "minimum": -1}, "field": text, "reason": text},
        ),
        "Record": _entity(RECORD_FIELDS),
        "Resident": _entity(RESIDENT_FIELDS),
        "Provision": _entity(PROVISION_FIELDS),
        "Checkpoint": _entity(CHECKPOINT_FIELDS),
        "Decision": _entity(DECISION_FIELDS) | {"description": "data: the kept entity"},
        **{kind.value.title(): _entity(fields) for kind, fields in MASTER_FIELDS.items()},
        "Entry": _object(
            ["uuid", "seq", "kind", "key", "op", "base_version", "version", "data", "at"],
            {
                "uuid": {"type": "string", "format": "uuid"},
                "seq": count,
                "kind": {"enum": [k.value for k in EntryKind]},
                "key": text,
                "op": {"enum": sorted({op for ops in ENTRY_OPS.values() for op in ops})},
                "base_version": count,
                "version": count,
                "data": {"type": "object"},
                "at": {"type": "string", "format": "date-time"},
            },
        ),
        "Change": _object(
            ["seq", "kind", "key", "version", "data", "origin"],
            {
                "seq": count,
                "kind": {"enum": [k.value for k in ChangeKind]},
                "key": text,
                "version": count,
                "data": {"type": "object"},
                "origin": text,
            },
        ),
        "Ack": _object(
            ["uuid", "status"],
            {
                "uuid": text,
                "status": {"enum": [s.value for s in AckStatus]},
                "conflict": {"type": ["integer", "null"]},
                "reason": text,
            },
        ),
        "Conflict": _object(
            ["id", "kind", "key", "base_version", "server_version", "client_data", "status"],
            {
                "id": count,
                "kind": text,
                "key": text,
                "base_version": count,
                "server_version": count,
                "server_data": {"type": ["object", "null"]},
                "client_data": {"type": "object"},
                "client_user": text,
                "terminal": text,
                "opened_at": text,
                "status": {"enum": ["open", "decided"]},
                "decided_by": {"type": ["string", "null"]},
                "choice": {"enum": ["local", "central", None]},
            },
        ),
        "Total": _object(["count", "hash"], {"count": count, "hash": text}),
    }


def _paths() -> dict[str, Any]:
    push_request = _object(
        ["protocol", "terminal", "entries"],
        {
            "protocol": {"const": PROTOCOL},
            "terminal": {"type": "string"},
            "entries": {"type": "array", "maxItems": PUSH_BATCH_LIMIT, "items": _ref("Entry")},
        },
    )
    return {
        "/v1/enroll": {
            "post": {
                "summary": "Enroll a terminal with a one-time token; no client certificate yet.",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _object(
                                ["protocol", "terminal", "token", "csr_pem", "signing_public_key"],
                                {
                                    "protocol": {"const": PROTOCOL},
                                    "terminal": {"type": "string"},
                                    "token": {"type": "string"},
                                    "csr_pem": {"type": "string"},
                                    "signing_public_key": {"type": "string"},
                                    "age_recipient": {"type": "string"},
                                },
                            )
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        _object(
                            ["certificate_pem", "ca_pem", "terminal"],
                            {
                                "certificate_pem": {"type": "string"},
                                "ca_pem": {"type": "string"},
                                "terminal": {"type": "string"},
                                "central": {"type": "object"},
                            },
                        ),
                        "The client certificate, the CA and the central system's public keys.",
                    ),
                    "403": _json(_ref("Error"), "Token unknown, used, expired or for another."),
                    "422": _json(_ref("Error"), "Malformed request, CSR or key."),
                },
            }
        },
        "/v1/push": {
            "post": {
                "summary": "Push outbox entries; acknowledged by UUID, never applied twice.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": push_request}},
                },
                "responses": {
                    "200": _json(
                        _object(
                            ["acks", "conflicts"],
                            {
                                "acks": {"type": "array", "items": _ref("Ack")},
                                "conflicts": {"type": "array", "items": _ref("Conflict")},
                            },
                        ),
                        "One ack per entry, in order; conflicts opened or folded.",
                    ),
                    **ERRORS,
                    "422": _json(_ref("Error"), "Malformed batch: nothing was applied."),
                },
            }
        },
        "/v1/pull": {
            "get": {
                "summary": "Changes after the cursor, in the central system's order.",
                "parameters": [
                    {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": PULL_PAGE_LIMIT},
                    },
                ],
                "responses": {
                    "200": _json(
                        _object(
                            ["changes", "next_cursor", "more"],
                            {
                                "changes": {"type": "array", "items": _ref("Change")},
                                "next_cursor": {"type": "integer"},
                                "more": {"type": "boolean"},
                            },
                        ),
                        "A page of changes.",
                    ),
                    **ERRORS,
                },
            }
        },
        "/v1/conflicts": {
            "get": {
                "summary": "This terminal's conflicts, open and decided.",
                "responses": {
                    "200": _json(
                        _object(
                            ["conflicts"],
                            {"conflicts": {"type": "array", "items": _ref("Conflict")}},
                        ),
                        "Conflicts.",
                    ),
                    **ERRORS,
                },
            }
        },
        "/v1/compare": {
            "get": {
                "summary": "Counts and hash totals per table (副本と原本の照合).",
                "responses": {
                    "200": _json(
                        _object(
                            ["tables"],
                            {"tables": {"type": "object", "additionalProperties": _ref("Total")}},
                        ),
                        "Totals.",
                    ),
                    **ERRORS,
                },
            }
        },
        "/v1/status": {
            "get": {
                "summary": "This terminal's view of the central system.",
                "responses": {
                    "200": _json(
                        _object(
                            ["terminal", "server_seq", "open_conflicts", "last_push"],
                            {
                                "terminal": {"type": "string"},
                                "server_seq": {"type": "integer"},
                                "open_conflicts": {"type": "integer"},
                                "last_push": {"type": ["string", "null"]},
                            },
                        ),
                        "Status.",
                    ),
                    **ERRORS,
                },
            }
        },
        "/v1/openapi.json": {
            "get": {
                "summary": "This document.",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1"), **ERRORS},
            }
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sesshu central system",
            "version": PROTOCOL,
            "description": "Store-and-forward sync over mutual TLS 1.3 (see sync/wire.py).",
        },
        "security": [{"terminalCertificate": []}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "terminalCertificate": {
                    "type": "mutualTLS",
                    "description": "A client certificate issued at enrollment by the central CA.",
                }
            },
        },
    }

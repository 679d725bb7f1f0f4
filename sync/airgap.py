"""The terminal's side of the air gap (オフライン端末): implements ``core.ports.SyncMedia``.

A push bundle carries ``sync.wire.push_json`` of the pending outbox plus the pull ``cursor``
(and, until the terminal is known centrally, its ``first_contact`` keys and token secret); it
is signed with the terminal key and encrypted to the central system's age recipient. The
answer bundle is verified against the central signing key kept at enrollment and decrypted in
memory with the terminal's age identity (``sync.bundle``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import pyrage

from core.errors import InvalidValue, RuleViolation, SyncFailed
from core.ports import AnswerSet, OfflineKeys, OpenStore, PushSet
from core.sync import PushResult
from exports.bundle import Signer
from storage.store import SqlStore
from sync.bundle import (
    ANSWER_FILE,
    PUSH_FILE,
    BundleRefused,
    open_sync_bundle,
    write_sync_bundle,
)
from sync.enroll import parse_token
from sync.wire import WireError, parse_conflict, parse_pull, parse_push_result, push_json

HEX_KEY = re.compile(r"^[0-9a-f]{64}$")
PUBLIC_NEEDED = ("server_fingerprint", "signing_public_key", "age_recipient")


def check_public_info(info: Mapping[str, Any]) -> dict[str, str]:
    """The central system's ``public.json``: the keys a terminal needs, each well formed."""
    if not isinstance(info, Mapping) or any(not info.get(name) for name in PUBLIC_NEEDED):
        raise InvalidValue("public", "sync.public_info_incomplete")
    found = {str(k): str(v) for k, v in info.items()}
    if not HEX_KEY.match(found["signing_public_key"].lower()):
        raise InvalidValue("public", "sync.public_info_incomplete")
    try:
        pyrage.x25519.Recipient.from_str(found["age_recipient"])
    except Exception:  # noqa: BLE001 - pyrage raises its own untyped errors
        raise InvalidValue("public", "sync.public_info_incomplete") from None
    return found


def refused(error: BundleRefused) -> SyncFailed:
    return SyncFailed("sync.bundle_refused", reason=error.reason, file=error.detail or "-")


class BundleMedia:
    """Implements ``core.ports.SyncMedia`` with the terminal's signing key."""

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def offline_keys(self, central_info: Mapping[str, str], token: str) -> OfflineKeys:
        info = check_public_info(central_info)
        secret, fingerprint = parse_token(token)
        if fingerprint != info["server_fingerprint"].lower().replace(":", ""):
            raise InvalidValue("token", "sync.token_other_central")
        identity = pyrage.x25519.Identity.generate()
        return OfflineKeys(str(identity), str(identity.to_public()), secret, info)

    def write_push(self, target: PurePath, push: PushSet) -> str:
        document: dict[str, Any] = push_json(push.terminal, push.entries)
        document["cursor"] = push.cursor
        if push.first_contact:
            document.update(push.first_contact)
        checkpoint = dataclasses.asdict(push.checkpoint) if push.checkpoint else {}
        path = Path(target)
        if path.exists():
            raise RuleViolation("sync.bundle_exists", path=str(path))
        return write_sync_bundle(
            path,
            PUSH_FILE,
            document,
            signer=self._signer,
            recipient=push.recipient,
            info=push.info,
            checkpoint=checkpoint,
        )

    def read_answer(self, path: PurePath, *, signer: str, identity: str) -> AnswerSet:
        try:
            opened = open_sync_bundle(Path(path), ANSWER_FILE, identity=identity, signer=signer)
        except BundleRefused as error:
            raise refused(error) from None
        document = opened.document
        try:
            result: PushResult = parse_push_result(document)
            conflicts = tuple(parse_conflict(c) for c in document.get("conflicts", []))
            page = parse_pull(document)
            cursor = document["cursor"]
            if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor < 0:
                raise ValueError("cursor")
        except (WireError, KeyError, TypeError, ValueError, AttributeError):
            raise SyncFailed("sync.bundle_malformed") from None
        return AnswerSet(result, conflicts, page, cursor, opened.content_hash)


def read_public_info(path: Path) -> dict[str, str]:
    """The central system's ``public.json`` as carried to an offline terminal."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise InvalidValue("public", "sync.public_info_unreadable", path=str(path)) from None
    if not isinstance(document, dict):
        raise InvalidValue("public", "sync.public_info_unreadable", path=str(path))
    return check_public_info(document)


def media_for(store: OpenStore) -> BundleMedia:
    """The bundle media of an open SQLCipher store (its key signs every push bundle)."""
    if not isinstance(store, SqlStore):
        raise TypeError("media bundles need an open SQLCipher store")
    return BundleMedia(store.sign)

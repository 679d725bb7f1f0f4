"""Sync over media, for terminals that are never connected (オフライン端末).

The same push set that ``POST /v1/push`` carries travels as a media bundle of the exports
format (BagIt, age, Ed25519; see ``exports/bundle.py``): the terminal signs it with its key and
encrypts it to the central system's age recipient; the central system answers with a bundle
signed with its own key and encrypted to the terminal's recipient. Bundles are opened in
memory only, so no plaintext copy of their personal data ever reaches a disk.

Payloads: ``push.json`` (the push document plus ``cursor``, and for a first contact the
one-time ``token`` with the terminal's ``signing_public_key`` and ``age_recipient``) and
``answer.json`` (``acks``, ``conflicts``, ``changes``, ``next_cursor``, ``more``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyrage

from exports.bundle import MANIFEST, PayloadFile, Signer, build_bundle, safe_name
from exports.medium import UnreadableMedium, open_medium
from exports.verify import verify_medium

PUSH_FILE = "push.json"
ANSWER_FILE = "answer.json"
MAX_DOCUMENT_BYTES = 1 << 30


class BundleRefused(Exception):
    """The bundle cannot be trusted or read; ``reason`` is a stable code, ``detail`` a file."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def write_sync_bundle(
    target: Path,
    name: str,
    document: Mapping[str, Any],
    *,
    signer: Signer,
    recipient: str,
    info: Mapping[str, str],
    checkpoint: Mapping[str, object],
) -> str:
    """Write ``document`` as the one payload ``name`` of a new bundle; return its content hash."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    payload = PayloadFile(safe_name(name), lambda: io.BytesIO(body))
    bundle = build_bundle(
        target, [payload], signer=signer, info=info, checkpoint=checkpoint, recipients=[recipient]
    )
    return bundle.content_hash


def bundle_signer(path: Path) -> str:
    """The public key that signed the bundle at ``path`` (not yet trusted: verify next)."""
    try:
        medium = open_medium(path)
    except UnreadableMedium as unreadable:
        raise BundleRefused("unreadable", unreadable.reason) from None
    try:
        verdict = verify_medium(medium)
    finally:
        medium.close()
    if verdict.signer is None:
        raise BundleRefused("unsigned")
    return verdict.signer


def read_sync_bundle(path: Path, name: str, *, identity: str, signer: str) -> dict[str, Any]:
    """Verify the bundle (hashes, ``signer``'s signature and checkpoint), then decrypt ``name``.

    Any changed byte, another signer, or a payload that is not the expected JSON object is
    refused with ``BundleRefused``; nothing is decrypted before verification passes.
    """
    try:
        medium = open_medium(path)
    except UnreadableMedium as unreadable:
        raise BundleRefused("unreadable", unreadable.reason) from None
    try:
        verdict = verify_medium(medium, signer)
        if not verdict.ok:
            first = verdict.problems[0]
            raise BundleRefused(first.reason, first.file)
        wanted = f"data/{safe_name(name)}.age"
        with medium.open(MANIFEST) as handle:
            listed = handle.read().decode("utf-8")
        if f"  {wanted}" not in listed:
            raise BundleRefused("missing", wanted)
        try:
            key = pyrage.x25519.Identity.from_str(identity.strip())
        except (pyrage.IdentityError, ValueError):
            raise BundleRefused("bad_identity") from None
        plain = io.BytesIO()
        with medium.open(wanted) as sealed:
            try:
                pyrage.decrypt_io(sealed, plain, [key])
            except pyrage.DecryptError:
                raise BundleRefused("wrong_identity", wanted) from None
    finally:
        medium.close()
    if plain.tell() > MAX_DOCUMENT_BYTES:
        raise BundleRefused("too_large", wanted)
    try:
        document = json.loads(plain.getvalue().decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRefused("not_json", wanted) from None
    if not isinstance(document, dict):
        raise BundleRefused("not_json", wanted)
    return document

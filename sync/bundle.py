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
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage

from exports.bundle import (
    CHECKPOINT,
    MANIFEST,
    SIGNATURE,
    PayloadFile,
    Signer,
    build_bundle,
    safe_name,
)
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
    """Write ``document`` as the one payload ``name`` of a new bundle; return its content hash.

    The bag is built in a private sibling directory and renamed into place, so a failure half
    way leaves nothing at ``target``; an existing ``target`` is ``FileExistsError``.
    """
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    payload = PayloadFile(safe_name(name), lambda: io.BytesIO(body))
    target = target.absolute()
    if target.exists():
        raise FileExistsError(str(target))
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".bundle-", dir=target.parent))
    try:
        bundle = build_bundle(
            scratch / "bag",
            [payload],
            signer=signer,
            info=info,
            checkpoint=checkpoint,
            recipients=[recipient],
        )
        os.rename(bundle.path, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
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
        if verdict.problems:
            raise BundleRefused(verdict.problems[0].reason, verdict.problems[0].file)
        raise BundleRefused("unsigned", SIGNATURE)
    return verdict.signer


@dataclass(frozen=True)
class OpenedBundle:
    """A verified bundle's document, the hash naming the bundle, and its checkpoint."""

    document: dict[str, Any]
    content_hash: str
    checkpoint: dict[str, Any]


def read_sync_bundle(path: Path, name: str, *, identity: str, signer: str) -> dict[str, Any]:
    """Verify the bundle (hashes, ``signer``'s signature and checkpoint), then decrypt ``name``.

    Any changed byte, another signer, or a payload that is not the expected JSON object is
    refused with ``BundleRefused``; nothing is decrypted before verification passes.
    """
    return open_sync_bundle(path, name, identity=identity, signer=signer).document


def open_sync_bundle(path: Path, name: str, *, identity: str, signer: str) -> OpenedBundle:
    """``read_sync_bundle``, also returning the content hash and the signed checkpoint."""
    try:
        medium = open_medium(path)
    except UnreadableMedium as unreadable:
        raise BundleRefused("unreadable", unreadable.reason) from None
    try:
        verdict = verify_medium(medium, signer)
        if not verdict.ok:
            first = verdict.problems[0]
            raise BundleRefused(first.reason, first.file)
        content_hash = str(verdict.content_hash)
        with medium.open(CHECKPOINT) as handle:
            checkpoint = json.loads(handle.read())
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
    return OpenedBundle(document, content_hash, checkpoint)

"""Verify a bundle (no store needed) and open it: hashes, signature, checkpoint, decryption."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyrage

from core.audit import checkpoint_message
from exports.bundle import (
    CHECKPOINT,
    CHUNK,
    IDENTITY,
    MANIFEST,
    SIGNATURE,
    TAGMANIFEST,
    safe_name,
)
from exports.medium import Medium, UnreadableMedium, open_medium
from storage.crypto import ed25519_verify


@dataclass(frozen=True)
class Problem:
    file: str
    reason: str  # a stable code: missing, hash_mismatch, unlisted, bad_signature, …


@dataclass
class Verdict:
    problems: list[Problem] = field(default_factory=list)
    signer: str | None = None
    files: int = 0
    content_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class OpenFailed(Exception):
    """Decryption failed: wrong passphrase or identity, or no identity given."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hash(medium: Medium, name: str) -> str:
    digest = hashlib.sha256()
    with medium.open(name) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _read(medium: Medium, name: str) -> bytes:
    with medium.open(name) as handle:
        return handle.read()


def _listing(text: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            entries[name] = digest
    return entries


def _check_listing(medium: Medium, listing: dict[str, str], verdict: Verdict) -> None:
    present = set(medium.names())
    for name, digest in listing.items():
        if name not in present:
            verdict.problems.append(Problem(name, "missing"))
        elif _hash(medium, name) != digest:
            verdict.problems.append(Problem(name, "hash_mismatch"))


def verify_medium(medium: Medium, signer: str | None = None) -> Verdict:
    """Every check, collecting every problem; ``signer`` pins the expected public key."""
    verdict = Verdict()
    names = set(medium.names())
    for required in (TAGMANIFEST, MANIFEST, SIGNATURE, CHECKPOINT):
        if required not in names:
            verdict.problems.append(Problem(required, "missing"))
    if verdict.problems:
        return verdict
    tagmanifest = _read(medium, TAGMANIFEST)
    verdict.content_hash = hashlib.sha256(tagmanifest).hexdigest()
    _check_listing(medium, _listing(tagmanifest.decode("utf-8", "replace")), verdict)
    manifest = _listing(_read(medium, MANIFEST).decode("utf-8", "replace"))
    _check_listing(medium, manifest, verdict)
    verdict.files = len(manifest)
    for name in sorted(n for n in names if n.startswith("data/") and n not in manifest):
        verdict.problems.append(Problem(name, "unlisted"))
    _check_signature(medium, tagmanifest, signer, verdict)
    return verdict


def _check_signature(medium: Medium, message: bytes, signer: str | None, verdict: Verdict) -> None:
    lines = _read(medium, SIGNATURE).decode("utf-8", "replace").split()
    if len(lines) != 3 or lines[0] != "ed25519":
        verdict.problems.append(Problem(SIGNATURE, "malformed"))
        return
    public_key, signature = lines[1], lines[2]
    verdict.signer = public_key
    if signer is not None and signer.lower() != public_key.lower():
        verdict.problems.append(Problem(SIGNATURE, "unexpected_signer"))
    if not ed25519_verify(public_key, signature, message):
        verdict.problems.append(Problem(SIGNATURE, "bad_signature"))
    try:
        point = json.loads(_read(medium, CHECKPOINT))
        text = checkpoint_message(point["terminal"], point["seq"], point["hash"], point["at"])
        good = point["public_key"] == public_key and ed25519_verify(
            public_key, point["signature"], text
        )
    except (ValueError, KeyError, TypeError):
        good = False
    if not good:
        verdict.problems.append(Problem(CHECKPOINT, "bad_checkpoint"))


def verify_path(path: Path, signer: str | None = None) -> Verdict:
    """Verify a bundle directory, image or device; an unreadable medium is a problem, too."""
    try:
        medium = open_medium(path)
    except UnreadableMedium as unreadable:
        return Verdict(problems=[Problem(path.name, unreadable.reason)])
    try:
        return verify_medium(medium, signer)
    finally:
        medium.close()


def read_signer_file(path: Path) -> str:
    """A public key as ``sesshu terminal pubkey`` prints it (``ed25519:<hex> NAME``) or bare hex."""
    text = path.read_text(encoding="utf-8").split()[0]
    return text.removeprefix("ed25519:")


def open_bundle(
    path: Path, out: Path, *, identity: str | None = None, passphrase: str | None = None
) -> list[Path]:
    """Verify, then decrypt every payload file into ``out``; refuse if verification fails."""
    medium = open_medium(path)
    try:
        verdict = verify_medium(medium)
        if not verdict.ok:
            raise OpenFailed("not_verified")
        key = _identity(medium, identity, passphrase)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name in sorted(_listing(_read(medium, MANIFEST).decode()).keys()):
            plain_name = safe_name(name.removeprefix("data/").removesuffix(".age"))
            target = out / plain_name
            try:
                with medium.open(name) as sealed, target.open("wb") as plain:
                    _decrypt(sealed, plain, key)
                    os.fsync(plain.fileno())
            except OpenFailed:
                target.unlink(missing_ok=True)
                raise
            written.append(target)
        return written
    finally:
        medium.close()


def bundle_identity(path: Path, identity: str | None, passphrase: str | None) -> str:
    """The age identity that opens a verified bag (from ``identity`` or its passphrase)."""
    medium = open_medium(path)
    try:
        if not verify_medium(medium).ok:
            raise OpenFailed("not_verified")
        return str(_identity(medium, identity, passphrase))
    finally:
        medium.close()


def _identity(
    medium: Medium, identity: str | None, passphrase: str | None
) -> pyrage.x25519.Identity:
    try:
        if identity is not None:
            return pyrage.x25519.Identity.from_str(identity.strip())
        if passphrase is None or IDENTITY not in medium.names():
            raise OpenFailed("identity_required")
        text = pyrage.passphrase.decrypt(_read(medium, IDENTITY), passphrase)
        return pyrage.x25519.Identity.from_str(text.decode().strip())
    except (pyrage.IdentityError, ValueError):
        raise OpenFailed("bad_identity") from None
    except pyrage.DecryptError:
        raise OpenFailed("wrong_passphrase") from None


def _decrypt(sealed: BinaryIO, plain: BinaryIO, key: pyrage.x25519.Identity) -> None:
    try:
        pyrage.decrypt_io(sealed, plain, [key])
    except pyrage.DecryptError:
        raise OpenFailed("wrong_identity") from None

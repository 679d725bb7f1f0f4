"""Media bundles: a BagIt-style directory whose payload is encrypted with age and signed.

Layout (RFC 8493 plus three tag files of ours)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    checkpoint.json   the terminal's signed audit checkpoint at export time
    signature.txt     Ed25519 signature of tagmanifest-sha256.txt by the terminal key
    README.txt        how to verify and decrypt with standard tools (ja / en)
    identity.age      passphrase mode only: the payload's age identity, under the passphrase
    data/<name>.age   each payload file, encrypted with age

In passphrase mode the payload is encrypted to a fresh X25519 identity and only that small
identity is encrypted with the passphrase, so payloads of any size stream in bounded memory
and standard ``age`` decrypts both. The passphrase is returned once and never stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pyrage

from exports.readme import readme_text

CHUNK = 1 << 20
Signer = Callable[[bytes], tuple[str, str]]  # message → (signature hex, public key hex)
BAGIT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAGMANIFEST = "tagmanifest-sha256.txt"
SIGNATURE = "signature.txt"
CHECKPOINT = "checkpoint.json"
IDENTITY = "identity.age"
PASSPHRASE_WORDS = 8
_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"  # no l, 0, 1: easy to read aloud and type


@dataclass(frozen=True)
class PayloadFile:
    """One payload file: its name inside data/ and how to open its plaintext for reading."""

    name: str
    open: Callable[[], BinaryIO]


@dataclass(frozen=True)
class Bundle:
    path: Path
    content_hash: str  # SHA-256 of tagmanifest-sha256.txt: names the whole bag
    passphrase: str | None  # passphrase mode only; shown once, never stored
    payload_bytes: int


def new_passphrase() -> str:
    """Eight groups of five characters, about 200 bits."""
    words = ("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(PASSPHRASE_WORDS))
    return "-".join(words)


_SEAL = (
    "import sys, pyrage\n"
    "passphrase, secret = sys.stdin.buffer.read().split(b'\\n', 1)\n"
    "sys.stdout.buffer.write(pyrage.passphrase.encrypt(secret, passphrase.decode()))\n"
)


def seal_with_passphrase(secret: bytes, passphrase: str) -> bytes:
    """age passphrase encryption (scrypt, about 300 MB for a moment) in a child process.

    The scrypt memory is returned to the system when the child exits, instead of staying as
    the exporting process's peak while it streams a million rows. Secrets pass through a pipe.
    """
    result = subprocess.run(
        [sys.executable, "-c", _SEAL],
        input=passphrase.encode() + b"\n" + secret,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.startswith(b"age-encryption.org/v1"):
        raise RuntimeError("sealing the identity with the passphrase failed")
    return result.stdout


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safe_name(name: str) -> str:
    """A payload name must be a plain file name (Japanese welcome), never a path."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"not a plain file name: {name!r}")
    return name


def build_bundle(
    target: Path,
    files: Iterable[PayloadFile],
    *,
    signer: Signer,
    info: Mapping[str, str],
    checkpoint: Mapping[str, object],
    recipients: list[str] | None = None,
) -> Bundle:
    """Write the bag into the empty directory ``target``.

    With ``recipients`` (age X25519 public keys, ``age1…``) the payload is encrypted to them;
    without, to a new passphrase returned in the result.
    """
    target.mkdir(parents=True, exist_ok=False)
    (target / "data").mkdir()
    passphrase: str | None = None
    if recipients:
        keys = [pyrage.x25519.Recipient.from_str(r) for r in recipients]
    else:
        passphrase = new_passphrase()
        identity = pyrage.x25519.Identity.generate()
        keys = [identity.to_public()]
        sealed = seal_with_passphrase(str(identity).encode(), passphrase)
        _write(target / IDENTITY, sealed)
    manifest: list[str] = []
    total = 0
    for payload in files:
        name = safe_name(payload.name) + ".age"
        out = target / "data" / name
        with payload.open() as plain, out.open("wb") as sealed_out:
            pyrage.encrypt_io(plain, sealed_out, keys)
            sealed_out.flush()
            os.fsync(sealed_out.fileno())
        total += out.stat().st_size
        manifest.append(f"{sha256_file(out)}  data/{name}")
    _write(target / "bagit.txt", BAGIT.encode())
    _write(target / MANIFEST, ("\n".join(manifest) + "\n").encode())
    bag_info = {**info, "Payload-Oxum": f"{total}.{len(manifest)}"}
    _write(target / "bag-info.txt", "".join(f"{k}: {v}\n" for k, v in bag_info.items()).encode())
    _write(target / CHECKPOINT, json.dumps(checkpoint, ensure_ascii=False, indent=1).encode())
    _write(target / "README.txt", readme_text(passphrase_mode=passphrase is not None).encode())
    tags = ["bagit.txt", "bag-info.txt", MANIFEST, CHECKPOINT, "README.txt"]
    if passphrase is not None:
        tags.append(IDENTITY)
    tagmanifest = "".join(f"{sha256_file(target / t)}  {t}\n" for t in tags).encode()
    _write(target / TAGMANIFEST, tagmanifest)
    signature, public_key = signer(tagmanifest)
    _write(target / SIGNATURE, f"ed25519 {public_key}\n{signature}\n".encode())
    return Bundle(target, hashlib.sha256(tagmanifest).hexdigest(), passphrase, total)


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())

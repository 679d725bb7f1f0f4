"""The keyslot sidecar (鍵スロット): a small JSON file beside the store.

It holds no personal data: per-user slots that wrap the data key, the failed-login guard, and
audit events sealed to the store's inbox key while the store could not be opened. It is
rewritten atomically (temporary file, fsync, rename, directory fsync) under an exclusive lock.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import StoreError
from storage.crypto import (
    PINNED_KDF,
    SALT_BYTES,
    KdfParams,
    UnwrapFailed,
    aead_decrypt,
    aead_encrypt,
    b64,
    derive_kek,
    random_bytes,
    seal,
    unb64,
    unseal,
    x25519_generate,
)

FORMAT = "sesshu-keyslots/1"
SIDECAR_SUFFIX = ".keyslots"
LOCK_SUFFIX = ".lock"
RECOVERY_SLOT = "recovery"

KeyData = dict[str, Any]


def sidecar_path(store: Path) -> Path:
    return store.with_name(store.name + SIDECAR_SUFFIX)


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + LOCK_SUFFIX)


def user_slot(name: str) -> str:
    return f"user:{name}"


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class KeyFile:
    def __init__(self, store: Path) -> None:
        self.path = sidecar_path(store)
        self._lock = lock_path(store)

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> KeyData:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            raise StoreError("store.keyslots_missing", path=str(self.path)) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise StoreError("store.keyslots_corrupt", path=str(self.path)) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StoreError("store.keyslots_corrupt", path=str(self.path))
        return data

    def write(self, data: KeyData) -> None:
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        atomic_write(self.path, text.encode("utf-8"))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextlib.contextmanager
    def update(self) -> Iterator[KeyData]:
        """Read, let the caller change, and write back — all under the exclusive lock."""
        with self.locked():
            data = self.read()
            yield data
            self.write(data)


def _private_aad(store_id: str, slot: str) -> bytes:
    return f"sesshu/{store_id}/slot/{slot}/private".encode()


def _data_key_aad(store_id: str, slot: str, key_id: str) -> bytes:
    return f"sesshu/{store_id}/slot/{slot}/data-key/{key_id}".encode()


def pending_aad(store_id: str, event_id: str) -> bytes:
    return f"sesshu/{store_id}/pending/{event_id}".encode()


def make_slot(store_id: str, slot: str, secret: str, data_keys: dict[str, bytes]) -> KeyData:
    """A slot: an X25519 key wrapped under Argon2id(secret), and the data keys sealed to it."""
    salt = random_bytes(SALT_BYTES)
    private, public = x25519_generate()
    return {
        "kdf": PINNED_KDF.as_dict(),
        "salt": b64(salt),
        "public": b64(public),
        "wrapped_private": aead_encrypt(
            derive_kek(secret, salt, PINNED_KDF), private, _private_aad(store_id, slot)
        ),
        "sealed": {
            key_id: seal(public, key, _data_key_aad(store_id, slot, key_id))
            for key_id, key in data_keys.items()
        },
    }


def seal_data_key(store_id: str, slot: str, slot_data: KeyData, key_id: str, key: bytes) -> None:
    public = unb64(slot_data["public"])
    slot_data["sealed"][key_id] = seal(public, key, _data_key_aad(store_id, slot, key_id))


def _kdf_params(slot_data: KeyData) -> KdfParams:
    kdf = slot_data.get("kdf", {})
    if kdf.get("algorithm") != "argon2id":
        raise UnwrapFailed
    return KdfParams(
        memory_kib=int(kdf["memory_kib"]),
        iterations=int(kdf["iterations"]),
        lanes=int(kdf["lanes"]),
        length=int(kdf["length"]),
    )


def slot_private_key(store_id: str, slot: str, slot_data: KeyData, secret: str) -> bytes:
    """Unwrap a slot's private key; ``UnwrapFailed`` when the secret is wrong."""
    try:
        salt = unb64(slot_data["salt"])
        kek = derive_kek(secret, salt, _kdf_params(slot_data))
        return aead_decrypt(kek, slot_data["wrapped_private"], _private_aad(store_id, slot))
    except (KeyError, ValueError, TypeError) as error:
        raise UnwrapFailed from error


def slot_data_keys(
    store_id: str, slot: str, slot_data: KeyData, private: bytes, key_ids: list[str]
) -> list[bytes]:
    """The data keys this slot can open, in the sidecar's order (current key first)."""
    keys = []
    for key_id in key_ids:
        box = slot_data["sealed"].get(key_id)
        if box is not None:
            keys.append(unseal(private, box, _data_key_aad(store_id, slot, key_id)))
    return keys


def burn_kdf_time(secret: str) -> None:
    """Spend the same Argon2id time for an unknown name as for a known one."""
    derive_kek(secret, b"\0" * SALT_BYTES, PINNED_KDF)


def new_recovery_secret() -> str:
    """160 random bits as eight groups of four base32 characters."""
    text = base64.b32encode(random_bytes(20)).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalize_recovery_secret(text: str) -> str:
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    return "-".join(compact[i : i + 4] for i in range(0, len(compact), 4))

"""Key material for the store: Argon2id, AES-256-GCM wrapping, X25519 sealing, Ed25519 signing.

Parameters are pinned here and checked by ``tests/storage/test_crypto.py`` against known
answers, so a library upgrade cannot silently change how keys are derived.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
SEAL_INFO = b"sesshu/seal/v1"


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters (RFC 9106 second recommended option, 64 MiB)."""

    memory_kib: int = 65536
    iterations: int = 3
    lanes: int = 4
    length: int = 32

    def as_dict(self) -> dict[str, int | str]:
        return {
            "algorithm": "argon2id",
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "lanes": self.lanes,
            "length": self.length,
        }


PINNED_KDF = KdfParams()


class UnwrapFailed(Exception):
    """Authentication of wrapped or sealed material failed (wrong secret or tampering)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def random_bytes(count: int) -> bytes:
    return os.urandom(count)


def derive_kek(secret: str, salt: bytes, params: KdfParams = PINNED_KDF) -> bytes:
    return Argon2id(
        salt=salt,
        length=params.length,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(secret.encode("utf-8"))


def aead_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> dict[str, str]:
    nonce = random_bytes(NONCE_BYTES)
    return {"nonce": b64(nonce), "ciphertext": b64(AESGCM(key).encrypt(nonce, plaintext, aad))}


def aead_decrypt(key: bytes, box: dict[str, str], aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(unb64(box["nonce"]), unb64(box["ciphertext"]), aad)
    except (InvalidTag, KeyError, ValueError) as error:
        raise UnwrapFailed from error


def _seal_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral_public + recipient_public,
        info=SEAL_INFO,
    ).derive(shared)


def x25519_generate() -> tuple[bytes, bytes]:
    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def seal(recipient_public: bytes, plaintext: bytes, aad: bytes) -> dict[str, str]:
    """Encrypt to an X25519 public key (ephemeral ECDH, HKDF-SHA256, AES-256-GCM)."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    box = aead_encrypt(_seal_key(shared, ephemeral_public, recipient_public), plaintext, aad)
    box["ephemeral"] = b64(ephemeral_public)
    return box


def unseal(recipient_private: bytes, box: dict[str, str], aad: bytes) -> bytes:
    private = X25519PrivateKey.from_private_bytes(recipient_private)
    recipient_public = private.public_key().public_bytes_raw()
    try:
        ephemeral_public = unb64(box["ephemeral"])
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    except (KeyError, ValueError) as error:
        raise UnwrapFailed from error
    return aead_decrypt(_seal_key(shared, ephemeral_public, recipient_public), box, aad)


def ed25519_generate() -> tuple[bytes, bytes]:
    private = Ed25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def ed25519_sign(private: bytes, message: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(private).sign(message)


def ed25519_verify(public_key_hex: str, signature_hex: str, message: bytes) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        public.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True

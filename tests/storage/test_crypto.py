"""Key derivation and wrapping are pinned: a library upgrade cannot silently change them."""

from __future__ import annotations

import pytest

from storage import crypto
from storage.keyfile import make_slot, slot_data_keys, slot_private_key


def test_argon2id_parameters_are_pinned() -> None:
    assert crypto.PINNED_KDF.as_dict() == {
        "algorithm": "argon2id",
        "memory_kib": 65536,
        "iterations": 3,
        "lanes": 4,
        "length": 32,
    }


def test_argon2id_known_answer() -> None:
    derived = crypto.derive_kek("password", b"0" * 16)
    assert derived.hex() == "9027ca299bf2e1232be8e90fe5ce60b8123b6c6c96bcfeae1db8308a2d93860c"


def test_a_slot_opens_only_with_its_secret_and_its_own_context() -> None:
    key = crypto.random_bytes(32)
    slot = make_slot("store-a", "user:op1", "a-long-secret", {"k1": key})
    private = slot_private_key("store-a", "user:op1", slot, "a-long-secret")
    assert slot_data_keys("store-a", "user:op1", slot, private, ["k1"]) == [key]
    with pytest.raises(crypto.UnwrapFailed):
        slot_private_key("store-a", "user:op1", slot, "wrong-secret")
    with pytest.raises(crypto.UnwrapFailed):
        slot_private_key("store-a", "user:op2", slot, "a-long-secret")
    with pytest.raises(crypto.UnwrapFailed):
        slot_data_keys("store-b", "user:op1", slot, private, ["k1"])


def test_a_flipped_byte_in_a_wrapped_key_is_detected() -> None:
    slot = make_slot("s", "user:a", "a-long-secret", {"k": b"\1" * 32})
    box = slot["wrapped_private"]
    raw = bytearray(crypto.unb64(box["ciphertext"]))
    raw[0] ^= 1
    box["ciphertext"] = crypto.b64(bytes(raw))
    with pytest.raises(crypto.UnwrapFailed):
        slot_private_key("s", "user:a", slot, "a-long-secret")


def test_signatures_verify_and_reject_changes() -> None:
    private, public = crypto.ed25519_generate()
    signature = crypto.ed25519_sign(private, b"checkpoint")
    assert crypto.ed25519_verify(public.hex(), signature.hex(), b"checkpoint")
    assert not crypto.ed25519_verify(public.hex(), signature.hex(), b"checkpoinT")
    assert not crypto.ed25519_verify("zz", signature.hex(), b"checkpoint")

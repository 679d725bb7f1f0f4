"""A signed, encrypted bundle built from synthetic rows, and the keys that made it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.audit import checkpoint_message
from exports.bundle import Bundle, PayloadFile, build_bundle
from storage.crypto import ed25519_generate, ed25519_sign

CSV = "宛名番号,氏名,カナ,生年月日\n1000000001,山田　太郎,ヤマダ　タロウ,1990-01-01\n".encode()
NAME = "抗体調査名簿.csv"


@dataclass
class Made:
    bundle: Bundle
    public_key: str
    signer_file: Path


def make_bundle(root: Path, recipients: list[str] | None = None) -> Made:
    private, public = ed25519_generate()

    def signer(message: bytes) -> tuple[str, str]:
        return ed25519_sign(private, message).hex(), public.hex()

    point: dict[str, object] = {"terminal": "T-TEST", "seq": 7, "hash": "ab" * 32}
    point["at"] = "2026-11-23T10:00:00+09:00"
    text = checkpoint_message("T-TEST", 7, "ab" * 32, "2026-11-23T10:00:00+09:00")
    point.update(signature=ed25519_sign(private, text).hex(), public_key=public.hex())
    bundle = build_bundle(
        root / "bag",
        [PayloadFile(NAME, lambda: io.BytesIO(CSV))],
        signer=signer,
        info={"External-Identifier": "case-1", "Sesshu-Terminal": "T-TEST"},
        checkpoint=point,
        recipients=recipients,
    )
    signer_file = root / "terminal.pub"
    signer_file.write_text(f"ed25519:{public.hex()} T-TEST\n", encoding="utf-8")
    return Made(bundle, public.hex(), signer_file)


@pytest.fixture
def made(tmp_path: Path) -> Made:
    return make_bundle(tmp_path)

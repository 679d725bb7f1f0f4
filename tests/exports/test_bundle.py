"""Bundles: round trip through an ISO, tampering named, wrong keys refused, Japanese names kept."""

from __future__ import annotations

from pathlib import Path

import pycdlib
import pyrage
import pytest

from exports.bundle import MANIFEST, SIGNATURE, TAGMANIFEST
from exports.iso import write_iso
from exports.verify import OpenFailed, open_bundle, verify_path
from tests.exports.conftest import CSV, NAME, Made, make_bundle

PAYLOAD = f"data/{NAME}.age"


def flip(path: Path, offset: int = -20) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_round_trip_through_an_iso_with_a_passphrase(made: Made, tmp_path: Path) -> None:
    image = write_iso(made.bundle.path, tmp_path / "medium.iso", "SESSHU-1")
    verdict = verify_path(image, made.public_key)
    assert verdict.ok, verdict.problems
    assert (verdict.files, verdict.content_hash) == (1, made.bundle.content_hash)
    assert made.bundle.passphrase is not None
    written = open_bundle(image, tmp_path / "out", passphrase=made.bundle.passphrase)
    assert [p.name for p in written] == [NAME]
    assert written[0].read_bytes() == CSV


def test_round_trip_to_a_recipient_key(tmp_path: Path) -> None:
    identity = pyrage.x25519.Identity.generate()
    made = make_bundle(tmp_path, recipients=[str(identity.to_public())])
    assert made.bundle.passphrase is None
    assert not (made.bundle.path / "identity.age").exists()
    written = open_bundle(made.bundle.path, tmp_path / "out", identity=str(identity))
    assert written[0].read_bytes() == CSV
    other = pyrage.x25519.Identity.generate()
    with pytest.raises(OpenFailed) as failed:
        open_bundle(made.bundle.path, tmp_path / "other", identity=str(other))
    assert failed.value.reason == "wrong_identity"
    assert not (tmp_path / "other" / NAME).exists()


def test_the_plaintext_is_nowhere_in_the_bundle_or_image(made: Made, tmp_path: Path) -> None:
    image = write_iso(made.bundle.path, tmp_path / "medium.iso", "SESSHU-1")
    needles = ["山田　太郎".encode(), "ヤマダ".encode(), "山田　太郎".encode("cp932")]
    for path in [image, *made.bundle.path.rglob("*")]:
        if path.is_file():
            assert not any(n in path.read_bytes() for n in needles), path


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (PAYLOAD, "hash_mismatch"),
        (MANIFEST, "hash_mismatch"),
        (SIGNATURE, "bad_signature"),
        ("checkpoint.json", "hash_mismatch"),
    ],
)
def test_one_flipped_byte_fails_and_names_the_file(made: Made, target: str, reason: str) -> None:
    path = made.bundle.path / target
    flip(path, -3 if target == SIGNATURE else -20)
    verdict = verify_path(made.bundle.path)
    assert not verdict.ok
    assert (target, reason) in [(p.file, p.reason) for p in verdict.problems]


def test_a_rewritten_manifest_breaks_the_signature(made: Made) -> None:
    manifest = made.bundle.path / MANIFEST
    manifest.write_text(manifest.read_text().replace("a", "b", 1))
    tagmanifest = made.bundle.path / TAGMANIFEST
    import hashlib

    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    lines = [
        f"{digest}  {MANIFEST}" if line.endswith(MANIFEST) else line
        for line in tagmanifest.read_text().splitlines()
    ]
    tagmanifest.write_text("\n".join(lines) + "\n")
    problems = {(p.file, p.reason) for p in verify_path(made.bundle.path).problems}
    assert (SIGNATURE, "bad_signature") in problems


def test_an_unexpected_signer_or_extra_file_is_named(made: Made) -> None:
    assert verify_path(made.bundle.path, "00" * 32).problems[0].reason == "unexpected_signer"
    (made.bundle.path / "data" / "extra.csv").write_bytes(b"1,2\n")
    problems = [(p.file, p.reason) for p in verify_path(made.bundle.path).problems]
    assert problems == [("data/extra.csv", "unlisted")]


def test_a_wrong_passphrase_is_refused_and_tampering_blocks_opening(
    made: Made, tmp_path: Path
) -> None:
    with pytest.raises(OpenFailed) as failed:
        open_bundle(made.bundle.path, tmp_path / "out", passphrase="not-the-passphrase")
    assert failed.value.reason == "wrong_passphrase"
    with pytest.raises(OpenFailed) as failed:
        open_bundle(made.bundle.path, tmp_path / "out")
    assert failed.value.reason == "identity_required"
    flip(made.bundle.path / PAYLOAD)
    with pytest.raises(OpenFailed) as failed:
        open_bundle(made.bundle.path, tmp_path / "out", passphrase=made.bundle.passphrase)
    assert failed.value.reason == "not_verified"
    assert not (tmp_path / "out" / NAME).exists()


def test_japanese_file_names_survive_in_the_iso(made: Made, tmp_path: Path) -> None:
    image = write_iso(made.bundle.path, tmp_path / "medium.iso", "SESSHU-1")
    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        joliet = {
            f"{root.rstrip('/')}/{name}"
            for root, _, files in iso.walk(joliet_path="/")
            for name in files
        }
        rock_ridge = {
            f"{root.rstrip('/')}/{name}"
            for root, _, files in iso.walk(rr_path="/")
            for name in files
        }
    finally:
        iso.close()
    assert f"/{PAYLOAD}" in joliet
    assert f"/{PAYLOAD}" in rock_ridge
    assert "/README.txt" in joliet

"""``sesshu media verify`` and ``sesshu media open``: the receiving side needs no store."""

from __future__ import annotations

from pathlib import Path

from exports.iso import write_iso
from tests.cli.conftest import Cli
from tests.exports.conftest import CSV, NAME, make_bundle


def test_verify_and_open_an_image(cli: Cli, tmp_path: Path) -> None:
    made = make_bundle(tmp_path)
    image = write_iso(made.bundle.path, tmp_path / "m.iso", "SESSHU-1")
    out = cli("media", "verify", str(image), "--signer", str(made.signer_file), "--json")
    assert out.code == 0, out.stderr
    assert out.json()["ok"] is True
    assert out.json()["signer"] == made.public_key
    opened = cli(
        "media", "open", str(image), "--out", str(tmp_path / "out"), "--passphrase-stdin",
        stdin=f"{made.bundle.passphrase}\n",
    )  # fmt: skip
    assert opened.code == 0, opened.stderr
    assert (tmp_path / "out" / NAME).read_bytes() == CSV


def test_verify_names_the_bad_file_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    made = make_bundle(tmp_path)
    payload = made.bundle.path / "data" / f"{NAME}.age"
    data = bytearray(payload.read_bytes())
    data[-5] ^= 0xFF
    payload.write_bytes(bytes(data))
    out = cli("--lang", "en", "media", "verify", str(made.bundle.path))
    assert out.code == 1
    assert f"data/{NAME}.age" in out.stderr
    assert "hash does not match" in out.stderr


def test_open_with_a_wrong_passphrase_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    made = make_bundle(tmp_path)
    out = cli(
        "--lang", "en", "media", "open", str(made.bundle.path), "--out", str(tmp_path / "o"),
        "--passphrase-stdin", stdin="guess\n",
    )  # fmt: skip
    assert out.code == 1
    assert "wrong passphrase" in out.stderr
    both = cli("media", "open", str(made.bundle.path), "--out", str(tmp_path / "o"))
    assert both.code == 2

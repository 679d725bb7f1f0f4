"""Burning with xorriso onto file-backed pseudo-drives (``stdio:``), and what closed means there.

A regular file is random-access media to libburn: it cannot be closed, so :func:`burn` writes the
image and then says ``not-closed``. The closed state itself is checked on a file that xorriso
reports as closed (content it does not recognise), and on a real drive when one is named in
``SESSHU_TEST_BURNER`` (e.g. ``/dev/sr0`` holding a blank CD-R; it uses the disc up).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest

from exports.burn import BurnFailed, burn, medium_state, read_path, xorriso_available
from exports.iso import write_iso
from exports.verify import verify_path
from tests.exports.conftest import make_bundle

needs_xorriso = pytest.mark.skipif(not xorriso_available(), reason="xorriso is not installed")


@dataclass(frozen=True)
class Image:
    path: Path
    signer: str


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    root = tmp_path_factory.mktemp("burn")
    identity = pyrage.x25519.Identity.generate()
    made = make_bundle(root, recipients=[str(identity.to_public())])
    return Image(write_iso(made.bundle.path, root / "medium.iso", "SESSHU-1"), made.public_key)


def append(device: str, extra: Path) -> subprocess.CompletedProcess[str]:
    """Try to add a session, as anyone holding the medium could."""
    command = ["xorriso", "-no_rc", "-abort_on", "FAILURE", "-dev", device]
    command += ["-map", str(extra), "/extra.txt", "-commit"]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def burn_to_file(image: Image, disc: Path) -> BurnFailed:
    with pytest.raises(BurnFailed) as failed:
        burn(image.path, f"stdio:{disc}")
    return failed.value


@needs_xorriso
def test_a_file_gets_the_image_but_is_not_called_closed(image: Image, tmp_path: Path) -> None:
    device = f"stdio:{tmp_path / 'disc.bin'}"
    assert medium_state(device) == "blank"
    seen: list[tuple[int, int]] = []
    with pytest.raises(BurnFailed) as failed:
        burn(image.path, device, lambda done, total: seen.append((done, total)))
    assert failed.value.reason == "not-closed"
    assert "Media current: stdio file, overwriteable" in failed.value.detail
    assert "Media status : is written , is appendable" in failed.value.detail
    assert medium_state(device) == "appendable"
    size = image.path.stat().st_size
    assert (seen[0], seen[-1]) == ((0, size), (size, size))
    written = read_path(device)
    assert written.read_bytes()[:size] == image.path.read_bytes()
    verdict = verify_path(written, image.signer)
    assert verdict.ok, verdict.problems


@needs_xorriso
def test_xorriso_can_still_append_to_a_file(image: Image, tmp_path: Path) -> None:
    disc = tmp_path / "disc.bin"
    assert burn_to_file(image, disc).reason == "not-closed"
    before = disc.read_bytes()
    extra = tmp_path / "extra.txt"
    extra.write_text("appended\n", encoding="utf-8")
    appended = append(f"stdio:{disc}", extra)
    assert appended.returncode == 0, appended.stderr
    assert disc.read_bytes() != before


@needs_xorriso
def test_a_medium_xorriso_calls_closed_takes_no_burn_and_no_session(
    image: Image, tmp_path: Path
) -> None:
    disc = tmp_path / "foreign.bin"
    disc.write_bytes(b"not an ISO 9660 image\n" * 100)
    device = f"stdio:{disc}"
    assert medium_state(device) == "closed"
    with pytest.raises(BurnFailed) as failed:
        burn(image.path, device)
    assert failed.value.reason == "not-blank"
    assert "Media status : is written , is closed" in failed.value.detail
    extra = tmp_path / "extra.txt"
    extra.write_text("appended\n", encoding="utf-8")
    appended = append(device, extra)
    assert appended.returncode != 0
    assert "Unsuitable target media state" in appended.stderr
    assert disc.read_bytes() == b"not an ISO 9660 image\n" * 100


@needs_xorriso
def test_a_written_medium_is_not_burned_again(image: Image, tmp_path: Path) -> None:
    disc = tmp_path / "disc.bin"
    burn_to_file(image, disc)
    before = disc.read_bytes()
    again = burn_to_file(image, disc)
    assert again.reason == "not-blank"
    assert disc.read_bytes() == before


@needs_xorriso
def test_a_missing_image_or_drive_is_named(image: Image, tmp_path: Path) -> None:
    with pytest.raises(BurnFailed) as no_image:
        burn(tmp_path / "absent.iso", f"stdio:{tmp_path / 'disc.bin'}")
    assert no_image.value.reason == "no-image"
    nowhere = f"stdio:{tmp_path / 'absent' / 'disc.bin'}"
    with pytest.raises(BurnFailed) as no_drive:
        burn(image.path, nowhere)
    assert no_drive.value.reason == "no-drive"
    assert "Cannot acquire drive" in no_drive.value.detail
    with pytest.raises(BurnFailed) as stdout:
        medium_state("-")
    assert stdout.value.reason == "bad-device"
    assert not (tmp_path / "disc.bin").exists()


@needs_xorriso
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_failed_write_is_reported_in_xorriso_words(image: Image) -> None:
    with pytest.raises(BurnFailed) as failed:
        burn(image.path, "stdio:/dev/full")
    assert failed.value.reason == "write-failed"
    assert "No space left on device" in failed.value.detail


def test_without_xorriso_nothing_is_burned(
    image: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not xorriso_available()
    with pytest.raises(BurnFailed) as failed:
        burn(image.path, f"stdio:{tmp_path / 'disc.bin'}")
    assert failed.value.reason == "no-xorriso"


def test_the_written_image_is_read_back_from_the_file_or_the_drive() -> None:
    assert read_path("stdio:/srv/media/disc.bin") == Path("/srv/media/disc.bin")
    assert read_path("/dev/sr0") == Path("/dev/sr0")
    assert read_path("mmc:/dev/sr1") == Path("/dev/sr1")


@needs_xorriso
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SESSHU_TEST_BURNER"), reason="no burner named")
def test_a_write_once_disc_is_closed(image: Image, tmp_path: Path) -> None:
    device = os.environ["SESSHU_TEST_BURNER"]
    burn(image.path, device)
    assert medium_state(device) == "closed"
    extra = tmp_path / "extra.txt"
    extra.write_text("appended\n", encoding="utf-8")
    assert append(device, extra).returncode != 0
    verdict = verify_path(read_path(device), image.signer)
    assert verdict.ok, verdict.problems

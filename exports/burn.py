"""Burn an ISO image to write-once media with xorriso, and close the medium.

xorriso's cdrecord emulation writes the image as one data track and, without ``-multi``, closes
the medium where closing applies: CD-R, DVD±R and BD-R. Random-access media cannot be closed:
DVD+RW, DVD-RAM, BD-RE and ``stdio:`` files (regular files and block devices). libisoburn derives
their state from their first 64 KiB, so an ISO 9660 image there always reads back as appendable
(pipes and other write-only ``stdio:`` targets always read as blank). :func:`burn` therefore
asks xorriso for the state after writing and raises ``not-closed`` rather than claim a closure
the medium does not have.

Devices are xorriso drive addresses: ``/dev/sr0`` for an optical drive, ``stdio:/path`` for a
file-backed pseudo-drive.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from exports.iso import Progress

XORRISO = "xorriso"
# No startup files, and stop at the first FAILURE (exit status 5) instead of carrying on.
_PREAMBLE = ("-no_rc", "-abort_on", "FAILURE")
_PACIFIER_SECONDS = "0.5"
_STATUS = "Media status : "
_STATES = {
    "is blank": "blank",
    "is written , is appendable": "appendable",
    "is written , is closed": "closed",
}
_UPDATE = " : UPDATE : "  # pacifier and other progress messages
_WRITTEN = re.compile(r" : UPDATE :\s+(\d+) of\s+\d+ MB written")
_MIB = 1024 * 1024
_DETAIL_LINES = 6


class BurnFailed(Exception):
    """A burn or a medium query failed; ``reason`` is a short key, ``detail`` xorriso's words.

    Reasons: ``no-xorriso``, ``bad-device``, ``no-drive``, ``no-medium``, ``unknown-medium``,
    ``no-image``, ``not-blank``, ``write-failed``, and ``not-closed`` (the image was written but
    the medium still accepts sessions).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def xorriso_available() -> bool:
    return shutil.which(XORRISO) is not None


def read_path(device: str) -> Path:
    """Where the written image can be read back (``stdio:/x`` is ``/x``; a drive is itself)."""
    for prefix in ("stdio:", "mmc:"):
        if device.startswith(prefix):
            return Path(device.removeprefix(prefix))
    return Path(device)


def medium_state(device: str) -> str:
    """``blank``, ``appendable`` or ``closed``, as xorriso reports the medium in ``device``."""
    state, _report = _assess(device)
    return state


def burn(
    image: Path, device: str, progress: Progress | None = None, *, require_closed: bool = True
) -> str:
    """Write ``image`` onto the blank medium in ``device`` as one session and close the medium.

    Refuses a medium that is not blank. Returns the state after writing; unless
    ``require_closed`` is false (file-backed ``stdio:`` media, which cannot be closed), anything
    but ``closed`` raises ``not-closed``. ``progress`` gets (bytes written, image size), from
    xorriso's pacifier lines, at least at the start and the end.
    """
    command = _command()
    if not image.is_file():
        raise BurnFailed("no-image", f"{image} is not a file")
    state, report = _assess(device)
    if state != "blank":
        raise BurnFailed("not-blank", _detail(report))
    total = image.stat().st_size
    if progress is not None:
        progress(0, total)
    reported = _write(command, image.resolve(), device, total, progress)
    if progress is not None and reported < total:
        progress(total, total)
    state, report = _assess(device)
    if state != "closed" and require_closed:
        raise BurnFailed("not-closed", _detail(report))
    return state


def _command() -> list[str]:
    executable = shutil.which(XORRISO)
    if executable is None:
        raise BurnFailed("no-xorriso", "xorriso is not on PATH")
    return [executable, *_PREAMBLE]


def _check_device(device: str) -> None:
    # "-" would be standard output, and other leading dashes would read as commands.
    if not device.strip() or device.startswith("-"):
        raise BurnFailed("bad-device", f"not a drive address: {device!r}")


def _assess(device: str) -> tuple[str, list[str]]:
    """The state from the last ``Media status :`` line of ``xorriso -outdev DEVICE -toc``."""
    _check_device(device)
    command = [*_command(), "-outdev", device, "-toc"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, errors="replace", check=False
        )
    except OSError as error:
        raise BurnFailed("no-xorriso", str(error)) from None
    # Drive and medium messages go to stderr, the -toc report to stdout.
    report = (done.stderr + done.stdout).splitlines()
    statuses = [line.removeprefix(_STATUS) for line in report if line.startswith(_STATUS)]
    if not statuses:
        raise BurnFailed("no-drive", _detail(report))
    status = statuses[-1]
    for words, state in _STATES.items():
        if status.startswith(words):
            return state, report
    if status.startswith("is not present"):
        raise BurnFailed("no-medium", _detail(report))
    raise BurnFailed("unknown-medium", _detail(report))


def _write(
    command: list[str], image: Path, device: str, total: int, progress: Progress | None
) -> int:
    """Run the cdrecord emulation; the bytes last reported to ``progress``."""
    # Without -multi the cdrecord emulation sets -close on; -v turns on the pacifier lines.
    arguments = ["-pacifier", f"interval={_PACIFIER_SECONDS}", "-as", "cdrecord", "-v"]
    arguments += [f"dev={device}", str(image)]
    recent: deque[str] = deque(maxlen=_DETAIL_LINES)
    try:
        with subprocess.Popen(
            [*command, *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            reported = _follow(process.stdout, total, progress, recent)
            returncode = process.wait()
    except OSError as error:
        raise BurnFailed("no-xorriso", str(error)) from None
    if returncode != 0:
        raise BurnFailed("write-failed", "\n".join(recent))
    return reported


def _follow(lines: Iterable[str], total: int, progress: Progress | None, recent: deque[str]) -> int:
    """Report pacifier lines (``N of M MB written``) and keep the last other messages."""
    reported = 0
    for raw in lines:
        line = raw.rstrip()
        written = _WRITTEN.search(line)
        if written is None:
            if line and _UPDATE not in line:
                recent.append(line)
            continue
        done = min(int(written.group(1)) * _MIB, total)
        if progress is not None and done > reported:
            reported = done
            progress(done, total)
    return reported


def _detail(report: list[str]) -> str:
    """xorriso's last messages, with the drive and medium lines that explain a state."""
    wanted = ("Media current:", _STATUS, "Media summary:")
    latest = {prefix: line for line in report for prefix in wanted if line.startswith(prefix)}
    messages = [line for line in report if line.startswith(("xorriso :", "libburn", "libiso"))]
    problems = [line for line in messages if _UPDATE not in line]
    return "\n".join([*problems[-_DETAIL_LINES:], *latest.values()])

"""ISO 9660 images of a bundle (pycdlib): Joliet and Rock Ridge keep the Japanese file names.

ISO 9660 level-1 names are generated (``F0001.AGE``); readers use the Joliet or Rock Ridge
tree, which carry the real names. The image is written to a temporary name and renamed, so a
crash never leaves a half-written image that looks complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pycdlib

Progress = Callable[[int, int], None]  # bytes written so far, total


def _iso_name(index: int, name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].upper() if "." in name else ""
    suffix = "".join(ch for ch in suffix if ch.isascii() and ch.isalnum())[:3]
    return f"F{index:05d}.{suffix or 'DAT'};1"


def write_iso(bundle: Path, image: Path, label: str, progress: Progress | None = None) -> Path:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, joliet=3, rock_ridge="1.09", vol_ident=label[:32].upper())
    directories: dict[Path, str] = {bundle: "/"}
    files = sorted(p for p in bundle.rglob("*"))
    index = 0
    total = sum(p.stat().st_size for p in files if p.is_file())
    for path in files:
        relative = path.relative_to(bundle).as_posix()
        parent_iso = directories[path.parent]
        index += 1
        if path.is_dir():
            iso_dir = f"{parent_iso.rstrip('/')}/D{index:05d}"
            directories[path] = iso_dir
            iso.add_directory(iso_dir, joliet_path="/" + relative, rr_name=path.name)
            continue
        iso.add_file(
            str(path),
            f"{parent_iso.rstrip('/')}/{_iso_name(index, path.name)}",
            joliet_path="/" + relative,
            rr_name=path.name,
        )
    partial = image.with_name(f".{image.name}.partial")
    written = 0

    def report(done: int, _total: int, *_args: object) -> None:
        nonlocal written
        written = done
        if progress is not None:
            progress(done, max(total, done))

    try:
        iso.write(str(partial), progress_cb=report)
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, image)
    finally:
        iso.close()
        partial.unlink(missing_ok=True)
    return image

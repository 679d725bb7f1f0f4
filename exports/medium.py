"""Read a bundle from a directory or an ISO 9660 image (a burned disc, a device or a file)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import pycdlib


class Medium(Protocol):
    def names(self) -> list[str]:
        """Every file, as a relative path with ``/`` (e.g. ``data/名簿.csv.age``)."""
        ...

    def open(self, name: str) -> contextlib.AbstractContextManager[BinaryIO]: ...
    def close(self) -> None: ...


class DirectoryMedium:
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with (self.root / name).open("rb") as handle:
            yield handle

    def close(self) -> None:
        return None


class UnreadableMedium(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # not_iso, no_joliet


class IsoMedium:
    """An ISO image read through its Joliet tree, where the Japanese file names are.

    A medium whose last session has no Joliet tree (e.g. a session appended by another tool)
    is not one of ours: it is refused as unreadable.
    """

    def __init__(self, path: Path) -> None:
        self._iso = pycdlib.PyCdlib()
        try:
            self._iso.open(str(path))
        except pycdlib.pycdlibexception.PyCdlibException:
            raise UnreadableMedium("not_iso") from None
        if not self._iso.has_joliet():
            self._iso.close()
            raise UnreadableMedium("no_joliet")

    def names(self) -> list[str]:
        found: list[str] = []
        for root, _dirs, files in self._iso.walk(joliet_path="/"):
            for name in files:
                found.append(f"{root.rstrip('/')}/{name}".lstrip("/"))
        return sorted(found)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with self._iso.open_file_from_iso(joliet_path="/" + name) as handle:
            yield handle

    def close(self) -> None:
        self._iso.close()


def open_medium(path: Path) -> Medium:
    if path.is_dir():
        return DirectoryMedium(path)
    return IsoMedium(path)

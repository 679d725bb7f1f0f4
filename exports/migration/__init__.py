"""Migration files (移行データ): legacy datasets read and written, example layouts."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def example_layout(name: str) -> Path:
    """The path of a layout shipped with sesshu, ``legacy_a`` or ``open_cp932``."""
    filename = name if name.endswith(".toml") else f"{name}.toml"
    path = Path(str(resources.files("exports.migration").joinpath("layouts", filename)))
    if not path.is_file():
        raise FileNotFoundError(f"no shipped layout named {name!r}")
    return path

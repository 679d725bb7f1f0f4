"""Running the real ``sesshu`` console script in a sandboxed environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.processes import SESSHU, sandbox_env

__all__ = ["SESSHU", "sandbox_env", "sesshu"]


def sesshu(
    root: Path, *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SESSHU, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=sandbox_env(root),
        check=check,
        timeout=300,
    )

"""Running the real ``sesshu`` console script in a sandboxed environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SESSHU = str(Path(sys.executable).with_name("sesshu"))


def sandbox_env(root: Path) -> dict[str, str]:
    """HOME, XDG dirs and TMPDIR all inside ``root``, so every file sesshu writes is there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SESSHU_", "XDG_"))}
    for name in ("home", "tmp", "data", "config", "cache", "state"):
        (root / name).mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(root / "home"),
        TMPDIR=str(root / "tmp"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_STATE_HOME=str(root / "state"),
    )
    return env


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

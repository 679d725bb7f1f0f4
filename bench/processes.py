"""Real central and terminal processes on loopback, for the sync benchmarks and reliability tests.

Every process runs the installed ``sesshu`` console script with HOME, TMPDIR and the XDG
directories inside a sandbox folder, so everything it writes stays there. Only 127.0.0.1 is
ever contacted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.clock import SystemClock, timestamp
from core.services.auth import AuthService
from storage.store import SqlStore
from storage.vault import Vault

SESSHU = str(Path(sys.executable).with_name("sesshu"))
HOST = "127.0.0.1"
VACCINES = ("FLU", "PNEU", "COVID", "HZR")


def sandbox_env(root: Path) -> dict[str, str]:
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class CommandFailed(Exception):
    def __init__(self, args: list[str], result: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"sesshu {' '.join(args[:3])}… exited {result.returncode}")
        self.result = result


def run_sesshu(
    root: Path, *args: str, stdin: str = "", check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [SESSHU, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=sandbox_env(root),
        check=False,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise CommandFailed(list(args), result)
    return result


def run_json(root: Path, *args: str, stdin: str = "", check: bool = True) -> Any:
    return json.loads(run_sesshu(root, *args, stdin=stdin, check=check).stdout)


@dataclass
class Central:
    """A central server: its CONF directory, database URL and (while running) its process."""

    root: Path
    db: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_sesshu(self.root, "central", *args, "--dir", str(self.conf), check=check)

    def init(self) -> None:
        self.cli("init", "--db", self.db)

    def enroll(self, terminal: str) -> str:
        done = self.cli("enroll", "--terminal", terminal, "--json")
        return str(json.loads(done.stdout)["token"])

    def start(self, timeout: float = 30.0) -> None:
        log = (self.root / "central.log").open("ab")
        self.process = subprocess.Popen(
            [
                SESSHU,
                "central",
                "serve",
                "--db",
                self.db,
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--dir",
                str(self.conf),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=sandbox_env(self.root),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"central exited {self.process.returncode}: {self.log()[-2000:]}"
                )
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("central did not start listening")

    def log(self) -> str:
        path = self.root / "central.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a power cut would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None


@dataclass
class Terminal:
    """A terminal's store and the password every one of its test users has."""

    root: Path
    store: Path
    password: str

    def cli(
        self, *args: str, user: str | None = None, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        extra = ["--as", user, "--password-stdin"] if user else []
        return run_sesshu(
            self.root,
            "--store",
            str(self.store),
            *args,
            *extra,
            stdin=(self.password + "\n") if user else "",
            check=check,
            timeout=timeout,
        )

    def json(self, *args: str, user: str | None = None, check: bool = True) -> Any:
        return json.loads(self.cli(*args, "--json", user=user, check=check).stdout)

    def spawn(self, *args: str, user: str) -> subprocess.Popen[bytes]:
        """Start a command and return at once (to kill it midway)."""
        process = subprocess.Popen(
            [SESSHU, "--store", str(self.store), *args, "--as", user, "--password-stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=sandbox_env(self.root),
        )
        assert process.stdin is not None
        process.stdin.write((self.password + "\n").encode())
        process.stdin.close()
        return process

    def enroll(self, central: Central, admin: str = "adm1") -> None:
        token = central.enroll(self.terminal_name())
        self.cli("sync", "enroll", "--central", central.url, "--token", token, user=admin)

    def terminal_name(self) -> str:
        return str(self.cli("terminal", "pubkey").stdout.split()[-1])


def open_store(store_path: Path, user: str, password: str) -> SqlStore:
    """Log in as ``user`` in this process (the caller closes the store)."""
    clock = SystemClock()
    _, store = AuthService(Vault(store_path, clock), clock).login(user, password)
    assert isinstance(store, SqlStore)
    return store


def queue_records(store_path: Path, password: str, count: int) -> float:
    """Write ``count`` verified records as a batch commit would; return seconds spent."""
    clock = SystemClock()
    store = open_store(store_path, "ver1", password)
    now = timestamp(clock.now())
    try:
        atenas = [
            row[0] for row in store.conn.execute("SELECT atena FROM residents LIMIT ?", (count,))
        ]
        start = time.perf_counter()
        rows = [
            (
                atenas[i % len(atenas)],
                VACCINES[i % len(VACCINES)],
                1 + i // len(atenas),
                f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}",
                "verified",
                "bench",
                "op1",
                "ver1",
                now,
            )
            for i in range(count)
        ]
        for first in range(0, count, 10_000):
            with store.transaction():
                store.conn.executemany(
                    "INSERT INTO vaccinations (atena, vaccine, dose, date, status, source, "
                    "keyed_by, verified_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows[first : first + 10_000],
                )
        return time.perf_counter() - start
    finally:
        store.close()

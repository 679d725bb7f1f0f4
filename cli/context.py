"""What every command shares: the store path, language, secrets and the acting session."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import typer

from core.clock import Clock, SystemClock
from core.errors import StoreError
from core.i18n import Catalogue, Language, catalogue
from core.services.auth import AuthService
from core.services.context import ServiceContext
from storage.vault import Vault

STORE_ENV = "SESSHU_STORE"
LANG_ENV = "SESSHU_LANG"


def default_store_path() -> Path:
    return platformdirs.user_data_path("sesshu") / "sesshu.db"


@dataclass
class CliState:
    """Global options, set once by the root callback."""

    store: Path = field(default_factory=default_store_path)
    language: Language = "ja"
    clock: Clock = field(default_factory=SystemClock)

    @property
    def t(self) -> Catalogue:
        return catalogue(self.language)


_STATE: ContextVar[CliState] = ContextVar("sesshu_cli_state")


def set_state(cli: CliState) -> None:
    _STATE.set(cli)


def state() -> CliState:
    """The global options of the command line being run (set by the root callback)."""
    try:
        return _STATE.get()
    except LookupError:
        cli = CliState()
        _STATE.set(cli)
        return cli


class Secrets:
    """Passwords from standard input (one per line) or from a hidden prompt."""

    def __init__(self, from_stdin: bool, t: Catalogue) -> None:
        self._from_stdin = from_stdin
        self._t = t
        self._lines: list[str] | None = None
        self._used = 0

    def next(self, prompt_key: str) -> str:
        if not self._from_stdin:
            return getpass.getpass(self._t(prompt_key) + ": ")
        if self._lines is None:
            self._lines = sys.stdin.read().splitlines()
        if self._used >= len(self._lines):
            raise typer.BadParameter(
                f"line {self._used + 1} ({self._t(prompt_key)}) is missing",
                param_hint="--password-stdin",
            )
        line = self._lines[self._used]
        self._used += 1
        return line


@dataclass
class Acting:
    ctx: ServiceContext
    vault: Vault
    auth: AuthService


@contextlib.contextmanager
def acting_as(user: str, password: str) -> Iterator[Acting]:
    """Log in as ``user`` for one command; log out and close whatever happens."""
    cli = state()
    vault = Vault(cli.store, cli.clock)
    auth = AuthService(vault, cli.clock)
    session, store = auth.login(user, password)
    ctx = ServiceContext(store, session, cli.clock)
    failed = False
    try:
        yield Acting(ctx, vault, auth)
    except BaseException:
        failed = True
        raise
    finally:
        try:
            auth.logout(ctx, reason="command")
        except StoreError:
            if not failed:
                raise
        finally:
            store.close()


@contextlib.contextmanager
def acting(user: str, password_stdin: bool) -> Iterator[Acting]:
    """Read the acting user's password (stdin line 1 or a prompt) and act as them."""
    with acting_as(user, Secrets(password_stdin, state().t).next("field.password")) as session:
        yield session


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


def environment_store() -> str | None:
    return os.environ.get(STORE_ENV)

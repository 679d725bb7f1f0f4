"""Run ``sesshu`` in-process through the same funnel as the console script."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cli.main import run


@click.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def _entry(args: tuple[str, ...]) -> None:
    raise SystemExit(run(list(args)))


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Cli = Callable[..., Outcome]


@pytest.fixture
def cli(store_path: Path) -> Cli:
    def invoke(*args: str, stdin: str = "", store: Path | None = None) -> Outcome:
        runner = CliRunner()
        full = ["--store", str(store or store_path), *args]
        result = runner.invoke(_entry, full, input=stdin, catch_exceptions=False)
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return invoke

"""``sesshu demo``: build a synthetic city to try sesshu on."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.context import emit_json, say, state
from cli.options import JsonOption
from core.errors import StoreError


def demo(
    residents: Annotated[int, typer.Option("--residents", min=1, max=2_000_000)] = 3000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Rebuild an existing demo store.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Build a demo store: synthetic residents, histories and demo users (password sesshu-demo)."""
    from storage.demo_store import build_demo_store, remove_demo_store

    cli = state()
    t = cli.t
    if cli.store.exists():
        if not force:
            raise StoreError("demo.exists", path=str(cli.store))
        remove_demo_store(cli.store)
    columns = (
        TextColumn(t("demo.building")),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True, disable=as_json, console=Console(stderr=True)) as bar:
        task = bar.add_task("demo", total=residents)
        summary = build_demo_store(
            cli.store,
            residents=residents,
            seed=seed,
            clock=cli.clock,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    if as_json:
        emit_json(
            {"store": str(summary.path), "residents": summary.residents, "records": summary.records}
        )
        return
    say(t("demo.built", residents=summary.residents, records=summary.records, path=summary.path))
    say(t("demo.users"))

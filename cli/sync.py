"""``sesshu sync``: enrollment, sync runs, status, conflicts, comparison and media bundles."""

from __future__ import annotations

import typer

app = typer.Typer(help="Sync with the central system.")

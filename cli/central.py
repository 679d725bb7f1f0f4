"""``sesshu central``: the reference central system (init, enroll, revoke, serve, bundles)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The central system the terminals sync with.")

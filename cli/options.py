"""Option types shared by the command groups."""

from __future__ import annotations

from typing import Annotated

import typer

AsOption = Annotated[str, typer.Option("--as", help="The acting user.")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read passwords from standard input, one per line.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]

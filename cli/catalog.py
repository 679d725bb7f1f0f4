"""``sesshu catalog``: the masters slips are keyed against (codes and names)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cli.context import acting, emit_json, say, state
from cli.options import JsonOption, StdinOption
from core.catalog import load_default_catalog
from core.services.batches import BatchService
from storage import public_masters

app = typer.Typer(help="Vaccine and institution masters (codes and names).")

OptionalAs = Annotated[
    str | None,
    typer.Option("--as", help="Read the store's masters as this user (else the public copy)."),
]


def _from_store(kind: str, user: str, password_stdin: bool) -> list[dict[str, Any]]:
    with acting(user, password_stdin) as session:
        masters = BatchService(session.ctx).masters()
    if kind == "vaccines":
        return [{"code": e.code, "name": e.name, "name_en": e.name_en} for e in masters.vaccines]
    return [{"code": e.code, "name": e.name} for e in masters.institutions]


def _public(kind: str) -> list[dict[str, Any]]:
    """The copy written beside the store, or the shipped catalogue for vaccines."""
    copy = public_masters.read(state().store)
    if copy is not None:
        return copy[kind]
    if kind == "vaccines":
        return [
            {"code": v.code, "name": v.name_ja, "name_en": v.name_en, "category": v.category}
            for v in load_default_catalog().vaccines
        ]
    return []


def _list(kind: str, user: str | None, password_stdin: bool, as_json: bool) -> None:
    entries = _from_store(kind, user, password_stdin) if user else _public(kind)
    if as_json:
        emit_json(entries)
        return
    for entry in entries:
        say(f"{entry['code']:<12} {entry['name']}")
    if not entries:
        say(state().t("app.none"))


@app.command("vaccines")
def vaccines(
    acting_user: OptionalAs = None, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """List vaccine codes (接種コード) and names."""
    _list("vaccines", acting_user, password_stdin, as_json)


@app.command("institutions")
def institutions(
    acting_user: OptionalAs = None, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """List medical institutions (接種機関) with their codes."""
    _list("institutions", acting_user, password_stdin, as_json)

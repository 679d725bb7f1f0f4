"""``sesshu terminal``: settings and the terminal's public signing key."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.services.terminal import change_setting, read_settings
from core.terminal import SETTINGS
from storage.vault import Vault

app = typer.Typer(help="Terminal settings and identity.")


@app.command("show")
def show(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Show every setting with its current value."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        values = read_settings(session.ctx.store)
        terminal = session.ctx.store.terminal
    if as_json:
        emit_json({"terminal": terminal, "settings": values})
        return
    for name, value in values.items():
        say(f"{name:<20} {value:<10} {t(SETTINGS[name].label_key)}")


@app.command("set")
def set_value(
    name: Annotated[str, typer.Argument(help=", ".join(SETTINGS))],
    value: str,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Change a setting (administrators only; audited with old and new value)."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        stored = change_setting(session.ctx, name, value)
    if as_json:
        emit_json({"setting": name, "value": stored})
    else:
        say(t("setting.changed", name=name, value=stored))


@app.command("pubkey")
def pubkey(as_json: JsonOption = False) -> None:
    """Print the terminal's Ed25519 signing key, for recipients who verify its media."""
    cli = state()
    vault = Vault(cli.store, cli.clock)
    if as_json:
        emit_json({"terminal": vault.terminal, "ed25519": vault.signing_public_key})
    else:
        say(f"ed25519:{vault.signing_public_key} {vault.terminal}")

"""``sesshu store``: integrity checks, key rotation and recovery."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.context import Secrets, acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.errors import StoreError
from core.services.auth import AuthService
from core.services.setup import StoreMaintenance
from storage.vault import Vault

app = typer.Typer(help="Store maintenance: check, rekey, recover.")


@app.command("check")
def check(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Run cipher_integrity_check and integrity_check; exit 1 on any problem."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        problems = StoreMaintenance(session.ctx).check()
    if as_json:
        emit_json({"ok": not problems, "problems": problems})
    elif not problems:
        say(t("store.check_ok"))
    if problems:
        raise StoreError("store.check_failed", count=len(problems))


@app.command("rekey")
def rekey(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Rotate the data key and rewrap every keyslot (no other session may be open)."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        StoreMaintenance(session.ctx).rekey()
    if as_json:
        emit_json({"rekeyed": True})
    else:
        say(t("store.rekeyed"))


@app.command("recover")
def recover(
    admin: Annotated[str, typer.Option("--admin", help="The administrator to recover.")],
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Give an administrator a new initial password using the recovery secret.

    Standard input: line 1 the recovery secret, line 2 the new initial password.
    """
    cli = state()
    secrets = Secrets(password_stdin, cli.t)
    secret = secrets.next("store.recovery_secret")
    new_password = secrets.next("users_screen.initial_password")
    AuthService(Vault(cli.store, cli.clock), cli.clock).recover(secret, admin, new_password)
    if as_json:
        emit_json({"recovered": admin, "must_change_password": True})
    else:
        say(cli.t("store.recovered", name=admin))

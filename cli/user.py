"""``sesshu user``: accounts and passwords."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cli.context import Secrets, acting, acting_as, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.errors import InvalidValue
from core.roles import parse_role
from core.services.users import AccountStatus, NewAccount, UserAdmin

app = typer.Typer(help="Accounts: add, list, lock, unlock, change or reset passwords.")


def _date(text: str | None, field_name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(field_name, "user.date_format") from None


def _status_json(status: AccountStatus) -> dict[str, object]:
    account = status.account
    return {
        "name": account.name,
        "display_name": account.display_name,
        "roles": sorted(r.value for r in account.roles),
        "mynumber_access": account.mynumber_access,
        "contractor": account.contractor,
        "valid_from": account.valid_from.isoformat(),
        "valid_to": account.valid_to.isoformat() if account.valid_to else None,
        "locked": status.locked,
        "failed_logins": status.failures,
        "must_change_password": account.must_change_password,
    }


@app.command("add")
def add(
    name: str,
    acting_user: AsOption,
    role: Annotated[list[str], typer.Option("--role", help="operator, verifier, …")],
    mynumber_access: Annotated[bool, typer.Option("--mynumber-access")] = False,
    contractor: Annotated[bool, typer.Option("--contractor")] = False,
    display_name: Annotated[str, typer.Option("--display-name")] = "",
    valid_from: Annotated[str | None, typer.Option("--valid-from", help="YYYY-MM-DD")] = None,
    valid_to: Annotated[str | None, typer.Option("--valid-to", help="YYYY-MM-DD")] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add an account; line 2 of stdin is its initial password (changed at first login)."""
    t = state().t
    roles = frozenset(parse_role(r) for r in role)
    spec = NewAccount(
        name=name,
        roles=roles,
        display_name=display_name,
        mynumber_access=mynumber_access,
        contractor=contractor,
        valid_from=_date(valid_from, "valid_from"),
        valid_to=_date(valid_to, "valid_to"),
    )
    secrets = Secrets(password_stdin, t)
    password = secrets.next("field.password")
    initial = secrets.next("users_screen.initial_password")
    with acting_as(acting_user, password) as session:
        account = UserAdmin(session.ctx, session.vault).add(spec, initial)
    if as_json:
        emit_json({"user": account.name, "roles": sorted(r.value for r in account.roles)})
    else:
        say(t("user.added", name=account.name))


@app.command("list")
def list_users(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """List accounts with their roles, flags, validity and lock state."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        statuses = UserAdmin(session.ctx, session.vault).list()
    if as_json:
        emit_json({"users": [_status_json(s) for s in statuses]})
        return
    for status in statuses:
        account = status.account
        flags = [t("users_screen.mynumber_flag")] if account.mynumber_access else []
        flags += [t("users_screen.contractor_flag")] if account.contractor else []
        state_text = t("users_screen.locked") if status.locked else t("users_screen.active")
        say(
            f"{account.name:<12} {account.role_label():<28} {','.join(flags) or '-':<12} "
            f"{account.valid_from}..{account.valid_to or ''}  {state_text}"
        )


@app.command("lock")
def lock(
    name: str,
    acting_user: AsOption,
    reason: Annotated[str, typer.Option("--reason")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Lock an account (for example on a personnel change)."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        UserAdmin(session.ctx, session.vault).lock(name, reason)
    _done(as_json, {"user": name, "locked": True}, t("user.locked_done", name=name))


@app.command("unlock")
def unlock(
    name: str,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Unlock an account; only an administrator can."""
    t = state().t
    with acting(acting_user, password_stdin) as session:
        UserAdmin(session.ctx, session.vault).unlock(name)
    _done(as_json, {"user": name, "locked": False}, t("user.unlocked_done", name=name))


@app.command("reset-password")
def reset_password(
    name: str,
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Give another user a new initial password (line 2 of stdin)."""
    t = state().t
    secrets = Secrets(password_stdin, t)
    password = secrets.next("field.password")
    initial = secrets.next("users_screen.initial_password")
    with acting_as(acting_user, password) as session:
        UserAdmin(session.ctx, session.vault).reset_password(name, initial)
    _done(as_json, {"user": name, "must_change_password": True}, t("user.reset_done", name=name))


@app.command("passwd")
def passwd(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Change your own password: stdin line 1 is the current one, line 2 the new one."""
    t = state().t
    secrets = Secrets(password_stdin, t)
    old = secrets.next("password_screen.old")
    new = secrets.next("password_screen.new")
    if not password_stdin and secrets.next("password_screen.confirm") != new:
        raise InvalidValue("new_password", "password.mismatch")
    with acting_as(acting_user, old) as session:
        session.auth.change_password(session.ctx, old, new)
    _done(as_json, {"user": acting_user, "password_changed": True}, t("user.password_changed"))


def _done(as_json: bool, document: dict[str, object], text: str) -> None:
    if as_json:
        emit_json(document)
    else:
        say(text)

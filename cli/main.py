"""The ``sesshu`` command: global options, ``init``, ``tui`` and the command groups.

Every error reaches one funnel (``run``): one line on stderr from the message catalogue and
exit 1; usage errors exit 2. Tracebacks are never shown (they could hold personal data), unless
a developer sets ``SESSHU_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from cli import audit as audit_commands
from cli import batch as batch_commands
from cli import catalog as catalog_commands
from cli import central as central_commands
from cli import change as change_commands
from cli import demo as demo_commands
from cli import export as export_commands
from cli import lookup as lookup_commands
from cli import media as media_commands
from cli import migrate as migrate_commands
from cli import provision as provision_commands
from cli import store as store_commands
from cli import sync as sync_commands
from cli import terminal as terminal_commands
from cli import user as user_commands
from cli.context import (
    LANG_ENV,
    CliState,
    Secrets,
    emit_json,
    environment_store,
    say,
    set_state,
    state,
)
from cli.options import JsonOption, StdinOption
from core.errors import SesshuError
from core.i18n import Catalogue, catalogue, parse_language
from core.services.setup import initialise
from storage.vault import SqlStoreFactory

app = typer.Typer(
    name="sesshu",
    help="sesshu (接種): the vaccination records terminal.",
    no_args_is_help=False,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(user_commands.app, name="user")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(store_commands.app, name="store")
app.add_typer(terminal_commands.app, name="terminal")
app.add_typer(catalog_commands.app, name="catalog")
app.add_typer(batch_commands.app, name="batch")
app.add_typer(media_commands.app, name="media")
app.add_typer(change_commands.app, name="change")
app.add_typer(export_commands.app, name="export")
app.add_typer(provision_commands.app, name="provision")
app.add_typer(provision_commands.recipients_app, name="recipient")
app.add_typer(provision_commands.bases_app, name="basis")
app.add_typer(sync_commands.app, name="sync")
app.add_typer(migrate_commands.app, name="migrate")
app.add_typer(central_commands.app, name="central")
app.command("demo")(demo_commands.demo)
app.command("lookup")(lookup_commands.lookup)
app.command("show")(lookup_commands.show)

GLOBAL_OPTIONS = ("--store", "--lang")


@app.callback()
def root(
    ctx: typer.Context,
    store: Annotated[
        Path | None, typer.Option("--store", help="Store file (env SESSHU_STORE).")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="ja or en (env SESSHU_LANG).")] = None,
) -> None:
    cli = CliState()
    chosen = store or (Path(p) if (p := environment_store()) else None)
    if chosen is not None:
        cli.store = chosen.expanduser().absolute()
    try:
        cli.language = parse_language(lang or os.environ.get(LANG_ENV))
    except ValueError:
        raise typer.BadParameter("ja | en", param_hint="--lang") from None
    set_state(cli)
    if ctx.invoked_subcommand is None:
        tui_command()


@app.command("init")
def init(
    admin: Annotated[str, typer.Option("--admin", help="The first administrator's user name.")],
    terminal: Annotated[str, typer.Option("--terminal", help="This terminal's name.")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Create a new encrypted store; prints the recovery secret once."""
    cli = state()
    t = cli.t
    secrets = Secrets(password_stdin, t)
    password = secrets.next("field.password")
    if not password_stdin and secrets.next("password_screen.confirm") != password:
        raise typer.BadParameter(t("password.mismatch"), param_hint="--password")
    name = terminal or _default_terminal_name()
    done = initialise(
        SqlStoreFactory(cli.store, cli.clock),
        admin=admin,
        password=password,
        terminal=name,
        clock=cli.clock,
    )
    if as_json:
        emit_json(
            {
                "store": str(cli.store),
                "terminal": done.terminal,
                "admin": done.admin,
                "recovery_secret": done.recovery_secret,
            }
        )
        return
    say(t("setup.initialised", path=cli.store))
    say(t("setup.recovery_notice"))
    say(f"  {done.recovery_secret}")


def _default_terminal_name() -> str:
    host = os.uname().nodename.split(".")[0]
    cleaned = "".join(ch for ch in host if ch.isalnum() or ch in "._-").lstrip("._-")
    return cleaned[:63] or "terminal"


@app.command("tui")
def tui_command(
    idle_lock: Annotated[
        float | None, typer.Option("--idle-lock-seconds", hidden=True, min=1)
    ] = None,
) -> None:
    """Open the terminal user interface (also the default with no command)."""
    from tui.app import run_tui

    cli = state()
    run_tui(cli.store, cli.language, idle_lock_seconds=idle_lock)


def hoist_global_options(argv: list[str]) -> list[str]:
    """Accept ``--store`` and ``--lang`` anywhere on the line by moving them to the front."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest += argv[index:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            if "=" in arg:
                front.append(arg)
            elif index + 1 < len(argv):
                front += [arg, argv[index + 1]]
                index += 1
            else:
                rest.append(arg)
        else:
            rest.append(arg)
        index += 1
    return front + rest


def run(argv: list[str]) -> int:
    """Run one command line and return its exit code; the single error funnel."""
    args = hoist_global_options(argv)
    try:
        # Without standalone mode click returns the code of a ``typer.Exit`` raised by a command.
        code = app(args=args, prog_name="sesshu", standalone_mode=False)
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        return 1
    except typer.TyperException as error:
        # Usage errors carry exit code 2, other command-line errors 1.
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(error.format_message() + "\n")
        return int(error.exit_code)
    except KeyboardInterrupt:
        return 130
    except SesshuError as error:
        sys.stderr.write(_language_of(args).error(error) + "\n")
        return 1
    except Exception as error:  # noqa: BLE001 - the funnel: one line, never a traceback
        if os.environ.get("SESSHU_DEBUG") == "1":
            traceback.print_exc()
        sys.stderr.write(_language_of(args)("error.unexpected", kind=type(error).__name__) + "\n")
        return 1
    return code if isinstance(code, int) else 0


def _language_of(args: list[str]) -> Catalogue:
    """The catalogue for ``--lang`` (or the environment); the click context is gone by now."""
    chosen: str | None = None
    for index, arg in enumerate(args):
        if arg == "--lang" and index + 1 < len(args):
            chosen = args[index + 1]
        elif arg.startswith("--lang="):
            chosen = arg.split("=", 1)[1]
    try:
        return catalogue(parse_language(chosen or os.environ.get(LANG_ENV)))
    except ValueError:
        return catalogue()


def main() -> None:
    sys.exit(run(sys.argv[1:]))

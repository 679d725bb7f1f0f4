"""``sesshu central``: the reference central system (init, enroll, revoke, serve, registry,
media bundles from terminals that are never connected)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.context import emit_json, say, state
from cli.options import JsonOption
from core.errors import AuditChainBroken

if TYPE_CHECKING:
    from central.service import CentralService

# The central modules are imported inside the commands: every ``sesshu`` command loads this
# module, and the server's libraries (psycopg, starlette, uvicorn) are not needed elsewhere.

app = typer.Typer(help="The central system the terminals sync with.")
registry_app = typer.Typer(help="The resident registry and master data.")
audit_app = typer.Typer(help="The central system's own audit trail.")
app.add_typer(registry_app, name="registry")
app.add_typer(audit_app, name="audit")

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="CONF directory (env SESSHU_CENTRAL_DIR).", show_default=False),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="sqlite:///PATH or postgresql://… (env SESSHU_CENTRAL_DB; default: as at init).",
        show_default=False,
    ),
]
TerminalOption = Annotated[str, typer.Option("--terminal", help="The terminal's name.")]


def _conf_path(chosen: Path | None) -> Path:
    from central.config import default_dir

    return (chosen or default_dir()).expanduser().absolute()


@contextlib.contextmanager
def _service(conf_dir: Path | None, db: str | None) -> Iterator[CentralService]:
    from central.config import open_dir
    from central.service import CentralService

    service = CentralService.open(open_dir(_conf_path(conf_dir)), db, state().clock)
    try:
        yield service
    finally:
        service.close()


@app.command("init")
def init(
    db: DbOption = None,
    conf_dir: DirOption = None,
    names: Annotated[
        list[str] | None,
        typer.Option("--name", help="Another host name or address for the server certificate."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create CONF: the central CA, the server certificate, keys; migrate the database."""
    from central.config import DB_ENV
    from central.setup import initialise

    cli = state()
    path = _conf_path(conf_dir)
    conf = initialise(path, db or os.environ.get(DB_ENV), names or [], cli.clock)
    public = conf.public
    url = conf.settings["db"]
    if as_json:
        emit_json({"dir": str(path), "db": _shown_url(url), **public})
        return
    say(cli.t("central.initialised", path=path, db=_shown_url(url)))
    say(cli.t("central.ca_fingerprint", fingerprint=public["ca_fingerprint"]))
    say(cli.t("central.server_fingerprint", fingerprint=public["server_fingerprint"]))


def _shown_url(url: str) -> str:
    """The database URL without a password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


@app.command("enroll")
def enroll(
    terminal: TerminalOption,
    conf_dir: DirOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a one-time enrollment token for a terminal (valid for seven days)."""
    t = state().t
    with _service(conf_dir, db) as service:
        token = service.create_token(terminal)
    if as_json:
        emit_json({"terminal": terminal, "token": token})
        return
    say(t("central.token", terminal=terminal))
    say(token)


@app.command("revoke")
def revoke(
    terminal: TerminalOption,
    conf_dir: DirOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a terminal: its certificate is refused from now on."""
    t = state().t
    with _service(conf_dir, db) as service:
        service.revoke(terminal)
    if as_json:
        emit_json({"terminal": terminal, "status": "revoked"})
    else:
        say(t("central.revoked_done", terminal=terminal))


@app.command("serve")
def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = 8443,
    conf_dir: DirOption = None,
) -> None:
    """Serve the sync protocol over mutual TLS 1.3 until SIGTERM or SIGINT."""
    import sys

    from central.config import open_dir
    from central.server import serve as run_server

    t = state().t

    def ready(url: str) -> None:
        say(t("central.listening", url=url))
        sys.stdout.flush()

    run_server(open_dir(_conf_path(conf_dir)), host, port, ready, db)


@app.command("terminals")
def terminals(conf_dir: DirOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """List enrolled and revoked terminals."""
    from dataclasses import asdict

    t = state().t
    with _service(conf_dir, db) as service:
        found = service.terminals()
    if as_json:
        emit_json({"terminals": [asdict(info) for info in found]})
        return
    if not found:
        say(t("central.no_terminals"))
    for info in found:
        say(
            f"{info.name:<20} {info.status:<9} {info.enrolled_at[:19]:<20}"
            f" {(info.last_push or '-')[:19]:<20} {(info.cert_fingerprint or '')[:16]}"
        )


@app.command("import-bundle")
def import_bundle(
    path: Annotated[Path, typer.Argument(help="A terminal's push bundle (a directory).")],
    conf_dir: DirOption = None,
    db: DbOption = None,
    answer_out: Annotated[
        Path | None,
        typer.Option(
            "--answer-out",
            help="The answer bundle directory to create (default: PATH.answer).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Apply a terminal's push bundle (air gap) and write the answer bundle for it."""
    t = state().t
    with _service(conf_dir, db) as service:
        done = service.import_bundle(
            path.expanduser().absolute(),
            answer_out.expanduser().absolute() if answer_out is not None else None,
        )
    if as_json:
        emit_json(
            {
                "terminal": done.terminal,
                "acks": done.acks,
                "conflicts": done.conflicts,
                "changes": done.changes,
                "more": done.more,
                "registered": done.registered,
                "answer": str(done.answer),
                "answer_hash": done.answer_hash,
            }
        )
        return
    acks = ", ".join(f"{status} {count}" for status, count in sorted(done.acks.items())) or "0"
    say(
        t(
            "central.bundle_imported",
            terminal=done.terminal,
            acks=acks,
            conflicts=done.conflicts,
            changes=done.changes,
            answer=done.answer,
        )
    )


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(help="JSON lines: {kind, key, data}.")],
    conf_dir: DirOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import residents and master data; the whole file is checked before anything changes."""
    t = state().t
    with _service(conf_dir, db) as service:
        done = service.registry_import(file)
    if as_json:
        emit_json({"added": done.added, "changed": done.changed, "unchanged": done.unchanged})
    else:
        say(
            t(
                "central.registry_imported",
                added=done.added,
                changed=done.changed,
                unchanged=done.unchanged,
            )
        )


@registry_app.command("demo-feed")
def registry_demo_feed(
    out: Annotated[Path, typer.Option("--out", help="The JSON lines file to write.")],
    residents: Annotated[int, typer.Option("--residents", min=1, max=2_000_000)] = 3000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Write a synthetic registry feed; with the seed of ``sesshu demo`` it matches that store."""
    from storage.demo.registry_feed import write_registry_feed

    if out.exists():
        raise typer.BadParameter(state().t("central.feed_exists"), param_hint="--out")
    lines = write_registry_feed(out, residents, seed, state().clock.now().date())
    if as_json:
        emit_json({"path": str(out), "lines": lines})
    else:
        say(state().t("central.feed_written", path=out, lines=lines))


@audit_app.command("verify")
def audit_verify(
    conf_dir: DirOption = None, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Recompute the central audit trail's hash chain."""
    t = state().t
    with _service(conf_dir, db) as service:
        verdict = service.verify_audit()
    if as_json:
        emit_json(
            {
                "ok": verdict.ok,
                "count": verdict.count,
                "head": verdict.head,
                "first_bad_seq": verdict.first_bad_seq,
                "reason": verdict.reason,
            }
        )
    if not verdict.ok:
        raise AuditChainBroken(
            "central.audit_broken", seq=verdict.first_bad_seq, reason_key=verdict.reason
        )
    if not as_json:
        say(t("central.audit_ok", count=verdict.count))

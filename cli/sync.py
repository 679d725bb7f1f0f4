"""``sesshu sync``: enrollment, sync runs, status, conflicts, comparison and media bundles."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.context import Acting, acting, emit_json, say, state
from cli.options import AsOption, JsonOption, StdinOption
from core.clock import parse_timestamp
from core.errors import InvalidValue
from core.services.sync import SyncRun, SyncService
from core.sync import Choice, Conflict, SyncStatus, conflict_fields
from storage.sync_store import read_status
from sync.client import HttpCentral, central_for
from sync.wire import conflict_json

app = typer.Typer(help="Sync with the central system.")


@contextlib.contextmanager
def _service(session: Acting) -> Iterator[SyncService]:
    central: HttpCentral | None = central_for(session.ctx.store)
    try:
        yield SyncService(session.ctx, central)
    finally:
        if central is not None:
            central.close()


@app.command("enroll")
def enroll(
    token: Annotated[str, typer.Option("--token", help="The one-time enrollment token.")],
    acting_user: AsOption,
    central: Annotated[
        str | None, typer.Option("--central", help="https://host:port of the central.")
    ] = None,
    offline: Annotated[
        Path | None,
        typer.Option(
            "--offline",
            help="Enroll without a connection, from the central system's public.json.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Enroll this terminal with the central system (administrators)."""
    if (central is None) == (offline is None):
        raise typer.BadParameter(
            state().t("sync.enroll_one_way"), param_hint="--central / --offline"
        )
    if offline is not None:
        _enroll_offline(offline, token, acting_user, password_stdin, as_json)
        return
    assert central is not None
    from sync.enroll import enroll as enroller

    with acting(acting_user, password_stdin) as session:
        terminal = SyncService(session.ctx, None).enroll(central, token, enroller)
    if as_json:
        emit_json({"enrolled": True, "terminal": terminal, "central": central.rstrip("/")})
    else:
        say(state().t("sync.enrolled", terminal=terminal, central=central))


def _enroll_offline(
    public: Path, token: str, acting_user: str, password_stdin: bool, as_json: bool
) -> None:
    from sync.airgap import media_for, read_public_info

    info = read_public_info(public)
    with acting(acting_user, password_stdin) as session:
        terminal = SyncService(session.ctx, None).enroll_offline(
            info, token, media_for(session.ctx.store)
        )
    if as_json:
        emit_json({"enrolled": True, "terminal": terminal, "central": "offline"})
    else:
        say(state().t("sync.enrolled_offline", terminal=terminal))


@app.command("export-bundle")
def export_bundle(
    out: Annotated[
        Path, typer.Option("--out", help="The bundle directory to create.", file_okay=False)
    ],
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write the pending outbox as a signed, encrypted bundle for the central system."""
    from sync.airgap import media_for

    with acting(acting_user, password_stdin) as session:
        written = SyncService(session.ctx, None).export_bundle(
            out.expanduser().absolute(), media_for(session.ctx.store)
        )
    if as_json:
        emit_json(
            {"path": written.path, "entries": written.entries, "content_hash": written.content_hash}
        )
    else:
        say(
            state().t(
                "sync.bundle_written",
                path=written.path,
                entries=written.entries,
                content_hash=written.content_hash,
            )
        )


@app.command("import-bundle")
def import_bundle(
    path: Annotated[Path, typer.Argument(help="The central system's answer bundle.")],
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Apply the central system's answer bundle: acknowledgements, conflicts, changes."""
    from sync.airgap import media_for

    with acting(acting_user, password_stdin) as session:
        done = SyncService(session.ctx, None).import_answer(
            path.expanduser().absolute(), media_for(session.ctx.store)
        )
    _show_run(done, as_json)


@app.command("run")
def run(
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
    watch: Annotated[
        float | None, typer.Option("--watch", min=1, help="Repeat every SECONDS.")
    ] = None,
) -> None:
    """Push the outbox, then pull what is new (once, or repeatedly with --watch)."""
    with acting(acting_user, password_stdin) as session:
        while True:
            with _service(session) as sync:
                done = sync.run()
            _show_run(done, as_json)
            if watch is None:
                return
            time.sleep(watch)


def _show_run(done: SyncRun, as_json: bool) -> None:
    if as_json:
        emit_json(asdict(done))
    else:
        say(state().t("sync.ran", **asdict(done)))


@app.command("status")
def status(
    acting_user: Annotated[
        str | None, typer.Option("--as", help="Read live, as this user.")
    ] = None,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Last sync, pending entries, conflicts and errors (no login needed)."""
    cli = state()
    now = cli.clock.now()
    if acting_user is not None:
        with acting(acting_user, password_stdin) as session:
            document = _status_json(SyncService(session.ctx, None).status(), now)
    else:
        document = _sidecar_json(read_status(cli.store), now)
    if as_json:
        emit_json(document)
        return
    t = cli.t
    if not document["enrolled"]:
        say(t("sync.not_enrolled"))
        return
    say(t("sync.status_line", **{k: ("-" if v is None else v) for k, v in document.items()}))


def _status_json(found: SyncStatus, now: Any) -> dict[str, Any]:
    return {
        "enrolled": found.enrolled,
        "central": found.central,
        "last_sync": found.last_sync.isoformat() if found.last_sync else None,
        "pending": found.pending,
        "conflicts": found.conflicts,
        "errors": found.errors,
        "last_error": found.last_error,
        "stale": found.stale(now),
        "cursor": found.cursor,
    }


def _sidecar_json(sidecar: dict[str, Any] | None, now: Any) -> dict[str, Any]:
    if sidecar is None or not sidecar.get("central"):
        return {
            "enrolled": False,
            "central": "",
            "last_sync": None,
            "pending": None,
            "conflicts": None,
            "errors": 0,
            "last_error": "",
            "stale": True,
            "cursor": 0,
        }
    last = sidecar.get("last_sync")
    found = SyncStatus(
        enrolled=True,
        central=str(sidecar["central"]),
        last_sync=parse_timestamp(last) if last else None,
        pending=int(sidecar.get("pending", 0)),
        conflicts=int(sidecar.get("conflicts", 0)),
        errors=int(sidecar.get("errors", 0)),
        last_error=str(sidecar.get("last_error", "")),
        cursor=int(sidecar.get("cursor", 0)),
    )
    return _status_json(found, now)


@app.command("compare")
def compare(
    acting_user: AsOption, password_stdin: StdinOption = False, as_json: JsonOption = False
) -> None:
    """Compare counts and hash totals per table with the central system (exit 1 if any differ)."""
    with acting(acting_user, password_stdin) as session, _service(session) as sync:
        result = sync.compare()
    equal = all(c.equal for c in result)
    if as_json:
        emit_json(
            {
                "equal": equal,
                "tables": [
                    {
                        "table": c.table,
                        "local_count": c.local.count,
                        "central_count": c.central.count,
                        "local_hash": c.local.hex,
                        "central_hash": c.central.hex,
                        "equal": c.equal,
                    }
                    for c in result
                ],
            }
        )
    else:
        t = state().t
        for c in result:
            mark = t("sync.same") if c.equal else t("sync.different")
            say(f"{c.table:<13} {c.local.count:>10} {c.central.count:>10}  {mark}")
    if not equal:
        raise typer.Exit(1)


def _conflict_json(conflict: Conflict) -> dict[str, Any]:
    """The wire form, with the field diff in place of both whole documents."""
    document = conflict_json(conflict)
    del document["server_data"], document["client_data"]
    document["fields"] = [
        {"field": name, "local": local, "central": central}
        for name, local, central in conflict_fields(conflict)
    ]
    return document


@app.command("conflicts")
def conflicts(
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
    show_all: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
) -> None:
    """The conflict inbox: changes made here and centrally to the same record (supervisors)."""
    with acting(acting_user, password_stdin) as session:
        found = SyncService(session.ctx, None).conflicts(None if show_all else "open")
    if as_json:
        emit_json({"conflicts": [_conflict_json(c) for c in found]})
        return
    t = state().t
    if not found:
        say(t("sync.no_conflicts"))
    for c in found:
        say(f"#{c.id} {c.kind.value} {c.key} v{c.base_version}→v{c.server_version} {c.status}")
        for name, local, central in conflict_fields(c):
            say(f"    {t.field(name)}: {local!s} | {central!s}")


@app.command("decide")
def decide(
    conflict_id: Annotated[int, typer.Argument(help="The conflict number.")],
    keep: Annotated[str, typer.Option("--keep", help="local or central.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    acting_user: AsOption,
    password_stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Decide a conflict: keep this terminal's version or the central one (supervisors)."""
    try:
        choice = Choice(keep.strip().lower())
    except ValueError:
        raise InvalidValue("keep", "sync.keep_unknown") from None
    with acting(acting_user, password_stdin) as session:
        decided = SyncService(session.ctx, None).decide(conflict_id, choice, reason)
    if as_json:
        emit_json(_conflict_json(decided))
    else:
        say(state().t("sync.decided", conflict=decided.id, choice=choice.value))

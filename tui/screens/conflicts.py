"""同期の競合: changes the central system could not apply because its version moved on.

A supervisor (所属長) sees the fields that differ side by side, this terminal's value against the
central one, and keeps one of them with a reason. Nobody decides a conflict over their own
change: the bindings are disabled on it, and the service refuses it anyway.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Static

from core.change_text import when_text
from core.clock import parse_timestamp
from core.i18n import Catalogue
from core.sync import Choice, Conflict, conflict_fields, fields_of
from tui.base import SesshuModal, SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.sync_status import SyncFinished, SyncPort
from tui.widgets import KeysFooter, top_bar

COLUMNS = (
    ("id", 5),
    ("kind", 10),
    ("key", 14),
    ("subject", 18),
    ("changed_by", 10),
    ("opened_at", 16),
    ("fields", 6),
)
FLAG_FIELDS = frozenset({"date_unknown", "dv_flag", "no_auto_answer"})
NEVER_SHOWN = frozenset({"mynumber"})  # 個人番号: not on this screen, whoever looks
DV_WITHHELD = frozenset({"address", "postal"})  # 支援措置: withheld when either side is flagged
CHANGED_STYLE = "bold yellow"


def opened_text(conflict: Conflict) -> str:
    try:
        return when_text(parse_timestamp(conflict.opened_at))
    except ValueError:
        return conflict.opened_at


def kind_label(t: Catalogue, conflict: Conflict) -> str:
    key = f"sync_screen.kind.{conflict.kind.value}"
    return t(key) if t.has(key) else conflict.kind.value


def field_label(t: Catalogue, name: str) -> str:
    key = f"sync_screen.field.{name}"
    return t(key) if t.has(key) else t.field(name)


def subject(conflict: Conflict) -> str:
    """Whom or what the change is about, for the list: a name, or vaccine and dose."""
    data: Mapping[str, Any] = {**(conflict.server_data or {}), **conflict.client_data}
    if conflict.kind.value == "resident":
        return str(data.get("name") or "")
    parts = [str(data[name]) for name in ("atena", "vaccine", "dose") if data.get(name)]
    return " ".join(parts)


def _withheld(conflict: Conflict, name: str) -> bool:
    if name in NEVER_SHOWN:
        return True
    if name in DV_WITHHELD:
        sides = (conflict.client_data, conflict.server_data or {})
        return any(bool(side.get("dv_flag")) for side in sides)
    return False


def value_text(t: Catalogue, name: str, value: Any) -> str:
    if value is None or value == "":
        return t("sync_screen.empty")
    if name in FLAG_FIELDS:
        return t("app.yes") if value else t("app.no")
    if name in ("sex", "status") and t.has(f"{name}.{value}"):
        return t(f"{name}.{value}")
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def diff_table(t: Catalogue, conflict: Conflict) -> Table:
    """Every field either side has, the differing ones highlighted and marked."""
    changed = {name for name, _, _ in conflict_fields(conflict)}
    server = conflict.server_data or {}
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("", width=1)
    table.add_column(t("sync_screen.col_field"), ratio=1)
    table.add_column(t("sync_screen.col_local"), ratio=2)
    table.add_column(t("sync_screen.col_central"), ratio=2)
    for name in fields_of(conflict.kind):
        local, central = conflict.client_data.get(name), server.get(name)
        if local in (None, "") and central in (None, "") and name not in changed:
            continue
        differs = name in changed
        style = CHANGED_STYLE if differs else "dim"
        if _withheld(conflict, name):
            hidden = t("sync_screen.withheld")
            cells = [plain(hidden), plain(hidden)]
        else:
            cells = [plain(value_text(t, name, local)), plain(value_text(t, name, central))]
        table.add_row(
            Text("≠" if differs else "", style=style),
            Text(field_label(t, name), style=style),
            *(cell.copy() for cell in cells),
            style=style,
        )
    if conflict.server_data is None:
        table.add_row("", "", "", plain(t("sync_screen.central_missing")), style=CHANGED_STYLE)
    return table


class DecideModal(SesshuModal[str | None]):
    """Confirm a decision; a reason is required (it travels with the decision)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "binding.back", id="cancel"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self._question), classes="dialog-title")
            yield Input(placeholder=self.t("sync_screen.reason"), id="reason")
            yield Static("", id="message", classes="message")
            with Horizontal(classes="buttons"):
                yield Button(self.t("app.cancel"), id="no", variant="primary")
                yield Button(self.t("sync_screen.decide"), id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def _submit(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#message", Static).update(self.t("sync_screen.reason_required"))
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(reason)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConflictsScreen(SesshuScreen):
    HELP_KEY: ClassVar[str] = "sync_screen.help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("l", "decide('local')", "sync_screen.binding_local", id="keep_local"),
        Binding("c", "decide('central')", "sync_screen.binding_central", id="take_central"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.conflicts: dict[str, Conflict] = {}

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("sync_screen.title"), classes="screen-title")
        yield RecordTable(
            [Column(key, t(f"sync_screen.col_{key}"), width) for key, width in COLUMNS],
            id="conflicts",
        )
        yield Static("", id="summary", classes="hint")
        with VerticalScroll(id="conflict-detail"):
            yield Static("", id="detail")
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        table = self.query_one("#conflicts", RecordTable)
        self.watch(table, "cursor", self._show_detail, init=False)
        table.focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.sesshu.refresh_status()

    def on_sync_finished(self, event: SyncFinished) -> None:
        if event.status.conflicts != len(self.conflicts):
            self.action_refresh()

    def _service(self) -> AbstractContextManager[SyncPort]:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return self.sesshu.sync.factory(ctx, False)

    @property
    def selected(self) -> Conflict | None:
        key = self.query_one("#conflicts", RecordTable).cursor_key
        return self.conflicts.get(key) if key is not None else None

    def _own(self, conflict: Conflict) -> bool:
        session = self.sesshu.session
        return session is not None and conflict.client_user == session.user

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide":
            conflict = self.selected
            return None if conflict is None or self._own(conflict) else True
        return True

    def action_refresh(self) -> None:
        opened = self._service

        def load() -> list[Conflict]:
            with opened() as service:
                return service.conflicts("open")

        self.background(load, "list")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "list":
            self._show(result)
            return
        if name == "decide":
            conflict_id, choice = result
            key = f"sync_screen.decided_{choice.value}"
            self.app.notify(self.t(key, conflict=conflict_id))
            self.query_one("#message", Static).update("")
            self.action_refresh()
            self.sesshu.sync.refresh_status()

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))
        self.sesshu.report_error(error)

    def _show(self, conflicts: list[Conflict]) -> None:
        t = self.t
        table = self.query_one("#conflicts", RecordTable)
        kept = table.cursor_key
        self.conflicts = {str(c.id): c for c in conflicts}
        rows = [
            Row(
                str(c.id),
                [
                    str(c.id),
                    kind_label(t, c),
                    plain(c.key),
                    plain(subject(c)),
                    plain(c.client_user),
                    opened_text(c),
                    str(len(conflict_fields(c))),
                ],
                "dim" if self._own(c) else "",
            )
            for c in conflicts
        ]
        table.set_rows(rows)
        keys = [row.key for row in rows]
        if kept in keys:  # a reload keeps the conflict being read
            table.cursor = keys.index(kept)
        self.query_one("#summary", Static).update(t("sync_screen.count", count=len(conflicts)))
        self._show_detail()

    def _show_detail(self) -> None:
        conflict = self.selected
        detail = self.query_one("#detail", Static)
        self.refresh_bindings()
        if conflict is None:
            detail.update(self.t("sync_screen.none"))
            return
        t = self.t
        heading = Text()
        heading.append(f"#{conflict.id} {kind_label(t, conflict)}  ", style="bold")
        heading.append(conflict.key)
        name = subject(conflict)
        if name:
            heading.append(f"  {name}")
        heading.append("\n")
        heading.append(
            t(
                "sync_screen.changed_line",
                user=conflict.client_user,
                terminal=conflict.terminal,
                at=opened_text(conflict),
            )
            + "\n"
        )
        heading.append(
            t(
                "sync_screen.version_line",
                base=conflict.base_version,
                central=conflict.server_version,
                count=len(conflict_fields(conflict)),
            )
        )
        if self._own(conflict):
            heading.append("\n" + t("sync_screen.own_hint"), style="bold yellow")
        detail.update(Group(heading, diff_table(t, conflict)))

    def action_decide(self, choice: str) -> None:
        conflict = self.selected
        if conflict is None:
            return
        chosen = Choice(choice)
        conflict_id = conflict.id
        opened = self._service

        def answered(reason: str | None) -> None:
            if not reason:
                return

            def decide() -> tuple[int, Choice]:
                with opened() as service:
                    service.decide(conflict_id, chosen, reason)
                return conflict_id, chosen

            self.background(decide, "decide", group="decide")

        question = self.t(f"sync_screen.question_{chosen.value}", conflict=conflict_id)
        self.app.push_screen(DecideModal(question), answered)

    def action_back(self) -> None:
        self.dismiss()

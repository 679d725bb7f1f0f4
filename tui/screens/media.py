"""媒体管理簿 (media ledger): every medium written, where it is, and what must be destroyed.

Media managers hand media over, take them back, move and dispose of them; auditors read the
ledger only (the action keys are hidden, and the service refuses them anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.change_text import when_text
from core.exports import DEFAULT_LOCATION, DISPOSABLE, OPEN_MEDIA, MediaStatus, Medium
from core.i18n import Catalogue
from core.roles import Permission
from core.services.exports import MediaService, MediumDetail
from exports.services import media_service
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.screens.form import FormField, FormModal
from tui.widgets import KeysFooter, top_bar

COLUMNS = (
    ("label", 16),
    ("type", 6),
    ("status", 10),
    ("flag", 6),
    ("location", 14),
    ("holder", 10),
    ("created", 16),
    ("witness", 12),
)
ACTIONS = ("handover", "return_medium", "move", "dispose")
ALLOWED: dict[str, frozenset[MediaStatus]] = {
    "handover": frozenset({MediaStatus.GOOD}),
    "return_medium": frozenset({MediaStatus.HANDED_OVER}),
    "move": OPEN_MEDIA - {MediaStatus.HANDED_OVER},
    "dispose": DISPOSABLE,
}


def detail_text(t: Catalogue, prefix: str, detail: dict[str, str]) -> str:
    """An event's details as "label: value" pairs, labelled from the catalogue where it can."""
    parts = []
    for key, value in sorted(detail.items()):
        if value:
            label = t(f"{prefix}{key}") if t.has(f"{prefix}{key}") else key
            parts.append(f"{label}: {value}")
    return "  ".join(parts)


def status_text(t: Catalogue, medium: Medium) -> Text:
    return Text(
        t(f"media.status.{medium.status.value}"),
        style="dim" if medium.status not in OPEN_MEDIA else "",
    )


class MediaLedgerScreen(SesshuScreen):
    HELP_KEY: ClassVar[str] = "media_screen.help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("enter", "show", "media_screen.bind_show", id="show", priority=True),
        Binding("o", "toggle_open", "media_screen.bind_open_only", id="toggle_open"),
        Binding("h", "handover", "media_screen.bind_handover", id="handover"),
        Binding("r", "return_medium", "media_screen.bind_return", id="return_medium"),
        Binding("m", "move", "media_screen.bind_move", id="move"),
        Binding("d", "dispose", "media_screen.bind_dispose", id="dispose"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.media: dict[str, Medium] = {}
        self.open_only = True
        self.shown: MediumDetail | None = None
        self._select: int | None = None
        self._reshow = False

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(t("media_screen.title"), classes="screen-title")
        yield Static("", id="summary", classes="hint")
        yield RecordTable(
            [Column(key, t(f"media_screen.col_{key}"), width) for key, width in COLUMNS],
            id="media",
        )
        yield Static("", id="detail")
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        table = self.query_one("#media", RecordTable)
        self.watch(table, "cursor", self._cursor_moved, init=False)
        table.focus()
        self.action_refresh()

    def _service(self) -> MediaService:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return media_service(ctx)

    @property
    def manages(self) -> bool:
        session = self.sesshu.session
        return session is not None and session.can(Permission.MEDIA_MANAGE)

    @property
    def selected(self) -> Medium | None:
        key = self.query_one("#media", RecordTable).cursor_key
        return self.media.get(key) if key is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTIONS:
            medium = self.selected
            return self.manages and medium is not None and medium.status in ALLOWED[action]
        return True

    # --- loading and showing ----------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.sesshu.ctx is None:
            return
        service, open_only = self._service(), self.open_only
        self.background(lambda: service.listing(open_only=open_only), "list", group="list")

    def action_toggle_open(self) -> None:
        self.open_only = not self.open_only
        self.action_refresh()

    def action_show(self) -> None:
        medium = self.selected
        if medium is None:
            return
        service, medium_id = self._service(), medium.id
        self.background(lambda: service.show(medium_id), "show", group="detail")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "list":
            self._show_list(result)
        elif name == "show":
            self.shown = result
            self._cursor_moved()
        else:
            done: Medium = result
            self.app.notify(
                self.t(
                    "media.ledger_changed",
                    label=done.label,
                    status=self.t(f"media.status.{done.status.value}"),
                )
            )
            self._select = done.id
            self._reshow = self.shown is not None and self.shown.medium.id == done.id
            self.action_refresh()

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.query_one("#message", Static).update(plain(error_text(self.t, error)))
        self.sesshu.report_error(error)

    def _show_list(self, media: list[Medium]) -> None:
        t = self.t
        table = self.query_one("#media", RecordTable)
        current = self.selected
        keep = self._select if self._select is not None else (current.id if current else None)
        self._select = None
        self.media = {str(m.id): m for m in media}
        rows = [
            Row(
                str(m.id),
                [
                    plain(m.label),
                    plain(m.media_type),
                    status_text(t, m),
                    Text(t("media.must_dispose"), style="bold yellow") if m.must_dispose else "",
                    plain(m.location),
                    plain(m.holder),
                    plain(when_text(m.created_at)),
                    plain(m.witness),
                ],
            )
            for m in media
        ]
        table.set_rows(rows)
        keys = [r.key for r in rows]
        if keep is not None and str(keep) in keys:
            table.cursor = keys.index(str(keep))
        must = sum(1 for m in media if m.must_dispose)
        scope = t("media_screen.open_only" if self.open_only else "media_screen.all")
        summary = t("media_screen.count", scope=scope, count=len(media), must=must)
        self.query_one("#summary", Static).update(plain(summary))
        self._cursor_moved()
        if self._reshow:
            self._reshow = False
            self.action_show()

    def _cursor_moved(self) -> None:
        self.query_one("#message", Static).update("")
        self.refresh_bindings()
        medium = self.selected
        if self.shown is not None and medium is not None and self.shown.medium.id == medium.id:
            self._show_detail()
            return
        hint = self.t("media_screen.none") if medium is None else self.t("media_screen.enter_hint")
        self.query_one("#detail", Static).update(Text(hint, style="dim"))

    def _show_detail(self) -> None:
        if self.shown is None:
            return
        t = self.t
        medium, events = self.shown.medium, self.shown.events
        head = Text()
        head.append(f"{medium.label}  ", style="bold")
        head.append(status_text(t, medium))
        if medium.must_dispose:
            head.append(f"  {t('media.must_dispose')}", style="bold yellow")
        head.append("\n")
        lines = [
            t("media_screen.line_export", export=medium.export, case=medium.case or "-"),
            t("media_screen.line_written", user=medium.created_by, witness=medium.witness),
            t("media_screen.line_path", path=medium.path or "-"),
            t("media_screen.line_hash", hash=medium.content_hash[:16] or "-"),
        ]
        if medium.problems:
            lines.append(t("media_screen.line_problems", problems=" ".join(medium.problems)))
        if medium.status is MediaStatus.DISPOSED:
            lines.append(
                t(
                    "media_screen.line_disposed",
                    at=when_text(medium.disposed_at),
                    method=medium.disposal_method,
                    witness=medium.disposal_witness,
                    certificate=medium.certificate or "-",
                )
            )
        head.append("\n".join(lines))
        table = Table(expand=True, show_edge=False, box=None)
        for key in ("at", "user", "event", "detail"):
            table.add_column(t(f"media_screen.col_event_{key}"))
        for event in events:
            detail = detail_text(t, "media_screen.detail.", event.detail)
            table.add_row(
                plain(when_text(event.at)),
                plain(event.user),
                plain(t(f"media_screen.event.{event.event}")),
                plain(detail),
            )
        self.query_one("#detail", Static).update(Group(head, table))

    # --- actions ----------------------------------------------------------------------------

    def _form(
        self,
        title_key: str,
        fields: list[FormField],
        work: Callable[[dict[str, str]], Medium],
        *,
        note: str = "",
    ) -> None:
        medium = self.selected
        if medium is None:
            return
        self.query_one("#message", Static).update("")
        self.app.push_screen(
            FormModal(self.t(title_key, label=medium.label), fields, work, note=note),
            self._changed,
        )

    def _changed(self, medium: Medium | None) -> None:
        if medium is not None:
            self.worker_succeeded("changed", medium)

    def action_handover(self) -> None:
        t, service, medium = self.t, self._service(), self.selected
        if medium is None:
            return
        fields = [
            FormField("to", t("media_screen.field_to")),
            FormField("location", t("media_screen.field_location"), required=False),
            FormField("note", t("media_screen.field_note"), required=False),
        ]
        self._form(
            "media_screen.handover_title",
            fields,
            lambda v: service.handover(medium.id, v["to"], v["location"], v["note"]),
        )

    def action_return_medium(self) -> None:
        t, service, medium = self.t, self._service(), self.selected
        if medium is None:
            return
        fields = [
            FormField("location", t("media_screen.field_location"), DEFAULT_LOCATION),
            FormField("note", t("media_screen.field_note"), required=False),
        ]
        self._form(
            "media_screen.return_title",
            fields,
            lambda v: service.return_(medium.id, v["location"], v["note"]),
            note=t("media_screen.return_note"),
        )

    def action_move(self) -> None:
        t, service, medium = self.t, self._service(), self.selected
        if medium is None:
            return
        fields = [FormField("location", t("media_screen.field_location"), medium.location)]
        self._form(
            "media_screen.move_title", fields, lambda v: service.move(medium.id, v["location"])
        )

    def action_dispose(self) -> None:
        t, service, medium = self.t, self._service(), self.selected
        if medium is None:
            return
        fields = [
            FormField("method", t("media_screen.field_method"), t("media_screen.default_method")),
            FormField("witness", t("media_screen.field_witness")),
            FormField("certificate", t("media_screen.field_certificate"), required=False),
        ]
        self._form(
            "media_screen.dispose_title",
            fields,
            lambda v: service.dispose(medium.id, v["method"], v["witness"], v["certificate"]),
            note=t("media_screen.dispose_note"),
        )

    def action_back(self) -> None:
        self.dismiss()

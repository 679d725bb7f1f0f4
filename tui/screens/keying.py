"""伝票入力: one form per slip, keyed blind, each slip saved as soon as it is done.

Enter or Tab moves on; Enter on the last field (or F2 / Ctrl+S) saves and starts the next slip.
The form shows only what this keyer typed, the batch, the masters and the registry: the other
pass never reaches this screen, not even as a default, a suggestion or a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Static

from core.batches import SlipEntry
from core.errors import Issue, ValidationFailed
from core.masters import MasterEntry
from core.services.batches import BatchService, Keyed, PassProgress
from core.slips import FIELDS
from tui.base import SesshuScreen, error_text, plain
from tui.screens.user_add import FieldCheckbox
from tui.slip_form import (
    FORM,
    MASTER_FIELDS,
    MasterSuggester,
    choices_text,
    issue_text,
    live_issues,
    person_text,
)
from tui.widgets import KeysFooter, set_content, top_bar

LAST = FORM[-1]
LABELS = {"date": "keying.label_date"}  # 接種日 rather than the generic 日付
HINTS = {
    "slip": "keying.hint_slip",
    "atena": "keying.hint_atena",
    "date": "keying.hint_date",
    **dict.fromkeys(MASTER_FIELDS, "keying.hint_master"),
}


class KeyingScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("f2", "save", "keying.bind_save", id="save"),
        Binding("ctrl+s", "save", "keying.bind_save", id="save_ctrl", show=False),
        Binding("f5", "find_person", "keying.bind_find", id="find_person"),
        Binding("f6", "new_slip", "keying.bind_new", id="new_slip"),
        # Priority bindings move the focus before the next key is routed, so a fast keyer's
        # keystrokes never land in the field they just left.
        Binding("enter", "enter", "keying.bind_next", show=False, priority=True, id="next_field"),
        Binding("tab", "next_field", show=False, priority=True, id="tab"),
        Binding("shift+tab", "previous_field", show=False, priority=True, id="shift_tab"),
    ]

    def __init__(self, service: BatchService, progress: PassProgress) -> None:
        super().__init__()
        self.service = service
        self.keyed_batch = progress.batch
        self.pass_no = progress.pass_no
        self._progress = progress
        self._shown_at = time.monotonic()
        self._touched: set[str] = set()
        self._issues: list[Issue] = []
        self._person: tuple[str, Text] | None = None  # the atena shown, and its line
        self._identifying: str | None = None
        self._loaded_slip: str | None = None
        self._saving = False

    @property
    def saving(self) -> bool:
        """A slip is being saved (the form clears when it is done)."""
        return self._saving

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        t = self.t
        batch = self.keyed_batch
        yield Static(
            plain(t("keying.title", batch=batch.id, source=batch.source, pass_no=self.pass_no)),
            classes="screen-title",
        )
        yield Static(plain(self._batch_line()), id="batch-info", classes="hint")
        yield Static("", id="keying-progress")
        with Vertical(id="slip-form"):
            for name in FORM:
                with Horizontal(classes="slip-row"):
                    label = t(LABELS[name]) if name in LABELS else t.field(name)
                    yield Static(plain(label), classes="slip-label")
                    yield self._field(name)
                    yield Static("", id=f"m-{name}", classes="slip-note")
        yield Static("", id="master-choices", classes="hint")
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def _field(self, name: str) -> Widget:
        if name == "date_unknown":
            return FieldCheckbox(self.t("keying.date_unknown"), id=f"k-{name}")
        hint = HINTS.get(name)
        suggester = None
        if name in MASTER_FIELDS:
            # A physician's name is kept as written, so only codes complete there.
            suggester = MasterSuggester(partial(self._choices, name), names=name != "physician")
        return Input(
            placeholder=self.t(hint) if hint else "",
            id=f"k-{name}",
            suggester=suggester,
            classes="slip-input",
        )

    def _batch_line(self) -> str:
        t = self.t
        batch = self.keyed_batch
        vaccine = batch.expected_vaccine or t("app.none")
        return t(
            "keying.batch_line",
            received=batch.received.isoformat(),
            control=batch.control_count,
            vaccine=vaccine,
        )

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self._show_progress(self._progress)
        self._new_slip()

    # -- the form's values ----------------------------------------------------------------

    def _input(self, name: str) -> Input:
        return self.query_one(f"#k-{name}", Input)

    def _raw(self) -> dict[str, object]:
        raw: dict[str, object] = {}
        for name in FORM:
            if name == "date_unknown":
                raw[name] = "1" if self.query_one("#k-date_unknown", FieldCheckbox).value else ""
            else:
                raw[name] = self._input(name).value
        return raw

    def _fill(self, values: dict[str, str | None]) -> None:
        for name in FORM:
            value = values.get(name)
            if name == "date_unknown":
                self.query_one("#k-date_unknown", FieldCheckbox).value = bool(value)
            else:
                self._input(name).value = value or ""

    def _blank(self) -> dict[str, str | None]:
        """A new slip: empty, except the batch's expected vaccine (from the batch, both passes)."""
        return {"vaccine": self.keyed_batch.expected_vaccine}

    def is_dirty(self) -> bool:
        blank = self._blank()
        return any(
            (str(value) if value else "") != (blank.get(name) or "")
            for name, value in self._raw().items()
        )

    def _new_slip(self) -> None:
        self._fill(self._blank())
        self._touched.clear()
        self._issues = []
        self._person = None
        self._identifying = None
        self._loaded_slip = None
        self._shown_at = time.monotonic()
        self._show_issues()
        self._message("")
        self._input("slip").focus()

    # -- moving between fields ------------------------------------------------------------

    def action_enter(self) -> None:
        focused = self.focused
        if focused is not None and _field_name(focused) == LAST:
            self.action_save()
        else:
            self.focus_next()

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        name = _field_name(event.widget)
        if name is not None and self.is_attached:
            self._left(name)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        name = _field_name(event.widget)
        if name in MASTER_FIELDS:
            self._show_choices(name)
        else:
            set_content(self.query_one("#master-choices", Static), "", fixed_size=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        name = _field_name(event.input)
        if name in MASTER_FIELDS and event.input.has_focus:
            self._show_choices(name)

    def _choices(self, name: str, text: str) -> list[MasterEntry]:
        masters = self.service.masters()
        parent = None
        if name == "physician":  # only the physicians of the institution keyed above
            typed = self._input("institution").value.strip()
            kind = MASTER_FIELDS["institution"]
            institution = masters.get(kind, typed.upper()) or masters.by_name(kind, typed)
            parent = institution.code if institution is not None else None
        return masters.suggest(MASTER_FIELDS[name], text, parent=parent, limit=6)

    def _show_choices(self, name: str) -> None:
        entries = self._choices(name, self._input(name).value)
        set_content(
            self.query_one("#master-choices", Static),
            choices_text(self.t, entries),
            fixed_size=True,
        )

    # -- live checks ----------------------------------------------------------------------

    def _left(self, name: str) -> None:
        """A field was left: check the form, name the person, or load one's own earlier slip."""
        self._touched.add(name)
        value = self._input(name).value.strip() if name != "date_unknown" else ""
        if name == "slip" and value:
            self._look_up_mine(value)
        if name == "atena":
            self._identify(value)
        raw = self._raw()
        service = self.service
        self.background(lambda: live_issues(service, raw), "check", group="check")

    def _identify(self, atena: str) -> None:
        if not atena:
            self._person = None
            self._show_issues()
            return
        if self._person is not None and self._person[0] == atena:
            return
        self._identifying = atena
        service, batch = self.service, self.keyed_batch.id
        self.background(lambda: service.identify(batch, atena), "identify", group="identify")

    def _look_up_mine(self, slip: str) -> None:
        service, batch, pass_no = self.service, self.keyed_batch.id, self.pass_no
        self.background(lambda: service.my_entry(batch, pass_no, slip), "mine", group="mine")

    def _show_issues(self) -> None:
        t = self.t
        shown = [i for i in self._issues if i.field in self._touched]
        for name in FORM:
            mine = [i for i in shown if i.field == name]
            note = self.query_one(f"#m-{name}", Static)
            if mine:
                set_content(note, issue_text(t, mine), fixed_size=True)
            elif name == "atena" and self._person is not None:
                set_content(note, self._person[1], fixed_size=True)
            else:
                set_content(note, "", fixed_size=True)
        others = [i for i in self._issues if i.field not in FORM]
        if others:
            set_content(self.query_one("#message", Static), issue_text(t, others))

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(plain(text))

    # -- saving ---------------------------------------------------------------------------

    def action_save(self) -> None:
        """Save once the focused field has taken every key typed before this one."""
        (self.focused or self).call_later(self._save)

    def _save(self) -> None:
        if self._saving:
            return
        self._saving = True
        raw = self._raw()
        elapsed = int((time.monotonic() - self._shown_at) * 1000)
        service, batch, pass_no = self.service, self.keyed_batch.id, self.pass_no
        self.background(
            lambda: service.key(batch, pass_no, raw, duration_ms=elapsed), "save", group="save"
        )

    def _saved(self, keyed: Keyed) -> None:
        t = self.t
        key = "keying.corrected" if keyed.replaced else "keying.saved"
        note = t(key, slip=keyed.slip)
        if keyed.warnings:
            note += " " + t("keying.with_warnings", count=len(keyed.warnings))
        self._new_slip()
        self.query_one("#message", Static).update(Text(note, style="green"))
        service, batch, pass_no = self.service, self.keyed_batch.id, self.pass_no
        self.background(lambda: service.progress(batch, pass_no), "progress", group="progress")

    def _refused(self, error: BaseException | None) -> None:
        if isinstance(error, ValidationFailed):
            self._issues = list(error.issues)
            self._touched.update(i.field for i in error.issues)
            self._show_issues()
            self._message(self.t("keying.not_saved"))
            first = next((i.field for i in error.issues if i.field in FORM), None)
            if first is not None:
                self.query_one(f"#k-{first}").focus()
            return
        self._message(error_text(self.t, error))
        self.sesshu.report_error(error)

    def _show_progress(self, progress: PassProgress) -> None:
        """This pass only: how many slips it holds, against the control total."""
        text = self.t(
            "keying.progress",
            pass_no=progress.pass_no,
            keyed=progress.keyed,
            control=progress.batch.control_count,
            mine=len(progress.mine),
        )
        set_content(self.query_one("#keying-progress", Static), plain(text), fixed_size=True)

    # -- worker results -------------------------------------------------------------------

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "check":
            self._issues = result
            self._show_issues()
        elif name == "identify":
            if self._identifying == self._input("atena").value.strip():
                self._person = (self._identifying, person_text(self.t, result))
                self._issues = [i for i in self._issues if i.field != "atena"]
                self._show_issues()
        elif name == "mine":
            self._load_mine(result)
        elif name == "save":
            self._saving = False
            self._saved(result)
        elif name == "progress":
            self._show_progress(result)

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        if name == "save":
            self._saving = False
            self._refused(error)
        elif name in ("identify", "mine") and isinstance(error, ValidationFailed):
            field = "atena" if name == "identify" else "slip"
            self._touched.add(field)
            self._issues = [i for i in self._issues if i.field != field] + list(error.issues)
            if name == "identify":
                self._person = None
            self._show_issues()
        else:
            self._message(error_text(self.t, error))
            self.sesshu.report_error(error)

    def _load_mine(self, entry: SlipEntry | None) -> None:
        """Re-entering a slip number keyed in this pass brings back this keyer's own values."""
        if entry is None or entry.slip == self._loaded_slip:
            return
        self._loaded_slip = entry.slip
        self._fill({"slip": entry.slip, **{name: entry.values.get(name) for name in FIELDS}})
        self._person = None
        self._identify(entry.values.get("atena") or "")
        self.query_one("#message", Static).update(
            Text(self.t("keying.loaded", slip=entry.slip), style="yellow")
        )

    # -- other actions --------------------------------------------------------------------

    def action_find_person(self) -> None:
        from tui.screens.person_pick import PersonPickScreen

        def picked(atena: str) -> None:
            self._input("atena").value = atena
            self._left("atena")
            self._input("vaccine").focus()

        self.app.push_screen(PersonPickScreen(picked))

    def action_new_slip(self) -> None:
        self._confirm_discard(self._new_slip)

    def action_back(self) -> None:
        self._confirm_discard(self.dismiss)

    def _confirm_discard(self, then: Callable[[], object]) -> None:
        from tui.screens.confirm import ConfirmModal

        if not self.is_dirty():
            then()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmModal(self.t("keying.discard")), answered)


def _field_name(widget: Widget) -> str | None:
    identifier = widget.id or ""
    return identifier[2:] if identifier.startswith("k-") else None

"""情報提供の案件: the preview of one case and what this user may do with it now.

Operators confirm or remove flagged persons and execute; a supervisor who did not request the
case approves or rejects it; another member of staff makes the second check. Each key shows
only when the role and the case's state allow it; the service checks everything again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from core.change_text import when_text
from core.provision import Case, CasePerson, CaseStatus
from core.roles import Permission
from core.services.provision import Executed, Preview, ProvisionService
from exports.services import provision_service
from tui.base import SesshuScreen, error_text, plain
from tui.record_table import Column, RecordTable, Row
from tui.screens.confirm import ConfirmModal
from tui.screens.executed import ExecutedModal
from tui.screens.form import FormField, FormModal
from tui.screens.media import detail_text
from tui.screens.provision import case_status
from tui.widgets import KeysFooter, top_bar

FLAGGED_COLUMNS = (("atena", 12), ("flags", 40))
SAMPLE_COLUMNS = (("atena", 12), ("name", 18), ("kana", 22), ("birth", 12), ("sex", 4))
EDITABLE = frozenset({CaseStatus.DRAFT, CaseStatus.APPROVED})


class ProvisionCaseScreen(SesshuScreen):
    HELP_KEY: ClassVar[str] = "provision_screen.help_case"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "binding.back", id="back"),
        Binding("c", "decide('confirmed')", "provision_screen.bind_confirm", id="confirm_person"),
        Binding("x", "decide('removed')", "provision_screen.bind_remove", id="remove_person"),
        Binding("a", "approve", "provision_screen.bind_approve", id="approve"),
        Binding("r", "reject", "provision_screen.bind_reject", id="reject"),
        Binding("k", "check", "provision_screen.bind_check", id="check"),
        Binding("e", "execute", "provision_screen.bind_execute", id="execute"),
        Binding("f5", "refresh", "binding.refresh", id="refresh"),
    ]

    def __init__(self, case_id: int) -> None:
        super().__init__()
        self.case_id = case_id
        self.preview: Preview | None = None

    def compose(self) -> ComposeResult:
        t = self.t
        yield Static(
            plain(t("provision_screen.case_title", case=self.case_id)), classes="screen-title"
        )
        yield Static("", id="case-overview")
        yield Static(
            t("provision_screen.flagged_count", count="-"),
            id="flagged-title",
            classes="section-title",
        )
        yield RecordTable(
            [Column(k, t(f"provision_screen.col_{k}"), w) for k, w in FLAGGED_COLUMNS],
            id="flagged",
        )
        yield Static(t("provision_screen.sample"), classes="section-title")
        yield RecordTable(
            [Column(k, t(f"provision_screen.col_{k}"), w) for k, w in SAMPLE_COLUMNS],
            id="sample",
        )
        yield Static(t("provision_screen.stages"), classes="section-title")
        yield Static("", id="stages")
        yield Static("", id="message", classes="message")
        yield top_bar(t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#sample", RecordTable).can_focus = False
        flagged = self.query_one("#flagged", RecordTable)
        self.watch(flagged, "cursor", self.refresh_bindings, init=False)
        flagged.focus()
        self.action_refresh()

    def _service(self) -> ProvisionService:
        ctx = self.sesshu.ctx
        if ctx is None:
            raise RuntimeError("no session")
        return provision_service(ctx)

    def _can(self, *permissions: Permission) -> bool:
        session = self.sesshu.session
        return session is not None and all(session.can(p) for p in permissions)

    @property
    def user(self) -> str:
        session = self.sesshu.session
        return session.user if session else ""

    @property
    def flagged_person(self) -> CasePerson | None:
        key = self.query_one("#flagged", RecordTable).cursor_key
        if self.preview is None or key is None:
            return None
        return next((p for p in self.preview.open_flags if p.atena == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        preview = self.preview
        if preview is None:
            return action in ("back", "refresh")
        case = preview.case
        checked = bool(case.checked_by) and case.checked_hash == case.approved_hash
        if action == "decide":
            return (
                self._can(Permission.PROVISION_REQUEST)
                and case.status in EDITABLE
                and self.flagged_person is not None
            )
        if action in ("approve", "reject"):
            return (
                self._can(Permission.PROVISION_APPROVE)
                and case.status is CaseStatus.DRAFT
                and case.requester != self.user
            )
        if action == "check":
            return (
                self._can(Permission.PROVISION_CHECK)
                and case.status is CaseStatus.APPROVED
                and preview.approval_valid
                and not checked
                and self.user not in (case.requester, case.decided_by)
            )
        if action == "execute":
            return (
                self._can(Permission.PROVISION_REQUEST, Permission.EXPORT_CREATE)
                and case.status is CaseStatus.APPROVED
                and preview.approval_valid
                and checked
                and case.checked_by != self.user
            )
        return True

    # --- loading and showing ----------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.sesshu.ctx is not None:
            service, case = self._service(), self.case_id
            self.background(lambda: service.preview(case), "preview")

    def worker_succeeded(self, name: str, result: Any) -> None:
        if name == "preview":
            self.preview = result
            self._show(result)
        elif name == "decide":
            self.app.notify(result)
            self.action_refresh()

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self._message(error_text(self.t, error))
        self.sesshu.report_error(error)

    def _message(self, text: str) -> None:
        self.query_one("#message", Static).update(plain(text))

    def _flags(self, flags: tuple[str, ...] | list[str]) -> str:
        return "・".join(self.t(f"provision.flag.{f}") for f in flags)

    def _show(self, preview: Preview) -> None:
        t = self.t
        self.query_one("#case-overview", Static).update(self._overview(preview))
        self.query_one("#flagged-title", Static).update(
            t("provision_screen.flagged_count", count=len(preview.open_flags))
        )
        flagged = self.query_one("#flagged", RecordTable)
        flagged.set_rows(
            [
                Row(p.atena, [plain(p.atena), plain(self._flags(p.flags))])
                for p in preview.open_flags
            ]
        )
        flagged.display = bool(preview.open_flags)
        self.query_one("#flagged-title", Static).display = bool(preview.open_flags)
        self.query_one("#sample", RecordTable).set_rows(
            [Row(row[0], [plain(v) for v in row]) for row in preview.rows]
        )
        stages = Text()
        for entry in preview.stages:
            detail = detail_text(t, "provision_screen.detail.", entry.detail)
            stages.append(f"{when_text(entry.at)}  ", style="dim")
            stages.append(t(f"provision_screen.stage.{entry.stage.value}"), style="bold")
            stages.append(plain(f"  {entry.user}  {detail}\n"))
        if not preview.stages:
            stages.append(t("provision_screen.no_stages"), style="dim")
        self.query_one("#stages", Static).update(stages)
        self.refresh_bindings()

    def _overview(self, preview: Preview) -> Text:
        t = self.t
        case, recipient = preview.case, preview.recipient
        basis_title = preview.basis.title if t.language == "ja" else preview.basis.title_en
        text = Text()
        text.append(case_status(t, case))
        code = recipient.code or recipient.kind.value
        text.append(
            plain("  " + t("provision_screen.line_recipient", name=recipient.name, code=code))
        )
        text.append("\n")
        items = "・".join(t(f"provision_screen.item.{i}") for i in case.items)
        flags = "、".join(
            f"{t(f'provision.flag.{f}')} {n}" for f, n in sorted(preview.flags.items())
        )
        lines = [
            t("provision_screen.line_basis", basis=case.basis, title=basis_title),
            t("provision_screen.line_purpose", purpose=case.purpose),
            t(
                "provision_screen.line_items",
                items=items,
                delivery=t(f"provision_screen.delivery.{case.delivery}"),
                deadline=case.retention_deadline or "-",
            ),
            t(
                "provision_screen.line_counts",
                included=preview.included,
                total=preview.total,
                removed=preview.removed,
                flags=flags or t("app.none"),
            ),
            t(
                "provision_screen.line_requester",
                user=case.requester,
                at=when_text(case.created_at),
            ),
        ]
        for line in lines:
            text.append(plain(line + "\n"))
        text.append(self._decision_line(preview))
        if case.checked_by:
            text.append(
                plain(
                    t(
                        "provision_screen.line_checked",
                        user=case.checked_by,
                        at=when_text(case.checked_at),
                    )
                    + "\n"
                )
            )
        if case.executed_by:
            text.append(
                plain(
                    t(
                        "provision_screen.line_executed",
                        user=case.executed_by,
                        at=when_text(case.executed_at),
                    )
                    + "\n"
                )
            )
        text.append(
            t("provision_screen.line_fingerprint", fingerprint=preview.fingerprint[:32]),
            style="dim",
        )
        return text

    def _decision_line(self, preview: Preview) -> Text:
        t = self.t
        case = preview.case
        if case.decided_by is None:
            return Text(t("provision_screen.line_undecided") + "\n", style="yellow")
        key = (
            "provision_screen.line_rejected"
            if case.status is CaseStatus.REJECTED
            else "provision_screen.line_approved"
        )
        line = Text(
            t(
                key,
                user=case.decided_by,
                at=when_text(case.decided_at),
                comment=case.decision_comment,
            )
        )
        if case.status is CaseStatus.APPROVED:
            valid = preview.approval_valid
            line.append(
                "  "
                + t(
                    "provision_screen.approval_valid" if valid else "provision_screen.approval_void"
                ),
                style="green" if valid else "bold red",
            )
        line.append("\n")
        return line

    # --- actions ----------------------------------------------------------------------------

    def _done(self, message_key: str) -> Callable[[Any], None]:
        def done(result: Any) -> None:
            if result is not None:
                self.app.notify(self.t(message_key, case=self.case_id))
                self.action_refresh()

        return done

    def action_decide(self, decision: str) -> None:
        person = self.flagged_person
        if person is None:
            return
        t, service, case, atena = self.t, self._service(), self.case_id, person.atena
        question = t(
            f"provision_screen.{decision}_question", atena=atena, flags=self._flags(person.flags)
        )
        note = t(
            "provision.person_decided",
            atena=atena,
            decision=t(f"provision_screen.decision.{decision}"),
        )

        def decide() -> str:
            service.decide_person(case, atena, decision)
            return note

        def answered(yes: bool | None) -> None:
            if yes:
                self._message("")
                self.background(decide, "decide", group="decide")

        self.app.push_screen(ConfirmModal(question), answered)

    def action_approve(self) -> None:
        t, service, case = self.t, self._service(), self.case_id
        self._ask(
            t("provision_screen.approve_title", case=case),
            [FormField("comment", t("provision_screen.field_comment"), required=False)],
            lambda v: service.approve(case, v["comment"]),
            "provision.approved",
            note=self._bound_note(),
        )

    def action_reject(self) -> None:
        t, service, case = self.t, self._service(), self.case_id
        self._ask(
            t("provision_screen.reject_title", case=case),
            [FormField("comment", t("provision_screen.field_reason"))],
            lambda v: service.reject(case, v["comment"]),
            "provision.rejected",
        )

    def action_check(self) -> None:
        t, service, case = self.t, self._service(), self.case_id
        self._ask(
            t("provision_screen.check_title", case=case),
            [FormField("comment", t("provision_screen.field_comment"), required=False)],
            lambda v: service.check(case, v["comment"]),
            "provision.checked",
            note=self._bound_note(),
        )

    def _bound_note(self) -> str:
        preview = self.preview
        if preview is None:
            return ""
        return self.t(
            "provision_screen.bound_note",
            included=preview.included,
            fingerprint=preview.fingerprint[:16],
        )

    def _ask(
        self,
        title: str,
        fields: list[FormField],
        work: Callable[[dict[str, str]], Case],
        message_key: str,
        *,
        note: str = "",
    ) -> None:
        self._message("")
        self.app.push_screen(FormModal(title, fields, work, note=note), self._done(message_key))

    def action_execute(self) -> None:
        t, service, case = self.t, self._service(), self.case_id
        fields = [
            FormField("witness", t("provision_screen.field_witness")),
            FormField("out", t("provision_screen.field_out"), f"provision-{case}.iso"),
        ]

        def executed(result: Executed | None) -> None:
            if result is not None:
                self.app.push_screen(ExecutedModal(result), lambda _: self.action_refresh())

        self._message("")
        self.app.push_screen(
            FormModal(
                t("provision_screen.execute_title", case=case),
                fields,
                lambda v: service.execute(case, v["witness"], out=v["out"]),
                note=t("provision_screen.execute_note"),
            ),
            executed,
        )

    def action_back(self) -> None:
        self.dismiss()

"""Provision cases, the media ledger and the dashboard in the TUI, driven as staff would.

Cases are drafted through the service (the TUI leaves creating them to the CLI); everything
after that — flag decisions, approval, second check, execution, disposal — goes through keys.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console
from textual.dom import DOMNode
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static

from core.exports import MediaStatus
from core.provision import CaseStatus
from core.services.exports import ExportService, MediaService
from core.services.provision import CaseRequest, ProvisionService
from exports.writer import StoreExporter
from tests.conftest import PASSWORD, Sessions
from tests.tui.conftest import log_in, make_app, settle
from tui.app import SesshuApp
from tui.record_table import RecordTable
from tui.screens.confirm import ConfirmModal
from tui.screens.dashboard import DashboardScreen
from tui.screens.executed import ExecutedModal
from tui.screens.form import FormModal
from tui.screens.help import HelpScreen
from tui.screens.media import MediaLedgerScreen
from tui.screens.menu import MainMenuScreen
from tui.screens.provision import ProvisionCasesScreen
from tui.screens.provision_case import ProvisionCaseScreen

SIZE = (130, 44)
DV, MOVED, DECEASED = "1000000015", "1000000016", "1000000017"
LISTED = ["1000000001", "1000000002", DV, MOVED, DECEASED]
WITNESS = "立会　次郎"


def service(people: Sessions, user: str) -> ProvisionService:
    opened = people.login(user)
    return ProvisionService(opened.ctx, StoreExporter(opened.store))


def draft_case(people: Sessions, deadline: date | None = None) -> int:
    """Recipient registered by sup1, case drafted by op1 (three flagged persons among five)."""
    recipient = service(people, "sup1").add_recipient(
        "東京都福祉保健局", "prefecture", code="130001"
    )
    request = CaseRequest(
        recipient=recipient.id,
        basis="survey-sample",
        purpose="抗体調査",
        items="name,birth,sex,address",
        atena=list(LISTED),
        retention_deadline=deadline or date.today() + timedelta(days=90),
    )
    return service(people, "op1").create(request).case.id


def executed_case(people: Sessions, deadline: date | None = None) -> int:
    """A case taken through every step by the services: its medium is in the ledger."""
    case = draft_case(people, deadline)
    ops = service(people, "op1")
    for atena in (DV, MOVED, DECEASED):
        ops.decide_person(case, atena, "removed")
    service(people, "sup1").approve(case)
    service(people, "ver1").check(case)
    ops.execute(case, WITNESS, out=f"case-{case}.iso")
    return case


def media(people: Sessions) -> list[MediaStatus]:
    return [m.status for m in MediaService(people.login("sup1").ctx).listing()]


def shown(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def rows(screen: DOMNode, table_id: str) -> list[list[str]]:
    table = screen.query_one(f"#{table_id}", RecordTable)
    return [table.row_text(i) for i in range(table.row_count)]


def top(pilot: Pilot[None]) -> Screen[object]:
    """The screen on top now (a fresh read, so a type check earlier does not carry over)."""
    return pilot.app.screen


def footer_actions(app: SesshuApp) -> set[str]:
    return {
        active.binding.action
        for active in app.screen.active_bindings.values()
        if active.enabled and active.binding.show
    }


async def open_entry(pilot: Pilot[None], user: str, entry: str) -> None:
    await log_in(pilot, user, PASSWORD)
    menu = top(pilot)
    assert isinstance(menu, MainMenuScreen)
    menu.query_one("#menu", OptionList).highlighted = menu.menu_ids().index(entry)
    await pilot.press("enter")
    await settle(pilot)


async def open_case(pilot: Pilot[None], user: str) -> ProvisionCaseScreen:
    await open_entry(pilot, user, "provision")
    assert isinstance(top(pilot), ProvisionCasesScreen)
    await pilot.press("enter")
    await settle(pilot)
    screen = top(pilot)
    assert isinstance(screen, ProvisionCaseScreen)
    assert screen.preview is not None
    return screen


async def answer_yes(pilot: Pilot[None]) -> None:
    assert isinstance(top(pilot), ConfirmModal)
    await pilot.press("tab", "enter")
    await settle(pilot)


async def fill(pilot: Pilot[None], **values: str) -> None:
    """Set the form's lines, then Enter on the last one submits it."""
    form = top(pilot)
    assert isinstance(form, FormModal)
    for key, value in values.items():
        form.query_one(f"#f-{key}", Input).value = value
    inputs = list(form.query(Input))
    inputs[-1].focus()
    await pilot.press("enter")
    await settle(pilot)


async def test_operator_supervisor_checker_operator_take_a_case_to_a_medium(
    people_path: Path, people: Sessions
) -> None:
    case = draft_case(people)

    # op1 decides the flagged persons; approving is not theirs to do.
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, "op1")
        assert [r[0] for r in rows(screen, "flagged")] == [DV, MOVED, DECEASED]
        assert "approve" not in footer_actions(app)
        assert "execute" not in footer_actions(app)
        await pilot.press("x")  # remove the DV-protected person
        await answer_yes(pilot)
        await pilot.press("x")  # the moved-out person
        await answer_yes(pilot)
        await pilot.press("c")  # keep the deceased person, explicitly
        await answer_yes(pilot)
        assert rows(screen, "flagged") == []
        assert screen.preview is not None
        assert (screen.preview.included, screen.preview.removed) == (3, 2)
        assert DV not in [r[0] for r in rows(screen, "sample")]

    # sup1 approves, with a comment.
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, "sup1")
        assert {"approve", "reject"} <= footer_actions(app)
        await pilot.press("a")
        await fill(pilot, comment="会議答申第12号")
        assert isinstance(top(pilot), ProvisionCaseScreen)
        assert screen.preview is not None
        assert screen.preview.case.status is CaseStatus.APPROVED
        assert screen.preview.approval_valid
        assert "check" not in footer_actions(app)  # the second check is someone else's

    # ver1 makes the second check.
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, "ver1")
        assert "approve" not in footer_actions(app)
        await pilot.press("k")
        await fill(pilot)
        assert screen.preview is not None
        assert screen.preview.case.checked_by == "ver1"
        assert "execute" not in footer_actions(app)  # a verifier never executes

    # op1 executes: witness and file name, then the medium and the one-time passphrase.
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, "op1")
        assert "execute" in footer_actions(app)
        await pilot.press("e")
        await fill(pilot, witness=WITNESS, out="survey.iso")
        done = top(pilot)
        assert isinstance(done, ExecutedModal)
        written = shown(done.query_one("#written", Static))
        assert "survey.iso" in written
        passphrase = shown(done.query_one("#passphrase", Static)).strip()
        assert len(passphrase) > 10
        await pilot.press("enter")
        await settle(pilot)
        assert top(pilot) is screen
        assert screen.preview is not None
        assert screen.preview.case.status is CaseStatus.EXECUTED
        assert [s.stage.value for s in screen.preview.stages] == ["extraction", "media_written"]
        assert passphrase not in shown(screen.query_one("#case-overview", Static))

        await pilot.press("escape", "escape")
        await settle(pilot)
        menu = top(pilot)
        assert isinstance(menu, MainMenuScreen)
        menu.query_one("#menu", OptionList).highlighted = menu.menu_ids().index("media")
        await pilot.press("enter")
        await settle(pilot)
        ledger = top(pilot)
        assert isinstance(ledger, MediaLedgerScreen)
        [row] = rows(ledger, "media")
        medium = MediaService(people.login("sup1").ctx).listing(case=case)[0]
        assert row[0] == medium.label
        assert row[2] == "正常"
        assert row[7] == WITNESS


async def test_the_ledger_disposes_of_a_returned_medium_with_a_witness(
    people_path: Path, people: Sessions
) -> None:
    executed_case(people)
    ledger = MediaService(people.login("op1").ctx)
    [medium] = ledger.listing()
    ledger.handover(medium.id, "保健所 田中")
    ledger.return_(medium.id)

    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "sup1", "media")
        screen = top(pilot)
        assert isinstance(screen, MediaLedgerScreen)
        [row] = rows(screen, "media")
        assert row[3] == "要廃棄"
        assert "handover" not in footer_actions(app)  # only a good medium is handed over
        await pilot.press("enter")
        await settle(pilot)
        history = shown(screen.query_one("#detail", Static))
        assert "保健所 田中" in history
        assert "返却" in history

        await pilot.press("d")
        form = top(pilot)
        assert isinstance(form, FormModal)
        assert form.values()["method"] == "物理破壊"
        await fill(pilot, witness="sup1", certificate="廃-2026-001")
        assert top(pilot) is form  # the witness may not be oneself: the form stays open
        assert "本人以外" in shown(form.query_one("#message", Static))
        await fill(pilot, witness=WITNESS)
        assert top(pilot) is screen
        assert rows(screen, "media") == []  # open media only
        await pilot.press("o")
        await settle(pilot)
        [row] = rows(screen, "media")
        assert row[2] == "廃棄済"
    assert media(people) == [MediaStatus.DISPOSED]
    disposed = MediaService(people.login("sup1").ctx).show(medium.id).medium
    assert (disposed.disposal_witness, disposed.certificate) == (WITNESS, "廃-2026-001")


async def test_an_auditor_reads_the_ledger_without_action_keys(
    people_path: Path, people: Sessions
) -> None:
    executed_case(people)
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "aud1", "media")
        screen = top(pilot)
        assert isinstance(screen, MediaLedgerScreen)
        assert len(rows(screen, "media")) == 1
        assert footer_actions(app).isdisjoint({"handover", "return_medium", "move", "dispose"})
        await pilot.press("d")
        await settle(pilot)
        assert top(pilot) is screen
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(top(pilot), HelpScreen)
        assert "監査は閲覧のみ" in shown(top(pilot).query_one("#screen-help", Static))
    assert media(people) == [MediaStatus.GOOD]


async def test_the_dashboard_shows_what_waits_for_a_supervisor(
    people_path: Path, people: Sessions
) -> None:
    overdue = executed_case(people, deadline=date.today() - timedelta(days=1))
    ledger = MediaService(people.login("op1").ctx)
    [medium] = ledger.listing()
    ledger.handover(medium.id, "保健所 田中")
    ledger.return_(medium.id)
    waiting = draft_case(people)
    opened = people.login("op1")
    backup = ExportService(opened.ctx, StoreExporter(opened.store)).create("backup", "月次")

    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_entry(pilot, "sup1", "dashboard")
        screen = top(pilot)
        assert isinstance(screen, DashboardScreen)
        assert [r[0] for r in rows(screen, "dispose")] == [medium.label]
        assert [r[0] for r in rows(screen, "overdue")] == [str(overdue)]
        assert [r[0] for r in rows(screen, "drafts")] == [str(waiting)]
        assert [r[0] for r in rows(screen, "exports")] == [str(backup.id)]
        counts = shown(screen.query_one("#counts", Static))
        assert "要廃棄 1 件" in counts
        assert "期限切れ 1 件" in counts

        await pilot.press("m")
        await settle(pilot)
        assert isinstance(top(pilot), MediaLedgerScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        cases = top(pilot)
        assert isinstance(cases, ProvisionCasesScreen)
        assert len(rows(cases, "cases")) == 2


async def test_the_provision_screens_in_english(people_path: Path, people: Sessions) -> None:
    draft_case(people)
    app = make_app(people_path, language="en")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, "op1")
        overview = shown(screen.query_one("#case-overview", Static))
        assert "Purpose: 抗体調査" in overview
        assert "Not yet approved" in overview
        await pilot.press("f1")
        await pilot.pause()
        assert "second check" in shown(top(pilot).query_one("#screen-help", Static))

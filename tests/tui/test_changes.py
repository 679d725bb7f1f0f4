"""Four-eyes changes in the TUI: propose from the person view, decide on the changes screen."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Select, Static

from core.changes import ChangeKind, ChangeRequest, ChangeStatus, PendingChange
from core.services.changes import ChangeService
from tests.conftest import PASSWORD, Sessions
from tests.people import CHILD, PEOPLE
from tests.tui.conftest import log_in, make_app, settle, type_text
from tui.app import SesshuApp
from tui.record_table import RecordTable
from tui.screens.change_form import ChangeFormModal
from tui.screens.changes import ChangesScreen
from tui.screens.confirm import ConfirmModal
from tui.screens.menu import MainMenuScreen
from tui.screens.person import PersonScreen
from tui.screens.prompt import PromptModal

SIZE = (130, 44)
YAMADA = PEOPLE[0].atena


def shown(widget: Static) -> str:
    """What a Static shows, as plain text (it may hold a table, not only text)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def notes(app: SesshuApp) -> list[str]:
    return [n.message for n in app._notifications]


def first_dated_record(people: Sessions) -> tuple[int, str]:
    store = people.login("adm1").store
    row = store.conn.execute(
        "SELECT id, lot FROM vaccinations WHERE atena = ? AND date > ? ORDER BY id",
        (CHILD.atena, CHILD.birth.isoformat()),
    ).fetchone()
    return int(row[0]), str(row[1])


def propose_correction(people: Sessions, user: str = "op1") -> PendingChange:
    record, _ = first_dated_record(people)
    return ChangeService(people.login(user).ctx).propose(
        ChangeRequest(
            kind="record.correct",
            atena=CHILD.atena,
            record=record,
            values={"lot": "LOT-NEW"},
            evidence="counter",
            id_document="passport",
            reason="原本と相違",
        )
    )


def status_of(people: Sessions, change_id: int) -> ChangeStatus:
    return ChangeService(people.login("sup1").ctx).show(change_id).status


async def open_menu_entry(pilot: Pilot[None], user: str, entry: str) -> None:
    await log_in(pilot, user, PASSWORD)
    screen = pilot.app.screen
    assert isinstance(screen, MainMenuScreen)
    screen.query_one("#menu", OptionList).highlighted = screen.menu_ids().index(entry)
    await pilot.press("enter")
    await settle(pilot)


async def open_person(pilot: Pilot[None], user: str, atena: str) -> PersonScreen:
    await open_menu_entry(pilot, user, "search")
    pilot.app.screen.query_one("#atena", Input).focus()
    await type_text(pilot, atena)
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PersonScreen)
    return screen


async def press_yes(pilot: Pilot[None]) -> None:
    assert isinstance(pilot.app.screen, ConfirmModal)
    await pilot.press("tab", "enter")
    await settle(pilot)


async def test_the_menu_offers_changes_to_confirming_roles_only(people_path: Path) -> None:
    seen = {}
    for user in ("op1", "ver1"):
        app = make_app(people_path)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot, user, PASSWORD)
            assert isinstance(app.screen, MainMenuScreen)
            seen[user] = "changes" in app.screen.menu_ids()
    assert seen == {"op1": False, "ver1": True}


async def test_a_verifier_confirms_with_before_and_after_side_by_side(
    people_path: Path, people: Sessions
) -> None:
    change = propose_correction(people)
    _, old_lot = first_dated_record(people)
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu_entry(pilot, "ver1", "changes")
        screen = app.screen
        assert isinstance(screen, ChangesScreen)
        assert screen.query_one("#changes", RecordTable).row_count == 1
        detail = shown(screen.query_one("#detail", Static))
        assert old_lot in detail
        assert "LOT-NEW" in detail
        assert "パスポート" in detail
        assert screen.check_action("confirm_change", ()) is True
        await pilot.press("enter")
        await press_yes(pilot)
        assert f"変更 #{change.id} を確認し、反映しました。" in notes(app)
        assert screen.query_one("#changes", RecordTable).row_count == 0
    assert status_of(people, change.id) is ChangeStatus.CONFIRMED
    record, lot = first_dated_record(people)
    assert lot == "LOT-NEW"


async def test_the_proposer_cannot_confirm_in_the_tui(people_path: Path, people: Sessions) -> None:
    change = propose_correction(people, "ver1")
    app = make_app(people_path, language="en")
    async with app.run_test(size=SIZE) as pilot:
        await open_menu_entry(pilot, "ver1", "changes")
        screen = app.screen
        assert isinstance(screen, ChangesScreen)
        assert screen.check_action("confirm_change", ()) is None
        assert screen.check_action("reject_change", ()) is None
        assert "You proposed this change" in shown(screen.query_one("#detail", Static))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ChangesScreen)
        refusal = (
            "You cannot confirm or reject a change you proposed; another member of staff must."
        )
        assert notes(app) == [refusal]
        # Past the disabled binding, straight to the action: the service still refuses.
        screen.action_confirm_change()
        await settle(pilot)
        await press_yes(pilot)
        assert notes(app) == [refusal, refusal]
    assert status_of(people, change.id) is ChangeStatus.PENDING


async def test_a_supervisor_rejects_with_a_reason(people_path: Path, people: Sessions) -> None:
    change = propose_correction(people)
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_menu_entry(pilot, "sup1", "changes")
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, PromptModal)
        await pilot.press("enter")
        assert isinstance(app.screen, PromptModal)  # an empty reason is not accepted
        await type_text(pilot, "原本は旧ロット")
        await pilot.press("enter")
        await settle(pilot)
        assert f"変更 #{change.id} を差し戻しました。" in notes(app)
    rejected = ChangeService(people.login("op2").ctx).show(change.id)
    assert (rejected.status, rejected.decision_note) == (ChangeStatus.REJECTED, "原本は旧ロット")


async def test_the_person_view_shows_a_pending_change(people_path: Path, people: Sessions) -> None:
    change = propose_correction(people)
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_person(pilot, "op2", CHILD.atena)
        pending = screen.query_one("#pending", Static)
        assert pending.display
        text = str(pending.render())
        assert "申請中の変更" in text
        assert "LOT-NEW" in text
        table = screen.query_one("#history", RecordTable)
        states = {row.key: table.row_text(index)[-1] for index, row in enumerate(table.rows)}
        assert states[str(change.record)] == f"修正申請#{change.id}"
        table.cursor = [r.key for r in table.rows].index(str(change.record))
        await pilot.pause()
        assert screen.check_action("propose", ("record.void",)) is None


async def test_an_operator_proposes_a_deletion_from_the_person_view(
    people_path: Path, people: Sessions
) -> None:
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_person(pilot, "op1", CHILD.atena)
        table = screen.query_one("#history", RecordTable)
        table.focus()
        await pilot.press("down", "down")
        record = int(table.cursor_key or 0)
        await pilot.press("d")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChangeFormModal)
        assert form.kind is ChangeKind.RECORD_VOID
        await pilot.press("enter")
        await settle(pilot)
        message = str(form.query_one("#message", Static).render())
        assert "本人確認書類" in message
        assert "理由を入力してください。" in message
        form.query_one("#id_document", Select).value = "health_insurance"
        form.query_one("#reason", Input).focus()
        await type_text(pilot, "二重登録")
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert any(n.startswith("変更 #1 を申請しました。") for n in notes(app))
        assert "二重登録" in str(screen.query_one("#pending", Static).render())
    [change] = ChangeService(people.login("ver1").ctx).list()
    assert (change.kind, change.record, change.proposed_by) == (
        ChangeKind.RECORD_VOID,
        record,
        "op1",
    )
    assert change.id_document is not None
    assert change.id_document.value == "health_insurance"


async def test_a_resident_correction_sends_only_what_was_changed(
    people_path: Path, people: Sessions
) -> None:
    app = make_app(people_path, language="en")
    async with app.run_test(size=SIZE) as pilot:
        await open_person(pilot, "op1", YAMADA)
        await pilot.press("r")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ChangeFormModal)
        assert form.query_one("#f-name", Input).value == PEOPLE[0].name
        address = form.query_one("#f-address", Input)
        address.value = ""
        address.focus()
        await type_text(pilot, "緑町1番")
        form.query_one("#evidence", Select).value = "phone"
        form.query_one("#reason", Input).value = "moved"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ChangeFormModal)
    [change] = ChangeService(people.login("ver1").ctx).list()
    assert change.kind is ChangeKind.RESIDENT_CORRECT
    assert change.after == {"address": "緑町1番"}
    assert change.before == {"address": PEOPLE[0].address}
    assert change.base_version == 1

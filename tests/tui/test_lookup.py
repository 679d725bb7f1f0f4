"""Search → open → back, and the My Number reveal refused for op2."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from core.ports import AuditFilter
from tests.conftest import PASSWORD, Sessions
from tests.people import MYNUMBERS
from tests.tui.conftest import log_in, make_app, settle, type_text
from tui.record_table import RecordTable
from tui.screens.menu import MainMenuScreen
from tui.screens.person import PersonScreen
from tui.screens.search import SearchScreen


async def open_search(pilot: object, user: str) -> None:
    await log_in(pilot, user, PASSWORD)  # type: ignore[arg-type]
    await pilot.press("enter")  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]


async def test_search_open_and_back(people_path: Path) -> None:
    app = make_app(people_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_search(pilot, "op1")
        assert isinstance(app.screen, SearchScreen)
        await type_text(pilot, "やまだ")
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one("#results", RecordTable)
        assert table.row_count == 2
        assert table.has_focus
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PersonScreen)
        basics = str(app.screen.query_one("#basics", Static).render())
        assert "平成" in basics
        assert "●●●●" in basics
        await pilot.press("escape")
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#results", RecordTable).row_count == 2
        await pilot.press("escape")
        assert app.screen.query_one("#kana", Input).has_focus
        await pilot.press("escape")
        assert isinstance(app.screen, MainMenuScreen)


async def test_bad_input_is_shown_inline(people_path: Path) -> None:
    app = make_app(people_path, language="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_search(pilot, "op1")
        app.screen.query_one("#birth", Input).focus()
        await type_text(pilot, "H31.5.1")
        await pilot.press("enter")
        await settle(pilot)
        text = str(app.screen.query_one("#message", Static).render())
        assert "平成 runs from" in text


async def test_mynumber_reveal_refused_for_op2(people_path: Path, people: Sessions) -> None:
    atena = "1000000001"
    app = make_app(people_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_search(pilot, "op2")
        assert not app.screen.query_one("#mynumber", Input).display
        app.screen.query_one("#atena", Input).focus()
        await type_text(pilot, atena)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PersonScreen)
        await pilot.press("f7")
        await settle(pilot)
        assert screen.mynumber_shown is None
        screen.action_reveal_mynumber()
        await settle(pilot)
        assert screen.mynumber_shown is None
        assert MYNUMBERS[atena] not in str(screen.query_one("#basics", Static).render())
    with people.login("aud1").store.reader() as uow:
        denied = uow.audit.find(AuditFilter(user="op2", action="permission.denied"))
    assert denied[0].target == f"resident:{atena}"


async def test_mynumber_reveal_for_op1(people_path: Path) -> None:
    app = make_app(people_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_search(pilot, "op1")
        app.screen.query_one("#atena", Input).focus()
        await type_text(pilot, "1000000001")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        number = MYNUMBERS["1000000001"]
        formatted = f"{number[:4]} {number[4:8]} {number[8:]}"
        assert formatted in str(app.screen.query_one("#basics", Static).render())


async def test_supervisor_reveals_a_protected_address_with_a_reason(people_path: Path) -> None:
    app = make_app(people_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_search(pilot, "sup1")
        app.screen.query_one("#atena", Input).focus()
        await type_text(pilot, "1000000015")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        basics = app.screen.query_one("#basics", Static)
        assert "秘密町" not in str(basics.render())
        await pilot.press("f6")
        await type_text(pilot, "court order")
        await pilot.press("enter")
        await settle(pilot)
        assert "秘密町9番9号" in str(basics.render())

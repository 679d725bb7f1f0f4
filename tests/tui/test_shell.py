"""The TUI shell: login, lockout, idle lock, role menus, forced password change, help."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from core.ports import AuditFilter
from core.roles import Role
from core.services.users import NewAccount, UserAdmin
from tests.conftest import PASSWORD, Sessions
from tests.tui.conftest import log_in, make_app, message, settle, type_text
from tui.screens.help import HelpScreen
from tui.screens.lock import LockScreen
from tui.screens.login import LoginScreen
from tui.screens.menu import MainMenuScreen
from tui.screens.password import PasswordScreen
from tui.widgets import StatusBar


def audit_actions(sessions: Sessions, user: str) -> list[str]:
    auditor = sessions.login("aud1")
    with auditor.store.reader() as uow:
        return [r.action for r in reversed(uow.audit.find(AuditFilter(user=user, limit=1000)))]


async def test_login_shows_the_menu_and_status(store_path: Path) -> None:
    app = make_app(store_path)
    async with app.run_test(size=(110, 32)) as pilot:
        assert isinstance(app.screen, LoginScreen)
        await log_in(pilot, "op1", PASSWORD)
        assert isinstance(app.screen, MainMenuScreen)
        status = str(app.screen.query_one(StatusBar).render())
        assert "op1" in status
        assert "T-TEST" in status
        assert "入力者" in status


async def test_wrong_password_then_lock_after_five(store_path: Path, sessions: Sessions) -> None:
    app = make_app(store_path)
    async with app.run_test(size=(110, 32)) as pilot:
        for _ in range(5):
            await log_in(pilot, "op2", "not-my-password")
            assert message(app) == "利用者名またはパスワードが違います。"
        await log_in(pilot, "op2", PASSWORD)
        assert isinstance(app.screen, LoginScreen)
        assert "ロックされています" in message(app)
        assert app.screen.query_one("#password", Input).value == ""
    actions = audit_actions(sessions, "op2")
    assert actions.count("auth.login_failed") == 5
    assert "account.locked" in actions


async def test_idle_lock_and_unlock_with_the_same_password(
    store_path: Path, sessions: Sessions
) -> None:
    app = make_app(store_path, idle=0.4)
    async with app.run_test(size=(110, 32)) as pilot:
        await log_in(pilot, "op1", PASSWORD)
        await pilot.pause(0.8)
        assert isinstance(app.screen, LockScreen)
        await type_text(pilot, "wrong-password")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        assert message(app) == "利用者名またはパスワードが違います。"
        app.idle_seconds = 60
        await type_text(pilot, PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainMenuScreen)
        assert app.session is not None
        assert app.session.user == "op1"
    actions = audit_actions(sessions, "op1")
    assert "auth.session_locked" in actions
    assert "auth.session_unlocked" in actions


async def test_another_user_at_the_lock_screen_ends_the_session(
    store_path: Path, sessions: Sessions
) -> None:
    app = make_app(store_path)
    async with app.run_test(size=(110, 32)) as pilot:
        await log_in(pilot, "op1", PASSWORD)
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, LockScreen)
        name = app.screen.query_one("#name", Input)
        name.value = ""
        name.focus()
        await type_text(pilot, "sup1")
        await pilot.press("enter")
        await type_text(pilot, PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainMenuScreen)
        assert app.session is not None
        assert app.session.user == "sup1"
    logouts = [a for a in audit_actions(sessions, "op1") if a == "auth.logout"]
    assert logouts


async def test_menus_differ_by_role(store_path: Path) -> None:
    seen: dict[str, list[str]] = {}
    for user in ("adm1", "aud1", "op1"):
        app = make_app(store_path)
        async with app.run_test(size=(110, 32)) as pilot:
            await log_in(pilot, user, PASSWORD)
            screen = app.screen
            assert isinstance(screen, MainMenuScreen)
            seen[user] = screen.menu_ids()
    assert seen["adm1"] == ["users", "settings", "sync_now", "password"]
    assert seen["aud1"] == ["audit", "audit_report", "media", "password"]
    assert seen["op1"] == ["search", "batches", "provision", "media", "sync_now", "password"]


async def test_the_number_of_a_menu_entry_opens_it(store_path: Path) -> None:
    app = make_app(store_path)
    async with app.run_test(size=(110, 32)) as pilot:
        await log_in(pilot, "adm1", PASSWORD)
        await pilot.press("2")
        await pilot.pause()
        assert type(app.screen).__name__ == "SettingsScreen"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("9")  # no ninth entry: nothing happens
        await pilot.pause()
        assert isinstance(app.screen, MainMenuScreen)


async def test_first_login_forces_a_password_change(store_path: Path, sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    UserAdmin(admin.ctx, admin.vault).add(
        NewAccount("op5", frozenset({Role.OPERATOR}), "新人 五郎"), "initial-pass-5"
    )
    app = make_app(store_path)
    async with app.run_test(size=(110, 32)) as pilot:
        await log_in(pilot, "op5", "initial-pass-5")
        assert isinstance(app.screen, PasswordScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, PasswordScreen)
        await type_text(pilot, "initial-pass-5")
        await pilot.press("enter")
        await type_text(pilot, "my-new-passphrase")
        await pilot.press("enter")
        await type_text(pilot, "my-new-passphrase")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainMenuScreen)
        assert app.session is not None
        assert app.session.password_state.value == "current"


async def test_help_lists_the_bindings_in_the_chosen_language(store_path: Path) -> None:
    app = make_app(store_path, language="en")
    async with app.run_test(size=(110, 32)) as pilot:
        await log_in(pilot, "adm1", PASSWORD)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        descriptions = {str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert {"Help", "Lock", "Quit", "Log out"} <= descriptions
        await pilot.press("escape")
        assert isinstance(app.screen, MainMenuScreen)


async def test_user_text_is_shown_literally(store_path: Path, sessions: Sessions) -> None:
    admin = sessions.login("adm1")
    UserAdmin(admin.ctx, admin.vault).add(
        NewAccount("op6", frozenset({Role.OPERATOR}), "[bold]O'Brien; [/]"), "initial-pass-6"
    )
    app = make_app(store_path)
    async with app.run_test(size=(110, 32)) as pilot:
        await log_in(pilot, "adm1", PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        table = app.screen.query_one("#users", DataTable)
        cells = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "op6 [bold]O'Brien; [/]" in cells


async def test_adding_a_user_by_keyboard_enter_never_ticks_a_flag(
    store_path: Path, sessions: Sessions
) -> None:
    app = make_app(store_path)
    async with app.run_test(size=(110, 40)) as pilot:
        await log_in(pilot, "adm1", PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        for text in ("op8", "新人 八子", "operator"):
            await type_text(pilot, text)
            await pilot.press("enter")
        await pilot.press("enter", "enter", "enter")
        await type_text(pilot, "short")
        await pilot.press("enter")
        await settle(pilot)
        assert "10文字以上" in message(app)
        await type_text(pilot, "initial-pass-8")
        await pilot.press("enter")
        await settle(pilot)
    admin = sessions.login("adm1")
    with admin.store.reader() as uow:
        account = uow.users.get("op8")
    assert account is not None
    assert account.display_name == "新人 八子"
    assert not account.mynumber_access
    assert not account.contractor
    assert account.must_change_password

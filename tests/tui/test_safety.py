"""A crash in the TUI never prints a traceback with locals, and the session is still closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList

from core.ports import AuditFilter
from tests.conftest import PASSWORD, Sessions
from tests.tui.conftest import log_in, make_app
from tui.screens.menu import MainMenuScreen
from tui.widgets import DemoBanner


async def test_a_crash_shows_one_line_and_no_locals(
    store_path: Path,
    sessions: Sessions,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def explode(_self: object, _event: OptionList.OptionSelected) -> None:
        secret = "hunter2-password"
        raise ValueError(secret)

    monkeypatch.setattr(MainMenuScreen, "on_option_list_option_selected", explode)
    app = make_app(store_path)

    async def crash() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await log_in(pilot, "adm1", PASSWORD)
            await pilot.press("enter")
            await pilot.pause()

    with pytest.raises(ValueError, match="hunter2"):
        await crash()
    rendered = capsys.readouterr().err
    assert (
        rendered.strip() == "予期しないエラーが発生しました（ValueError）。操作は取り消されました。"
    )
    assert "hunter2" not in rendered
    assert "Traceback" not in rendered
    auditor = sessions.login("aud1")
    with auditor.store.reader() as uow:
        last = uow.audit.find(AuditFilter(user="adm1", action="auth.logout", limit=1))
    assert last
    assert '"reason":"exit"' in last[0].detail


async def test_a_demo_store_shows_the_banner(tmp_path: Path) -> None:
    from core.clock import SystemClock
    from storage.demo_store import build_demo_store

    path = tmp_path / "demo.db"
    build_demo_store(path, residents=5, seed=1, clock=SystemClock())
    app = make_app(path)
    async with app.run_test(size=(100, 30)):
        assert app.screen.query(DemoBanner)


async def test_a_real_store_shows_no_banner(store_path: Path) -> None:
    app = make_app(store_path)
    async with app.run_test(size=(100, 30)):
        assert not app.screen.query(DemoBanner)

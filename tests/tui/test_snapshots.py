"""A few snapshots of key screens (synthetic staff accounts only, fixed terminal name)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from tests.conftest import PASSWORD
from tests.tui.conftest import log_in, make_app, settle, type_text

SnapCompare = Callable[..., bool]
SIZE = (100, 28)


def test_login_screen_ja(snap_compare: SnapCompare, store_path: Path) -> None:
    assert snap_compare(make_app(store_path), terminal_size=SIZE)


def test_login_screen_en(snap_compare: SnapCompare, store_path: Path) -> None:
    assert snap_compare(make_app(store_path, language="en"), terminal_size=SIZE)


def test_administrator_menu(snap_compare: SnapCompare, store_path: Path) -> None:
    async def logged_in(pilot: Pilot[None]) -> None:
        await log_in(pilot, "adm1", PASSWORD)

    assert snap_compare(make_app(store_path), terminal_size=SIZE, run_before=logged_in)


def test_help_screen(snap_compare: SnapCompare, store_path: Path) -> None:
    async def help_open(pilot: Pilot[None]) -> None:
        await log_in(pilot, "aud1", PASSWORD)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(store_path), terminal_size=SIZE, run_before=help_open)


def test_search_results(snap_compare: SnapCompare, people_path: Path) -> None:
    async def searched(pilot: Pilot[None]) -> None:
        await log_in(pilot, "op2", PASSWORD)
        await pilot.press("enter")
        await settle(pilot)
        await type_text(pilot, "ｻ")
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(make_app(people_path), terminal_size=(120, 34), run_before=searched)

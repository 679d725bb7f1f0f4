"""The migration screen: dry run, import and reconciliation of a tiny synthetic open-layout
source, driven by keys as the migration officer (移行担当) would."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static

from core.i18n import catalogue
from core.migration.model import RunStatus, Tick
from core.services.migration import MigrationService
from exports.migration import source as disk_source
from tests.conftest import PASSWORD, Sessions
from tests.tui.conftest import log_in, make_app, message, settle, type_text
from tests.tui.test_changes import shown
from tui.app import SesshuApp
from tui.menu import entries_for
from tui.record_table import RecordTable
from tui.screens.menu import MainMenuScreen
from tui.screens.migration import MigrationScreen, Pace, TickPacer, pace_text

SIZE = (140, 44)
RESIDENTS = """atena,name,kana,birth,sex,status
900000001,移行 一郎,イコウ イチロウ,2020-04-01,M,resident
900000002,移行 [b]花子,イコウ ハナコ,2021-05-02,F,resident
900000003,移行 三郎,イコウ サブロウ,2019-12-31,M,moved_out
"""
VACCINATIONS = """atena,vaccine,dose,date
900000001,BCG,1,2020-10-01
900000001,MR1,1,2021-04-05
900000002,BCG,1,2023-02-30
900000003,HIB,1,2020-02-01
900000003,[red]BCG,1,2020-03-01
"""


def legacy_source(folder: Path) -> Path:
    folder.mkdir()
    (folder / "residents.csv").write_text(RESIDENTS, "utf-8")
    (folder / "vaccinations.csv").write_text(VACCINATIONS, "utf-8")
    return folder


async def open_migration(pilot: Pilot[None], user: str = "mig1") -> MigrationScreen:
    """Log in and open the screen by the number its menu entry shows."""
    await log_in(pilot, user, PASSWORD)
    menu = pilot.app.screen
    assert isinstance(menu, MainMenuScreen)
    await pilot.press(str(menu.menu_ids().index("migration") + 1))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, MigrationScreen)
    return screen


async def enter_source(pilot: Pilot[None], screen: MigrationScreen, path: str) -> None:
    """Type a path relative to the test's folder (short, so typing it is quick)."""
    field = screen.query_one("#source", Input)
    assert field.has_focus
    field.value = ""
    await type_text(pilot, path)
    assert field.value == path


def rows(screen: MigrationScreen, table: str) -> list[list[str]]:
    shown_table = screen.query_one(f"#{table}", RecordTable)
    return [shown_table.row_text(i) for i in range(shown_table.row_count)]


def summary(screen: MigrationScreen) -> str:
    return shown(screen.query_one("#summary", Static))


def count(sessions: Sessions, table: str) -> int:
    store = sessions.login("adm1").store
    return int(store.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_mig1_checks_imports_and_reconciles_a_source(
    store_path: Path, sessions: Sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = legacy_source(tmp_path / "legacy")
    monkeypatch.chdir(tmp_path)
    # As if the files were large: the screen must still read them (in its own process).
    monkeypatch.setattr(disk_source, "PARALLEL_MIN_BYTES", 0)
    t = catalogue("ja")
    app = make_app(store_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_migration(pilot)
        assert rows(screen, "runs") == []
        assert "移行の実行はまだありません" in summary(screen)
        await enter_source(pilot, screen, "legacy")

        # The dry-run switch is on: importing is disabled until it is turned off.
        assert screen.query_one("#dry-run", Checkbox).value is True
        assert screen.check_action("run", ("load",)) is None
        await pilot.press("f7")
        await settle(pilot)
        assert screen.outcome is None

        await pilot.press("f6")
        await settle(pilot)
        assert screen.running is None
        text = summary(screen)
        assert "ドライラン" in text
        assert "読込 8 件、投入可能 6 件、既存のため省略 0 件、問題 2 件" in text
        assert "vaccinations.csv：読込 5、投入 3、省略 0、問題 2" in text
        bad_date, bad_code = rows(screen, "issues")
        assert bad_date == [
            "vaccinations.csv",
            "4",
            t.field("date"),
            t("migration.reason.date"),
            "2023-02-30",
        ]
        assert bad_code[3:] == [t("migration.reason.code"), "[red]BCG"]  # literal, not markup
        assert rows(screen, "runs") == []  # a dry run writes no run
        assert len(screen.query(".migration-bar")) == 2  # a bar per file

        # Turn the dry run off by keyboard (source → layout → switch), then import.
        await pilot.press("tab", "tab", "space")
        assert screen.query_one("#dry-run", Checkbox).value is False
        assert screen.check_action("run", ("load",)) is True
        await pilot.press("f7")
        await settle(pilot)
        text = summary(screen)
        assert "移行 1 の投入結果（投入完了（問題あり））" in text
        assert "読込 8 件、投入 6 件、既存のため省略 0 件、問題 2 件" in text
        assert [row[3] for row in rows(screen, "issues")] == [
            t("migration.reason.date"),
            t("migration.reason.code"),
        ]
        [run] = rows(screen, "runs")
        assert run[:3] == ["1", "投入完了（問題あり）", "mig1"]
        assert run[4] == "6"
        assert run[5] == str(source)
        assert screen.query_one("#dry-run", Checkbox).value is True  # armed again

        # Reconcile: the two records not loaded make the vaccinations' row counts differ.
        await pilot.press("f8")
        await settle(pilot)
        text = summary(screen)
        assert "照合結果：相違あり" in text
        assert "接種記録：移行元 5 件、ストア 3 件" in text
        assert "住民：移行元 3 件、ストア 3 件" in text
        assert ["接種記録", "件数", "5", "3"] in rows(screen, "differences")
        assert not screen.query_one("#issues", RecordTable).display
        assert message(app) == ""

    assert count(sessions, "residents") == 3
    assert count(sessions, "vaccinations") == 3
    [(stored, _)] = MigrationService(sessions.login("mig1").ctx).runs()
    assert (stored.status, stored.started_by) == (RunStatus.LOADED_WITH_ERRORS, "mig1")


async def test_bad_input_is_named_inline(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = legacy_source(tmp_path / "legacy")
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "layout.toml"
    broken.write_text("[[files]\ntable = 'residents'\n", "utf-8")
    app = make_app(store_path, language="en")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_migration(pilot)
        await pilot.press("f6")
        await settle(pilot)
        assert message(app) == "Enter the Source."
        assert screen.outcome is None

        missing = tmp_path / "nowhere"
        await enter_source(pilot, screen, "nowhere")
        await pilot.press("enter")  # Enter in a field is the dry run
        await settle(pilot)
        assert message(app).startswith("Source: ")
        assert str(missing) in message(app)
        assert screen.query_one("#source", Input).has_focus

        screen.query_one("#source", Input).value = str(source)
        screen.query_one("#layout", Input).value = str(broken)
        await pilot.press("f6")
        await settle(pilot)
        assert message(app).startswith("Layout file: ")
        assert screen.query_one("#layout", Input).has_focus
        assert summary(screen).strip() == ""
        assert isinstance(app.screen, MigrationScreen)
        assert screen.running is None


async def test_an_operator_has_no_migration_entry(store_path: Path, sessions: Sessions) -> None:
    app: SesshuApp = make_app(store_path)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "op1", PASSWORD)
        menu = app.screen
        assert isinstance(menu, MainMenuScreen)
        assert "migration" not in menu.menu_ids()
        assert "search" in menu.menu_ids()
    # The approving supervisor does not import either: the entry needs MIGRATION_RUN.
    for user, wanted in (("sup1", False), ("mig1", True)):
        session = sessions.login(user).ctx.session
        assert any(e.id == "migration" for e in entries_for(session)) is wanted


def tick(file: str, records: int, estimated: int = 100) -> Tick:
    return Tick(file, "residents", records, estimated, records, 0)


def test_the_pacer_passes_each_files_first_and_last_tick() -> None:
    sent: list[tuple[str, int, float]] = []
    now = [0.0]
    pacer = TickPacer(lambda t, at: sent.append((t.file, t.records, at)), 1.0, lambda: now[0])
    for records in (10, 20, 30):
        pacer(tick("a.csv", records))
    now[0] = 1.5
    pacer(tick("a.csv", 40))
    now[0] = 1.7
    pacer(tick("a.csv", 50))
    now[0] = 1.9
    pacer(tick("b.csv", 5))  # the pending 50 of a.csv goes first, with the time it was made
    pacer(tick("b.csv", 100))  # complete: passes at once
    pacer(tick("c.csv", 1))
    pacer(tick("c.csv", 2))
    pacer.flush()
    assert sent == [
        ("a.csv", 10, 0.0),
        ("a.csv", 40, 1.5),
        ("a.csv", 50, 1.7),
        ("b.csv", 5, 1.9),
        ("b.csv", 100, 1.9),
        ("c.csv", 1, 1.9),
        ("c.csv", 2, 1.9),
    ]


def test_the_pace_line_shows_rate_and_time_left() -> None:
    pace = Pace(started=100.0)
    rate, left = pace.update(tick("a.csv", 500, 2000), 102.0)
    assert (rate, left) == (250.0, 6.0)
    rate, left = pace.update(tick("b.csv", 100, 1000), 103.0)  # b started when a's last came
    assert (rate, left) == (100.0, 9.0)
    line = pace_text(catalogue("en"), tick("b.[x].csv", 1500, 3000), 1234.4, 3725.0)
    assert line == "b.[x].csv: 1,500 / ~3,000 records  1,234 rows/s  ETA 01:02:05  problems 0"

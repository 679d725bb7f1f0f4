"""Slip batches in the TUI: register, key twice blind, reconcile, commit — as people would."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static

from core.ports import AuditFilter
from core.services.batches import BatchService
from tests.conftest import PASSWORD, Sessions
from tests.people import CHILD
from tests.services.batching import (
    INSTITUTION,
    PHYSICIAN,
    flu,
    key_both,
    new_batch,
    service,
    slip,
)
from tests.tui.conftest import log_in, make_app, message, settle, type_text
from tui.app import SesshuApp
from tui.screens.batch_summary import BatchSummaryScreen
from tui.screens.batches import BatchListScreen
from tui.screens.keying import KeyingScreen
from tui.screens.login import LoginScreen
from tui.screens.menu import MainMenuScreen
from tui.screens.person_pick import PersonPickScreen
from tui.screens.reconcile import ReconcileScreen
from tui.slip_form import FORM

SnapCompare = Callable[..., bool]
SIZE = (120, 34)
SECRET_LOT = "ZQ7781X"  # keyed in pass 1 only: must never reach the pass-2 screen
FIRST = {
    "slip": "1",
    "atena": CHILD.atena,
    "dose": "1",
    "date": "R1.7.10",
    "lot": SECRET_LOT,
    "maker": "PFIZER",
    "institution": INSTITUTION,
    "physician": PHYSICIAN,
}
SECOND = {**FIRST, "slip": "2", "dose": "2", "date": "2019-08-20", "lot": "AB1234"}


async def open_batches(pilot: Pilot[None], user: str) -> BatchListScreen:
    await log_in(pilot, user, PASSWORD)
    screen = pilot.app.screen
    assert isinstance(screen, MainMenuScreen)
    screen.query_one("#menu", OptionList).highlighted = screen.menu_ids().index("batches")
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, BatchListScreen)
    return pilot.app.screen


async def key_slip(pilot: Pilot[None], values: Mapping[str, str]) -> None:
    """Type a slip from the slip-number field on, Enter after each field (Enter saves last)."""
    for name in FORM:
        value = values.get(name, "")
        if name == "date_unknown":
            if value:
                await pilot.press("space")
        elif value:
            await type_text(pilot, value)
        await pilot.press("enter")
    await settle(pilot)


async def log_out(pilot: Pilot[None]) -> None:
    while not isinstance(pilot.app.screen, MainMenuScreen):
        await pilot.press("escape")
        await settle(pilot)
    await pilot.press("f12")
    await settle(pilot)
    assert isinstance(pilot.app.screen, LoginScreen)


def current(app: SesshuApp) -> Screen[object]:
    """The active screen, read afresh (not narrowed by an earlier isinstance check)."""
    return app.screen


def screen_text(app: SesshuApp) -> str:
    """Everything the keyer can see: the rendered screen, field values and notifications."""
    console = Console(width=app.size.width, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    values = [w.value for w in app.screen.query(Input)]
    values += [w._suggestion for w in app.screen.query(Input)]
    notes = [n.message for n in app._notifications]
    return "\n".join([console.export_text(), *values, *notes])


def audit_trail(people: Sessions, batch: int) -> list[tuple[str | None, str]]:
    with people.login("aud1").store.reader() as uow:
        trail = uow.audit.find(AuditFilter(target=f"batch:{batch}", limit=200))
    return [(r.user, r.action) for r in trail]


async def test_three_people_key_reconcile_and_commit(people_path: Path, people: Sessions) -> None:
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        # op1 registers the batch and keys pass 1.
        await open_batches(pilot, "op1")
        await pilot.press("n")
        for text in ("さくら小児科", "R8.11.20", "2", "PCV"):
            await type_text(pilot, text)
            await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BatchListScreen)
        await pilot.press("1")
        await settle(pilot)
        keying = app.screen
        assert isinstance(keying, KeyingScreen)
        assert keying.query_one("#k-vaccine", Input).value == "PCV"
        await key_slip(pilot, FIRST)
        await key_slip(pilot, SECOND)
        assert "2枚入力済み" in str(keying.query_one("#keying-progress", Static).render())
        assert keying.query_one("#k-slip", Input).has_focus
        await log_out(pilot)

        # op2 keys pass 2 blind, in another order, with one field read differently.
        await open_batches(pilot, "op2")
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, KeyingScreen)
        await key_slip(pilot, SECOND)
        await key_slip(pilot, {**FIRST, "lot": "ZQ7787X"})
        assert SECRET_LOT not in screen_text(app)
        await log_out(pilot)

        # ver1, who keyed neither pass, takes pass 1's lot with a reason and commits.
        await open_batches(pilot, "ver1")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(current(app), BatchSummaryScreen)
        await pilot.press("r")
        await settle(pilot)
        reconcile = current(app)
        assert isinstance(reconcile, ReconcileScreen)
        assert [(m.slip, m.field, m.pass1, m.pass2) for m in reconcile.open] == [
            ("1", "lot", SECRET_LOT, "ZQ7787X")
        ]
        assert SECRET_LOT in screen_text(app)
        await pilot.press("a")
        await type_text(pilot, "原本はZQ7781X")
        await pilot.press("enter")
        await settle(pilot)
        assert reconcile.open == []
        assert "未解消の不一致はありません" in message(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(current(app), BatchSummaryScreen)
        await pilot.press("c")
        await pilot.click("#yes")
        await settle(pilot)
        assert "2枚を記録に登録しました" in message(app)
        await log_out(pilot)

    with people.login("op1").store.reader() as uow:
        records = {
            r.source: (r.dose, r.lot, r.status.value)
            for r in uow.residents.vaccinations(CHILD.atena)
            if r.source.startswith("batch:1:")
        }
    assert records == {
        "batch:1:1": (1, SECRET_LOT, "verified"),
        "batch:1:2": (2, "AB1234", "verified"),
    }
    trail = audit_trail(people, 1)
    for step in (
        ("op1", "batch.created"),
        ("op1", "batch.slips_keyed"),
        ("op2", "batch.slips_keyed"),
        ("ver1", "batch.compared"),
        ("ver1", "batch.slip_resolved"),
        ("ver1", "batch.committed"),
    ):
        assert step in trail


async def test_the_first_keyer_is_refused_the_second_pass(
    people_path: Path, people: Sessions
) -> None:
    batch = new_batch(people, 2)
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_batches(pilot, "op1")
        await pilot.press("2")  # allowed while pass 1 is empty
        await settle(pilot)
        keying = app.screen
        assert isinstance(keying, KeyingScreen)
        service(people, "op1").key(batch, 1, slip(1))  # e.g. through the CLI meanwhile
        await key_slip(pilot, {**FIRST, "slip": "2", "date": "2019-07-10"})
        assert "両方を入力することはできません" in message(app)
        assert keying.query_one("#k-slip", Input).value == "2"  # the slip stays on screen
        await pilot.press("escape")
        await pilot.click("#yes")
        await settle(pilot)
        assert isinstance(current(app), BatchListScreen)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(current(app), BatchListScreen)
        assert "両方を入力することはできません" in message(app)
    assert service(people, "op2").progress(batch, 2).keyed == 0
    refusals = [step for step in audit_trail(people, batch) if step[1] == "batch.refused"]
    assert refusals == [("op1", "batch.refused"), ("op1", "batch.refused")]


async def test_the_second_pass_screen_never_shows_the_first(
    people_path: Path, people: Sessions
) -> None:
    batch = new_batch(people, 2)
    first = service(people, "op1")
    first.key(batch, 1, slip(1, lot=SECRET_LOT, physician="秘密 医師", note="PASS1NOTE"))
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_batches(pilot, "op2")
        await pilot.press("2")
        await settle(pilot)
        keying = app.screen
        assert isinstance(keying, KeyingScreen)
        shown = screen_text(app)
        assert "0枚入力済み" in shown
        for name in FORM[:-1]:  # every field visited, none saved
            value = {"slip": "1", "atena": CHILD.atena, "lot": "ZQ", "physician": "秘"}.get(name)
            if value:
                await type_text(pilot, value)
            await pilot.press("enter")
            await settle(pilot)
            shown = screen_text(app)
            for secret in (SECRET_LOT, "秘密 医師", "PASS1NOTE"):
                assert secret not in shown, (name, secret)
        assert keying.query_one("#k-lot", Input).value == "ZQ"
        await pilot.press("f2")
        await settle(pilot)
        shown = screen_text(app)
        for secret in (SECRET_LOT, "秘密 医師", "PASS1NOTE"):
            assert secret not in shown
        await pilot.press("escape")
        await pilot.click("#yes")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, BatchSummaryScreen)
        overview = str(app.screen.query_one("#batch-overview", Static).render())
        assert "1回目 （表示しません）" in overview
        assert "照合結果を表示しません" in overview


async def test_enter_moves_on_and_the_form_helps_the_keyer(
    people_path: Path, people: Sessions
) -> None:
    batch = new_batch(people, 3)
    service(people, "op1").key(batch, 1, slip(7, lot="OWN777"))
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_batches(pilot, "op1")
        await pilot.press("1")
        await settle(pilot)
        keying = app.screen
        assert isinstance(keying, KeyingScreen)
        order = [f"k-{name}" for name in FORM]
        assert app.focused is not None
        assert app.focused.id == order[0]
        await type_text(pilot, "9")
        for expected in order[1:]:
            await pilot.press("enter")
            assert app.focused is not None
            assert app.focused.id == expected
        await settle(pilot)

        def note(name: str) -> str:
            return str(keying.query_one(f"#m-{name}", Static).render())

        keying.query_one("#k-atena", Input).focus()
        await type_text(pilot, "1999999999")
        await pilot.press("enter")
        await settle(pilot)
        assert "✖" in note("atena")
        assert "登録されていません" in note("atena")
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, PersonPickScreen)
        app.screen.query_one("#atena", Input).focus()
        await type_text(pilot, CHILD.atena)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert current(app) is keying
        assert keying.query_one("#k-atena", Input).value == CHILD.atena
        assert CHILD.name in note("atena")
        assert "令和元年5月1日（2019-05-01）" in note("atena")
        keying.query_one("#k-vaccine", Input).focus()
        await type_text(pilot, "MR2")
        keying.query_one("#k-date", Input).focus()
        await type_text(pilot, "R5.4.1")
        keying.query_one("#k-dose", Input).focus()
        await settle(pilot)
        assert "⚠" in note("vaccine")  # a warning, shown apart from errors
        assert "✖" not in note("vaccine")

        keying.query_one("#k-slip", Input).focus()
        await type_text(pilot, "007")
        await pilot.press("enter")
        await settle(pilot)
        assert keying.query_one("#k-lot", Input).value == "OWN777"
        assert "入力済み" in message(app)


async def test_a_keyer_of_the_batch_is_refused_reconciliation(
    people_path: Path, people: Sessions
) -> None:
    batch = new_batch(people, 1)
    service(people, "op1").key(batch, 1, slip(1, lot="AB1111"))
    service(people, "ver1").key(batch, 2, slip(1, lot="AB2222"))
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_batches(pilot, "ver1")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        reconcile = current(app)
        assert isinstance(reconcile, ReconcileScreen)
        assert "このバッチを入力した人は照合できません" in message(app)
        assert reconcile.open == []
        assert "AB1111" not in screen_text(app)
        await pilot.press("a")
        await settle(pilot)
        assert current(app) is reconcile  # nothing to take, no reason asked


async def test_a_supervisor_overrides_the_count_and_decides_a_duplicate(
    people_path: Path, people: Sessions
) -> None:
    earlier = new_batch(people, 1)
    key_both(people, earlier, [flu(1, "2025-10-15")])
    service(people, "ver1").commit(earlier)
    batch = new_batch(people, 3)
    key_both(people, batch, [flu(1, "2025-10-15"), flu(2, "2024-10-20")])
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_batches(pilot, "sup1")
        list_screen = current(app)
        assert isinstance(list_screen, BatchListScreen)
        assert not list_screen.check_action("new", ())  # a supervisor does not key
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(current(app), BatchSummaryScreen)
        await pilot.press("c")
        await pilot.click("#yes")
        await settle(pilot)
        await type_text(pilot, "1枚は書き損じ")
        await pilot.press("enter")
        await settle(pilot)
        assert "1枚を記録に登録しました（重複で保留 1枚" in message(app)
        await pilot.press("d")
        await pilot.click("#accept")
        await type_text(pilot, "別の接種と確認")
        await pilot.press("enter")
        await settle(pilot)
        assert "伝票1を記録に登録しました" in message(app)
    with people.login("aud1").store.reader() as uow:
        committed = uow.batches.get(batch)
        outcomes = {o.slip: o.outcome for o in uow.batches.outcomes(batch)}
    assert committed is not None
    assert committed.override_reason == "1枚は書き損じ"
    assert outcomes == {"1": "committed", "2": "committed"}
    trail = audit_trail(people, batch)
    assert ("sup1", "batch.committed") in trail
    assert ("sup1", "batch.duplicate_decided") in trail


def test_keying_form_snapshot(snap_compare: SnapCompare, people_path: Path) -> None:
    sessions = Sessions(people_path)
    try:
        BatchService(sessions.login("op1").ctx).create(
            "さくら小児科", "R8.11.20", 2, expected_vaccine="PCV"
        )
    finally:
        sessions.close()

    async def keying_open(pilot: Pilot[None]) -> None:
        await open_batches(pilot, "op1")
        await pilot.press("1")
        await settle(pilot)

    assert snap_compare(make_app(people_path), terminal_size=SIZE, run_before=keying_open)

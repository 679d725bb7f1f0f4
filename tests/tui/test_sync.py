"""Sync in the TUI: the status line, sync now / auto sync, and the supervisor's conflict inbox.

The service is the real one over the test store; only the central system is the in-memory
fake of the sync tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from core.changes import ChangeRequest
from core.clock import JST, FixedClock, timestamp
from core.errors import RuleViolation
from core.i18n import catalogue
from core.services.changes import ChangeService
from core.services.sync import SyncService
from core.sync import Conflict, EntryKind
from tests.conftest import PASSWORD, Sessions
from tests.people import CHILD, PEOPLE
from tests.sync.conftest import outbox
from tests.sync.fake_central import FakeCentral
from tests.tui.conftest import log_in, settle, type_text
from tests.tui.test_changes import notes, shown
from tui.app import SesshuApp
from tui.record_table import RecordTable
from tui.screens.conflicts import ConflictsScreen, DecideModal
from tui.screens.menu import MainMenuScreen
from tui.sync_status import SyncFactory, SyncStatusBar

SIZE = (130, 44)
CENTRAL_URL = "https://central.test:8443"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=JST)
SnapCompare = Callable[..., bool]


def factory(central: FakeCentral) -> SyncFactory:
    return lambda ctx, connect: nullcontext(SyncService(ctx, central if connect else None))


def make_app(
    path: Path,
    central: FakeCentral | None = None,
    *,
    language: str = "ja",
    clock: FixedClock | None = None,
    interval: float | None = None,
) -> SesshuApp:
    return SesshuApp(
        path,
        "en" if language == "en" else "ja",
        clock=clock,
        sync_interval_seconds=interval,
        sync_factory=factory(central or FakeCentral()),
    )


def enroll(people: Sessions, **state: str) -> None:
    with people.login("adm1").store.transaction() as uow:
        uow.sync.put_state({"central": CENTRAL_URL, **state})


def bar_text(app: SesshuApp) -> str:
    bars = list(app.screen.query(SyncStatusBar))
    assert len(bars) == 1
    return str(bars[0].render())


def top(app: SesshuApp) -> object:
    return app.screen


def pending(people: Sessions) -> int:
    return sum(1 for row in outbox(people.login("adm1").store) if row["status"] == "pending")


def child_record(people: Sessions) -> tuple[int, int]:
    row = (
        people.login("adm1")
        .store.conn.execute(
            "SELECT id, version FROM vaccinations WHERE atena = ? AND status = 'verified' "
            "ORDER BY id LIMIT 1",
            (CHILD.atena,),
        )
        .fetchone()
    )
    return int(row[0]), int(row[1])


def conflicting_correction(people: Sessions, confirmer: str) -> tuple[FakeCentral, str]:
    """After a first sync, op1 corrects a lot number here and ``confirmer`` confirms it;
    centrally the record has moved on meanwhile, so the next push is a conflict."""
    central = FakeCentral()
    SyncService(people.login("adm1").ctx, central).run()
    store = people.login("adm1").store
    record, _ = child_record(people)
    before = max((row["seq"] for row in outbox(store)), default=0)
    change = ChangeService(people.login("op1").ctx).propose(
        ChangeRequest(
            kind="record.correct",
            atena=CHILD.atena,
            record=record,
            values={"lot": "LOT-LOCAL"},
            evidence="counter",
            id_document="passport",
            reason="原本と相違",
        )
    )
    ChangeService(people.login(confirmer).ctx).confirm(change.id)
    [entry] = [row for row in outbox(store, before) if row["kind"] == "record"]
    theirs = {**entry["data"], "lot": "LOT-CENTRAL", "note": "他端末で修正"}
    central.entities[("record", entry["key"])] = (entry["version"] + 5, theirs)
    return central, entry["key"]


async def open_entry(pilot: Pilot[None], entry: str) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, MainMenuScreen)
    screen.query_one("#menu", OptionList).highlighted = screen.menu_ids().index(entry)
    await pilot.press("enter")
    await settle(pilot)


async def test_the_bar_shows_an_unenrolled_terminal_and_its_pending_entries(
    people_path: Path, people: Sessions
) -> None:
    waiting = pending(people)
    app = make_app(people_path)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "op1", PASSWORD)
        text = bar_text(app)
        assert "未登録" in text
        assert "最終: 未実施" in text
        assert f"未送信: {waiting}" in text
        assert "競合: 0" in text
        await open_entry(pilot, "sync_now")
        assert any("登録されていません" in n for n in notes(app))
        assert isinstance(app.screen, MainMenuScreen)


async def test_the_bar_marks_a_terminal_not_synced_for_a_day_as_stale(
    people_path: Path, people: Sessions
) -> None:
    enroll(people, last_sync_at=timestamp(NOW - timedelta(hours=25)))
    clock = FixedClock(NOW)
    app = make_app(people_path, language="en", clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "op1", PASSWORD)
        text = bar_text(app)
        assert "STALE" in text
        assert "NOT ENROLLED" not in text
        assert "last: 2026-11-23 09:00" in text
        clock.advance(-timedelta(hours=23))
        app.sync.show()
        assert "STALE" not in bar_text(app)


async def test_a_media_only_terminal_is_marked_and_never_synced_over_the_network(
    people_path: Path, people: Sessions
) -> None:
    enroll(people, central="offline")
    central = FakeCentral()
    app = make_app(people_path, central, interval=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "op1", PASSWORD)
        assert "媒体で同期" in bar_text(app)
        assert "未登録" not in bar_text(app)
        await pilot.press("ctrl+r")
        await settle(pilot)
        for _ in range(5):
            await pilot.pause(0.1)
        assert any("媒体でのみ同期" in n for n in notes(app))
    assert central.pushes == 0


async def test_sync_now_pushes_and_an_unreachable_central_shows_in_the_bar(
    people_path: Path, people: Sessions
) -> None:
    enroll(people)
    central = FakeCentral(fail_push=True)
    waiting = pending(people)
    assert waiting > 0
    app = make_app(people_path, central, interval=0.4)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "op1", PASSWORD)
        await pilot.press("ctrl+r")
        await settle(pilot)
        unreachable = catalogue("ja").error(RuleViolation("sync.unreachable"))
        text = bar_text(app)
        assert re.search(r"エラー \d+件", text)
        assert unreachable in text
        shown_pending = re.search(r"未送信: (\d+)", text)
        assert shown_pending is not None
        assert int(shown_pending[1]) >= waiting  # each run adds an audit checkpoint
        assert isinstance(app.screen, MainMenuScreen)  # shown in the bar, not as a modal
        # The next automatic attempt retries and clears the error.
        central.fail_push = False
        for _ in range(40):
            await pilot.pause(0.1)
            await settle(pilot)
            if "未送信: 0" in bar_text(app):
                break
        text = bar_text(app)
        assert "未送信: 0" in text
        assert "エラー" not in text
        assert "未実施" not in text
    assert any(kind == "record" for kind, _ in central.entities)


async def test_an_operator_may_sync_but_has_no_conflict_inbox(people_path: Path) -> None:
    seen = {}
    for user in ("op1", "sup1", "aud1"):
        app = make_app(people_path)
        async with app.run_test(size=SIZE) as pilot:
            await log_in(pilot, user, PASSWORD)
            assert isinstance(app.screen, MainMenuScreen)
            ids = app.screen.menu_ids()
            seen[user] = ("conflicts" in ids, "sync_now" in ids, app.check_action("sync_now", ()))
            assert len(app.screen.query(SyncStatusBar)) == 1
    assert seen == {
        "op1": (False, True, True),
        "sup1": (True, True, True),
        "aud1": (False, False, False),
    }


async def test_a_supervisor_sees_the_diff_and_takes_the_central_version(
    people_path: Path, people: Sessions
) -> None:
    enroll(people)
    central, key = conflicting_correction(people, confirmer="ver1")
    app = make_app(people_path, central)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "sup1", PASSWORD)
        assert "未送信: 0" not in bar_text(app)
        await open_entry(pilot, "conflicts")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        table = screen.query_one("#conflicts", RecordTable)
        assert table.row_count == 0
        assert "判断待ちの競合はありません" in shown(screen.query_one("#detail", Static))
        await pilot.press("ctrl+r")  # sync now, from the inbox: it reloads with the conflict
        await settle(pilot)
        assert "同期しました: 送信 " in notes(app)[-1]
        assert notes(app)[-1].endswith("競合 1件")
        assert "競合: 1" in bar_text(app)
        assert table.row_count == 1
        row = table.row_text(0)
        assert row[1:3] == ["接種記録", key]
        assert row[4] == "ver1"
        assert row[6] == "2"  # lot and note differ
        detail = shown(screen.query_one("#detail", Static))
        lot_line = next(line for line in detail.splitlines() if "ロット番号" in line)
        assert "LOT-LOCAL" in lot_line
        assert "LOT-CENTRAL" in lot_line
        assert "≠" in lot_line
        assert "他端末で修正" in detail
        assert "ver1" in detail
        assert screen.check_action("decide", ("central",)) is True
        await pilot.press("c")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, DecideModal)
        await pilot.press("enter")
        assert app.screen is modal  # a reason is required
        assert "理由を入力してください" in str(modal.query_one("#message", Static).render())
        await type_text(pilot, "中央の修正が正しい")
        await pilot.press("enter")
        await settle(pilot)
        assert top(app) is screen
        assert any("競合 #1 を判断しました（中央の内容を採用）" in n for n in notes(app))
        assert table.row_count == 0
        assert "競合: 0" in bar_text(app)
    sup = SyncService(people.login("sup1").ctx, None)
    [decided] = sup.conflicts(None)
    assert (decided.status, decided.choice, decided.decided_by) == ("decided", "central", "sup1")
    record, _ = child_record(people)
    lot = people.login("adm1").store.conn.execute(
        "SELECT lot FROM vaccinations WHERE id = ?", (record,)
    )
    assert lot.fetchone()[0] == "LOT-CENTRAL"


async def test_the_maker_of_the_change_is_refused(people_path: Path, people: Sessions) -> None:
    enroll(people)
    central, _ = conflicting_correction(people, confirmer="sup1")
    SyncService(people.login("sup1").ctx, central).run()
    app = make_app(people_path, central, language="en")
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "sup1", PASSWORD)
        await open_entry(pilot, "conflicts")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        assert screen.query_one("#conflicts", RecordTable).row_count == 1
        assert screen.check_action("decide", ("local",)) is None
        assert "your own change" in shown(screen.query_one("#detail", Static))
        # Past the disabled binding, straight to the action: the service still refuses.
        screen.action_decide("local")
        await settle(pilot)
        assert isinstance(app.screen, DecideModal)
        await type_text(pilot, "mine")
        await pilot.press("enter")
        await settle(pilot)
        refusal = catalogue("en").error(RuleViolation("sync.conflict_own_change", conflict=1))
        assert refusal in notes(app)
        assert refusal in str(screen.query_one("#message", Static).render())
        assert screen.query_one("#conflicts", RecordTable).row_count == 1
    assert SyncService(people.login("ver1").ctx, None).status().conflicts == 1


def inbox_conflicts() -> list[Conflict]:
    tricky = PEOPLE[12]  # O'Brien [red]Jr;[/]
    base = {
        "atena": tricky.atena,
        "name": tricky.name,
        "kana": tricky.kana,
        "birth": tricky.birth.isoformat(),
        "sex": tricky.sex,
        "status": "resident",
        "mynumber": None,
        "dv_flag": 0,
    }
    return [
        Conflict(
            id=7,
            kind=EntryKind.RESIDENT,
            key=tricky.atena,
            base_version=2,
            server_version=4,
            server_data={**base, "address": "[bold]桜台３丁目４番５号;", "postal": "100-0001"},
            client_data={**base, "address": "緑町1番 [b]2号", "postal": "100-0002"},
            client_user="ver1",
            terminal="T-TEST",
            opened_at=timestamp(NOW - timedelta(hours=3)),
        ),
        Conflict(
            id=8,
            kind=EntryKind.RESIDENT,
            key=PEOPLE[0].atena,
            base_version=1,
            server_version=2,
            server_data={
                **base,
                "atena": PEOPLE[0].atena,
                "name": "山田　太郎",
                "address": "桜台二丁目",
                "dv_flag": 1,
            },
            client_data={
                **base,
                "atena": PEOPLE[0].atena,
                "name": "山田　太朗",
                "address": "桜台三丁目",
            },
            client_user="sup1",
            terminal="T-TEST",
            opened_at=timestamp(NOW - timedelta(hours=1)),
        ),
    ]


def test_the_inbox_detail_snapshot(
    snap_compare: SnapCompare, people_path: Path, people: Sessions
) -> None:
    enroll(people, last_sync_at=timestamp(NOW - timedelta(minutes=5)))
    with people.login("adm1").store.transaction() as uow:
        uow.sync.save_conflicts(inbox_conflicts())
    people.close()

    async def inbox(pilot: Pilot[None]) -> None:
        await log_in(pilot, "sup1", PASSWORD)
        await open_entry(pilot, "conflicts")

    app = make_app(people_path, clock=FixedClock(NOW))
    assert snap_compare(app, terminal_size=(120, 36), run_before=inbox)


async def test_user_text_is_literal_and_protected_fields_are_withheld(
    people_path: Path, people: Sessions
) -> None:
    enroll(people)
    with people.login("adm1").store.transaction() as uow:
        uow.sync.save_conflicts(inbox_conflicts())
    app = make_app(people_path, clock=FixedClock(NOW))
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "sup1", PASSWORD)
        await open_entry(pilot, "conflicts")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        detail = shown(screen.query_one("#detail", Static))
        assert "O'Brien [red]Jr;[/]" in detail
        assert "[bold]桜台３丁目４番５号;" in detail
        assert "緑町1番 [b]2号" in detail
        await pilot.press("down")
        await pilot.pause()
        detail = shown(screen.query_one("#detail", Static))
        assert "山田　太朗" in detail
        assert "桜台" not in detail  # 支援措置 on the central side: no address at all
        assert "（非表示）" in detail
        assert screen.check_action("decide", ("local",)) is None  # sup1's own change

"""Keying latency in the TUI with Pilot: from Enter in a slip field to the next field ready.

"Ready" means the next field has the focus and the screen has been repainted after it
(call_after_refresh), which is when the operator can type again. Enter on the last field saves
the slip and clears the form; that is measured separately (Enter → slip number field ready).
The live checks that run when a field is left are thread workers: the measurement includes
whatever they cost the UI thread.

.venv/bin/python -m bench.keying_latency --store /path/city.db [--slips 30]

The store is copied first (keying writes batch rows); the copy is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from textual.widgets import Input

from bench.batches import copy_store, in_use
from bench.common import login, percentiles, record
from bench.tui_common import pilot_login
from core.services.batches import BatchService
from tui.app import SesshuApp
from tui.screens.keying import KeyingScreen
from tui.slip_form import FORM

SIZE = (120, 40)


def slips(store_path: Path, count: int, seed: int) -> list[dict[str, str]]:
    """Influenza slips for random residents aged 65 or more, with the store's own masters."""
    _, store = login(store_path, "op1")
    try:
        rng = random.Random(seed)
        atenas = [
            row[0]
            for row in store.conn.execute(
                "SELECT atena FROM residents WHERE birth < '1955-01-01' AND status = 'resident' "
                "LIMIT 5000"
            )
        ]
        institution, physician = store.conn.execute(
            "SELECT institution, code FROM physicians LIMIT 1"
        ).fetchone()
    finally:
        store.close()
    return [
        {
            "slip": str(n),
            "atena": rng.choice(atenas),
            "vaccine": "FLU",
            "dose": "1",
            "date": f"R8.10.{rng.randint(1, 31)}",
            "lot": f"HA{rng.randint(100, 999)}",
            "maker": "BIKEN",
            "institution": institution,
            "physician": physician,
        }
        for n in range(1, count + 1)
    ]


async def measure(store_path: Path, work: list[dict[str, str]]) -> dict[str, list[float]]:
    app = SesshuApp(store_path, "ja", idle_lock_seconds=3600)
    fields: list[float] = []
    saves: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot_login(app, pilot, "op1")
        if app.ctx is None:
            raise RuntimeError("no session after login")
        service = BatchService(app.ctx)
        batch = service.create("医師会 ベンチ", "R8.11.20", len(work), "FLU")
        screen = KeyingScreen(service, service.begin_pass(batch.id, 1))
        await app.push_screen(screen)
        await pilot.pause()
        for slip in work:
            for name in FORM:
                widget = screen.focused
                if isinstance(widget, Input) and name in slip:
                    widget.value = slip[name]
                await pilot.pause()
                last = name == FORM[-1]
                elapsed = await _enter_until_ready(app, pilot, screen, widget, last)
                (saves if last else fields).append(elapsed)
    return {"fields": fields, "saves": saves}


async def _enter_until_ready(
    app: SesshuApp, pilot: object, screen: KeyingScreen, before: object, saving: bool
) -> float:
    painted = asyncio.Event()
    marks: list[float] = []

    def mark() -> None:
        marks.append(time.perf_counter())
        painted.set()

    start = time.perf_counter()
    press = asyncio.create_task(pilot.press("enter"))  # type: ignore[attr-defined]
    first = screen.query_one("#k-slip", Input)
    for _ in range(100_000):
        focused = screen.focused
        ready = (
            focused is first and first.value == "" and not screen.saving
            if saving
            else focused is not before
        )
        if ready:
            break
        await asyncio.sleep(0)
    else:
        raise RuntimeError("the next field never became ready")
    app.call_after_refresh(mark)
    await painted.wait()
    await press
    return (marks[-1] - start) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--slips", type=int, default=30)
    args = parser.parse_args(argv)
    if in_use(args.store):
        raise SystemExit("the store is open elsewhere; close it first")
    with tempfile.TemporaryDirectory(dir=args.store.parent) as scratch:
        copy = copy_store(args.store, Path(scratch))
        work = slips(copy, args.slips, seed=7)
        samples = asyncio.run(measure(copy, work))
    record(
        "keying_latency",
        {
            "benchmark": "tui_keying_enter_to_next_field",
            "fields": percentiles(samples["fields"][len(FORM) :]),  # the first slip warms up
            "save_enter_to_next_slip": percentiles(samples["saves"][1:]),
            "target_p95_ms": 30,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""TUI latency with Pilot: from Enter in the search form to the results painted.

The end mark is taken after the screen refresh that follows the results (call_after_refresh),
not when Pilot's ``press`` returns: Pilot also waits for the whole app to go idle.

.venv/bin/python -m bench.tui_latency --store /path/city.db [--queries 60]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

from textual.widgets import Input

from bench.common import login, percentiles, record
from bench.tui_common import pilot_login
from tui.app import SesshuApp
from tui.screens.search import SearchScreen


def kana_queries(store_path: Path, count: int, seed: int) -> list[str]:
    _, store = login(store_path, "op1")
    try:
        rng = random.Random(seed)
        total = store.conn.execute("SELECT max(id) FROM residents").fetchone()[0]
        return [
            store.conn.execute(
                "SELECT kana FROM residents WHERE id = ?", (rng.randint(1, total),)
            ).fetchone()[0][:3]
            for _ in range(count)
        ]
    finally:
        store.close()


async def measure(store_path: Path, queries: list[str]) -> list[float]:
    app = SesshuApp(store_path, "ja", idle_lock_seconds=3600)
    samples: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot_login(app, pilot, "op1")
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        if not isinstance(screen, SearchScreen):
            raise RuntimeError(type(screen).__name__)
        painted = asyncio.Event()
        painted_at: list[float] = []
        original = screen.show_results

        def mark_painted() -> None:
            painted_at.append(time.perf_counter())
            painted.set()

        def show_then_mark(result: object) -> None:
            original(result)  # type: ignore[arg-type]
            app.call_after_refresh(mark_painted)

        screen.show_results = show_then_mark  # type: ignore[method-assign]
        kana = screen.query_one("#kana", Input)
        for query in queries:
            kana.value = query
            kana.focus()
            await pilot.pause()
            painted.clear()
            start = time.perf_counter()
            await pilot.press("enter")
            await painted.wait()
            samples.append((painted_at[-1] - start) * 1000)
    return samples[5:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=65)
    args = parser.parse_args(argv)
    queries = kana_queries(args.store, args.queries, seed=11)
    samples = asyncio.run(measure(args.store, queries))
    record("tui_latency", {"benchmark": "tui_search_enter_to_results", **percentiles(samples)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Helpers for driving the TUI as a person would: keys in, screens and messages out."""

from __future__ import annotations

import time
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Static

from tui.app import SesshuApp


async def settle(pilot: Pilot[None], timeout: float = 20.0) -> None:
    """Let thread workers (Argon2id, store work) finish and the UI catch up.

    A worker that failed is not an error here: the screen's funnel has shown it.
    """
    deadline = time.monotonic() + timeout
    for _ in range(3):
        while any(w.is_running for w in pilot.app.workers) and time.monotonic() < deadline:
            await pilot.pause(0.02)
        await pilot.pause()


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*[("space" if ch == " " else ch) for ch in text])


async def log_in(pilot: Pilot[None], user: str, password: str) -> None:
    app = pilot.app
    name = app.screen.query_one("#name", Input)
    name.focus()
    name.value = ""
    await type_text(pilot, user)
    await pilot.press("enter")
    await type_text(pilot, password)
    await pilot.press("enter")
    await settle(pilot)


def message(app: SesshuApp) -> str:
    return str(app.screen.query_one("#message", Static).render())


def make_app(store: Path, *, language: str = "ja", idle: float | None = None) -> SesshuApp:
    return SesshuApp(store, "en" if language == "en" else "ja", idle_lock_seconds=idle)

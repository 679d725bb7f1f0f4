"""Pilot helpers shared by the TUI benchmarks."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.widgets import Input

from storage.demo_store import DEMO_PASSWORD
from tui.app import SesshuApp


async def pilot_login(app: SesshuApp, pilot: Pilot[None], user: str) -> None:
    """Log in through the login screen and wait until the session is open."""
    await pilot.pause()
    app.screen.query_one("#name", Input).value = user
    password = app.screen.query_one("#password", Input)
    password.value = DEMO_PASSWORD
    password.focus()
    await pilot.press("enter")
    for _ in range(3000):
        if app.session is not None:
            break
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("login did not complete")
    await pilot.pause()

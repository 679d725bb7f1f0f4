"""住民検索 as a picker: Enter on a result hands its 宛名番号 back to the keying form."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from tui.record_table import RecordTable
from tui.screens.search import SearchScreen


class PersonPickScreen(SearchScreen):
    def __init__(self, picked: Callable[[str], None]) -> None:
        super().__init__()
        self._picked = picked

    def on_mount(self) -> None:
        self.query_one(".screen-title", Static).update(self.t("keying.pick_title"))

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.prevent_default()  # choose the person instead of opening the person view
        self.dismiss()
        self._picked(event.key)

"""A fast, keyboard-first table for result lists, built on Textual's line API.

DataTable renders every visible cell through Rich on each repaint (70–100 ms for fifty rows
here); this widget formats each row once into a ``Strip`` and paints only the visible lines.
Cell text is always literal: nothing is parsed as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GAP = 1
HEADER_STYLE = Style(bold=True, underline=True)
CURSOR_STYLE = Style(reverse=True)
CURSOR_BLURRED_STYLE = Style(underline=True)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


@dataclass(frozen=True)
class Row:
    key: str
    cells: Sequence[str | Text]
    style: str = ""


class RecordTable(ScrollView, can_focus=True):
    """Rows of fixed-width columns with a cursor; Enter posts ``RecordTable.Selected``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "edge(0)", show=False),
        Binding("end", "edge(1)", show=False),
        Binding("enter", "select", show=False),
    ]
    DEFAULT_CSS = """
    RecordTable { height: 1fr; }
    """

    cursor: reactive[int] = reactive(0)

    class Selected(Message):
        def __init__(self, table: RecordTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self.rows: list[Row] = []
        self._strips: list[Strip] = []
        self._header = Strip([])

    def on_mount(self) -> None:
        self._header = self._format([c.label for c in self.columns], HEADER_STYLE)

    def _format(self, cells: Sequence[str | Text], style: Style | None = None) -> Strip:
        segments: list[Segment] = []
        console = self.app.console
        for column, cell in zip(self.columns, cells, strict=False):
            text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            text.truncate(column.width, overflow="ellipsis", pad=True)
            if style:
                text.stylize(style)
            segments.extend(text.render(console))
            segments.append(Segment(" " * GAP))
        return Strip(segments)

    @property
    def total_width(self) -> int:
        return sum(c.width + GAP for c in self.columns)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def set_rows(self, rows: Sequence[Row]) -> None:
        self.rows = list(rows)
        self._strips = [
            self._format(r.cells, Style.parse(r.style) if r.style else None) for r in self.rows
        ]
        self.virtual_size = Size(self.total_width, len(self.rows) + 1)
        self.cursor = 0
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def clear(self) -> None:
        self.set_rows([])

    @property
    def cursor_key(self) -> str | None:
        return self.rows[self.cursor].key if self.rows else None

    def row_text(self, index: int) -> list[str]:
        return [c.plain if isinstance(c, Text) else str(c) for c in self.rows[index].cells]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_offset.x)
        if y == 0:
            return self._header.crop(scroll_x, scroll_x + width).extend_cell_length(width)
        index = int(self.scroll_offset.y) + y - 1
        if not 0 <= index < len(self._strips):
            return Strip.blank(width)
        strip = self._strips[index].crop(scroll_x, scroll_x + width).extend_cell_length(width)
        if index == self.cursor:
            strip = strip.apply_style(CURSOR_STYLE if self.has_focus else CURSOR_BLURRED_STYLE)
        return strip

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        visible = max(1, self.size.height - 1)
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + visible:
            self.scroll_to(y=new - visible + 1, animate=False)
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def _move_to(self, index: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, index))

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        self._move_to(len(self.rows) - 1 if end else 0)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.Selected(self, self.rows[self.cursor].key))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < len(self.rows):
            self.cursor = index
            if event.chain >= 2:
                self.action_select()

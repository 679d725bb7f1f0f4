"""メインメニュー: only what the role may do."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.base import SesshuScreen, plain
from tui.menu import entries_for, has_work
from tui.widgets import KeysFooter, top_bar


class MainMenuScreen(SesshuScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f12", "logout", "binding.logout", id="logout"),
        *(
            Binding(
                str(n),
                f"pick({n})",
                "binding.open_numbered",
                show=False,
                key_display="1–9",
                id=f"pick_{n}",
            )
            for n in range(1, 10)
        ),
    ]

    def compose(self) -> ComposeResult:
        t = self.t
        session = self.sesshu.session
        with Vertical(id="menu-box"):
            yield Static(t("menu.title"), classes="screen-title")
            if session is not None:
                roles = "・".join(t(f"role.{r.value}") for r in sorted(session.account.roles))
                yield Static(
                    plain(t("menu.greeting", name=session.account.display_name, roles=roles)),
                    id="greeting",
                )
                if not has_work(session):
                    yield Static(t("menu.nothing"), classes="hint")
                options = [
                    Option(f"{index}. {t(e.label_key)}", id=e.id)
                    for index, e in enumerate(entries_for(session), start=1)
                ]
                yield OptionList(*options, id="menu")
        yield top_bar(self.t, demo=self.sesshu.is_demo)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sesshu.refresh_status()
        self.query_one("#menu", OptionList).focus()

    def on_screen_resume(self) -> None:
        self.sesshu.refresh_status()

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        session = self.sesshu.session
        if session is None:
            return
        for entry in entries_for(session):
            if entry.id == event.option.id:
                if entry.action:
                    await self.app.run_action(entry.action)
                elif entry.screen is not None:
                    self.app.push_screen(entry.screen())
                return

    def action_pick(self, number: int) -> None:
        """The number shown before an entry opens it."""
        menu = self.query_one("#menu", OptionList)
        if 1 <= number <= menu.option_count:
            menu.highlighted = number - 1
            menu.action_select()

    def menu_ids(self) -> list[str]:
        menu = self.query_one("#menu", OptionList)
        return [menu.get_option_at_index(i).id or "" for i in range(menu.option_count)]

    def action_logout(self) -> None:
        self.sesshu.end_session(reason="user")

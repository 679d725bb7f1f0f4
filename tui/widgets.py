"""Small widgets: the status bar and the demo banner."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from core.i18n import Catalogue
from core.services.context import Session


class StatusBar(Static):
    """User, role, terminal, store and sync state, always at the bottom."""

    DEFAULT_CLASSES = "status-bar"

    def show(
        self, t: Catalogue, session: Session | None, terminal: str, store: str, *, demo: bool
    ) -> None:
        parts: list[tuple[str, str]] = []
        if session is not None:
            roles = "+".join(t(f"role.{r.value}") for r in sorted(session.account.roles))
            parts += [(t("status.user"), session.user), (t("status.role"), roles)]
        parts += [
            (t("status.terminal"), terminal),
            (t("status.store"), store),
        ]
        text = Text()
        for label, value in parts:
            text.append(f" {label}: ", style="dim")
            text.append(value)
            text.append(" │")
        if demo:
            text.append(f" {t('status.demo')} ", style="bold reverse")
        self.update(text)


class DemoBanner(Static):
    DEFAULT_CLASSES = "demo-banner"


def top_bar(t: Catalogue, *, demo: bool) -> Vertical:
    """The demo banner (on a demo store) above the status bar, docked at the top together."""
    children: list[Static] = [DemoBanner(t("app.demo_banner"))] if demo else []
    children.append(StatusBar())
    return Vertical(*children, classes="top-bar")


class KeysFooter(Footer):
    """The footer, rebuilt only when the keys it shows change.

    Textual's footer recomposes on every focus change; on a 14-field slip form that rebuild
    (new widgets, styles, layout) was most of the time between Enter and the next field.
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[tuple[str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        shown = tuple(
            (binding.key, binding.description, enabled)
            for (_, binding, enabled, _) in screen.active_bindings.values()
            if binding.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown
        super().bindings_changed(screen)


def set_content(widget: Static, content: str | Text, *, fixed_size: bool = False) -> None:
    """Update a Static only if its content changes; a fixed-size one skips the relayout.

    Every ``Static.update`` reflows the whole screen by default, which on the keying form was
    the other large part of the time between Enter and the next field.
    """
    if widget.content == content:
        return
    widget.update(content, layout=not fixed_size)

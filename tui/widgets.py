"""Small widgets: the status bar and the demo banner."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

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
            (t("status.sync"), t("status.sync_never")),
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

"""What every screen shares: translated bindings, the worker error funnel, safe text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from rich.text import Text
from textual.binding import BindingsMap
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from core.errors import SesshuError
from core.i18n import Catalogue

if TYPE_CHECKING:
    from tui.app import SesshuApp

ResultT = TypeVar("ResultT")


def plain(text: object) -> Text:
    """User data as literal text: ``[``, ``'`` and ``;`` are shown, never parsed as markup."""
    return Text("" if text is None else str(text))


# Textual's own bindings carry English descriptions; these map them into the catalogue.
TEXTUAL_DESCRIPTIONS = {
    "Focus Next": "binding.focus_next",
    "Focus Previous": "binding.focus_previous",
    "Copy selected text": "binding.copy",
    "palette": "binding.palette",
    "Quit": "binding.quit",
}


def localise_bindings(node: DOMNode, t: Catalogue) -> None:
    """Replace message keys in binding descriptions with the catalogue's text.

    Footer, help screen and command palette all read these same bindings.
    """
    node._bindings = BindingsMap.from_keys(
        {
            key: [
                replace(b, description=t(TEXTUAL_DESCRIPTIONS.get(b.description, b.description)))
                if b.description
                else b
                for b in items
            ]
            for key, items in node._bindings.key_to_bindings.items()
        }
    )


class _Funnel:
    """Mixin: failed workers end here, as a message from the catalogue."""

    @property
    def sesshu(self) -> SesshuApp:
        from tui.app import SesshuApp

        app = self.app  # type: ignore[attr-defined]
        if not isinstance(app, SesshuApp):
            raise TypeError(type(app))
        return app

    @property
    def t(self) -> Catalogue:
        return self.sesshu.t

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR:
            self.worker_failed(worker.name, worker.error)
        elif event.state is WorkerState.SUCCESS:
            self.worker_succeeded(worker.name, worker.result)

    def background(self, work: Callable[[], Any], name: str, group: str = "default") -> None:
        """Run store or crypto work in a thread; its result or error comes back as a message.

        A newer worker in the same ``group`` replaces an older one still running; screens that
        run independent kinds of work at once give each kind its own group.
        """
        self.run_worker(  # type: ignore[attr-defined]
            work, thread=True, exclusive=True, name=name, group=group, exit_on_error=False
        )

    def worker_succeeded(self, name: str, result: Any) -> None:
        """Called on the UI thread with a worker's result."""

    def worker_failed(self, name: str, error: BaseException | None) -> None:
        self.sesshu.report_error(error)


class SesshuScreen(_Funnel, Screen[None]):
    def __init__(self) -> None:
        super().__init__()
        localise_bindings(self, self.sesshu.t)


class SesshuModal(_Funnel, ModalScreen[ResultT]):
    def __init__(self) -> None:
        super().__init__()
        localise_bindings(self, self.sesshu.t)


def error_text(t: Catalogue, error: BaseException | None) -> str:
    if isinstance(error, SesshuError):
        return t.error(error)
    return t("error.unexpected", kind=type(error).__name__ if error else "?")

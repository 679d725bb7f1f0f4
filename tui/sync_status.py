"""The sync status bar and the auto-sync that feeds it.

Every screen after login shows one line under the status bar: the last sync (or never),
pending outbox entries, open conflicts, the last error, and a STALE marker when the terminal
has not synced for 24 hours or is not enrolled at all. ``SyncMonitor`` (owned by the app)
reads the status and runs ``SyncService.run()`` in thread workers, every ``interval`` seconds
while a user who may sync is logged in, and on demand. An unreachable central system shows in
the bar; the next attempt retries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from core.change_text import when_text
from core.i18n import Catalogue
from core.roles import Permission
from core.services.context import ServiceContext
from core.sync import Choice, Conflict, SyncStatus
from tui.base import error_text

if TYPE_CHECKING:
    from tui.app import SesshuApp

STATUS_GROUP = "sync-status"
RUN_GROUP = "sync-run"
STATUS_REFRESH_SECONDS = 30.0


class SyncRunResult(Protocol):
    """What one run reports (``core.services.sync.SyncRun``)."""

    @property
    def pushed(self) -> int: ...
    @property
    def pulled(self) -> int: ...
    @property
    def conflicts(self) -> int: ...


class SyncPort(Protocol):
    """What the TUI uses of ``core.services.sync.SyncService``."""

    def status(self) -> SyncStatus: ...
    def run(self) -> Any: ...
    def conflicts(self, status: str = "open") -> list[Conflict]: ...
    def conflict(self, conflict_id: int, /) -> Conflict: ...
    def decide(self, conflict_id: int, choice: Choice, reason: str, /) -> Any: ...


# (ctx, connect) -> the service for one piece of work; only a run connects to the central
# system, and its connection is closed when the work is done.
SyncFactory = Callable[[ServiceContext, bool], AbstractContextManager[SyncPort]]


@contextmanager
def open_sync_service(ctx: ServiceContext, connect: bool) -> Iterator[SyncPort]:
    """The real service over this store; with ``connect``, talking to the central system.

    Called in a worker thread: building the client reads certificates from the store.
    """
    from core.services.sync import SyncService
    from sync.client import central_for

    central = central_for(ctx.store) if connect else None
    try:
        yield SyncService(ctx, central)
    finally:
        if central is not None:
            central.close()


def run_counts(result: Any) -> tuple[int, int, int]:
    """(pushed, pulled, conflicts) of a run; ``conflicts`` may be a count or a list."""
    conflicts = getattr(result, "conflicts", 0)
    count = conflicts if isinstance(conflicts, int) else len(conflicts)
    return int(getattr(result, "pushed", 0)), int(getattr(result, "pulled", 0)), count


def message_text(t: Catalogue, text: str) -> str:
    """A stored error: a catalogue key when it is one, else the text as recorded."""
    return t(text) if t.has(text) else text


def status_text(
    t: Catalogue,
    status: SyncStatus | None,
    now: datetime,
    *,
    running: bool = False,
    failure: str = "",
) -> Text:
    """The bar's one line. User-visible values are appended as literal text."""
    text = Text()
    text.append(f" {t('sync_status.label')}: ", style="dim")
    if status is None:
        text.append(t("sync_status.reading"), style="dim")
        return text
    if not status.enrolled:
        text.append(t("sync_status.not_enrolled"), style="bold reverse yellow")
        text.append(" ")
    elif status.offline:
        text.append(t("sync_status.offline"), style="bold reverse cyan")
        text.append(" ")
    elif status.stale(now):
        text.append(t("sync_status.stale"), style="bold reverse yellow")
        text.append(" ")
    if running:
        text.append(t("sync_status.running"), style="bold")
        text.append(" ")
    last = when_text(status.last_sync) if status.last_sync else t("sync_status.never")
    text.append(f"{t('sync_status.last')}: ", style="dim")
    text.append(last)
    text.append(f" │ {t('sync_status.pending')}: ", style="dim")
    text.append(str(status.pending))
    text.append(f" │ {t('sync_status.conflicts')}: ", style="dim")
    text.append(str(status.conflicts), style="bold yellow" if status.conflicts else "")
    error = failure or (message_text(t, status.last_error) if status.last_error else "")
    if status.errors or error:
        text.append(" │ ", style="dim")
        label = (
            t("sync_status.error_count", count=status.errors)
            if status.errors
            else t("sync_status.error")
        )
        text.append(f"{label}: {error}" if error else label, style="bold red")
    return text


class SyncFinished(Message):
    """Posted to the current screen after a successful run (the inbox reloads on it)."""

    def __init__(self, status: SyncStatus) -> None:
        super().__init__()
        self.status = status


class SyncStatusBar(Static):
    """The sync line of the top bar; the monitor fills every instance on every screen."""

    DEFAULT_CLASSES = "sync-bar"


@dataclass
class _Read:
    ctx: ServiceContext
    status: SyncStatus


@dataclass
class _Ran:
    ctx: ServiceContext
    result: Any
    status: SyncStatus
    manual: bool


class SyncMonitor:
    """Status reads and sync runs for the app's session, always in thread workers."""

    def __init__(self, app: SesshuApp, factory: SyncFactory, interval: float) -> None:
        self.app = app
        self.factory = factory
        self.interval = interval
        self.status: SyncStatus | None = None
        self.failure = ""
        self.running = False
        self.last_result: Any = None

    # --- what the UI calls -----------------------------------------------------------

    def start(self) -> None:
        """On mount: the status refresh and the auto-sync timers (they idle without a session)."""
        self.app.set_interval(min(STATUS_REFRESH_SECONDS, self.interval), self.refresh_status)
        self.app.set_interval(self.interval, self.auto_run)

    def session_started(self) -> None:
        self.session_ended()
        self.refresh_status()

    def session_ended(self) -> None:
        """Forget the session's state; results of its workers still running are dropped."""
        self.app.workers.cancel_group(self.app, STATUS_GROUP)
        self.app.workers.cancel_group(self.app, RUN_GROUP)
        self.status, self.failure, self.running, self.last_result = None, "", False, None

    def may_run(self) -> bool:
        ctx = self.app.ctx
        return ctx is not None and ctx.session.can(Permission.SYNC_RUN)

    def refresh_status(self) -> None:
        ctx = self.app.ctx
        if ctx is None or self.running:
            return
        factory = self.factory

        def read() -> _Read:
            with factory(ctx, False) as service:
                return _Read(ctx, service.status())

        self._worker(read, "status", STATUS_GROUP)

    def auto_run(self) -> None:
        if self.app.ctx is None or self.running or not self.may_run():
            return
        if self.status is None or not self.status.enrolled:
            self.refresh_status()  # an enrolment since the last read starts the next tick
            return
        if self.status.offline:
            return
        self._start_run(manual=False)

    def run_now(self) -> None:
        if self.app.ctx is None or not self.may_run():
            return
        if self.running:
            self.app.notify(self.app.t("sync_status.already_running"))
            return
        if self.status is not None and not self.status.enrolled:
            self.app.notify(self.app.t("sync_status.not_enrolled_hint"), severity="warning")
            return
        if self.status is not None and self.status.offline:
            self.app.notify(self.app.t("sync_status.offline_hint"), severity="warning")
            return
        self._start_run(manual=True)

    def _start_run(self, *, manual: bool) -> None:
        ctx = self.app.ctx
        if ctx is None:
            return
        factory = self.factory

        def work() -> _Ran:
            with factory(ctx, True) as service:
                result = service.run()
            with factory(ctx, False) as service:
                return _Ran(ctx, result, service.status(), manual)

        self.running = True
        self.show()
        self._worker(work, "manual" if manual else "auto", RUN_GROUP)

    def _worker(self, work: Callable[[], object], name: str, group: str) -> None:
        self.app.run_worker(
            work, name=name, group=group, thread=True, exclusive=True, exit_on_error=False
        )

    # --- what the workers report -----------------------------------------------------

    def worker_changed(self, event: Worker.StateChanged) -> bool:
        """Handle a sync worker's end; False if the worker is not one of ours."""
        worker = event.worker
        if worker.group not in (STATUS_GROUP, RUN_GROUP):
            return False
        if event.state is WorkerState.SUCCESS:
            self._succeeded(worker.result)
        elif event.state is WorkerState.ERROR:
            self._failed(worker, worker.error)
        elif event.state is WorkerState.CANCELLED and worker.group == RUN_GROUP:
            self.running = False
        return True

    def _succeeded(self, result: object) -> None:
        if isinstance(result, _Read):
            if result.ctx is self.app.ctx:
                self.status = result.status
                self.show()
            return
        if not isinstance(result, _Ran) or result.ctx is not self.app.ctx:
            return
        self.running = False
        self.status, self.failure, self.last_result = result.status, "", result.result
        self.show()
        self.app.screen.post_message(SyncFinished(result.status))
        pushed, pulled, conflicts = run_counts(result.result)
        t = self.app.t
        if result.manual:
            done = t("sync_status.done", pushed=pushed, pulled=pulled, conflicts=conflicts)
            self.app.notify(done)
        elif conflicts and result.ctx.session.can(Permission.CONFLICT_DECIDE):
            found = t("sync_status.new_conflicts", conflicts=conflicts)
            self.app.notify(found, severity="warning")

    def _failed(self, worker: Worker[object], error: BaseException | None) -> None:
        """A failed read or run shows in the bar (and, when asked for, as a notification)."""
        if worker.group == RUN_GROUP:
            self.running = False
        if self.app.ctx is None:
            return
        self.failure = error_text(self.app.t, error)
        self.app.log.warning(f"sync {worker.name} failed: {type(error).__name__}")
        self.show()
        if worker.name == "manual":
            self.app.notify(self.failure, severity="error", timeout=8)
        if worker.group == RUN_GROUP:
            self.refresh_status()

    # --- rendering ---------------------------------------------------------------------

    def text(self) -> Text:
        return status_text(
            self.app.t,
            self.status,
            self.app.clock.now(),
            running=self.running,
            failure=self.failure,
        )

    def attach(self) -> None:
        """Give the current screen's top bar a sync line (once) and fill it."""
        if self.app.ctx is None:
            return
        screen = self.app.screen
        tops = screen.query(".top-bar")
        if tops and not screen.query(SyncStatusBar):
            tops.first().mount(SyncStatusBar(self.text()))
        self.show()

    def show(self) -> None:
        text = self.text()
        for screen in self.app.screen_stack:
            for bar in screen.query(SyncStatusBar):
                if bar.content != text:
                    bar.update(text, layout=False)  # one fixed line: no relayout

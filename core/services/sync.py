"""Sync with the central system (中央システムとの同期): run, status, conflicts, comparison.

A run pushes the outbox in order until it is empty, then pulls until the central system has
nothing more. Every pulled page is applied in one transaction together with its cursor, so a
run killed half-way resumes from the last page applied, and nothing is applied twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from core.audit import Action
from core.clock import parse_timestamp, timestamp
from core.errors import InvalidValue, NotFound, RuleViolation, SyncFailed
from core.ports import CentralPort, Enroller
from core.roles import Permission
from core.services.context import ServiceContext
from core.sync import (
    PULL_PAGE_LIMIT,
    PUSH_BATCH_LIMIT,
    Choice,
    Comparison,
    Conflict,
    SyncStatus,
    check_decider,
    compare_totals,
)

CENTRAL = "central"
CURSOR = "cursor"
LAST_SYNC = "last_sync_at"
LAST_ERROR = "last_error"
ERRORS = "errors"
TARGET = "sync"
MAX_REASON = 500


@dataclass(frozen=True)
class SyncRun:
    """The counts of one run: entries pushed (acknowledged), changes pulled (applied),
    entries the central system answered with a conflict, pulled changes held back, and
    entries it rejected."""

    pushed: int = 0
    pulled: int = 0
    conflicts: int = 0
    held: int = 0
    errors: int = 0


def _target(conflict_id: int) -> str:
    return f"conflict:{conflict_id}"


class SyncService:
    def __init__(self, ctx: ServiceContext, central: CentralPort | None) -> None:
        self.ctx = ctx
        self.central = central

    # --- status ----------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        """What the status bar shows; any logged-in user (counts and times only)."""
        self.ctx.require(None)
        with self.ctx.store.reader() as uow:
            state = uow.sync.state()
            pending = uow.sync.pending_count()
            conflicts = len(uow.sync.conflicts("open"))
        last = state.get(LAST_SYNC)
        return SyncStatus(
            enrolled=CENTRAL in state,
            central=state.get(CENTRAL, ""),
            last_sync=parse_timestamp(last) if last else None,
            pending=pending,
            conflicts=conflicts,
            errors=int(state.get(ERRORS, "0")),
            last_error=state.get(LAST_ERROR, ""),
            cursor=int(state.get(CURSOR, "0")),
        )

    def held(self) -> int:
        """Pulled changes waiting because the same key has a local change in flight."""
        self.ctx.require(None)
        with self.ctx.store.reader() as uow:
            return uow.sync.held_count()

    # --- a run -----------------------------------------------------------------------------

    def run(self) -> SyncRun:
        """Push everything pending, then pull everything new; record the outcome."""
        self.ctx.require(Permission.SYNC_RUN, TARGET)
        central = self._central()
        with self.ctx.store.transaction() as uow:
            terminal, _ = uow.sync.identity()
            self.ctx.record(uow, Action.SYNC_STARTED, TARGET, pending=uow.sync.pending_count())
            uow.audit.checkpoint()
        with self._transport():
            pushed, conflicts, rejected = self._push(central, terminal)
            pulled, held = self._pull(central)
            remote = central.conflicts()
        result = SyncRun(pushed, pulled, conflicts, held, rejected)
        with self.ctx.store.transaction() as uow:
            uow.sync.save_conflicts(remote)
            uow.sync.put_state(
                {LAST_SYNC: timestamp(self.ctx.clock.now()), LAST_ERROR: None, ERRORS: "0"}
            )
            self.ctx.record(
                uow,
                Action.SYNC_FINISHED,
                TARGET,
                pushed=pushed,
                pulled=pulled,
                conflicts=conflicts,
                held=held,
                rejected=rejected,
            )
        return result

    def _push(self, central: CentralPort, terminal: str) -> tuple[int, int, int]:
        pushed = conflicts = rejected = 0
        while True:
            with self.ctx.store.reader() as uow:
                entries = uow.sync.pending(PUSH_BATCH_LIMIT)
            if not entries:
                break
            answer = central.push(terminal, entries)
            with self.ctx.store.transaction() as uow:
                outcome = uow.sync.apply_acks(answer)
            pushed += outcome.acked
            conflicts += outcome.conflicts
            rejected += outcome.rejected
            if outcome.acked + outcome.conflicts + outcome.rejected == 0:
                raise SyncFailed("sync.no_progress")
        return pushed, conflicts, rejected

    def _pull(self, central: CentralPort) -> tuple[int, int]:
        with self.ctx.store.transaction() as uow:
            retried = uow.sync.retry_held()
            cursor = int(uow.sync.state().get(CURSOR, "0"))
        pulled = retried.applied
        while True:
            page = central.pull(cursor, PULL_PAGE_LIMIT)
            with self.ctx.store.transaction() as uow:
                outcome = uow.sync.apply_page(page)
            pulled += outcome.applied
            if not page.more or page.next_cursor == cursor:
                break
            cursor = page.next_cursor
        with self.ctx.store.reader() as uow:
            held = uow.sync.held_count()
        return pulled, held

    @contextmanager
    def _transport(self) -> Iterator[None]:
        """A failure talking to the central system is recorded, then raised again."""
        try:
            yield
        except SyncFailed as error:
            with self.ctx.store.transaction() as uow:
                errors = int(uow.sync.state().get(ERRORS, "0")) + 1
                uow.sync.put_state({LAST_ERROR: error.key, ERRORS: str(errors)})
                self.ctx.record(uow, Action.SYNC_FAILED, TARGET, error=error.key)
            raise

    def _central(self) -> CentralPort:
        if self.central is None:
            raise RuleViolation("sync.not_enrolled")
        return self.central

    # --- conflicts -------------------------------------------------------------------------

    def conflicts(self, status: str | None = "open") -> list[Conflict]:
        """The conflict inbox (open by default; ``None`` for all), for a supervisor."""
        self.ctx.require(Permission.CONFLICT_DECIDE, "conflicts")
        with self.ctx.store.transaction() as uow:
            found = uow.sync.conflicts(status)
            self.ctx.record(
                uow,
                Action.SYNC_CONFLICTS_READ,
                "conflicts",
                status=status,
                results=len(found),
                conflicts=[c.id for c in found],
            )
        return found

    def conflict(self, conflict_id: int) -> Conflict:
        self.ctx.require(Permission.CONFLICT_DECIDE, _target(conflict_id))
        with self.ctx.store.transaction() as uow:
            found = uow.sync.conflict(conflict_id)
            if found is None:
                raise NotFound("sync.conflict_not_found", conflict=conflict_id)
            self.ctx.record(uow, Action.SYNC_CONFLICTS_READ, _target(conflict_id), key=found.key)
        return found

    def decide(self, conflict_id: int, choice: Choice, reason: str) -> Conflict:
        """Keep this terminal's or the central version; never over one's own change."""
        self.ctx.require(Permission.CONFLICT_DECIDE, _target(conflict_id))
        reason = reason.strip()
        if not reason:
            raise InvalidValue("reason", "sync.reason_required")
        if len(reason) > MAX_REASON:
            raise InvalidValue("reason", "sync.reason_too_long", limit=MAX_REASON)
        with self.ctx.store.reader() as uow:
            found = uow.sync.conflict(conflict_id)
        if found is None:
            raise NotFound("sync.conflict_not_found", conflict=conflict_id)
        try:
            check_decider(found, self.ctx.user)
        except RuleViolation as refusal:
            with self.ctx.store.transaction() as uow:
                self.ctx.record(
                    uow,
                    Action.PERMISSION_DENIED,
                    _target(conflict_id),
                    permission=Permission.CONFLICT_DECIDE.value,
                    reason=refusal.key,
                )
            raise
        now = self.ctx.clock.now()
        with self.ctx.store.transaction() as uow:
            current = uow.sync.conflict(conflict_id)
            if current is None:
                raise NotFound("sync.conflict_not_found", conflict=conflict_id)
            check_decider(current, self.ctx.user)
            uow.sync.decide(current, choice, self.ctx.user, reason, now)
            if choice is Choice.CENTRAL:
                uow.sync.apply_central(current)
            self.ctx.record(
                uow,
                Action.SYNC_DECIDED,
                _target(conflict_id),
                key=current.key,
                choice=choice.value,
                reason=reason,
            )
            decided = uow.sync.conflict(conflict_id)
        assert decided is not None
        return decided

    # --- reconciliation --------------------------------------------------------------------

    def compare(self) -> list[Comparison]:
        """Counts and hash totals per table, here and on the central system (副本と原本)."""
        self.ctx.require(Permission.SYNC_RUN, TARGET)
        central = self._central()
        with self.ctx.store.reader() as uow:
            local = uow.sync.totals()
        with self._transport():
            remote = central.totals()
        result = compare_totals(local, remote)
        with self.ctx.store.transaction() as uow:
            self.ctx.record(
                uow,
                Action.SYNC_COMPARED,
                TARGET,
                differing=[c.table for c in result if not c.equal],
            )
        return result

    # --- enrollment ------------------------------------------------------------------------

    def enroll(self, url: str, token: str, enroller: Enroller) -> str:
        """Enroll this terminal with the central system (administrators); returns its name."""
        self.ctx.require(Permission.TERMINAL_CONFIGURE, TARGET)
        url = url.strip().rstrip("/")
        if not url.startswith("https://"):
            raise InvalidValue("central", "sync.url_not_https")
        if not token.strip():
            raise InvalidValue("token", "sync.token_required")
        with self.ctx.store.reader() as uow:
            terminal, public_key = uow.sync.identity()
        with self._transport():
            done = enroller(url, token.strip(), terminal, public_key)
        with self.ctx.store.transaction() as uow:
            uow.sync.put_state(
                {
                    CENTRAL: url,
                    "certificate_pem": done.certificate_pem,
                    "ca_pem": done.ca_pem,
                    "key_pem": done.key_pem,
                    "key_password": done.key_password,
                    "age_identity": done.age_identity,
                    "central_info": _info_json(done.central_info),
                    "enrolled_at": timestamp(self.ctx.clock.now()),
                    LAST_ERROR: None,
                    ERRORS: "0",
                }
            )
            self.ctx.record(
                uow,
                Action.SYNC_ENROLLED,
                TARGET,
                central=url,
                server_fingerprint=done.central_info.get("server_fingerprint", ""),
            )
        return done.terminal


def _info_json(info: Mapping[str, str]) -> str:
    return json.dumps(dict(info), sort_keys=True)

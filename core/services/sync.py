"""Sync with the central system (中央システムとの同期): run, status, conflicts, comparison.

A run pushes the outbox in order until it is empty, then pulls until the central system has
nothing more. Every pulled page is applied in one transaction together with its cursor, so a
run killed half-way resumes from the last page applied, and nothing is applied twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath

from core.audit import Action
from core.clock import parse_timestamp, timestamp
from core.errors import InvalidValue, NotFound, RuleViolation, SyncFailed
from core.ports import AnswerSet, CentralPort, Enroller, PushSet, SyncMedia
from core.roles import Permission
from core.services.context import ServiceContext
from core.sync import (
    OFFLINE_CENTRAL,
    PULL_PAGE_LIMIT,
    PUSH_BATCH_LIMIT,
    Choice,
    Comparison,
    Conflict,
    PullPage,
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
CENTRAL_INFO = "central_info"
AGE_IDENTITY = "age_identity"
AGE_RECIPIENT = "age_recipient"
OFFLINE_TOKEN = "offline_token"
ENROLLMENT = "enrollment"
OFFLINE = OFFLINE_CENTRAL
ANSWER_MARK = "answer_imported:"


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
    push_seconds: float = 0.0
    pull_seconds: float = 0.0


@dataclass(frozen=True)
class BundleWritten:
    """A push bundle written for the central system: where, how many entries, its hash."""

    path: str
    entries: int
    content_hash: str


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
            started = time.perf_counter()
            pushed, conflicts, rejected = self._push(central, terminal)
            pushed_at = time.perf_counter()
            pulled, held = self._pull(central)
            remote = central.conflicts()
            pulled_at = time.perf_counter()
        result = SyncRun(
            pushed,
            pulled,
            conflicts,
            held,
            rejected,
            push_seconds=round(pushed_at - started, 3),
            pull_seconds=round(pulled_at - pushed_at, 3),
        )
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

    def enroll_offline(self, central_info: Mapping[str, str], token: str, media: SyncMedia) -> str:
        """Enroll without a connection (administrators): keep the central system's public
        information (its ``public.json``, carried by hand) and the token, which the first push
        bundle carries so the central system registers this terminal on first contact."""
        self.ctx.require(Permission.TERMINAL_CONFIGURE, TARGET)
        if not token.strip():
            raise InvalidValue("token", "sync.token_required")
        keys = media.offline_keys(central_info, token.strip())
        with self.ctx.store.transaction() as uow:
            terminal, _ = uow.sync.identity()
            uow.sync.put_state(
                {
                    CENTRAL: OFFLINE,
                    ENROLLMENT: OFFLINE,
                    CENTRAL_INFO: _info_json(keys.central_info),
                    AGE_IDENTITY: keys.age_identity,
                    AGE_RECIPIENT: keys.age_recipient,
                    OFFLINE_TOKEN: keys.token_secret,
                    "enrolled_at": timestamp(self.ctx.clock.now()),
                    "certificate_pem": None,
                    "ca_pem": None,
                    "key_pem": None,
                    "key_password": None,
                    LAST_ERROR: None,
                    ERRORS: "0",
                }
            )
            self.ctx.record(
                uow,
                Action.SYNC_ENROLLED,
                TARGET,
                central=OFFLINE,
                signing_public_key=keys.central_info.get("signing_public_key", ""),
            )
        return terminal

    # --- the air gap: push and answer as media bundles ---------------------------------------

    def _central_info(self, state: Mapping[str, str]) -> dict[str, str]:
        raw = state.get(CENTRAL_INFO)
        if CENTRAL not in state or not raw or AGE_IDENTITY not in state:
            raise RuleViolation("sync.not_enrolled")
        info = json.loads(raw)
        if not info.get("signing_public_key") or not info.get("age_recipient"):
            raise RuleViolation("sync.central_info_incomplete")
        return {str(k): str(v) for k, v in info.items()}

    def export_bundle(self, target: PurePath, media: SyncMedia) -> BundleWritten:
        """Write every pending outbox entry, in order, as a push bundle for the central system:
        signed with this terminal's key, encrypted to the central system, with a fresh signed
        audit checkpoint. The outbox stays as it is until the answer comes back."""
        self.ctx.require(Permission.SYNC_RUN, TARGET)
        with self.ctx.store.transaction() as uow:
            state = uow.sync.state()
            info = self._central_info(state)
            terminal, public_key = uow.sync.identity()
            checkpoint = uow.audit.checkpoint()
        with self.ctx.store.reader() as uow:
            entries = tuple(uow.sync.pending(max(1, uow.sync.pending_count())))
        first_contact = None
        if OFFLINE_TOKEN in state:
            first_contact = {
                "token": state[OFFLINE_TOKEN],
                "signing_public_key": public_key,
                "age_recipient": state.get(AGE_RECIPIENT, ""),
            }
        cursor = int(state.get(CURSOR, "0"))
        now = self.ctx.clock.now()
        push = PushSet(
            terminal=terminal,
            entries=entries,
            cursor=cursor,
            checkpoint=checkpoint,
            recipient=info["age_recipient"],
            info={
                "Bundle-Kind": "sesshu-sync-push",
                "Source-Organization-Terminal": terminal,
                "Created-By": self.ctx.user,
                "Bagging-Date": now.date().isoformat(),
                "Entries": str(len(entries)),
                "Cursor": str(cursor),
            },
            first_contact=first_contact,
        )
        content_hash = media.write_push(target, push)
        with self.ctx.store.transaction() as uow:
            self.ctx.record(
                uow,
                Action.SYNC_BUNDLE_EXPORTED,
                TARGET,
                entries=len(entries),
                cursor=cursor,
                content_hash=content_hash,
                first_contact=first_contact is not None,
            )
        return BundleWritten(str(target), len(entries), content_hash)

    def import_answer(self, path: PurePath, media: SyncMedia) -> SyncRun:
        """Apply the central system's answer bundle exactly as an online run applies its
        answers: acknowledgements, conflicts, then the pulled changes with their cursor.
        Importing the same answer again changes nothing."""
        self.ctx.require(Permission.SYNC_RUN, TARGET)
        with self.ctx.store.reader() as uow:
            state = uow.sync.state()
        info = self._central_info(state)
        with self._transport():
            answer = media.read_answer(
                path, signer=info["signing_public_key"], identity=state[AGE_IDENTITY]
            )
        mark = ANSWER_MARK + answer.content_hash
        if mark in state:
            with self.ctx.store.transaction() as uow:
                self.ctx.record(
                    uow,
                    Action.SYNC_BUNDLE_IMPORTED,
                    TARGET,
                    content_hash=answer.content_hash,
                    already_imported=True,
                )
            return SyncRun()
        with self.ctx.store.transaction() as uow:
            outcome = uow.sync.apply_acks(answer.result)
            uow.sync.save_conflicts(answer.conflicts)
            retried = uow.sync.retry_held()
        pulled = retried.applied + self._apply_answer_page(answer)
        with self.ctx.store.transaction() as uow:
            held = uow.sync.held_count()
            uow.sync.put_state(
                {
                    LAST_SYNC: timestamp(self.ctx.clock.now()),
                    LAST_ERROR: None,
                    ERRORS: "0",
                    OFFLINE_TOKEN: None,  # the signed answer proves the terminal is registered
                    mark: timestamp(self.ctx.clock.now()),
                }
            )
            self.ctx.record(
                uow,
                Action.SYNC_BUNDLE_IMPORTED,
                TARGET,
                content_hash=answer.content_hash,
                pushed=outcome.acked,
                pulled=pulled,
                conflicts=outcome.conflicts,
                held=held,
                rejected=outcome.rejected,
            )
        return SyncRun(outcome.acked, pulled, outcome.conflicts, held, outcome.rejected)

    def _apply_answer_page(self, answer: AnswerSet) -> int:
        """Apply the answer's changes in pages, each with its cursor, as a pull does.

        Changes at or below this terminal's cursor were applied already and are skipped (so an
        older answer imported late never brings back older master data). The cursor only
        moves forward, and only if the answer was pulled from a cursor this terminal has
        reached; else its changes are applied by version but the cursor stays.
        """
        with self.ctx.store.reader() as uow:
            current = int(uow.sync.state().get(CURSOR, "0"))
        advance = answer.cursor <= current
        changes = tuple(c for c in answer.page.changes if c.seq > current)
        pulled = 0
        start = 0
        while True:
            chunk = changes[start : start + PULL_PAGE_LIMIT]
            start += len(chunk)
            last = start >= len(changes)
            reached = answer.page.next_cursor if last else chunk[-1].seq
            cursor = max(current, reached) if advance else current
            with self.ctx.store.transaction() as uow:
                pulled += uow.sync.apply_page(PullPage(chunk, cursor, False)).applied
            current = cursor
            if last:
                return pulled


def _info_json(info: Mapping[str, str]) -> str:
    return json.dumps(dict(info), sort_keys=True)

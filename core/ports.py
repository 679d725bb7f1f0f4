"""Ports: what core needs from the outside world, as Protocols.

``storage/`` implements them over SQLCipher; tests may implement them in memory. Core never
knows which.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePath
from typing import Any, Protocol

from core.accounts import Account
from core.audit import AuditEvent, AuditRecord, Checkpoint, SignatureCheck
from core.batches import Batch, NewRecord, RecordKey, Resolution, SlipEntry, SlipOutcome
from core.changes import ChangeStatus, PendingChange, RecordSnapshot, Values
from core.exports import (
    Export,
    ExportKind,
    ExportStatus,
    MediaEvent,
    Medium,
    PayloadSpec,
    WriteJob,
    WriteOutcome,
)
from core.masters import MasterEntry
from core.migration.convert import RowIssue, Value
from core.migration.model import FileProgress, Lookups, Run, RunStatus
from core.migration.totals import TableTotals
from core.provision import (
    Case,
    CasePerson,
    CaseStatus,
    FlagDecision,
    LegalBasis,
    ProvisionRecord,
    Recipient,
    RecipientKind,
    StageEntry,
)
from core.residents import Resident, VaccinationRecord
from core.search import ResidentQuery
from core.sync import Choice, Conflict, Data, Entry, PullPage, PushResult, TableTotal


@dataclass(frozen=True)
class AuditFilter:
    user: str | None = None
    action: str | None = None  # prefix, e.g. "auth." or "auth.login_failed"
    target: str | None = None  # substring, e.g. an 宛名番号
    since: date | None = None
    until: date | None = None  # inclusive
    limit: int = 500


@dataclass(frozen=True)
class AuditReview:
    month: str
    reviewer: str
    at: str
    note: str


class UserRepository(Protocol):
    def get(self, name: str) -> Account | None: ...
    def all(self) -> list[Account]: ...
    def add(self, account: Account) -> None: ...
    def update(self, account: Account) -> Account:
        """Store ``account`` if its version is still current; return it with version + 1."""
        ...


class AuditTrail(Protocol):
    def append(self, event: AuditEvent, at: datetime | None = None) -> int: ...
    def checkpoint(self) -> Checkpoint | None: ...
    def records(self, since_seq: int = 1) -> Iterator[AuditRecord]: ...
    def between(self, start: datetime, end: datetime) -> Iterator[AuditRecord]: ...
    def find(self, query: AuditFilter) -> list[AuditRecord]: ...
    def checkpoints(self) -> list[Checkpoint]: ...
    def head(self) -> tuple[int, str] | None: ...
    def add_review(self, review: AuditReview) -> None: ...
    def reviews(self, month: str) -> list[AuditReview]: ...
    def mark_ingested(self, pending_id: str) -> bool:
        """Record that a pending event joined the chain; False if it already had."""
        ...


class SettingsRepository(Protocol):
    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str) -> None: ...
    def all(self) -> dict[str, str]: ...


class ResidentRepository(Protocol):
    def get(self, atena: str) -> Resident | None: ...
    def get_many(self, atenas: Iterable[str]) -> dict[str, Resident]: ...
    def search(self, query: ResidentQuery, limit: int) -> list[Resident]: ...
    def vaccinations(self, atena: str) -> list[VaccinationRecord]: ...
    def vaccine_order(self) -> list[str]: ...


class MasterRepository(Protocol):
    """Master data (マスタ): vaccines, makers, institutions and physicians."""

    def vaccines(self) -> list[MasterEntry]: ...
    def makers(self) -> list[MasterEntry]: ...
    def institutions(self) -> list[MasterEntry]: ...
    def physicians(self, institution: str | None = None) -> list[MasterEntry]: ...


class BatchRepository(Protocol):
    def add(self, batch: Batch) -> int: ...
    def get(self, batch_id: int) -> Batch | None: ...
    def all(self, limit: int = 200) -> list[Batch]: ...
    def update(self, batch: Batch) -> Batch:
        """Store ``batch`` if its version is still current; return it with version + 1."""
        ...

    def entries(self, batch_id: int, pass_no: int | None = None) -> list[SlipEntry]: ...
    def entry(self, batch_id: int, pass_no: int, slip: str) -> SlipEntry | None: ...
    def put_entry(self, entry: SlipEntry) -> None: ...
    def keyers(self, batch_id: int) -> dict[int, set[str]]:
        """Who keyed each pass (pass number → user names)."""
        ...

    def add_reader(self, batch_id: int, user: str, at: datetime) -> None:
        """Remember that ``user`` saw both passes side by side (and may no longer key)."""
        ...

    def readers(self, batch_id: int) -> set[str]: ...
    def resolutions(self, batch_id: int) -> list[Resolution]: ...
    def put_resolution(self, resolution: Resolution) -> None: ...
    def outcomes(self, batch_id: int) -> list[SlipOutcome]: ...
    def put_outcome(self, outcome: SlipOutcome) -> None: ...
    def user_entries(self, user: str | None = None) -> list[SlipEntry]:
        """Every entry keyed by ``user`` (or by anyone), for the keying statistics."""
        ...

    def all_resolutions(self) -> list[Resolution]: ...


class RecordRepository(Protocol):
    """Vaccination records (接種記録) as data entry writes and checks them."""

    def history(self, atenas: Iterable[str]) -> dict[str, list[RecordKey]]:
        """Every non-voided record of these persons, for duplicate and dose-order checks."""
        ...

    def add(self, record: NewRecord) -> int: ...


class ChangeRepository(Protocol):
    """Four-eyes pending changes (修正の申請) and the writes a confirmed change makes."""

    def add(self, change: PendingChange) -> int: ...
    def get(self, change_id: int) -> PendingChange | None: ...
    def find(
        self, status: ChangeStatus | None = None, atena: str | None = None, limit: int = 200
    ) -> list[PendingChange]: ...
    def open_on(self, atena: str, record: int | None) -> PendingChange | None:
        """The pending change on this record (or, for None, on the resident's details)."""
        ...

    def decide(self, change: PendingChange) -> None:
        """Store the decision if the change is still pending, else raise ``VersionConflict``."""
        ...

    def record(self, record_id: int) -> RecordSnapshot | None: ...
    def add_record(self, atena: str, values: Values, keyed_by: str, at: datetime) -> int:
        """A new vaccination record, pending until the change is confirmed."""
        ...

    def update_record(
        self,
        record_id: int,
        values: Values,
        *,
        version: int | None,
        status: str | None = None,
        verified_by: str | None = None,
        void_reason: str | None = None,
    ) -> None:
        """Write ``values`` (and status) if the record is still at ``version``; version + 1."""
        ...

    def update_resident(self, atena: str, values: Values, *, version: int, at: datetime) -> None:
        """Write ``values`` if the resident is still at ``version``; version + 1."""
        ...


class ExportRepository(Protocol):
    def add(
        self,
        kind: ExportKind,
        case: int | None,
        spec: PayloadSpec,
        content_hash: str,
        recipients: tuple[str, ...],
        created_by: str,
        at: datetime,
        status: ExportStatus,
    ) -> Export: ...
    def get(self, export: int) -> Export | None: ...
    def find(self, status: ExportStatus | None = None, limit: int = 200) -> list[Export]: ...
    def save(self, export: Export) -> Export:
        """Write status and decision if the row is still at ``export.version``; version + 1."""
        ...


class MediaRepository(Protocol):
    def register(
        self,
        export: Export,
        media_type: str,
        created_by: str,
        witness: str,
        at: datetime,
        location: str,
        terminal: str,
    ) -> Medium:
        """A new medium in state ``writing``, with its label assigned."""
        ...

    def get(self, medium: int) -> Medium | None: ...
    def find(self, open_only: bool = False, case: int | None = None) -> list[Medium]: ...
    def save(self, medium: Medium) -> Medium:
        """Write every mutable field if the row is still at ``medium.version``; version + 1."""
        ...

    def add_event(self, event: MediaEvent) -> None: ...
    def events(self, medium: int) -> list[MediaEvent]: ...


class ProvisionRepository(Protocol):
    def add_recipient(
        self,
        name: str,
        kind: RecipientKind,
        code: str | None,
        contact: str,
        age_recipients: tuple[str, ...],
        created_by: str,
        at: datetime,
    ) -> Recipient: ...
    def recipient(self, recipient_id: int) -> Recipient | None: ...
    def recipients(self) -> list[Recipient]: ...
    def bases(self) -> list[LegalBasis]: ...
    def basis(self, key: str) -> LegalBasis | None: ...
    def put_basis(self, basis: LegalBasis) -> None: ...
    def add_case(self, case: Case) -> Case: ...
    def case(self, case_id: int) -> Case | None: ...
    def cases(self, status: CaseStatus | None = None) -> list[Case]: ...
    def save_case(self, case: Case) -> Case: ...
    def add_persons(self, case_id: int, persons: list[CasePerson]) -> None: ...
    def persons(self, case_id: int) -> list[CasePerson]: ...
    def decide_person(self, case_id: int, atena: str, decision: FlagDecision) -> bool: ...
    def frame(self, sex: str, born_from: date, born_to: date) -> list[str]: ...
    def person_flags(self, atenas: list[str]) -> dict[str, tuple[str, ...]]: ...
    def preview_rows(self, case_id: int, limit: int) -> list[tuple[str, str, str, str, str]]: ...
    def match_mover(self, mynumber: str, former_code: str) -> str | None: ...
    def add_stage(self, entry: StageEntry) -> None: ...
    def stages(self, case_id: int) -> list[StageEntry]: ...
    def add_record(self, record: ProvisionRecord) -> int: ...
    def records(
        self, since: date | None = None, until: date | None = None
    ) -> list[ProvisionRecord]: ...


@dataclass(frozen=True)
class AckOutcome:
    """What a push's acknowledgements did to the outbox."""

    acked: int = 0
    conflicts: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class PullOutcome:
    """What applying pulled changes did: applied, held back, or skipped as not newer."""

    applied: int = 0
    held: int = 0
    skipped: int = 0


class SyncRepository(Protocol):
    """The terminal's side of sync: outbox, cursor, held changes, conflicts, hash totals."""

    def identity(self) -> tuple[str, str]:
        """This terminal's name and its Ed25519 public key (hex)."""
        ...

    def state(self) -> dict[str, str]: ...
    def put_state(self, values: Mapping[str, str | None]) -> None:
        """Set each key; ``None`` removes it."""
        ...

    def pending(self, limit: int) -> list[Entry]:
        """Unacknowledged outbox entries in order."""
        ...

    def pending_count(self) -> int: ...
    def held_count(self) -> int: ...
    def apply_acks(self, result: PushResult) -> AckOutcome: ...
    def apply_page(self, page: PullPage) -> PullOutcome:
        """Apply a pulled page and store its cursor (call inside one transaction)."""
        ...

    def retry_held(self) -> PullOutcome: ...
    def save_conflicts(self, conflicts: Iterable[Conflict]) -> None: ...
    def conflicts(self, status: str | None = "open") -> list[Conflict]: ...
    def conflict(self, conflict_id: int) -> Conflict | None: ...
    def current(self, conflict: Conflict) -> Data | None:
        """This terminal's present data for the conflict's key, in wire form."""
        ...

    def decide(
        self, conflict: Conflict, choice: Choice, user: str, reason: str, at: datetime
    ) -> None:
        """Mark the conflict decided and queue the decision (kind ``decision``)."""
        ...

    def apply_central(self, conflict: Conflict) -> None:
        """Write the central data of a conflict locally, as synced."""
        ...

    def totals(self) -> dict[str, TableTotal]: ...


class CentralPort(Protocol):
    """The central system as a terminal sees it (implemented over HTTPS in sync/)."""

    def push(self, terminal: str, entries: Sequence[Entry]) -> PushResult: ...
    def pull(self, cursor: int, limit: int) -> PullPage: ...
    def conflicts(self) -> list[Conflict]: ...
    def totals(self) -> dict[str, TableTotal]: ...


@dataclass(frozen=True)
class Enrollment:
    """What enrollment gives a terminal; every value is kept inside the encrypted store."""

    central: str
    terminal: str
    certificate_pem: str
    ca_pem: str
    key_pem: str  # PKCS#8, encrypted with key_password
    key_password: str
    age_identity: str
    central_info: Mapping[str, str]


class Enroller(Protocol):
    """Makes the keys, pins the server by the token's fingerprint and enrolls."""

    def __call__(
        self, url: str, token: str, terminal: str, signing_public_key: str
    ) -> Enrollment: ...


@dataclass(frozen=True)
class PushSet:
    """What a push bundle carries to the central system (air gap, オフライン端末).

    ``first_contact`` holds the one-time token (its secret), ``signing_public_key`` and
    ``age_recipient`` of a terminal enrolled offline, until an answer proves it registered.
    """

    terminal: str
    entries: tuple[Entry, ...]
    cursor: int
    checkpoint: Checkpoint | None
    recipient: str  # the central system's age recipient
    info: Mapping[str, str]  # bag-info.txt
    first_contact: Mapping[str, str] | None = None


@dataclass(frozen=True)
class AnswerSet:
    """What an answer bundle brings back: the push's acknowledgements, this terminal's
    conflicts, and the changes pulled from ``cursor`` (the cursor the push bundle carried)."""

    result: PushResult
    conflicts: tuple[Conflict, ...]
    page: PullPage
    cursor: int
    content_hash: str


@dataclass(frozen=True)
class OfflineKeys:
    """A terminal's keys for an offline enrollment: its new age identity and recipient, and
    the central system's public information it was checked against."""

    age_identity: str
    age_recipient: str
    token_secret: str
    central_info: Mapping[str, str]


class SyncMedia(Protocol):
    """Carries the push set and its answer as signed, encrypted media bundles (in sync/)."""

    def offline_keys(self, central_info: Mapping[str, str], token: str) -> OfflineKeys:
        """Check the central's ``public.json`` and the token against it; make an age identity."""
        ...

    def write_push(self, target: PurePath, push: PushSet) -> str:
        """Write the bundle at ``target`` (a new directory); its content hash."""
        ...

    def read_answer(self, path: PurePath, *, signer: str, identity: str) -> AnswerSet:
        """Verify (``signer``'s key), decrypt in memory and parse an answer bundle."""
        ...


class Exporter(Protocol):
    """Builds, signs, encrypts, writes and reads back a medium (implemented in exports/)."""

    def default_spool(self) -> PurePath: ...
    def content_hash(self, spec: PayloadSpec) -> str: ...
    def write(self, job: WriteJob, progress: Progress | None = None) -> WriteOutcome: ...


class Progress(Protocol):
    def __call__(self, done: int, total: int, /) -> None: ...


class MigrationRepository(Protocol):
    """Migration runs, batch lookups and inserts, totals and signed reports (システム移行)."""

    def vaccine_codes(self) -> frozenset[str]: ...
    def open_run(self, identity: str) -> Run | None: ...
    def add_run(self, run: Run) -> int: ...
    def get_run(self, run_id: int) -> Run | None: ...
    def runs(self) -> list[Run]: ...
    def finish_run(self, run_id: int, status: RunStatus, at: datetime) -> None: ...
    def approve_run(self, run_id: int, by: str, at: datetime, note: str, report: int) -> None: ...
    def progress(self, run_id: int) -> dict[str, FileProgress]: ...
    def put_progress(self, run_id: int, progress: FileProgress) -> None: ...
    def add_issues(self, run_id: int, issues: Sequence[RowIssue]) -> None: ...
    def issue_count(self, run_id: int) -> int: ...
    def issues(self, run_id: int, limit: int) -> list[RowIssue]: ...
    def lookups(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        rows: Sequence[Sequence[Value]],
        existing_for: AbstractSet[str] | None = None,
    ) -> Lookups: ...
    def insert_unless_conflict(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Value]],
        run_id: int,
        at: datetime,
    ) -> bool: ...
    def foreign_rows(self, table: str, run_id: int) -> bool: ...
    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Value]],
        run_id: int,
        at: datetime,
    ) -> None: ...
    def begin_bulk(self, expected: int) -> bool: ...
    def finish_bulk(self) -> bool: ...
    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Value, ...]]]: ...
    def totals(self, table: str, columns: Sequence[str]) -> TableTotals: ...
    def count(self, table: str) -> int: ...
    def find(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        wanted: Sequence[Sequence[Value]],
    ) -> dict[tuple[Value, ...], tuple[Value, ...]]: ...
    def add_report(
        self,
        run_id: int | None,
        source: str,
        by: str,
        at: datetime,
        equal: bool,
        report: dict[str, Any],
    ) -> tuple[int, str, str]: ...
    def report(self, report_id: int) -> tuple[int | None, bool, str, str, str] | None: ...
    def latest_report(self, run_id: int) -> int | None: ...


class UnitOfWork(Protocol):
    @property
    def users(self) -> UserRepository: ...
    @property
    def audit(self) -> AuditTrail: ...
    @property
    def settings(self) -> SettingsRepository: ...
    @property
    def residents(self) -> ResidentRepository: ...
    @property
    def masters(self) -> MasterRepository: ...
    @property
    def batches(self) -> BatchRepository: ...
    @property
    def records(self) -> RecordRepository: ...
    @property
    def changes(self) -> ChangeRepository: ...
    @property
    def exports(self) -> ExportRepository: ...
    @property
    def media(self) -> MediaRepository: ...
    @property
    def provisions(self) -> ProvisionRepository: ...
    @property
    def sync(self) -> SyncRepository: ...
    @property
    def migration(self) -> MigrationRepository: ...


@dataclass(frozen=True)
class GuardState:
    """Failed-login state kept outside the store, because a wrong password cannot open it."""

    failures: int = 0
    locked: bool = False


@dataclass(frozen=True)
class PendingEvent:
    """An audit event recorded while the store was closed, waiting to join the chain."""

    id: str
    at: datetime
    event: AuditEvent


class KeySlots(Protocol):
    """Per-user keyslots that wrap the store's data key (needs an open store)."""

    def add(self, name: str, password: str) -> None: ...
    def reset(self, name: str, password: str) -> None: ...
    def change(self, name: str, old_password: str, new_password: str) -> None: ...
    def remove(self, name: str) -> None: ...
    def names(self) -> list[str]: ...


class OpenStore(Protocol):
    """A store unlocked with its data key."""

    @property
    def terminal(self) -> str: ...
    @property
    def keyslots(self) -> KeySlots: ...
    @property
    def signature_check(self) -> SignatureCheck: ...

    def transaction(self) -> AbstractContextManager[UnitOfWork]: ...
    def reader(self) -> AbstractContextManager[UnitOfWork]: ...
    def bulk_durability(self) -> AbstractContextManager[None]:
        """Commits without waiting for the disk while a resumable bulk load runs."""
        ...

    def trusted_signing_keys(self) -> frozenset[str]: ...
    def pending_events(self) -> list[PendingEvent]: ...
    def discard_pending(self, ids: list[str]) -> None: ...
    def integrity_problems(self) -> list[str]: ...
    def rekey(self) -> None: ...
    def close(self) -> None: ...


class KeyVault(Protocol):
    """The closed store: keyslots, failed-login guard and the queue of pending events."""

    @property
    def terminal(self) -> str: ...

    def guard(self, name: str) -> GuardState: ...
    def set_guard(self, name: str, state: GuardState) -> None: ...
    def has_slot(self, name: str) -> bool: ...
    def open_as(self, name: str, password: str) -> OpenStore: ...
    def open_with_recovery(self, secret: str) -> OpenStore: ...
    def password_matches(self, name: str, password: str) -> bool: ...
    def queue_event(self, event: AuditEvent, at: datetime) -> None: ...

"""Exports to write-once media and the media ledger (媒体管理簿): the data and the rules.

An export names what leaves (a ``PayloadSpec``), is bound by its approval to the content hash of
exactly that data, and is written to a medium only on an export-enabled terminal, to the
configured burner or into the spool directory. Every medium written is registered here until it
is destroyed (or erased by the recipient, for a provision handed over outside).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import PurePath

from core.errors import InvalidValue, RuleViolation


class ExportKind(StrEnum):
    PROVISION = "provision"  # carries its provision case's approval
    BACKUP = "backup"
    MIGRATION = "migration"


class ExportStatus(StrEnum):
    PENDING = "pending"  # waiting for a supervisor
    APPROVED = "approved"
    REJECTED = "rejected"
    WRITTEN = "written"  # a good medium exists


class MediaStatus(StrEnum):
    WRITING = "writing"  # registered before the write; left so only if the write was cut off
    GOOD = "good"  # read back and verified
    SPOILED = "spoiled"  # verification failed: must be destroyed
    HANDED_OVER = "handed_over"
    RETURNED = "returned"  # back from a handover: must be destroyed
    ERASED = "erased"  # the recipient reported erasure (provision media handed outside)
    DISPOSED = "disposed"  # physically destroyed, with a witness


OPEN_MEDIA = frozenset(
    {
        MediaStatus.WRITING,
        MediaStatus.GOOD,
        MediaStatus.SPOILED,
        MediaStatus.HANDED_OVER,
        MediaStatus.RETURNED,
    }
)
MUST_DISPOSE = frozenset({MediaStatus.WRITING, MediaStatus.SPOILED, MediaStatus.RETURNED})
DISPOSABLE = frozenset(MUST_DISPOSE | {MediaStatus.GOOD})
MEDIA_TYPES = ("iso", "cd-r", "dvd-r", "bd-r")
TABLE_KINDS = frozenset({ExportKind.BACKUP, ExportKind.MIGRATION})
DEFAULT_LOCATION = "施錠保管庫"


@dataclass(frozen=True)
class PayloadSpec:
    """What an export carries, independent of how the bundle is built.

    ``tables``: whole tables (backups, migration packages). ``persons`` and ``items``: the
    listed residents with only the listed items (a provision), plus their vaccination history
    when ``history`` is among the items.
    """

    tables: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    items: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {"tables": self.tables, "persons": self.persons, "items": self.items},
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> PayloadSpec:
        data = json.loads(text)
        return cls(tuple(data["tables"]), tuple(data["persons"]), tuple(data["items"]))


@dataclass(frozen=True)
class Export:
    id: int
    kind: ExportKind
    case: int | None
    spec: PayloadSpec
    content_hash: str
    status: ExportStatus
    created_by: str
    created_at: datetime
    recipients: tuple[str, ...] = ()
    decided_by: str | None = None
    decided_at: datetime | None = None
    comment: str = ""
    version: int = 1


@dataclass(frozen=True)
class Medium:
    id: int
    label: str
    media_type: str
    export: int
    case: int | None
    created_by: str
    witness: str
    created_at: datetime
    status: MediaStatus
    location: str
    content_hash: str = ""  # SHA-256 of the bag's tag manifest, as on the medium
    path: str = ""  # the image file or the device written
    verified_at: datetime | None = None
    problems: tuple[str, ...] = ()
    holder: str = ""
    handed_at: datetime | None = None
    returned_at: datetime | None = None
    disposed_at: datetime | None = None
    disposal_method: str = ""
    disposal_witness: str = ""
    certificate: str = ""
    version: int = 1

    @property
    def must_dispose(self) -> bool:
        return self.status in MUST_DISPOSE


@dataclass(frozen=True)
class MediaEvent:
    medium: int
    at: datetime
    user: str
    event: str
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteTarget:
    """Where a medium goes: an image file in the spool, or the configured burner device."""

    image: PurePath  # the ISO file (for a device, the staging image in the spool)
    device: str | None = None


def witness_name(witness: str, user: str) -> str:
    """The witness is another person, named in full: never the person writing."""
    name = witness.strip()
    if not name:
        raise InvalidValue("witness", "export.witness_required")
    if name == user:
        raise RuleViolation("export.witness_is_writer")
    return name


def spool_target(out: str, spool: PurePath) -> PurePath:
    """The image path for ``--out``: a bare name lands in the spool; other paths must be in it.

    Relative components (``..``) are refused outright so nothing escapes the spool.
    """
    text = out.strip()
    if not text:
        raise InvalidValue("out", "export.out_required")
    path = PurePath(text)
    if ".." in path.parts:
        raise RuleViolation("export.path_refused", path=text, spool=str(spool))
    if len(path.parts) == 1:
        path = spool / path
    elif path.parent != spool:
        raise RuleViolation("export.path_refused", path=text, spool=str(spool))
    if path.suffix.lower() != ".iso":
        raise InvalidValue("out", "export.out_suffix", name=path.name)
    return path


def device_target(device: str, configured: str, spool: PurePath, label: str) -> WriteTarget:
    """Only the configured burner may be written; the image is staged in the spool."""
    if not configured:
        raise RuleViolation("export.no_device")
    if device.strip() != configured:
        raise RuleViolation("export.device_refused", device=device, configured=configured)
    return WriteTarget(spool / f"{label}.iso", configured)


def media_label(terminal: str, medium: int, at: datetime) -> str:
    """The label on the disc and in the ledger, e.g. ``T01-26-000123`` (terminal, year, number).

    At most 16 characters: the Joliet volume identifier holds no more.
    """
    short = "".join(ch for ch in terminal.upper() if ch.isascii() and ch.isalnum())[:6] or "T"
    return f"{short}-{at.year % 100:02d}-{medium:06d}"


def check_media_type(text: str) -> str:
    value = text.strip().lower()
    if value not in MEDIA_TYPES:
        raise InvalidValue("media_type", "export.media_type", accepted=", ".join(MEDIA_TYPES))
    return value


@dataclass(frozen=True)
class WriteJob:
    export: Export
    label: str
    target: WriteTarget
    info: dict[str, str]


@dataclass(frozen=True)
class WriteOutcome:
    """What came back from writing and reading the medium back."""

    read_path: str  # where the medium was read back from (image file or device)
    bundle_hash: str  # SHA-256 of the tag manifest written
    content_hash: str  # of the data as it was streamed into the bundle
    verified: bool
    problems: tuple[str, ...]
    passphrase: str | None  # passphrase mode: show once, never store
    payload_bytes: int

"""The central system's use cases, free of HTTP: enrollment, push, pull, conflicts, comparison,
registry import and the central audit trail. ``central.app`` is a thin edge over this."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from central import audit, pull
from central.audit import AuditVerdict
from central.config import CentralDir
from central.db import Database
from central.enrollment import Enrollment, TerminalInfo
from central.entities import CONFLICT_COLUMNS, conflict_of, load
from central.push import PushRules
from central.registry import RegistryImported, import_registry
from core.clock import Clock, SystemClock
from core.errors import AuthenticationFailed, PermissionDenied
from core.sync import (
    CHECKPOINT_FIELDS,
    COMPARED_TABLES,
    PULL_PAGE_LIMIT,
    Conflict,
    Entry,
    PullPage,
    PushResult,
    TableTotal,
    TotalsBuilder,
)

if TYPE_CHECKING:
    from central.bundles import BundleImported

ENTITY_TABLES = ("residents", "records", "vaccines", "institutions", "physicians")


class CentralService:
    def __init__(self, db: Database, conf: CentralDir, clock: Clock | None = None) -> None:
        self.db = db
        self.conf = conf
        self.clock: Clock = clock or SystemClock()
        self.enrollment = Enrollment(db, conf, self.clock)

    @classmethod
    def open(
        cls, conf: CentralDir, db_url: str | None = None, clock: Clock | None = None
    ) -> CentralService:
        url = conf.db_url(db_url)
        key = conf.sqlite_key if url.startswith("sqlite:") else None
        return cls(Database.open(url, key), conf, clock)

    def close(self) -> None:
        self.db.close()

    def create_token(self, terminal: str) -> str:
        return self.enrollment.create_token(terminal)

    def enroll(
        self,
        token_secret: str,
        terminal: str,
        csr_pem: str,
        signing_public_key: str,
        age_recipient: str = "",
    ) -> dict[str, Any]:
        return self.enrollment.enroll(
            token_secret, terminal, csr_pem, signing_public_key, age_recipient
        )

    def authenticate(self, cert_der: bytes) -> str:
        return self.enrollment.authenticate(cert_der)

    def revoke(self, terminal: str) -> None:
        self.enrollment.revoke(terminal)

    def terminals(self) -> list[TerminalInfo]:
        return self.enrollment.terminals()

    def _enrolled(self, terminal: str) -> TerminalInfo:
        info = self.enrollment.terminal(terminal)
        if info is None:
            raise AuthenticationFailed("central.unknown_terminal")
        if info.status != "enrolled":
            raise PermissionDenied("central.revoked", terminal=terminal)
        return info

    def push(self, terminal: str, entries: Sequence[Entry]) -> PushResult:
        """Apply a batch already format-checked by ``sync.wire.parse_push``."""
        info = self._enrolled(terminal)
        return PushRules(self.db, self.clock, terminal, info.signing_public_key).push(entries)

    def pull(self, cursor: int, limit: int = PULL_PAGE_LIMIT) -> PullPage:
        return pull.pull(self.db, cursor, limit)

    def pull_text(self, cursor: int, limit: int = PULL_PAGE_LIMIT) -> str:
        return pull.pull_text(self.db, cursor, limit)

    def conflicts(self, terminal: str) -> list[Conflict]:
        rows = self.db.query(
            f"SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE terminal = ? ORDER BY id",
            (terminal,),
        )
        return [conflict_of(row) for row in rows]

    def compare(self, terminal: str) -> dict[str, TableTotal]:
        """Counts and hash totals per table (副本と原本の照合)."""
        builder = TotalsBuilder({name: TableTotal() for name in COMPARED_TABLES})
        for table in ENTITY_TABLES:
            kind = COMPARED_TABLES[table]
            rows = self.db.query("SELECT data FROM entities WHERE kind = ?", (kind,))
            builder.extend(table, kind, (load(str(row[0])) for row in rows))
        provisions = self.db.query("SELECT data FROM provisions WHERE terminal = ?", (terminal,))
        builder.extend("provisions", "provision", (load(str(row[0])) for row in provisions))
        checkpoints = self.db.query(
            f"SELECT {', '.join(CHECKPOINT_FIELDS)} FROM checkpoints WHERE terminal = ?",
            (terminal,),
        )
        builder.extend(
            "checkpoints",
            "checkpoint",
            (dict(zip(CHECKPOINT_FIELDS, row, strict=True)) for row in checkpoints),
        )
        return builder.totals

    def status(self, terminal: str) -> dict[str, Any]:
        info = self._enrolled(terminal)
        open_conflicts = self.db.scalar(
            "SELECT count(*) FROM conflicts WHERE terminal = ? AND status = 'open'", (terminal,)
        )
        return {
            "terminal": terminal,
            "server_seq": int(self.db.scalar("SELECT coalesce(max(seq), 0) FROM changes")),
            "open_conflicts": int(open_conflicts),
            "last_push": info.last_push,
        }

    def registry_import(self, path: Path) -> RegistryImported:
        return import_registry(self.db, path, self.clock)

    def import_bundle(self, path: Path, answer_out: Path | None = None) -> BundleImported:
        """Apply a terminal's push bundle (air gap) and write the answer bundle."""
        from central.bundles import import_bundle

        return import_bundle(self, path, answer_out)

    def verify_audit(self) -> AuditVerdict:
        return audit.verify(self.db)

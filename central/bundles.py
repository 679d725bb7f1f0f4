"""The central side of the air gap (オフライン端末): import a push bundle, write its answer.

A push bundle is trusted only when signed by a registered terminal's key, or, on first
contact, by the key it names next to an unused one-time enrollment token for its terminal
name. The whole push document is format-checked (``sync.wire.parse_push``, batch by batch)
before anything is applied; entries are applied by ``CentralService.push``, so importing the
same bundle again applies nothing twice. The answer (acknowledgements, this terminal's
conflicts, and the changes since the bundle's cursor) is signed with the central signing key
over the central audit head and encrypted to the terminal's age recipient.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from central import audit
from central.config import CentralDir
from central.enrollment import (
    TERMINAL_COLUMNS,
    TerminalInfo,
    check_age_recipient,
    check_signing_key,
)
from central.service import CentralService
from core.audit import GENESIS_HASH, checkpoint_message
from core.clock import timestamp
from core.errors import (
    AuthenticationFailed,
    InvalidValue,
    PermissionDenied,
    RuleViolation,
    SesshuError,
)
from core.sync import PROTOCOL, PULL_PAGE_LIMIT, PUSH_BATCH_LIMIT, Ack, Change, Conflict, Entry
from sync.bundle import (
    ANSWER_FILE,
    PUSH_FILE,
    BundleRefused,
    bundle_signer,
    open_sync_bundle,
    write_sync_bundle,
)
from sync.wire import (
    TERMINAL_PATTERN,
    Problem,
    WireError,
    ack_json,
    change_json,
    conflict_json,
    parse_push,
)

MAX_ANSWER_CHANGES = 100_000  # per answer; the next bundle's answer brings the rest
MAX_PROBLEMS_SHOWN = 5
ANSWER_SUFFIX = ".answer"
BUNDLE_IMPORTED = "central.bundle_imported"
BUNDLE_REFUSED = "central.bundle_refused"
ANSWER_WRITTEN = "central.answer_written"


@dataclass(frozen=True)
class BundleImported:
    terminal: str
    acks: dict[str, int]
    conflicts: int
    changes: int
    more: bool
    answer: Path
    answer_hash: str
    registered: bool


@dataclass(frozen=True)
class PushBundle:
    """A push document that passed the format check."""

    terminal: str
    entries: list[Entry]
    cursor: int


def central_signer(conf: CentralDir) -> Callable[[bytes], tuple[str, str]]:
    key = conf.signing_key
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        .hex()
    )

    def sign(message: bytes) -> tuple[str, str]:
        return key.sign(message).hex(), public

    return sign


def default_answer_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ANSWER_SUFFIX)


def _refused(error: BundleRefused) -> RuleViolation:
    return RuleViolation("central.bundle_refused", reason=error.reason, file=error.detail or "-")


def _malformed(problems: list[Problem]) -> InvalidValue:
    shown = "; ".join(
        f"{p.index}:{p.field or '-'}:{p.reason}" for p in problems[:MAX_PROBLEMS_SHOWN]
    )
    more = len(problems) - MAX_PROBLEMS_SHOWN
    return InvalidValue(
        "bundle", "central.bundle_malformed", problems=shown + (f" (+{more})" if more > 0 else "")
    )


def parse_push_bundle(doc: Mapping[str, Any]) -> PushBundle:
    """Every entry checked as ``POST /v1/push`` checks a batch, the whole document first."""
    problems: list[Problem] = []
    raw = doc.get("entries")
    if not isinstance(raw, list):
        raise _malformed([Problem(-1, "entries", "not_list")])
    cursor = doc.get("cursor")
    if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor < 0:
        problems.append(Problem(-1, "cursor", "not_a_count"))
        cursor = 0
    envelope = {"protocol": doc.get("protocol"), "terminal": doc.get("terminal")}
    terminal = ""
    entries: list[Entry] = []
    for start in range(0, max(1, len(raw)), PUSH_BATCH_LIMIT):
        try:
            terminal, batch = parse_push(
                {**envelope, "entries": raw[start : start + PUSH_BATCH_LIMIT]}
            )
        except WireError as error:
            problems += [
                Problem(p.index + start if p.index >= 0 else -1, p.field, p.reason)
                for p in error.problems
            ]
            if any(p.index < 0 for p in error.problems):
                break
            continue
        if batch and entries and batch[0].seq <= entries[-1].seq:
            problems.append(Problem(start, "seq", "out_of_order"))
        entries += batch
    if len({e.uuid for e in entries}) != len(entries):
        problems.append(Problem(-1, "uuid", "repeated_in_batch"))
    if problems:
        raise _malformed(problems)
    return PushBundle(terminal, entries, cursor)


class BundleImport:
    """One import: construct per bundle."""

    def __init__(self, service: CentralService) -> None:
        self.service = service
        self.db = service.db
        self.conf = service.conf

    def run(self, path: Path, answer_out: Path | None = None) -> BundleImported:
        path = path.absolute()
        answer = (answer_out or default_answer_path(path)).absolute()
        try:
            return self._run(path, answer)
        except SesshuError as error:
            with self.db.transaction():
                audit.append(
                    self.db,
                    timestamp(self.service.clock.now()),
                    "bundle",
                    BUNDLE_REFUSED,
                    path.name[:200],
                    {**{k: str(v) for k, v in error.params.items()}, "error": error.key},
                )
            raise

    def _terminal_by_key(self, key: str) -> TerminalInfo | None:
        row = self.db.one(
            f"SELECT {TERMINAL_COLUMNS} FROM terminals WHERE signing_public_key = ?"
            " ORDER BY enrolled_at DESC",
            (key.lower(),),
        )
        return TerminalInfo(*row) if row else None

    def _run(self, path: Path, answer: Path) -> BundleImported:
        if answer.exists():
            raise RuleViolation("central.answer_exists", path=str(answer))
        try:
            signer = bundle_signer(path).lower()
            opened = open_sync_bundle(
                path, PUSH_FILE, identity=str(self.conf.age_identity), signer=signer
            )
        except BundleRefused as error:
            raise _refused(error) from None
        doc = opened.document
        push = parse_push_bundle(doc)
        if opened.checkpoint.get("terminal") != push.terminal:
            raise AuthenticationFailed("central.bundle_terminal_mismatch", terminal=push.terminal)
        known = self._terminal_by_key(signer)
        registered = known is None
        if known is None:
            recipient = self._register(push.terminal, signer, doc)
        else:
            if known.status != "enrolled":
                raise PermissionDenied("central.revoked", terminal=known.name)
            if known.name != push.terminal:
                raise AuthenticationFailed(
                    "central.bundle_terminal_mismatch", terminal=push.terminal
                )
            recipient = known.age_recipient
            if not recipient:
                raise RuleViolation("central.bundle_no_recipient", terminal=known.name)
        acks: list[Ack] = []
        touched: dict[int, Conflict] = {}
        for start in range(0, len(push.entries), PUSH_BATCH_LIMIT):
            result = self.service.push(
                push.terminal, push.entries[start : start + PUSH_BATCH_LIMIT]
            )
            acks += result.acks
            touched.update({c.id: c for c in result.conflicts})
        conflicts = list(touched.values()) + [
            c for c in self.service.conflicts(push.terminal) if c.id not in touched
        ]
        changes, next_cursor, more = self._changes(push.cursor)
        counts = Counter(a.status.value for a in acks)
        at = timestamp(self.service.clock.now())
        with self.db.transaction():
            audit.append(
                self.db,
                at,
                push.terminal,
                BUNDLE_IMPORTED,
                push.terminal,
                {
                    "content_hash": opened.content_hash,
                    "entries": len(push.entries),
                    "acks": dict(counts),
                    "conflicts": len(conflicts),
                    "changes": len(changes),
                    "cursor": push.cursor,
                    "next_cursor": next_cursor,
                    "registered": registered,
                },
            )
        document = {
            "protocol": PROTOCOL,
            "terminal": push.terminal,
            "acks": [ack_json(a) for a in acks],
            "conflicts": [conflict_json(c) for c in conflicts],
            "cursor": push.cursor,
            "changes": [change_json(c) for c in changes],
            "next_cursor": next_cursor,
            "more": more,
        }
        answer_hash = self._write_answer(
            answer, push.terminal, recipient, document, opened.content_hash
        )
        return BundleImported(
            push.terminal,
            dict(counts),
            len(conflicts),
            len(changes),
            more,
            answer,
            answer_hash,
            registered,
        )

    def _changes(self, cursor: int) -> tuple[list[Change], int, bool]:
        changes: list[Change] = []
        more = True
        while more and len(changes) < MAX_ANSWER_CHANGES:
            page = self.service.pull(
                cursor, min(PULL_PAGE_LIMIT, MAX_ANSWER_CHANGES - len(changes))
            )
            changes += page.changes
            more = page.more
            if page.next_cursor == cursor:
                break
            cursor = page.next_cursor
        return changes, cursor, more

    def _checkpoint(self, sign: Callable[[bytes], tuple[str, str]]) -> dict[str, Any]:
        head = self.db.one("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, chain_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
        at = timestamp(self.service.clock.now())
        signature, public_key = sign(checkpoint_message(audit.CENTRAL, seq, chain_hash, at))
        return {
            "seq": seq,
            "hash": chain_hash,
            "at": at,
            "terminal": audit.CENTRAL,
            "signature": signature,
            "public_key": public_key,
        }

    def _write_answer(
        self,
        target: Path,
        terminal: str,
        recipient: str,
        document: Mapping[str, Any],
        answers: str,
    ) -> str:
        sign = central_signer(self.conf)
        checkpoint = self._checkpoint(sign)
        now = self.service.clock.now()
        try:
            answer_hash = write_sync_bundle(
                target,
                ANSWER_FILE,
                document,
                signer=sign,
                recipient=recipient,
                info={
                    "Bundle-Kind": "sesshu-sync-answer",
                    "Source-Organization": audit.CENTRAL,
                    "Terminal": terminal,
                    "Answers-Bundle": answers,
                    "Bagging-Date": now.date().isoformat(),
                    "Next-Cursor": str(document["next_cursor"]),
                },
                checkpoint=checkpoint,
            )
        except FileExistsError:
            raise RuleViolation("central.answer_exists", path=str(target)) from None
        with self.db.transaction():
            audit.append(
                self.db,
                timestamp(now),
                "bundle",
                ANSWER_WRITTEN,
                terminal,
                {"content_hash": answer_hash, "answers": answers},
            )
        return answer_hash

    def _register(self, terminal: str, signer: str, doc: Mapping[str, Any]) -> str:
        """First contact of a terminal enrolled offline: the one-time token registers it."""
        token = doc.get("token")
        if not isinstance(token, str) or not token:
            raise AuthenticationFailed("central.bundle_unknown_signer")
        claimed = doc.get("signing_public_key")
        if not isinstance(claimed, str) or claimed.lower() != signer:
            raise AuthenticationFailed("central.bundle_unknown_signer")
        if not TERMINAL_PATTERN.match(terminal):
            raise InvalidValue("terminal", "central.terminal_name")
        signing_key = check_signing_key(signer)
        recipient = doc.get("age_recipient")
        if not isinstance(recipient, str) or not recipient:
            raise InvalidValue("age_recipient", "central.age_recipient")
        recipient = check_age_recipient(recipient)
        self.service.enrollment.admit(
            token,
            terminal,
            signing_key,
            recipient,
            lambda now: None,
            {"offline": True, "signing_public_key": signing_key},
        )
        return recipient


def import_bundle(
    service: CentralService, path: Path, answer_out: Path | None = None
) -> BundleImported:
    return BundleImport(service).run(path, answer_out)

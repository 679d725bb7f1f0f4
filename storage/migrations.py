"""Schema migrations, registered in code and applied when a store is opened.

Each migration runs in the same transaction as the record that it was applied. Never edit a
migration that has shipped: add a new one.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from core.provision import DEFAULT_BASES

MIGRATIONS = Migrations("sesshu")


def run_statements(db: Database, script: str) -> None:
    """Execute ``;``-separated statements one by one (``executescript`` would commit)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if line.rstrip().endswith(";") and _complete(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        db.execute(statement)


def _complete(statement: str) -> bool:
    import sqlcipher3

    return bool(sqlcipher3.complete_statement(statement))


_APPEND_ONLY = """
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END;
"""


@MIGRATIONS(name="0001_foundation")
def foundation(db: Database) -> None:
    run_statements(
        db,
        """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE terminal_identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  signing_private BLOB NOT NULL,
  signing_public TEXT NOT NULL,
  inbox_private BLOB NOT NULL,
  lookup_key BLOB NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  roles TEXT NOT NULL,
  mynumber_access INTEGER NOT NULL,
  contractor INTEGER NOT NULL,
  valid_from TEXT NOT NULL,
  valid_to TEXT,
  password_changed_at TEXT NOT NULL,
  must_change_password INTEGER NOT NULL,
  locked INTEGER NOT NULL,
  failed_logins INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  version INTEGER NOT NULL
);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  terminal TEXT NOT NULL,
  user TEXT,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_user ON audit (user, seq);
CREATE INDEX audit_target ON audit (target, seq);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER audit_contiguous BEFORE INSERT ON audit
WHEN NEW.seq IS NOT COALESCE((SELECT seq FROM audit_head WHERE id = 1), 0) + 1
BEGIN SELECT RAISE(ABORT, 'audit sequence must be contiguous'); END;
CREATE TRIGGER audit_head_follows AFTER INSERT ON audit
BEGIN INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, NEW.seq, NEW.hash); END;
CREATE TABLE audit_checkpoints (
  seq INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  at TEXT NOT NULL,
  terminal TEXT NOT NULL,
  signature TEXT NOT NULL,
  public_key TEXT NOT NULL
);
CREATE TABLE audit_reviews (
  id INTEGER PRIMARY KEY,
  month TEXT NOT NULL,
  reviewer TEXT NOT NULL,
  at TEXT NOT NULL,
  note TEXT NOT NULL
);
CREATE TABLE pending_ingested (id TEXT PRIMARY KEY, at TEXT NOT NULL);
"""
        + "".join(
            _APPEND_ONLY.format(table=t)
            for t in ("audit", "audit_checkpoints", "audit_reviews", "pending_ingested")
        ),
    )


@MIGRATIONS(name="0002_residents_and_records")
def residents_and_records(db: Database) -> None:
    run_statements(
        db,
        """
CREATE TABLE vaccines (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  name_en TEXT NOT NULL,
  category TEXT NOT NULL,
  definition TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE institutions (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE physicians (
  code TEXT PRIMARY KEY,
  institution TEXT NOT NULL REFERENCES institutions (code),
  name TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE residents (
  id INTEGER PRIMARY KEY,
  atena TEXT NOT NULL UNIQUE,
  mynumber TEXT,
  mynumber_hmac BLOB,
  name TEXT NOT NULL,
  kana TEXT NOT NULL,
  alias_name TEXT,
  alias_kana TEXT,
  birth TEXT NOT NULL,
  sex TEXT NOT NULL CHECK (sex IN ('M', 'F')),
  postal TEXT,
  address TEXT,
  household TEXT,
  relation TEXT,
  status TEXT NOT NULL CHECK (status IN ('resident', 'moved_out', 'deceased')),
  status_date TEXT,
  status_reason TEXT,
  dv_flag INTEGER NOT NULL DEFAULT 0,
  no_auto_answer INTEGER NOT NULL DEFAULT 0,
  guardian TEXT,
  kana_key TEXT,
  kana_loose_key TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX residents_mynumber_active ON residents (mynumber_hmac)
  WHERE mynumber_hmac IS NOT NULL AND status = 'resident';
CREATE TABLE vaccinations (
  id INTEGER PRIMARY KEY,
  atena TEXT NOT NULL REFERENCES residents (atena),
  vaccine TEXT NOT NULL,
  dose INTEGER,
  date TEXT,
  date_unknown INTEGER NOT NULL DEFAULT 0,
  amount TEXT,
  maker TEXT,
  lot TEXT,
  institution TEXT,
  physician TEXT,
  venue TEXT,
  copay TEXT,
  note TEXT,
  status TEXT NOT NULL CHECK (status IN ('verified', 'pending', 'voided')),
  source TEXT NOT NULL,
  keyed_by TEXT,
  verified_by TEXT,
  created_at TEXT NOT NULL,
  void_reason TEXT,
  version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX vaccinations_person ON vaccinations (atena, vaccine, dose);
""",
    )


@MIGRATIONS(name="0003_resident_search")
def resident_search(db: Database) -> None:
    """Search keys and indexes; the ``sesshu_*`` functions are registered on every connection.

    Names and addresses go into an FTS5 table as overlapping character pairs
    (``storage.search_keys.indexed_terms``), so a substring of any length is found through the
    index, one- and two-character Japanese names included.
    """
    run_statements(
        db,
        """
CREATE INDEX residents_kana ON residents (kana_key);
CREATE INDEX residents_kana_loose ON residents (kana_loose_key);
CREATE INDEX residents_birth ON residents (birth);
CREATE INDEX residents_mynumber ON residents (mynumber_hmac);
CREATE VIRTUAL TABLE resident_text USING fts5 (
  name, variant, address,
  content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TRIGGER residents_text_insert AFTER INSERT ON residents
BEGIN
  UPDATE residents SET kana_key = sesshu_kana_key(NEW.kana),
                       kana_loose_key = sesshu_kana_loose_key(NEW.kana)
  WHERE id = NEW.id AND NEW.kana_key IS NULL;
  INSERT INTO resident_text (rowid, name, variant, address)
  VALUES (NEW.id, sesshu_name_terms(NEW.name), sesshu_variant_terms(NEW.name),
          sesshu_address_terms(NEW.address));
END;
CREATE TRIGGER residents_text_update AFTER UPDATE OF name, kana, address ON residents
BEGIN
  UPDATE residents SET kana_key = sesshu_kana_key(NEW.kana),
                       kana_loose_key = sesshu_kana_loose_key(NEW.kana)
  WHERE id = NEW.id;
  DELETE FROM resident_text WHERE rowid = OLD.id;
  INSERT INTO resident_text (rowid, name, variant, address)
  VALUES (NEW.id, sesshu_name_terms(NEW.name), sesshu_variant_terms(NEW.name),
          sesshu_address_terms(NEW.address));
END;
CREATE TRIGGER residents_text_delete AFTER DELETE ON residents
BEGIN
  DELETE FROM resident_text WHERE rowid = OLD.id;
END;
UPDATE residents SET kana_key = sesshu_kana_key(kana),
                     kana_loose_key = sesshu_kana_loose_key(kana);
INSERT INTO resident_text (rowid, name, variant, address)
SELECT id, sesshu_name_terms(name), sesshu_variant_terms(name), sesshu_address_terms(address)
FROM residents;
""",
    )


@MIGRATIONS(name="0004_batches")
def batches(db: Database) -> None:
    """Slip batches keyed twice (二重入力), their reconciliation, and the catalogue's masters.

    ``batch_entries.fields`` holds one pass's normalised values for a slip as canonical JSON;
    ``batch_slips`` records what became of each slip at commit (committed, duplicate held for a
    supervisor, rejected); ``batch_readers`` who has seen both passes side by side, and so
    may no longer key that batch.
    """
    run_statements(
        db,
        """
CREATE TABLE makers (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  name_en TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE batches (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  received TEXT NOT NULL,
  control_count INTEGER NOT NULL CHECK (control_count >= 0),
  expected_vaccine TEXT,
  status TEXT NOT NULL CHECK (status IN ('open', 'committed', 'closed')),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  committed_by TEXT,
  committed_at TEXT,
  override_reason TEXT,
  version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE batch_entries (
  batch INTEGER NOT NULL REFERENCES batches (id),
  pass INTEGER NOT NULL CHECK (pass IN (1, 2)),
  slip TEXT NOT NULL,
  fields TEXT NOT NULL,
  keyed_by TEXT NOT NULL,
  keyed_at TEXT NOT NULL,
  duration_ms INTEGER,
  PRIMARY KEY (batch, pass, slip)
);
CREATE INDEX batch_entries_user ON batch_entries (keyed_by, batch);
CREATE TABLE batch_resolutions (
  batch INTEGER NOT NULL REFERENCES batches (id),
  slip TEXT NOT NULL,
  field TEXT NOT NULL,
  value TEXT,
  pass1 TEXT,
  pass2 TEXT,
  attribution TEXT NOT NULL CHECK (attribution IN ('pass1', 'pass2', 'both', 'none')),
  reason TEXT NOT NULL,
  resolved_by TEXT NOT NULL,
  resolved_at TEXT NOT NULL,
  PRIMARY KEY (batch, slip, field)
);
CREATE TABLE batch_slips (
  batch INTEGER NOT NULL REFERENCES batches (id),
  slip TEXT NOT NULL,
  outcome TEXT NOT NULL CHECK (outcome IN ('committed', 'duplicate', 'rejected')),
  record INTEGER REFERENCES vaccinations (id),
  flags TEXT NOT NULL DEFAULT '[]',
  decided_by TEXT,
  decided_at TEXT,
  reason TEXT,
  PRIMARY KEY (batch, slip)
);
CREATE TABLE batch_readers (
  batch INTEGER NOT NULL REFERENCES batches (id),
  user TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (batch, user)
);
""",
    )
    _seed_catalogue_masters(db)


def _seed_catalogue_masters(db: Database) -> None:
    from core.catalog import load_default_catalog

    catalog = load_default_catalog()
    for maker in catalog.makers:
        db.execute(
            "INSERT OR IGNORE INTO makers (code, name, name_en) VALUES (?, ?, ?)",
            (maker.code, maker.name_ja, maker.name_en),
        )
    for vaccine in catalog.vaccines:
        db.execute(
            "INSERT OR IGNORE INTO vaccines (code, name, name_en, category, definition) "
            "VALUES (?, ?, ?, ?, '{}')",
            (vaccine.code, vaccine.name_ja, vaccine.name_en, vaccine.category),
        )


@MIGRATIONS(name="0005_pending_changes")
def pending_changes(db: Database) -> None:
    """Four-eyes changes outside batches (修正の申請): one row per proposal, decided once.

    ``before_values`` and ``after_values`` hold the changed fields as canonical JSON. The
    database itself refuses a decision by the proposer, a second open change on the same
    target, any edit of a proposal, any change to a decided row, and every delete.
    """
    run_statements(
        db,
        """
CREATE TABLE pending_changes (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL
    CHECK (kind IN ('record.add', 'record.correct', 'record.void', 'resident.correct')),
  atena TEXT NOT NULL REFERENCES residents (atena),
  record INTEGER REFERENCES vaccinations (id),
  before_values TEXT NOT NULL,
  after_values TEXT NOT NULL,
  evidence TEXT NOT NULL CHECK (evidence IN ('counter', 'phone')),
  evidence_detail TEXT,
  reason TEXT NOT NULL,
  proposed_by TEXT NOT NULL,
  proposed_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'confirmed', 'rejected')),
  decided_by TEXT,
  decided_at TEXT,
  decision_note TEXT,
  base_version INTEGER,
  CHECK ((status = 'pending') = (decided_by IS NULL)),
  CHECK (decided_by IS NULL OR decided_by != proposed_by)
);
CREATE INDEX pending_changes_status ON pending_changes (status, id);
CREATE INDEX pending_changes_person ON pending_changes (atena, status);
CREATE UNIQUE INDEX pending_changes_one_open ON pending_changes (atena, COALESCE(record, 0))
  WHERE status = 'pending';
CREATE TRIGGER pending_changes_proposal_fixed
BEFORE UPDATE OF kind, atena, record, before_values, after_values, evidence, evidence_detail,
  reason, proposed_by, proposed_at, base_version ON pending_changes
BEGIN SELECT RAISE(ABORT, 'a proposed change is never edited'); END;
CREATE TRIGGER pending_changes_decided_once BEFORE UPDATE ON pending_changes
WHEN OLD.status != 'pending'
BEGIN SELECT RAISE(ABORT, 'a decided change is final'); END;
CREATE TRIGGER pending_changes_no_delete BEFORE DELETE ON pending_changes
BEGIN SELECT RAISE(ABORT, 'changes are never deleted'); END;
""",
    )


@MIGRATIONS(name="0006_birth_name_index")
def birth_name_index(db: Database) -> None:
    """Name + birth searches read one index: birth, then the name's search key.

    With a birth range (a day, a month or a year) the name is tested on the index entries
    alone, so a common surname costs no more than the birth range (佐藤 + a birth year went
    from a 38 ms tail to under 7 ms at a million residents). It replaces the birth index.
    """
    run_statements(
        db,
        """
CREATE INDEX IF NOT EXISTS residents_birth_name ON residents (birth, sesshu_name_search(name));
DROP INDEX IF EXISTS residents_birth;
""",
    )


@MIGRATIONS(name="0007_exports_media")
def exports_media(db: Database) -> None:
    """Exports (what leaves, bound to its approval) and the media ledger (媒体管理簿).

    The database refuses an approval by the creator, a change of what an export carries after
    it was created, and every delete: exports and media are kept, however they ended.
    """
    run_statements(
        db,
        """
CREATE TABLE exports (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('provision', 'backup', 'migration')),
  provision_case INTEGER,
  spec TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  recipients TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'written')),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  decided_by TEXT,
  decided_at TEXT,
  comment TEXT NOT NULL DEFAULT '',
  version INTEGER NOT NULL DEFAULT 1,
  CHECK (decided_by IS NULL OR decided_by != created_by)
);
CREATE INDEX exports_status ON exports (status, id);
CREATE TRIGGER exports_content_fixed
BEFORE UPDATE OF kind, provision_case, spec, content_hash, recipients, created_by, created_at
ON exports
BEGIN SELECT RAISE(ABORT, 'what an export carries never changes'); END;
CREATE TRIGGER exports_no_delete BEFORE DELETE ON exports
BEGIN SELECT RAISE(ABORT, 'exports are never deleted'); END;
CREATE TABLE media (
  id INTEGER PRIMARY KEY,
  label TEXT NOT NULL UNIQUE,
  media_type TEXT NOT NULL,
  export INTEGER NOT NULL REFERENCES exports (id),
  provision_case INTEGER,
  created_by TEXT NOT NULL,
  witness TEXT NOT NULL,
  created_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN
    ('writing', 'good', 'spoiled', 'handed_over', 'returned', 'erased', 'disposed')),
  location TEXT NOT NULL,
  content_hash TEXT NOT NULL DEFAULT '',
  path TEXT NOT NULL DEFAULT '',
  verified_at TEXT,
  problems TEXT NOT NULL DEFAULT '[]',
  holder TEXT NOT NULL DEFAULT '',
  handed_at TEXT,
  returned_at TEXT,
  disposed_at TEXT,
  disposal_method TEXT NOT NULL DEFAULT '',
  disposal_witness TEXT NOT NULL DEFAULT '',
  certificate TEXT NOT NULL DEFAULT '',
  version INTEGER NOT NULL DEFAULT 1,
  CHECK (witness != created_by),
  CHECK (status != 'disposed' OR (disposed_at IS NOT NULL AND disposal_witness != ''))
);
CREATE INDEX media_status ON media (status, id);
CREATE INDEX media_case ON media (provision_case);
CREATE TRIGGER media_disposed_final BEFORE UPDATE ON media
WHEN OLD.status IN ('disposed', 'erased')
BEGIN SELECT RAISE(ABORT, 'a destroyed medium is final'); END;
CREATE TRIGGER media_no_delete BEFORE DELETE ON media
BEGIN SELECT RAISE(ABORT, 'media are never deleted from the ledger'); END;
CREATE TABLE media_events (
  id INTEGER PRIMARY KEY,
  medium INTEGER NOT NULL REFERENCES media (id),
  at TEXT NOT NULL,
  user TEXT NOT NULL,
  event TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX media_events_medium ON media_events (medium, id);
"""
        + _APPEND_ONLY.format(table="media_events"),
    )


@MIGRATIONS(name="0008_provision")
def provision(db: Database) -> None:
    """Manual provision: recipients, legal bases, cases, their persons and ledger stages, and
    the provision records (番号法第23条), which are append-only and kept at least 7 years.

    ``residents.former_code`` is the 全国地方公共団体コード of the municipality a mover-in came
    from: an inbound inquiry about a 転入者 must name it as well as the 個人番号.
    """
    run_statements(
        db,
        """
ALTER TABLE residents ADD COLUMN former_code TEXT;
CREATE TABLE recipients (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('prefecture', 'municipality', 'ministry', 'contractor')),
  code TEXT,
  contact TEXT NOT NULL DEFAULT '',
  age_recipients TEXT NOT NULL DEFAULT '[]',
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE legal_bases (
  key TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  title_en TEXT NOT NULL,
  items TEXT NOT NULL,
  mynumber INTEGER NOT NULL
);
CREATE TABLE provision_cases (
  id INTEGER PRIMARY KEY,
  requester TEXT NOT NULL,
  staff TEXT NOT NULL,
  supervisor TEXT NOT NULL,
  recipient INTEGER NOT NULL REFERENCES recipients (id),
  basis TEXT NOT NULL REFERENCES legal_bases (key),
  purpose TEXT NOT NULL,
  items TEXT NOT NULL,
  delivery TEXT NOT NULL,
  retention_deadline TEXT,
  approval_ref TEXT NOT NULL DEFAULT '',
  selection TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('draft', 'approved', 'rejected', 'executed', 'closed')),
  created_at TEXT NOT NULL,
  approved_hash TEXT NOT NULL DEFAULT '',
  decided_by TEXT,
  decided_at TEXT,
  decision_comment TEXT NOT NULL DEFAULT '',
  checked_by TEXT,
  checked_at TEXT,
  checked_hash TEXT NOT NULL DEFAULT '',
  executed_by TEXT,
  executed_at TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  CHECK (decided_by IS NULL OR decided_by != requester),
  CHECK (executed_by IS NULL OR checked_by IS NULL OR executed_by != checked_by)
);
CREATE INDEX provision_cases_status ON provision_cases (status, id);
CREATE TRIGGER provision_cases_no_delete BEFORE DELETE ON provision_cases
BEGIN SELECT RAISE(ABORT, 'provision cases are never deleted'); END;
CREATE TABLE provision_persons (
  provision_case INTEGER NOT NULL REFERENCES provision_cases (id),
  atena TEXT NOT NULL,
  flags TEXT NOT NULL DEFAULT '',
  decision TEXT CHECK (decision IS NULL OR decision IN ('open', 'confirmed', 'removed')),
  PRIMARY KEY (provision_case, atena)
) WITHOUT ROWID;
CREATE TABLE provision_stages (
  id INTEGER PRIMARY KEY,
  provision_case INTEGER NOT NULL REFERENCES provision_cases (id),
  stage TEXT NOT NULL,
  at TEXT NOT NULL,
  user TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX provision_stages_case ON provision_stages (provision_case, id);
CREATE TABLE provision_records (
  id INTEGER PRIMARY KEY,
  provision_case INTEGER,
  outcome TEXT NOT NULL CHECK (outcome IN ('provided', 'rejected', 'refused')),
  at TEXT NOT NULL,
  requester TEXT NOT NULL,
  approver TEXT,
  executor TEXT,
  recipient TEXT NOT NULL,
  basis TEXT NOT NULL,
  items TEXT NOT NULL,
  persons INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  keep_until TEXT NOT NULL
);
CREATE INDEX provision_records_at ON provision_records (at);
"""
        + _APPEND_ONLY.format(table="provision_stages")
        + _APPEND_ONLY.format(table="provision_records"),
    )
    for basis in DEFAULT_BASES:
        db.execute(
            "INSERT OR IGNORE INTO legal_bases (key, title, title_en, items, mynumber) "
            "VALUES (?, ?, ?, ?, ?)",
            (basis.key, basis.title, basis.title_en, ",".join(basis.items), int(basis.mynumber)),
        )


def _json_fields(fields: tuple[str, ...], values: dict[str, str]) -> str:
    """A ``json_object(...)`` of wire fields; ``values`` overrides a field's SQL expression."""
    pairs = []
    for name in fields:
        expression = values.get(name, f"NEW.{name}")
        if name in _WIRE_FLAGS:
            expression = f"json(CASE WHEN {expression} THEN 'true' ELSE 'false' END)"
        pairs.append(f"'{name}', {expression}")
    return "json_object(" + ", ".join(pairs) + ")"


_WIRE_FLAGS = frozenset({"date_unknown", "dv_flag", "no_auto_answer", "active"})
_UUID4 = (
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
    "substr(hex(randomblob(2)), 2) || '-' || substr('89AB', 1 + abs(random()) % 4, 1) || "
    "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
)
_NOW = "strftime('%Y-%m-%dT%H:%M:%f', 'now', '+9 hours') || '+09:00'"
_STORE_ID = "(SELECT value FROM meta WHERE key = 'store_id')"


@MIGRATIONS(name="0009_sync")
def sync(db: Database) -> None:
    """The terminal side of sync (中央システムとの同期): the transactional outbox and its state.

    - ``vaccinations.uid`` is set only on records pulled from other terminals; a local record's
      uid is ``<store_id>:<id>``. ``synced_version`` (records and residents) is the version
      last received from or confirmed by the central system: a row whose ``synced_version``
      equals its ``version`` was written by a pull (or the demo) and is never sent back.
    - ``outbox`` is filled by triggers, so every write path (batch commit, a confirmed change,
      a provision record, an audit checkpoint, any later import) adds its entry in the same
      transaction as the write itself. ``data`` holds exactly the wire fields of ``core.sync``
      (never the 個人番号 of a resident). What an entry carries never changes, entries are
      never deleted, and a status leaves ``pending`` once.
    - ``sync_state`` holds the central URL, cursor, times, errors and the enrollment material
      (certificates, the encrypted client key, the age identity): all inside the encrypted store.
    - ``sync_conflicts`` mirrors the central system's conflicts on this terminal's entries;
      ``sync_held`` keeps pulled changes not applied yet (the key has unacknowledged entries,
      an open conflict or a pending local change), retried on every run.
    """
    from core.sync import CHECKPOINT_FIELDS, PROVISION_FIELDS, RECORD_FIELDS, RESIDENT_FIELDS

    record_key = f"COALESCE(NEW.uid, {_STORE_ID} || ':' || NEW.id)"
    record_data = _json_fields(RECORD_FIELDS, {"uid": record_key})
    resident_data = _json_fields(RESIDENT_FIELDS, {"mynumber": "NULL"})
    provision_data = _json_fields(PROVISION_FIELDS, {})
    checkpoint_data = _json_fields(CHECKPOINT_FIELDS, {})
    insert = "INSERT INTO outbox (uuid, kind, key, op, base_version, version, data, at) VALUES "
    run_statements(
        db,
        f"""
ALTER TABLE vaccinations ADD COLUMN uid TEXT;
ALTER TABLE vaccinations ADD COLUMN synced_version INTEGER;
ALTER TABLE residents ADD COLUMN synced_version INTEGER;
CREATE UNIQUE INDEX vaccinations_uid ON vaccinations (uid) WHERE uid IS NOT NULL;
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL
    CHECK (kind IN ('record', 'resident', 'provision', 'checkpoint', 'decision')),
  key TEXT NOT NULL,
  op TEXT NOT NULL,
  base_version INTEGER NOT NULL,
  version INTEGER NOT NULL,
  data TEXT NOT NULL,
  at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'acked', 'conflict', 'rejected')),
  acked_at TEXT,
  reason TEXT
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE status = 'pending';
CREATE INDEX outbox_pending_key ON outbox (key) WHERE status = 'pending';
CREATE TRIGGER outbox_content_fixed
BEFORE UPDATE OF seq, uuid, kind, key, op, base_version, version, data, at ON outbox
BEGIN SELECT RAISE(ABORT, 'an outbox entry never changes'); END;
CREATE TRIGGER outbox_status_once BEFORE UPDATE OF status ON outbox
WHEN OLD.status != 'pending' AND NEW.status != OLD.status
BEGIN SELECT RAISE(ABORT, 'an answered outbox entry is final'); END;
CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
BEGIN SELECT RAISE(ABORT, 'outbox entries are never deleted'); END;
CREATE TRIGGER vaccinations_outbox_insert AFTER INSERT ON vaccinations
WHEN NEW.status = 'verified' AND NEW.synced_version IS NOT NEW.version
BEGIN
  {insert}({_UUID4}, 'record', {record_key}, 'upsert', 0, NEW.version, {record_data}, {_NOW});
END;
CREATE TRIGGER vaccinations_outbox_update AFTER UPDATE ON vaccinations
WHEN NEW.version != OLD.version AND NEW.synced_version IS NOT NEW.version
  AND (NEW.status = 'verified' OR (NEW.status = 'voided' AND OLD.status = 'verified'))
BEGIN
  {insert}({_UUID4}, 'record', {record_key},
    CASE WHEN NEW.status = 'voided' THEN 'void'
         WHEN OLD.status = 'pending' THEN 'upsert' ELSE 'correct' END,
    CASE WHEN OLD.status = 'pending' THEN 0 ELSE OLD.version END,
    NEW.version, {record_data}, {_NOW});
END;
CREATE TRIGGER residents_outbox_update AFTER UPDATE ON residents
WHEN NEW.version != OLD.version AND NEW.synced_version IS NOT NEW.version
BEGIN
  {insert}({_UUID4}, 'resident', NEW.atena, 'correct', OLD.version, NEW.version,
    {resident_data}, {_NOW});
END;
CREATE TRIGGER provision_records_outbox AFTER INSERT ON provision_records
BEGIN
  {insert}({_UUID4}, 'provision', {_STORE_ID} || ':' || NEW.id, 'append', 0, 1,
    {provision_data}, {_NOW});
END;
CREATE TRIGGER audit_checkpoints_outbox AFTER INSERT ON audit_checkpoints
BEGIN
  {insert}({_UUID4}, 'checkpoint', NEW.terminal || ':' || NEW.seq, 'append', 0, 1,
    {checkpoint_data}, {_NOW});
END;
CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sync_conflicts (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  base_version INTEGER NOT NULL,
  server_version INTEGER NOT NULL,
  server_data TEXT,
  client_data TEXT NOT NULL,
  client_user TEXT NOT NULL DEFAULT '',
  terminal TEXT NOT NULL,
  opened_at TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'decided')),
  decided_by TEXT,
  decided_at TEXT,
  choice TEXT CHECK (choice IS NULL OR choice IN ('local', 'central')),
  reason TEXT,
  CHECK ((status = 'open') = (decided_by IS NULL))
);
CREATE INDEX sync_conflicts_open ON sync_conflicts (key) WHERE status = 'open';
CREATE TABLE sync_held (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  version INTEGER NOT NULL,
  data TEXT NOT NULL,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  held_at TEXT NOT NULL,
  PRIMARY KEY (kind, key)
);
""",
    )


@MIGRATIONS(name="0010_migration")
def migration(db: Database) -> None:
    """System migration (システム移行): notices and consents, the runs that load a legacy
    dataset, and their signed reconciliation reports.

    ``migration_run`` on a loaded row names the run that loaded it: a re-run skips a row whose
    source key is already present (loaded earlier), and a second row with the same key in the
    same run is a duplicate in the source. ``migration_progress`` is written in the same
    transaction as each batch, so a killed run resumes after the last batch it committed.
    """
    run_statements(
        db,
        """
ALTER TABLE residents ADD COLUMN migration_run INTEGER;
ALTER TABLE vaccinations ADD COLUMN migration_run INTEGER;
CREATE TABLE notices (
  id INTEGER PRIMARY KEY,
  atena TEXT NOT NULL REFERENCES residents (atena),
  kind TEXT NOT NULL CHECK (kind IN ('guide', 'voucher', 'recommendation')),
  vaccine TEXT,
  sent_on TEXT NOT NULL,
  note TEXT,
  source TEXT NOT NULL,
  created_at TEXT NOT NULL,
  migration_run INTEGER
);
CREATE INDEX notices_person ON notices (atena, kind, vaccine, sent_on);
CREATE TABLE consents (
  id INTEGER PRIMARY KEY,
  atena TEXT NOT NULL REFERENCES residents (atena),
  vaccine TEXT,
  submitted_on TEXT NOT NULL,
  expires_on TEXT,
  note TEXT,
  source TEXT NOT NULL,
  created_at TEXT NOT NULL,
  migration_run INTEGER
);
CREATE INDEX consents_person ON consents (atena, vaccine, submitted_on);
CREATE TABLE migration_runs (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  identity TEXT NOT NULL,
  layout TEXT NOT NULL,
  layout_digest TEXT NOT NULL DEFAULT '',
  started_by TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL DEFAULT 'running'
    CHECK (status IN ('running', 'loaded', 'loaded_with_errors', 'approved')),
  approved_by TEXT,
  approved_at TEXT,
  approval_note TEXT,
  reconciliation INTEGER,
  CHECK ((status = 'approved') = (approved_by IS NOT NULL))
);
CREATE TABLE migration_progress (
  run INTEGER NOT NULL REFERENCES migration_runs (id),
  file TEXT NOT NULL,
  tbl TEXT NOT NULL,
  records INTEGER NOT NULL DEFAULT 0,
  loaded INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run, file)
);
CREATE TABLE migration_issues (
  run INTEGER NOT NULL REFERENCES migration_runs (id),
  file TEXT NOT NULL,
  line INTEGER NOT NULL,
  field TEXT NOT NULL,
  raw TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX migration_issues_run ON migration_issues (run, file, line);
CREATE TABLE migration_reports (
  id INTEGER PRIMARY KEY,
  run INTEGER REFERENCES migration_runs (id),
  source TEXT NOT NULL,
  made_by TEXT NOT NULL,
  made_at TEXT NOT NULL,
  equal INTEGER NOT NULL,
  report TEXT NOT NULL,
  report_hash TEXT NOT NULL,
  signature TEXT NOT NULL,
  public_key TEXT NOT NULL
);
"""
        + _APPEND_ONLY.format(table="migration_reports"),
    )

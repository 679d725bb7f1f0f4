"""``sesshu central init``: a new CONF directory and a migrated database."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from central import audit
from central.audit import CentralAction
from central.config import CentralDir, create_dir, remove_dir
from central.db import Database
from core.clock import Clock, timestamp


def initialise(path: Path, db_url: str | None, names: Sequence[str], clock: Clock) -> CentralDir:
    """Create CONF (CA, server certificate, keys) and migrate the database it names.

    If the database cannot be opened, CONF is removed again so ``init`` can simply be rerun.
    """
    created = not path.exists()
    now = clock.now()
    conf = create_dir(path, db_url, names, now)
    try:
        url = conf.db_url(db_url)
        db = Database.open(url, conf.sqlite_key if url.startswith("sqlite:") else None)
        try:
            audit.append(
                db,
                timestamp(now),
                "admin",
                CentralAction.INITIALISED,
                None,
                {"ca_fingerprint": conf.public["ca_fingerprint"]},
            )
        finally:
            db.close()
    except BaseException:
        remove_dir(path, created)
        raise
    return conf

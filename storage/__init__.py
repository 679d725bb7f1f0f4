"""The encrypted store: SQLCipher 4, keyslots, migrations, repositories and the audit chain."""

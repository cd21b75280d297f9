"""Backups with a tested restore (等保 数据备份恢复): one archive holds the database, the uploaded
files and a manifest that lets ``restore`` prove it put everything back.

An archive is a plain tar (``portal-backup-YYYYMMDD-HHMMSS.tar`` in ``BACKUP_DIR``)::

    database.pgdump     pg_dump --format=custom (compressed by pg_dump)   — PostgreSQL
    database.sqlite3    a copy made by SQLite's online backup API         — SQLite
    media/...           every file under MEDIA_ROOT (佐证材料, imports)
    keys.enc            only with a passphrase: the keys, encrypted (Fernet, key from scrypt)
    manifest.json       row counts per table, sha256 of every file above, app version, migrations,
                        database vendor, time

The database copy is consistent while the portal runs: on PostgreSQL the row counts are read in
the very snapshot pg_dump dumps (``pg_export_snapshot``); on SQLite the backup API copies the
file in one step and the counts are read from the copy. Media are read after the database, so
every file a row of the copy names was already there.

The keys (``DJANGO_SECRET_KEY``, ``STAFF_IDENTITY_KEY``, ``AUDIT_CHAIN_KEY``) are never written in
clear. The database itself holds password hashes, encrypted identity numbers and the security
log: archives are as confidential as the database (files 0600, folder 0700).

django-dbbackup (in the package list) was considered: it dumps PostgreSQL and tars media, but it
writes no manifest (row counts, checksums, migrations), its restore checks none of them, it
encrypts with GPG (an external keyring, not a passphrase), and on SQLite it copies the file or
its SQL text rather than using the online backup API. Wrapping it would leave most of this package
to write anyway, so the portal does it directly.
"""

from core.backup.common import (
    DB_POSTGRES,
    DB_SQLITE,
    FORMAT,
    KEYS,
    MANIFEST,
    MEDIA,
    BackupError,
    app_version,
    archives,
    backup_dir,
    operator_name,
)
from core.backup.database import database_counts, database_tables_with_rows
from core.backup.keys import check_passphrase, decrypt_keys, encrypt_keys, key_fingerprints
from core.backup.make import BackupResult, NightlyResult, backup_create, backup_nightly, prune
from core.backup.restore import RestoreResult, backup_restore, check_migrations, read_manifest, verify_archive

__all__ = [
    "DB_POSTGRES", "DB_SQLITE", "FORMAT", "KEYS", "MANIFEST", "MEDIA", "BackupError", "BackupResult", "NightlyResult",
    "RestoreResult", "app_version", "archives", "backup_create", "backup_dir", "backup_nightly", "backup_restore",
    "check_migrations", "check_passphrase", "database_counts", "database_tables_with_rows", "decrypt_keys",
    "encrypt_keys", "key_fingerprints", "operator_name", "prune", "read_manifest", "verify_archive",
]

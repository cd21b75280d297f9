"""``manage.py backup``: one dated archive of the database, the uploaded files and a manifest
(core/backup/). The keys go in only encrypted, with a passphrase."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core import backup


def read_passphrase(path: str | None) -> str | None:
    """The passphrase from a file (its first line), else from ``BACKUP_PASSPHRASE``."""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read the passphrase file {path}: {exc}") from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    return getattr(settings, "BACKUP_PASSPHRASE", "") or None


class Command(BaseCommand):
    help = ("Write one archive (database, uploaded files, manifest with row counts and checksums) into "
            "BACKUP_DIR. The keys are left out unless --with-keys, then encrypted with a passphrase.")

    def add_arguments(self, parser):
        parser.add_argument("--dir", help="Folder of the archive (default BACKUP_DIR, var/backups).")
        parser.add_argument("--with-keys", action="store_true",
                            help="Put DJANGO_SECRET_KEY, STAFF_IDENTITY_KEY and AUDIT_CHAIN_KEY into the archive, "
                                 "encrypted with the passphrase (--passphrase-file, else BACKUP_PASSPHRASE).")
        parser.add_argument("--passphrase-file", help="File whose first line is the passphrase (12+ characters).")
        parser.add_argument("--keep", type=int, help="Afterwards keep only the newest N archives of the folder.")

    def handle(self, *args, **options):
        if options["keep"] is not None and options["keep"] < 1:
            raise CommandError("--keep must be at least 1.")
        passphrase = None
        if options["with_keys"] or options["passphrase_file"]:
            passphrase = read_passphrase(options["passphrase_file"])
            if not passphrase:
                raise CommandError("--with-keys needs a passphrase: --passphrase-file FILE or BACKUP_PASSPHRASE.")
        try:
            result = backup.backup_create(directory=Path(options["dir"]) if options["dir"] else None,
                                          passphrase=passphrase, keep=options["keep"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        manifest = result.manifest
        size = result.path.stat().st_size
        self.stdout.write(f"Archive: {result.path} ({size:,} bytes)")
        self.stdout.write(f"Database: {manifest['database']['vendor']}, {len(manifest['tables'])} tables, "
                          f"{result.rows:,} rows")
        self.stdout.write(f"Media: {manifest['media']['files']} files ({manifest['media']['bytes']:,} bytes)")
        self.stdout.write("Keys: " + ("included, encrypted with the passphrase" if manifest["keys"]["included"]
                                      else "not included (keep DJANGO_SECRET_KEY, STAFF_IDENTITY_KEY and "
                                           "AUDIT_CHAIN_KEY safe elsewhere)"))
        for name in result.removed:
            self.stdout.write(f"Removed the older archive {name}")

"""``manage.py restore ARCHIVE``: put a backup back (core/backup/) and prove it: checksums first,
then the migrations, then an empty database (or ``--force``), then row counts and files against the
manifest. Stop the portal's web, worker and beat before."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import backup
from core.management.commands.backup import read_passphrase


class Command(BaseCommand):
    help = ("Restore an archive made by `manage.py backup` into the configured database and MEDIA_ROOT, "
            "then verify row counts and file checksums against its manifest.")

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The archive (portal-backup-YYYYMMDD-HHMMSS.tar).")
        parser.add_argument("--force", action="store_true",
                            help="Wipe the database and MEDIA_ROOT first when they hold data (otherwise refused).")
        parser.add_argument("--passphrase-file", help="File whose first line is the archive's passphrase.")
        parser.add_argument("--keys-out", help="Write the archive's keys (decrypted) into this new file, mode 0600, "
                                               "as NAME=value lines for the portal's environment.")

    def handle(self, *args, **options):
        keys_out = Path(options["keys_out"]) if options["keys_out"] else None
        passphrase = read_passphrase(options["passphrase_file"]) if keys_out is not None else None
        try:
            result = backup.backup_restore(Path(options["archive"]), force=options["force"], passphrase=passphrase,
                                           keys_out=keys_out, say=self.stdout.write)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        if not result.audit_ok:
            self.stderr.write(f"The security log does not verify: {result.audit_problem}")
        self.stdout.write(self.style.SUCCESS(
            f"Restored {result.tables} tables ({result.rows:,} rows) and {result.media_files} files."))

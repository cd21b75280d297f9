"""List what is due and not sent: reports not made yet (the scheduler was down) and reports not
yet sent (waiting for a sign-off, retrying, failed)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone, translation

from reports import services


class Command(BaseCommand):
    help = "List the reports that are due and not sent."

    def handle(self, *args, **options):
        now = timezone.now()
        with translation.override(settings.LANGUAGE_CODE):
            rows = services.due_not_sent(now)
        if not rows:
            self.stdout.write("Nothing due is unsent.")
            return
        for row in rows:
            late = " LATE" if row["late"] else ""
            pk = f"#{row['report'].pk}" if row["report"] else "(not made)"
            self.stdout.write(f"{timezone.localtime(row['due_at']):%Y-%m-%d %H:%M} {pk} {str(row['state'])}{late} "
                              f"{row['title']}")
        self.stdout.write(f"{len(rows)} report(s) due and not sent.")

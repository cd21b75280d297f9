"""Make and send now whatever is due and not yet sent (what the sweep does every five minutes),
e.g. after the scheduler was down. Reports made late are marked late in their log."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from reports import services


class Command(BaseCommand):
    help = "Catch up: make and send every report that is due and not sent."

    def handle(self, *args, **options):
        stats = services.sweep(timezone.now())
        self.stdout.write(", ".join(f"{k} {v}" for k, v in stats.as_dict().items() if k != "errors"))

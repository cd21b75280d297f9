"""``python manage.py rebuild_task_rollups``: recount the task roll-ups of every county (or of the
counties given by code) as of today and rewrite them. Idempotent; ``--verify`` also reports the
counties whose stored roll-ups differed from the recount (as the nightly job does)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from alliances.models import Region
from tasks.services.rollups import all_county_ids, rollups_recompute, rollups_verify
from tasks.services.status import assignments_refresh_due
from tasks.status import local_date


class Command(BaseCommand):
    help = "Recount and rewrite the task roll-ups (per county, ledger and unit; per county and month) as of today."

    def add_arguments(self, parser):
        parser.add_argument("codes", nargs="*", help="Region codes of the counties (default: every county).")
        parser.add_argument("--verify", action="store_true",
                            help="Compare the stored roll-ups with the recount first and list the differences.")

    def handle(self, *args, **options):
        now = timezone.now()
        today = local_date(now)
        if options["codes"]:
            regions = dict(Region.objects.filter(code__in=options["codes"], level=Region.Level.COUNTY)
                           .values_list("code", "pk"))
            unknown = sorted(set(options["codes"]) - set(regions))
            if unknown:
                raise CommandError(f"No county with the code(s): {', '.join(unknown)}")
            ids = sorted(regions.values())
        else:
            ids = all_county_ids()
        assignments_refresh_due(now=now, county_ids=ids)  # the cached statuses the roll-ups count
        if options["verify"]:
            result = rollups_verify(today=today, county_ids=ids)
            for line in result.differences:
                self.stdout.write(f"  differed: {line}")
            self.stdout.write(f"Verified {result.counties} counties as of {today}; "
                              f"{len(result.repaired)} differed from the recount and were repaired.")
            return
        count = rollups_recompute(ids, today=today)
        self.stdout.write(f"Rebuilt the task roll-ups of {count} counties as of {today}.")

"""Generate one report now and send it (a quarterly table waits for its sign-off):

    manage.py report_generate monthly 445322 2026-11
    manage.py report_generate monthly 445322 2026-11 --alliance 郁南县第一医共体
    manage.py report_generate quarterly 445322 2026Q3
    manage.py report_generate reminder 445322 2026-11 --edition 3

An existing report gets a new version (regenerated); nothing is sent twice."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone, translation

from alliances.models import Alliance, Region
from core.periods import Period, PeriodError, PeriodKind
from reports import services
from reports.models import Kind, Report

PERIOD_KINDS = {Kind.QUARTERLY: PeriodKind.QUARTER, Kind.SIGNOFF_ALERT: PeriodKind.QUARTER}


class Command(BaseCommand):
    help = "Generate a given report (kind, county code, period) now, and send it when it needs no sign-off."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=Kind.values)
        parser.add_argument("county", help="The county's code (e.g. 445322) or name.")
        parser.add_argument("period", help="2026-11 for a month, 2026Q3 for a quarter.")
        parser.add_argument("--alliance", help="The alliance's name or id (monthly table and late list).")
        parser.add_argument("--edition", type=int, default=0, help="A reminder's day of the month.")

    def handle(self, *args, **options):
        with translation.override(settings.LANGUAGE_CODE):
            self._handle(**options)

    def _handle(self, *, kind, county, period, alliance=None, edition=0, **options):
        region = Region.objects.filter(level=Region.Level.COUNTY).filter(code=county).first() or \
            Region.objects.filter(level=Region.Level.COUNTY, name=county).first()
        if region is None:
            raise CommandError(f"No county with code or name {county!r}.")
        try:
            parsed = Period.parse(period)
        except PeriodError as exc:
            raise CommandError(str(exc)) from None
        wanted = PERIOD_KINDS.get(kind, PeriodKind.MONTH)
        if parsed.kind != wanted:
            raise CommandError(f"A {kind} report is for a {wanted.value}, not {period!r}.")
        unit = None
        if alliance:
            qs = Alliance.objects.filter(county=region)
            unit = (qs.filter(pk=alliance).first() if alliance.isdigit() else None) or qs.filter(name=alliance).first()
            if unit is None:
                raise CommandError(f"No alliance {alliance!r} in {region.name}.")
            if kind not in (Kind.MONTHLY, Kind.LATE):
                raise CommandError(f"A {kind} report is for the county, not an alliance.")
        now = timezone.now()
        report, created = services.create_report(kind, region, parsed, alliance=unit, edition=edition, now=now)
        if not created and not services.regenerate(report, user=None, now=now):
            raise CommandError(f"{report.title} is {report.get_state_display()}; try again when it has finished.")
        stats = services.process(report.pk, now)
        report.refresh_from_db()
        self.stdout.write(f"{report.title}: {report.get_state_display()} (v{report.versions.count()}); "
                          f"sent {stats.sent}, retrying {stats.retried}, failed {stats.failed}")
        if report.state == Report.State.FAILED and report.error:
            raise CommandError(report.error)

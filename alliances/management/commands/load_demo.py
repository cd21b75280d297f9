"""``python manage.py load_demo``: load the demo counties (郁南县, 万源市) and demo logins."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from alliances import demo


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(headers: list[str], rows: list[tuple[str, ...]]) -> str:
    """A plain-text table whose columns line up with Chinese text in a terminal."""
    widths = [max(_width(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(_pad(str(cell), w) for cell, w in zip(line, widths, strict=True)).rstrip()
             for line in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Load the demo data (郁南县 with its three alliances, 万源市 with its 1+1+N alliance, and demo "
        "logins). Running it again changes nothing; a demo user's password is set only when the user is "
        "created."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the table of demo logins.")
        parser.add_argument("--without-ledgers", action="store_true",
                            help="Load the organisation and logins only, not the demo task ledgers.")
        parser.add_argument("--without-filings", action="store_true",
                            help="Do not load the report forms, indicators and demo filings.")
        parser.add_argument("--without-staffing", action="store_true",
                            help="Do not load the demo roster (about 6,000 people) and its monthly snapshots.")
        parser.add_argument("--without-reports", action="store_true",
                            help="Do not run the report schedule over the past months (the report archive stays empty).")
        parser.add_argument(
            "--allow-production", action="store_true",
            help="Load even when DJANGO_ENV=production (the demo logins share a published password).",
        )

    def handle(self, *args, quiet: bool = False, allow_production: bool = False, without_ledgers: bool = False,
               without_filings: bool = False, without_staffing: bool = False, without_reports: bool = False,
               **options):
        if getattr(settings, "PRODUCTION", False) and not allow_production:
            raise CommandError(_(
                "Refusing to load demo logins with a published password into a production site; "
                "pass --allow-production if this is really wanted."))
        stats = demo.load_demo()
        ledger_stats = None
        if not without_ledgers:
            from tasks.demo import load_demo_ledgers

            ledger_stats = load_demo_ledgers(now=timezone.now())
        filing_stats = None
        if not without_filings:
            from indicators.demo import load_demo_filings

            filing_stats = load_demo_filings(today=timezone.localdate())
        report_stats = None
        if not without_ledgers and not without_filings:
            from finance.demo import load_demo_finance
            from reports.demo import load_demo_reports

            load_demo_finance(today=timezone.localdate(), now=timezone.now())
            if not without_staffing:
                from staffing.demo import load_demo_staffing

                load_demo_staffing(today=timezone.localdate(), now=timezone.now())
            if not without_reports:
                report_stats = load_demo_reports(now=timezone.now())
        verbosity = options.get("verbosity", 1)
        if verbosity >= 1:
            created = sum(c["created"] for c in stats.values())
            updated = sum(c["updated"] for c in stats.values())
            unchanged = sum(c["unchanged"] for c in stats.values())
            self.stdout.write(self.style.SUCCESS(
                _("Demo data loaded: %(created)d rows created, %(updated)d updated, %(unchanged)d unchanged.")
                % {"created": created, "updated": updated, "unchanged": unchanged}))
        if verbosity >= 1 and ledger_stats is not None:
            self.stdout.write(self.style.SUCCESS(
                _("Demo task ledgers: %(items)d items, %(assignments)d assignments, %(departments)d departments and "
                  "%(reports)d progress reports created.")
                % {key: ledger_stats.get(key, 0) for key in ("items", "assignments", "departments", "reports")}))
        if verbosity >= 1 and filing_stats is not None:
            self.stdout.write(self.style.SUCCESS(
                _("Demo filings: %(filings)d filings with %(values)d values created.")
                % {key: filing_stats.get(key, 0) for key in ("filings", "values")}))
        if verbosity >= 1 and report_stats is not None:
            self.stdout.write(self.style.SUCCESS(
                _("Demo scheduled reports: %(reports)d reports made and sent as the schedule would have.")
                % {"reports": report_stats["reports"]}))
        if verbosity >= 2:
            for model_name in sorted(stats):
                counts = stats[model_name]
                self.stdout.write(f"  {model_name}: {counts['created']} / {counts['updated']} / {counts['unchanged']}")
        if quiet or verbosity < 1:
            return
        rows = [(username, role, scope, demo.DEMO_PASSWORD) for username, role, scope in demo.demo_logins()]
        self.stdout.write("")
        self.stdout.write(format_table([_("Username"), _("Role"), _("Scope"), _("Password")], rows))
        self.stdout.write("")
        self.stdout.write(_("Every demo login has the password %(password)s; it is set only when the user is "
                            "created, so a password changed since is kept.") % {"password": demo.DEMO_PASSWORD})
